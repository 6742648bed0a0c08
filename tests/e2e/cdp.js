'use strict';
/*
 * cdp.js: a small driver for headless Chromium over the Chrome DevTools
 * Protocol, with nothing but Node's standard library.
 *
 * Chromium is started with --remote-debugging-pipe: it reads protocol
 * messages (JSON, each ended by a NUL byte) on its file descriptor 3 and
 * writes its answers and events on descriptor 4. No port is opened, no
 * websocket library is needed, and the browser ends with this process.
 *
 *   const browser = await Browser.launch({ executable, logFile });
 *   const page = await browser.newPage();
 *   await page.goto(url);
 *   await page.click('#connect');            // a real mouse click
 *   await page.waitFor(() => document.title === 'x', [], 'the title');
 *   await browser.close();
 *
 * Interactions go through the Input domain (mouse events at the element's
 * centre, after checking that nothing covers it; text through
 * Input.insertText), so what is tested is what a person can do.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const FLAGS = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--remote-debugging-pipe',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-dev-shm-usage',
    '--disable-extensions',
    '--disable-sync',
    '--disable-component-update',
    '--disable-default-apps',
    '--mute-audio',
    '--hide-scrollbars',
    '--password-store=basic',
    '--lang=vi-VN',
    '--window-size=1280,900',
];

function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

class Browser {
    /* Starts Chromium. `executable` defaults to /usr/bin/chromium; its
     * stderr goes to `logFile` when given. */
    static async launch(options = {}) {
        const executable = options.executable || '/usr/bin/chromium';
        const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'haravan-e2e-chromium-'));
        const args = FLAGS.concat([`--user-data-dir=${profile}`], options.args || [], ['about:blank']);
        const log = options.logFile ? fs.openSync(options.logFile, 'a') : 'ignore';
        const child = spawn(executable, args, {
            stdio: ['ignore', log, log, 'pipe', 'pipe'],
            env: Object.assign({}, process.env, { TZ: process.env.TZ || 'Asia/Ho_Chi_Minh' }),
        });
        const browser = new Browser(child, profile);
        const exited = new Promise((resolve, reject) => {
            child.once('error', reject);
            child.once('exit', (code, signal) =>
                reject(new Error(`chromium exited (${code === null ? signal : code}) before answering; ` +
                    (options.logFile ? `see ${options.logFile}` : 'no log kept'))));
        });
        const version = await Promise.race([browser.send('Browser.getVersion'), exited,
            sleep(30000).then(() => { throw new Error('chromium did not answer within 30 s'); })]);
        browser.version = version.product;
        return browser;
    }

    constructor(child, profile) {
        this.child = child;
        this.profile = profile;
        this.nextId = 1;
        this.pending = new Map();
        this.listeners = new Set();
        this.closed = false;
        this.writer = child.stdio[3];
        this.reader = child.stdio[4];
        let buffered = Buffer.alloc(0);
        this.reader.on('data', (chunk) => {
            buffered = Buffer.concat([buffered, chunk]);
            let end;
            while ((end = buffered.indexOf(0)) >= 0) {
                const text = buffered.subarray(0, end).toString('utf8');
                buffered = buffered.subarray(end + 1);
                this.dispatch(JSON.parse(text));
            }
        });
        child.once('exit', () => {
            this.closed = true;
            for (const { reject, method } of this.pending.values()) {
                reject(new Error(`chromium exited during ${method}`));
            }
            this.pending.clear();
        });
    }

    dispatch(message) {
        if (message.id !== undefined) {
            const waiting = this.pending.get(message.id);
            if (!waiting) return;
            this.pending.delete(message.id);
            if (message.error) {
                waiting.reject(new Error(`${waiting.method}: ${message.error.message}` +
                    (message.error.data ? ` (${message.error.data})` : '')));
            } else {
                waiting.resolve(message.result);
            }
            return;
        }
        for (const listener of this.listeners) listener(message);
    }

    /* One protocol call; `sessionId` addresses a page. */
    send(method, params = {}, sessionId) {
        if (this.closed) return Promise.reject(new Error(`chromium is closed (${method})`));
        const id = this.nextId++;
        const message = { id, method, params };
        if (sessionId) message.sessionId = sessionId;
        return new Promise((resolve, reject) => {
            this.pending.set(id, { resolve, reject, method });
            this.writer.write(JSON.stringify(message) + '\0');
        });
    }

    on(listener) {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
    }

    /* A new tab, attached, with the domains the helpers use enabled. */
    async newPage() {
        const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' });
        const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true });
        const page = new Page(this, sessionId, targetId);
        await page.init();
        return page;
    }

    async close() {
        const exited = this.closed ? Promise.resolve() : new Promise((resolve) => this.child.once('exit', resolve));
        if (!this.closed) {
            try {
                await Promise.race([this.send('Browser.close'), sleep(5000)]);
            } catch (e) {
                /* it is going anyway */
            }
            await Promise.race([exited, sleep(5000)]);
        }
        if (!this.closed) {
            this.child.kill('SIGKILL');
            await Promise.race([exited, sleep(5000)]);
        }
        // Its helper processes (renderers, zygotes) may outlive it a moment
        // and still write the profile: wait for them, by the profile's name
        // on their command line, then remove it.
        for (let i = 0; i < 50 && processesUsing(this.profile); i++) await sleep(100);
        try {
            fs.rmSync(this.profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
        } catch (e) {
            process.stderr.write(`note: cannot remove ${this.profile}: ${e.message}\n`);
        }
    }
}

/* Whether a process runs with `text` on its command line. */
function processesUsing(text) {
    let entries = [];
    try {
        entries = fs.readdirSync('/proc');
    } catch (e) {
        return false;
    }
    for (const entry of entries) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) return true;
        } catch (e) {
            /* gone meanwhile */
        }
    }
    return false;
}

class Page {
    constructor(browser, sessionId, targetId) {
        this.browser = browser;
        this.sessionId = sessionId;
        this.targetId = targetId;
        this.problems = []; // script errors and security reports, with the page's URL
        this.marks = 0;
        this.loads = 0;
        browser.on((message) => {
            if (message.sessionId !== sessionId) return;
            const params = message.params || {};
            if (message.method === 'Page.loadEventFired') this.loads++;
            if (message.method === 'Runtime.exceptionThrown') {
                const details = params.exceptionDetails || {};
                this.problems.push({
                    kind: 'exception',
                    url: details.url || '',
                    text: (details.exception && details.exception.description) || details.text,
                });
            } else if (message.method === 'Runtime.consoleAPICalled' && params.type === 'error') {
                this.problems.push({
                    kind: 'console.error',
                    url: '',
                    text: (params.args || []).map((arg) => arg.value || arg.description).join(' '),
                });
            } else if (message.method === 'Log.entryAdded') {
                const entry = params.entry || {};
                // Network errors (a 401 while signed out, a 400 with field
                // errors) are answers the page handles, not problems.
                if (entry.level === 'error' && entry.source !== 'network') {
                    this.problems.push({ kind: `log:${entry.source}`, url: entry.url || '', text: entry.text });
                }
            }
        });
    }

    send(method, params) {
        return this.browser.send(method, params, this.sessionId);
    }

    async init() {
        await this.send('Page.enable');
        await this.send('Runtime.enable');
        await this.send('Log.enable');
        await this.send('Emulation.setFocusEmulationEnabled', { enabled: true });
        await this.viewport(1280, 900, false);
    }

    async viewport(width, height, mobile) {
        await this.send('Emulation.setDeviceMetricsOverride', {
            width, height, deviceScaleFactor: 1, mobile: !!mobile,
        });
        this.width = width;
        this.height = height;
    }

    /* Runs `fn(...args)` in the page and returns its (awaited) value. */
    async evaluate(fn, ...args) {
        const expression = `(${fn.toString()})(...${JSON.stringify(args)})`;
        const result = await this.send('Runtime.evaluate', {
            expression, awaitPromise: true, returnByValue: true, userGesture: true,
        });
        if (result.exceptionDetails) {
            const details = result.exceptionDetails;
            throw new Error(`in the page: ${(details.exception && details.exception.description) || details.text}`);
        }
        return result.result.value;
    }

    /* Polls `fn(...args)` until it returns a truthy value; returns it.
     * Navigations in between are fine (the evaluation is retried). */
    async waitFor(fn, args, what, timeout = 20000) {
        const deadline = Date.now() + timeout;
        let last = null;
        for (;;) {
            try {
                const value = await this.evaluate(fn, ...(args || []));
                if (value) return value;
                last = null;
            } catch (e) {
                last = e;
            }
            if (Date.now() > deadline) {
                const where = await this.url().catch(() => '?');
                throw new Error(`timed out after ${timeout / 1000} s waiting for ${what} (at ${where})` +
                    (last ? `; last error: ${last.message}` : ''));
            }
            await sleep(100);
        }
    }

    url() {
        return this.evaluate(() => window.location.href);
    }

    async goto(url) {
        const loads = this.loads;
        const result = await this.send('Page.navigate', { url });
        if (result.errorText) throw new Error(`navigation to ${url} failed: ${result.errorText}`);
        await this.waitForLoad(loads);
    }

    async waitForLoad(since, timeout = 20000) {
        const deadline = Date.now() + timeout;
        while (this.loads <= since) {
            if (Date.now() > deadline) throw new Error('timed out waiting for a page load');
            await sleep(50);
        }
    }

    async reload() {
        const loads = this.loads;
        await this.send('Page.reload', { ignoreCache: true });
        await this.waitForLoad(loads);
    }

    /* Whether `selector` is on the page and shown. */
    visible(selector) {
        return this.evaluate((sel) => {
            const e = document.querySelector(sel);
            if (!e) return false;
            const r = e.getBoundingClientRect();
            return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden';
        }, selector);
    }

    waitVisible(selector, timeout) {
        return this.waitFor((sel) => {
            const e = document.querySelector(sel);
            if (!e) return false;
            const r = e.getBoundingClientRect();
            return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden';
        }, [selector], `${selector} to be shown`, timeout);
    }

    text(selector) {
        return this.evaluate((sel) => {
            const e = document.querySelector(sel);
            return e ? e.textContent.replace(/\s+/g, ' ').trim() : null;
        }, selector);
    }

    value(selector) {
        return this.evaluate((sel) => {
            const e = document.querySelector(sel);
            return e ? e.value : null;
        }, selector);
    }

    /* Gives the element a unique attribute and returns a selector for it:
     * how elements found by their text are clicked. */
    async markByText(tag, text, timeout) {
        const mark = `e2e-${++this.marks}`;
        await this.waitFor((t, wanted, m) => {
            for (const e of document.querySelectorAll(t)) {
                if (e.textContent.replace(/\s+/g, ' ').trim() === wanted) {
                    e.setAttribute('data-e2e', m);
                    return true;
                }
            }
            return false;
        }, [tag, text, mark], `a <${tag}> reading "${text}"`, timeout);
        return `[data-e2e="${mark}"]`;
    }

    /* A real click at the centre of the element, once it is shown, enabled,
     * not covered by anything else and not in a region still being drawn
     * (aria-busy), where what arrives next can move it between this check
     * and the click. */
    async click(selector, timeout) {
        const point = await this.waitFor((sel) => {
            const e = document.querySelector(sel);
            if (!e || e.disabled) return false;
            if (e.closest('[aria-busy="true"]')) return false;
            e.scrollIntoView({ block: 'center', inline: 'center' });
            const r = e.getBoundingClientRect();
            if (r.width === 0 || r.height === 0) return false;
            const x = r.left + r.width / 2;
            const y = r.top + r.height / 2;
            const hit = document.elementFromPoint(x, y);
            if (!hit || !(hit === e || e.contains(hit))) return false;
            return { x, y };
        }, [selector], `${selector} to be clickable`, timeout);
        const base = { x: point.x, y: point.y, button: 'left', clickCount: 1 };
        await this.send('Input.dispatchMouseEvent', { type: 'mouseMoved', x: point.x, y: point.y });
        await this.send('Input.dispatchMouseEvent', Object.assign({ type: 'mousePressed' }, base));
        await this.send('Input.dispatchMouseEvent', Object.assign({ type: 'mouseReleased' }, base));
    }

    async clickText(tag, text, timeout) {
        await this.click(await this.markByText(tag, text, timeout), timeout);
    }

    /* Clicks and waits for the page that the click leads to. */
    async clickAndWaitForLoad(selector, timeout) {
        const loads = this.loads;
        await this.click(selector, timeout);
        await this.waitForLoad(loads, timeout);
    }

    /* Types into an input as a person does: focus, select what is there,
     * type over it. */
    async type(selector, text) {
        await this.click(selector);
        await this.evaluate((sel) => {
            const e = document.querySelector(sel);
            e.focus();
            if (e.select) e.select();
        }, selector);
        if (text === '') {
            await this.send('Input.dispatchKeyEvent', { type: 'keyDown', key: 'Delete', code: 'Delete', windowsVirtualKeyCode: 46 });
            await this.send('Input.dispatchKeyEvent', { type: 'keyUp', key: 'Delete', code: 'Delete', windowsVirtualKeyCode: 46 });
        } else {
            await this.send('Input.insertText', { text });
        }
    }

    async pressEnter() {
        const key = { key: 'Enter', code: 'Enter', windowsVirtualKeyCode: 13, text: '\r' };
        await this.send('Input.dispatchKeyEvent', Object.assign({ type: 'keyDown' }, key));
        await this.send('Input.dispatchKeyEvent', Object.assign({ type: 'keyUp' }, key));
    }

    /* Chooses the <option> of a <select> whose text matches `test`
     * (a function of the option's text, run in the page), as a person
     * choosing from the list does; fires input and change. */
    async choose(selector, predicateSource) {
        const chosen = await this.evaluate((sel, source) => {
            const select = document.querySelector(sel);
            if (!select) return null;
            const wanted = new Function('text', 'value', `return (${source})(text, value);`);
            for (const option of select.options) {
                if (wanted(option.textContent.trim(), option.value)) {
                    select.value = option.value;
                    select.dispatchEvent(new Event('input', { bubbles: true }));
                    select.dispatchEvent(new Event('change', { bubbles: true }));
                    return option.textContent.trim();
                }
            }
            return null;
        }, selector, predicateSource.toString());
        if (chosen === null) throw new Error(`no option of ${selector} matches ${predicateSource}`);
        return chosen;
    }

    /* A PNG of the whole page at the current width. */
    async screenshot(file) {
        await this.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
        const metrics = await this.send('Page.getLayoutMetrics');
        const size = metrics.cssContentSize || metrics.contentSize;
        const height = Math.max(Math.ceil(size.height), this.height);
        const { data } = await this.send('Page.captureScreenshot', {
            format: 'png',
            captureBeyondViewport: true,
            clip: { x: 0, y: 0, width: this.width, height, scale: 1 },
        });
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, Buffer.from(data, 'base64'));
        return file;
    }
}

module.exports = { Browser, Page, sleep };
