/*
 * haravan-crm settings page: the merchant's steps to connect a Haravan shop
 * (docs/CONNECT.md is the contract for every route used here).
 *
 * Plain JavaScript, no build step, no external resource. Every piece of
 * data goes into the page with textContent or an input's value, never as
 * markup. State-changing requests carry the session's CSRF token in
 * X-CSRF-Token.
 */
'use strict';

(function () {
    var API = '/api/haravan';
    var csrf = null;
    var settings = null;
    /* The shop the status card and step 4 are about (the status's "shop"). */
    var topOrg = null;

    /* ---- small helpers ---------------------------------------------- */

    function $(id) {
        return document.getElementById(id);
    }

    function show(element, visible) {
        element.hidden = !visible;
    }

    function clear(element) {
        while (element.firstChild) element.removeChild(element.firstChild);
    }

    /* A new element with text (as text, never markup) and a class. */
    function el(tag, text, className) {
        var node = document.createElement(tag);
        if (text !== undefined && text !== null) node.textContent = String(text);
        if (className) node.className = className;
        return node;
    }

    function setNotice(element, text, kind) {
        element.textContent = text || '';
        element.className = 'notice' + (kind ? ' ' + kind : '');
        show(element, !!text);
    }

    var dateFormat = null;
    try {
        dateFormat = new Intl.DateTimeFormat('vi-VN', {
            day: '2-digit', month: '2-digit', year: 'numeric',
            hour: '2-digit', minute: '2-digit', second: '2-digit'
        });
    } catch (e) {
        dateFormat = null;
    }

    function formatDate(iso) {
        if (!iso) return '';
        var date = new Date(iso);
        if (isNaN(date.getTime())) return String(iso);
        return dateFormat ? dateFormat.format(date) : date.toLocaleString();
    }

    /* ---- talking to the connector ----------------------------------- */

    /*
     * One request to the connector. Resolves to {status, data, headers}:
     * status 0 when the network failed; data is the parsed JSON body (or
     * its text, or null). A 401 on anything but the login itself means
     * the session ended: the login form comes back.
     */
    function request(method, path, body, retried) {
        var headers = { Accept: 'application/json' };
        var init = { method: method, headers: headers, credentials: 'same-origin', cache: 'no-store' };
        if (method !== 'GET') {
            if (csrf) headers['X-CSRF-Token'] = csrf;
            if (body !== undefined) {
                headers['Content-Type'] = 'application/json';
                init.body = JSON.stringify(body);
            }
        }
        return fetch(API + path, init).then(function (response) {
            return response.text().then(function (text) {
                var data = null;
                if (text) {
                    try {
                        data = JSON.parse(text);
                    } catch (e) {
                        data = text;
                    }
                }
                return { status: response.status, data: data, headers: response.headers };
            });
        }, function () {
            return { status: 0, data: null, headers: null };
        }).then(function (result) {
            if (result.status === 401 && path !== '/admin/login' && path !== '/admin/session') {
                sessionEnded(result.data);
            } else if (result.status === 403 && method !== 'GET' && !retried &&
                       result.data && /CSRF/i.test(String(result.data.error))) {
                /* The token changed (a login in another tab): take the
                 * current one and try once more. */
                return request('GET', '/admin/session').then(function (session) {
                    if (session.status !== 200 || !session.data) return result;
                    csrf = session.data.csrf;
                    return request(method, path, body, true);
                });
            }
            return result;
        });
    }

    /* A sentence for a failed request, in Vietnamese, with the server's
     * own words in parentheses when it said something. */
    function describe(result) {
        var detail = result.data && typeof result.data === 'object' && result.data.error
            ? String(result.data.error) : (typeof result.data === 'string' ? result.data.slice(0, 200) : '');
        var text;
        if (result.status === 0) text = 'Không kết nối được máy chủ. Kiểm tra mạng rồi thử lại.';
        else if (result.status === 401) text = 'Phiên đăng nhập đã hết hạn. Vui lòng đăng nhập lại.';
        else if (result.status === 403) text = 'Yêu cầu bị từ chối (phiên làm việc không hợp lệ). Hãy tải lại trang.';
        else if (result.status === 413) text = 'Dữ liệu gửi lên quá lớn.';
        else if (result.status >= 500) text = 'Máy chủ tạm thời không xử lý được yêu cầu. Vui lòng thử lại sau.';
        else text = 'Yêu cầu không thành công (HTTP ' + result.status + ').';
        return detail ? text + ' (' + detail + ')' : text;
    }

    /* ---- the result of the connect flow (?connect=CODE) ------------- */

    var CONNECT_MESSAGES = {
        ok: ['ok', 'Đã kết nối cửa hàng Haravan thành công. Bước tiếp theo: đăng ký webhook (Bước 4).'],
        not_owner: ['error', 'Chỉ chủ cửa hàng mới được kết nối ứng dụng. Tài khoản Haravan vừa đăng nhập ' +
            'là nhân viên: hãy đăng xuất Haravan, đăng nhập bằng tài khoản chủ cửa hàng rồi bấm Kết nối lại.'],
        denied: ['warning', 'Bạn đã từ chối cấp quyền trên Haravan nên cửa hàng chưa được kết nối. ' +
            'Bấm Kết nối và chọn Đồng ý để tiếp tục.'],
        expired: ['error', 'Phiên kết nối đã hết hạn hoặc đã được dùng (quá 10 phút hoặc trang được gửi lại). ' +
            'Vui lòng bấm Kết nối lại.'],
        invalid_token: ['error', 'Không xác thực được thông tin đăng nhập Haravan gửi về (id_token không hợp lệ). ' +
            'Kiểm tra Client ID ở Bước 2 rồi kết nối lại.'],
        exchange_failed: ['error', 'Không lấy được quyền truy cập từ Haravan. Kiểm tra Client Secret ở Bước 2 và ' +
            'hai Redirect URL ở Bước 1, rồi kết nối lại.'],
        not_configured: ['warning', 'Chưa có Client ID và Client Secret. Hãy nhập và lưu ở Bước 2 trước khi kết nối.'],
        missing_scope: ['error', 'Haravan chưa cấp đủ quyền cần thiết (grant_service, wh_api) nên không thể ' +
            'đăng ký webhook. Hãy kết nối lại bằng tài khoản chủ cửa hàng và đồng ý tất cả các quyền.']
    };

    function readConnectResult() {
        var params = new URLSearchParams(window.location.search);
        var code = params.get('connect');
        if (code === null) return;
        var message = CONNECT_MESSAGES[code] ||
            ['error', 'Kết nối Haravan không thành công (mã lỗi: ' + code + '). Vui lòng thử lại.'];
        var notice = $('connect-result');
        setNotice(notice, message[1], message[0]);
        notice.setAttribute('data-code', code);
        /* A reload must not show it again. */
        params.delete('connect');
        var rest = params.toString();
        if (window.history && window.history.replaceState) {
            window.history.replaceState(null, '', window.location.pathname + (rest ? '?' + rest : '') +
                window.location.hash);
        }
    }

    /* ---- signing in --------------------------------------------------- */

    function showLogin(message, crm) {
        show($('app'), false);
        show($('logout'), false);
        show($('login'), !crm);
        if (crm) {
            setNotice($('page-error'), 'Hãy đăng nhập CRM để mở trang cài đặt Haravan.', 'warning');
        } else {
            var error = $('login-error');
            error.textContent = message || '';
            show(error, !!message);
            $('login-password').focus();
        }
    }

    function sessionEnded(data) {
        csrf = null;
        showLogin('Phiên đăng nhập đã hết hạn. Vui lòng đăng nhập lại.', data && data.login === 'crm');
    }

    function startSession() {
        return request('GET', '/admin/session').then(function (result) {
            if (result.status === 200 && result.data && result.data.authenticated) {
                csrf = result.data.csrf;
                showApp();
            } else if (result.status === 401) {
                showLogin('', result.data && result.data.login === 'crm');
            } else {
                setNotice($('page-error'), describe(result), 'error');
            }
        });
    }

    /* The connector checks a few passwords at a time; when its checkers
     * are busy (429 with "busy") the login is simply sent again a second
     * later, a few times, before the merchant sees anything. */
    function sendLogin(password, attempt) {
        return request('POST', '/admin/login', { password: password }).then(function (result) {
            if (result.status === 429 && result.data && result.data.busy === true && attempt < 5) {
                return new Promise(function (resolve) {
                    setTimeout(resolve, 1000);
                }).then(function () {
                    return sendLogin(password, attempt + 1);
                });
            }
            return result;
        });
    }

    function onLogin(event) {
        event.preventDefault();
        var input = $('login-password');
        var error = $('login-error');
        var button = event.target.querySelector('button[type=submit]');
        if (!input.value) {
            error.textContent = 'Vui lòng nhập mật khẩu.';
            show(error, true);
            input.focus();
            return;
        }
        button.disabled = true;
        show(error, false);
        sendLogin(input.value, 0).then(function (result) {
            button.disabled = false;
            if (result.status === 200) {
                input.value = '';
                return startSession();
            }
            var message;
            if (result.status === 401) {
                message = 'Mật khẩu không đúng.';
            } else if (result.status === 429) {
                var wait = result.headers && result.headers.get('Retry-After');
                message = 'Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau ' +
                    (wait ? wait + ' giây.' : 'ít phút.');
            } else {
                message = describe(result);
            }
            error.textContent = message;
            show(error, true);
            input.select();
        });
    }

    function onLogout() {
        request('POST', '/admin/logout').then(function (result) {
            if (result.status === 200) {
                csrf = null;
                showLogin('');
            } else {
                setNotice($('page-error'), describe(result), 'error');
            }
        });
    }

    /* ---- the page once signed in -------------------------------------- */

    function showApp() {
        show($('login'), false);
        show($('app'), true);
        show($('logout'), true);
        setNotice($('page-error'), '');
        /* The sections arrive in any order and each moves the ones below
         * it: the page is busy (aria-busy, for screen readers and for the
         * browser test's clicks) until all three have been drawn. */
        var app = $('app');
        app.setAttribute('aria-busy', 'true');
        function drawn() {
            app.removeAttribute('aria-busy');
        }
        Promise.all([loadSettings(), loadStatus(), loadEvents()]).then(drawn, drawn);
    }

    /* ---- settings: steps 1, 2 and 5 -------------------------------- */

    function loadSettings() {
        return request('GET', '/settings').then(function (result) {
            if (result.status === 200 && result.data) renderSettings(result.data);
            else if (result.status !== 401) setNotice($('page-error'), describe(result), 'error');
        });
    }

    function renderSettings(data) {
        settings = data;
        var paste = data.paste || {};
        var inputs = document.querySelectorAll('[data-paste]');
        for (var i = 0; i < inputs.length; i++) {
            inputs[i].value = paste[inputs[i].getAttribute('data-paste')] || '';
        }
        show($('verify-missing'), !paste.verify_token);

        $('client-id').value = data.client_id || '';
        $('client-secret').value = '';
        show($('secret-saved'), !!data.client_secret_set);
        $('client-secret').placeholder = data.client_secret_set
            ? 'Đã lưu; nhập để thay đổi' : 'Dán Client Secret';
        show($('connect-needs-app'), !(data.client_id && data.client_secret_set));
        renderRotation(data.rotation);

        renderOwners(data.users || [], data.default_owner || '');
        renderSources(data.sources || []);
    }

    /* A secret rotation in progress: until when Haravan's deliveries signed
     * with the previous secret are still accepted, and a button to stop
     * accepting them now. */
    function renderRotation(rotation) {
        var until = rotation && rotation.previous_until;
        show($('rotation'), !!until);
        if (until) {
            $('rotation-text').textContent = 'Đang đổi Client Secret: webhook ký bằng Client Secret cũ '
                + 'vẫn được nhận đến ' + formatDate(until) + '. Khi Haravan đã dùng Client Secret mới, '
                + 'hãy ngừng nhận Client Secret cũ.';
        }
    }

    function onEndRotation() {
        var button = $('end-rotation');
        button.disabled = true;
        return request('POST', '/settings', { end_rotation: true }).then(function (result) {
            button.disabled = false;
            if (result.status === 200 && result.data) {
                renderSettings(result.data);
                show($('app-form').querySelector('[data-saved]'), true);
            } else if (result.status !== 401) {
                var line = $('app-form').querySelector('[data-form-error]');
                line.textContent = describe(result);
                line.hidden = false;
            }
        });
    }

    function renderOwners(users, current) {
        var select = $('default-owner');
        clear(select);
        var found = false;
        var none = el('option', '— Chưa chọn —');
        none.value = '';
        select.appendChild(none);
        users.forEach(function (user) {
            var option = el('option', user.name ? user.name + ' (' + user.email + ')' : user.email);
            option.value = user.email;
            if (current && user.email.toLowerCase() === current.toLowerCase()) {
                option.selected = true;
                found = true;
            }
            select.appendChild(option);
        });
        if (current && !found) {
            var gone = el('option', current + ' (không còn hoạt động)');
            gone.value = current;
            gone.selected = true;
            select.appendChild(gone);
        }
        if (!current) none.selected = true;
    }

    function renderSources(sources) {
        var body = $('sources');
        clear(body);
        if (sources.length === 0) {
            var row = el('tr');
            var cell = el('td', 'Chưa có nguồn đơn nào: thêm kênh bên dưới.', 'muted');
            cell.colSpan = 2;
            row.appendChild(cell);
            body.appendChild(row);
        }
        sources.forEach(function (source) {
            var row = el('tr');
            // "" is where orders that name no channel go (the connector
            // makes it when the first such order comes).
            var channel = el('td', source.haravan_channel || '(đơn không ghi kênh)', 'channel');
            channel.setAttribute('data-label', 'Kênh Haravan');
            var nameCell = el('td');
            nameCell.setAttribute('data-label', 'Tên nguồn đơn trong CRM');
            var input = el('input');
            input.value = source.name;
            input.setAttribute('data-channel', source.haravan_channel);
            input.setAttribute('aria-label', 'Tên nguồn đơn cho kênh ' + (source.haravan_channel || '(đơn không ghi kênh)'));
            var error = el('p', null, 'field-error');
            error.setAttribute('data-error-for', 'source.' + source.haravan_channel);
            error.hidden = true;
            nameCell.appendChild(input);
            nameCell.appendChild(error);
            row.appendChild(channel);
            row.appendChild(nameCell);
            body.appendChild(row);
        });
        $('new-channel').value = '';
        $('new-name').value = '';
    }

    /* Field errors of a form: clear them all, or show those of a 400. */
    function clearErrors(form) {
        var errors = form.querySelectorAll('[data-error-for], [data-form-error]');
        for (var i = 0; i < errors.length; i++) {
            errors[i].textContent = '';
            errors[i].hidden = true;
        }
        var invalid = form.querySelectorAll('.invalid');
        for (var j = 0; j < invalid.length; j++) {
            invalid[j].classList.remove('invalid');
            invalid[j].removeAttribute('aria-invalid');
        }
        show(form.querySelector('[data-saved]'), false);
    }

    function errorElement(form, field) {
        var all = form.querySelectorAll('[data-error-for]');
        for (var i = 0; i < all.length; i++) {
            if (all[i].getAttribute('data-error-for') === field) return all[i];
        }
        return null;
    }

    /* Shows `fields` ({name: message}) next to their inputs; `inputFor`
     * maps a field name to its input (or null). Messages for fields that
     * have no place in this form are listed in the form's error line. */
    function showFieldErrors(form, fields, inputFor) {
        var others = [];
        var first = null;
        Object.keys(fields).forEach(function (field) {
            var message = String(fields[field]);
            var input = inputFor(field);
            var place = errorElement(form, field);
            if (!place && input && input.getAttribute('data-error-field')) {
                place = errorElement(form, input.getAttribute('data-error-field'));
            }
            if (!place && input) place = input.parentNode.querySelector('.field-error');
            if (place) {
                place.textContent = message;
                place.hidden = false;
            } else {
                others.push(field + ': ' + message);
            }
            if (input) {
                input.classList.add('invalid');
                input.setAttribute('aria-invalid', 'true');
                if (!first) first = input;
            }
        });
        if (others.length) {
            var line = form.querySelector('[data-form-error]');
            line.textContent = others.join(' · ');
            line.hidden = false;
        }
        if (first) first.focus();
    }

    function saveSettings(form, body, inputFor) {
        var button = form.querySelector('button[type=submit]');
        button.disabled = true;
        return request('POST', '/settings', body).then(function (result) {
            button.disabled = false;
            if (result.status === 200 && result.data) {
                renderSettings(result.data);
                show(form.querySelector('[data-saved]'), true);
                return true;
            }
            if (result.status === 400 && result.data && result.data.error === 'invalid' && result.data.fields) {
                showFieldErrors(form, result.data.fields, inputFor);
            } else if (result.status !== 401) {
                var line = form.querySelector('[data-form-error]');
                line.textContent = describe(result);
                line.hidden = false;
            }
            return false;
        });
    }

    function onSaveApp(event) {
        event.preventDefault();
        var form = $('app-form');
        clearErrors(form);
        var id = $('client-id');
        var secret = $('client-secret');
        var inputFor = function (field) {
            return field === 'client_id' ? id : field === 'client_secret' ? secret : null;
        };
        var missing = {};
        if (!id.value.trim()) missing.client_id = 'Vui lòng nhập Client ID.';
        if (!secret.value && !(settings && settings.client_secret_set)) {
            missing.client_secret = 'Vui lòng nhập Client Secret.';
        }
        if (Object.keys(missing).length) {
            showFieldErrors(form, missing, inputFor);
            return;
        }
        var body = { client_id: id.value.trim() };
        if (secret.value) body.client_secret = secret.value;
        saveSettings(form, body, inputFor);
    }

    function onSaveCrm(event) {
        event.preventDefault();
        var form = $('crm-form');
        clearErrors(form);
        var owner = $('default-owner');
        var inputs = $('sources').querySelectorAll('input[data-channel]');
        var sources = [];
        var sent = [];
        for (var i = 0; i < inputs.length; i++) {
            sources.push({ haravan_channel: inputs[i].getAttribute('data-channel'), name: inputs[i].value });
            sent.push(inputs[i]);
        }
        var newChannel = $('new-channel');
        var newName = $('new-name');
        if (newChannel.value.trim() || newName.value.trim()) {
            var missing = {};
            if (!newChannel.value.trim()) missing['new.channel'] = 'Vui lòng nhập tên kênh Haravan.';
            if (!newName.value.trim()) missing['new.name'] = 'Vui lòng nhập tên nguồn đơn.';
            if (Object.keys(missing).length) {
                showFieldErrors(form, missing, function (field) {
                    return field === 'new.channel' ? newChannel : newName;
                });
                return;
            }
            sources.push({ haravan_channel: newChannel.value.trim(), name: newName.value });
            sent.push(newName);
        }
        var body = { sources: sources };
        if (owner.value) body.default_owner = owner.value;
        saveSettings(form, body, function (field) {
            if (field === 'default_owner') return owner;
            var indexed = /^sources\[(\d+)\]$/.exec(field);
            if (indexed) return sent[Number(indexed[1])] || null;
            if (field.indexOf('source.') === 0) {
                var channel = field.slice('source.'.length);
                for (var j = 0; j < sources.length; j++) {
                    if (sources[j].haravan_channel === channel) return sent[j];
                }
            }
            return null;
        });
    }

    /* ---- step 1: copy buttons --------------------------------------- */

    function copyText(input) {
        var text = input.value;
        function fallback() {
            input.focus();
            input.select();
            input.setSelectionRange(0, text.length);
            try {
                return document.execCommand('copy');
            } catch (e) {
                return false;
            }
        }
        if (navigator.clipboard && navigator.clipboard.writeText && window.isSecureContext) {
            /* A browser may leave writeText unsettled (a permission it
             * never asks for, a document it deems unfocused): after a
             * second the selection fallback answers instead, so the
             * merchant always gets a reply to the click. */
            var settled = false;
            var written = navigator.clipboard.writeText(text).then(function () {
                return true;
            }, function () {
                return fallback();
            });
            var late = new Promise(function (resolve) {
                window.setTimeout(function () {
                    resolve(settled ? null : fallback());
                }, 1000);
            });
            return Promise.race([written, late]).then(function (ok) {
                settled = true;
                return ok;
            });
        }
        return Promise.resolve(fallback());
    }

    function onCopy(event) {
        var button = event.target.closest('button[data-copy]');
        if (!button) return;
        var input = $(button.getAttribute('data-copy'));
        var label = document.querySelector('label[for="' + input.id + '"]').textContent;
        var feedback = $('copy-feedback');
        if (!input.value) {
            feedback.textContent = 'Chưa có giá trị để sao chép.';
            return;
        }
        copyText(input).then(function (ok) {
            feedback.textContent = ok
                ? 'Đã sao chép ' + label + '.'
                : 'Trình duyệt không cho sao chép tự động: giá trị đã được chọn, hãy nhấn Ctrl+C (hoặc giữ để sao chép).';
            if (ok) {
                button.textContent = 'Đã chép';
                window.setTimeout(function () {
                    button.textContent = 'Sao chép';
                }, 2000);
            }
        });
    }

    /* ---- status and step 3 ------------------------------------------ */

    var STATUS_LABELS = {
        pending: 'Đang chờ',
        processing: 'Đang xử lý',
        done: 'Hoàn tất',
        ignored: 'Bỏ qua',
        dead: 'Lỗi'
    };

    function loadStatus() {
        return request('GET', '/status').then(function (result) {
            if (result.status === 200 && result.data) renderStatus(result.data);
            else if (result.status !== 401) setNotice($('page-error'), describe(result), 'error');
        });
    }

    function renderStatus(data) {
        var shop = data.shop;
        show($('status-none'), !shop);
        show($('status-shop'), !!shop);
        $('connect').textContent = shop ? 'Kết nối lại' : 'Kết nối';
        if (shop) {
            var state = $('status-state');
            var reconnect = shop.status === 'needs_reconnect';
            state.textContent = reconnect ? 'Cần kết nối lại' : shop.status === 'connected' ? 'Đã kết nối' : String(shop.status);
            state.className = 'state ' + (reconnect ? 'warn' : 'on');
            state.setAttribute('data-status', shop.status);
            show($('status-reconnect'), reconnect);
            $('shop-name').textContent = shop.name || '(chưa có tên)';
            $('shop-org').textContent = shop.org_id || '';
            var scopes = $('shop-scopes');
            clear(scopes);
            var list = Array.isArray(shop.scopes) ? shop.scopes : String(shop.scopes || '').split(/\s+/);
            list.filter(Boolean).forEach(function (scope) {
                scopes.appendChild(el('li', scope));
            });
            $('shop-token').textContent = tokenState(shop);
        }
        topOrg = shop ? shop.org_id : null;
        renderCounts(data.events || {});
        renderSubscriptions(data.subscriptions || []);
        show($('subscriptions-unavailable'), data.subscriptions_unavailable === true);
        var work = data.catchup || {};
        catchup = {
            imports: Array.isArray(work.imports) ? work.imports : [],
            reconciliations: Array.isArray(work.reconciliations) ? work.reconciliations : []
        };
        renderShops(Array.isArray(data.shops) ? data.shops : []);
        followImports();
    }

    function tokenState(shop) {
        if (shop.status === 'needs_reconnect') return 'Không dùng được: cần kết nối lại';
        if (!shop.token_expires_at) return 'Đang dùng (không rõ thời hạn)';
        var expires = new Date(shop.token_expires_at);
        if (isNaN(expires.getTime())) return String(shop.token_expires_at);
        if (expires.getTime() > Date.now()) return 'Còn hiệu lực đến ' + formatDate(shop.token_expires_at);
        return 'Đã hết hạn lúc ' + formatDate(shop.token_expires_at) + ' (sẽ được làm mới tự động)';
    }

    function renderCounts(events) {
        var list = $('event-counts');
        clear(list);
        ['done', 'pending', 'processing', 'ignored', 'dead'].forEach(function (status) {
            if (!(status in events)) return;
            var item = el('li', STATUS_LABELS[status] + ': ' + events[status]);
            item.setAttribute('data-status', status);
            if (status === 'dead' && events[status] > 0) item.className = 'bad';
            list.appendChild(item);
        });
    }

    function orgQuery(org) {
        return org ? '?org_id=' + encodeURIComponent(org) : '';
    }

    /* ---- every shop: state, webhooks, chart, actions ------------------ */

    var SHOP_STATES = {
        connected: 'Đã kết nối',
        needs_reconnect: 'Cần kết nối lại',
        disconnected: 'Đã ngắt kết nối'
    };
    var CHART_OUTCOMES = ['done', 'ignored', 'dead'];
    var SVG = 'http://www.w3.org/2000/svg';
    /* What the last action on a shop said, kept across reloads of the list. */
    var shopMessages = {};

    function svg(tag, attributes) {
        var node = document.createElementNS(SVG, tag);
        Object.keys(attributes || {}).forEach(function (name) {
            node.setAttribute(name, String(attributes[name]));
        });
        return node;
    }

    function hourLabel(start, index) {
        var date = new Date(new Date(start).getTime() + index * 3600 * 1000);
        if (isNaN(date.getTime())) return String(index);
        return ('0' + date.getHours()).slice(-2) + ':00';
    }

    /* The last 24 hours of one shop's sync, drawn here (no library): one
     * stacked bar per hour, done at the bottom, then ignored, then dead;
     * with a one-line summary and, for screen readers and the curious,
     * the numbers hour by hour. */
    function drawChart(chart, name) {
        var hours = chart && Array.isArray(chart.hours) ? chart.hours : [];
        var totals = { done: 0, ignored: 0, dead: 0 };
        var highest = 0;
        hours.forEach(function (hour) {
            var sum = 0;
            CHART_OUTCOMES.forEach(function (outcome) {
                totals[outcome] += Number(hour[outcome]) || 0;
                sum += Number(hour[outcome]) || 0;
            });
            if (sum > highest) highest = sum;
        });
        var summary = '24 giờ qua: ' + totals.done + ' hoàn tất, ' + totals.ignored + ' bỏ qua, ' +
            totals.dead + ' lỗi';
        var figure = el('figure', null, 'chart');
        var width = 24 * 10;
        var height = 60;
        var picture = svg('svg', { viewBox: '0 0 ' + width + ' ' + (height + 1), role: 'img',
            'aria-label': 'Biểu đồ đồng bộ của ' + name + '. ' + summary, preserveAspectRatio: 'none' });
        picture.appendChild(svg('line', { x1: 0, y1: height + 0.5, x2: width, y2: height + 0.5, 'class': 'axis' }));
        hours.forEach(function (hour, index) {
            var bar = svg('g', { 'class': 'hour', 'data-hour': index });
            var bottom = height;
            CHART_OUTCOMES.forEach(function (outcome) {
                var count = Number(hour[outcome]) || 0;
                if (!count) return;
                var size = Math.max(1, Math.round(count / highest * height));
                bottom -= size;
                var rect = svg('rect', { x: index * 10 + 1, y: bottom, width: 8, height: size,
                    'class': 'bar-' + outcome, 'data-count': count });
                var title = svg('title');
                title.textContent = hourLabel(chart.start, index) + ': ' + count + ' ' +
                    STATUS_LABELS[outcome].toLowerCase();
                rect.appendChild(title);
                bar.appendChild(rect);
            });
            picture.appendChild(bar);
        });
        figure.appendChild(picture);
        /* The hours under the bars as text, not in the SVG: the picture is
         * stretched to the card's width, which would stretch its letters. */
        var ticks = el('div', null, 'ticks');
        [0, 12, 23].forEach(function (index) {
            if (hours.length) ticks.appendChild(el('span', hourLabel(chart.start, index)));
        });
        figure.appendChild(ticks);
        figure.appendChild(el('figcaption', summary, 'chart-summary'));
        var legend = el('ul', null, 'legend');
        CHART_OUTCOMES.forEach(function (outcome) {
            legend.appendChild(el('li', STATUS_LABELS[outcome], 'key-' + outcome));
        });
        figure.appendChild(legend);
        var details = el('details', null, 'chart-numbers');
        details.appendChild(el('summary', 'Số liệu theo giờ'));
        var table = el('table', null, 'chart-table');
        var head = el('tr');
        ['Giờ', STATUS_LABELS.done, STATUS_LABELS.ignored, STATUS_LABELS.dead].forEach(function (text) {
            var th = el('th', text);
            th.setAttribute('scope', 'col');
            head.appendChild(th);
        });
        table.appendChild(el('thead')).appendChild(head);
        var body = table.appendChild(el('tbody'));
        hours.forEach(function (hour, index) {
            var row = el('tr');
            row.appendChild(el('td', hourLabel(chart.start, index)));
            CHART_OUTCOMES.forEach(function (outcome) {
                row.appendChild(el('td', String(Number(hour[outcome]) || 0)));
            });
            body.appendChild(row);
        });
        details.appendChild(table);
        figure.appendChild(details);
        return figure;
    }

    function shopButton(text, action, org, className) {
        var button = el('button', text, className);
        button.type = 'button';
        button.setAttribute('data-action', action);
        button.setAttribute('data-org', org);
        return button;
    }

    function renderShop(shop) {
        var item = el('li', null, 'shop');
        var org = String(shop.org_id);
        item.setAttribute('data-org', org);
        item.setAttribute('data-status', shop.status);
        var title = el('h3', shop.name || '(chưa có tên)');
        title.appendChild(el('span', 'Org ID ' + org, 'org'));
        item.appendChild(title);
        var state = el('p', SHOP_STATES[shop.status] || String(shop.status), 'state ' +
            (shop.status === 'connected' ? 'on' : shop.status === 'needs_reconnect' ? 'warn' : 'off'));
        state.setAttribute('data-shop-state', shop.status);
        item.appendChild(state);
        if (shop.status !== 'connected' && shop.status_reason) {
            var when = shop.status === 'disconnected' && shop.disconnected_at
                ? ' (' + formatDate(shop.disconnected_at) + ')' : '';
            item.appendChild(el('p', 'Lý do: ' + shop.status_reason + when, 'muted reason'));
        }
        var subscriptions = Array.isArray(shop.subscriptions) ? shop.subscriptions : [];
        var hooks = shop.status !== 'connected' ? 'Webhook: không còn (cửa hàng chưa kết nối)'
            : shop.subscriptions_unavailable ? 'Webhook: Haravan chưa trả lời, hãy tải lại'
            : subscriptions.length ? 'Webhook: đã đăng ký (' + subscriptions.length + ')' : 'Webhook: chưa đăng ký';
        item.appendChild(el('p', hooks, 'hooks'));
        var counts = el('ul', null, 'counts');
        ['done', 'pending', 'processing', 'ignored', 'dead'].forEach(function (status) {
            var events = shop.events || {};
            if (!(status in events)) return;
            var count = el('li', STATUS_LABELS[status] + ': ' + events[status], status === 'dead' && events[status] > 0 ? 'bad' : '');
            count.setAttribute('data-status', status);
            counts.appendChild(count);
        });
        item.appendChild(counts);
        item.appendChild(drawChart(shop.chart, shop.name || org));
        item.appendChild(renderCatchup(shop, org));

        var actions = el('div', null, 'actions');
        if (shop.status === 'connected') actions.appendChild(shopButton('Đăng ký webhook', 'subscribe', org, 'primary'));
        var reconnect = el('a', shop.status === 'connected' ? 'Kết nối lại' : 'Kết nối lại cửa hàng này', 'button');
        reconnect.href = API + '/connect' + orgQuery(org);
        reconnect.setAttribute('data-action', 'reconnect');
        actions.appendChild(reconnect);
        if (shop.status === 'connected') actions.appendChild(shopButton('Ngắt kết nối', 'disconnect', org, 'danger'));
        item.appendChild(actions);

        var confirm = el('div', null, 'notice warning confirm');
        confirm.setAttribute('data-confirm', org);
        confirm.hidden = true;
        confirm.appendChild(el('p', 'Ngắt kết nối cửa hàng ' + (shop.name || org) + '? Webhook sẽ được hủy đăng ký ' +
            'trên Haravan và token truy cập bị xóa; dữ liệu đã đồng bộ vào CRM vẫn được giữ lại.'));
        var confirmActions = el('p', null, 'actions');
        confirmActions.appendChild(shopButton('Xác nhận ngắt kết nối', 'confirm-disconnect', org, 'danger'));
        confirmActions.appendChild(shopButton('Hủy', 'cancel-disconnect', org));
        confirm.appendChild(confirmActions);
        item.appendChild(confirm);

        var message = el('p', null, 'notice');
        message.setAttribute('data-message', org);
        message.setAttribute('role', 'status');
        var kept = shopMessages[org];
        setNotice(message, kept ? kept.text : '', kept ? kept.kind : '');
        item.appendChild(message);
        return item;
    }

    /* ---- per shop: the historical import and the reconciliation ------- */

    var KIND_LABELS = { customers: 'Khách hàng', orders: 'Đơn hàng' };
    var IMPORT_STATES = {
        queued: 'Đang chờ', running: 'Đang chạy', done: 'Đã xong', stopped: 'Đã dừng', failed: 'Lỗi'
    };
    var catchup = { imports: [], reconciliations: [] };
    var importForms = {};
    var importPoll = null;

    function number(value) {
        return Number(value || 0).toLocaleString('vi-VN');
    }

    function duration(seconds) {
        if (seconds < 60) return Math.max(1, Math.round(seconds)) + ' giây';
        if (seconds < 3600) return Math.round(seconds / 60) + ' phút';
        return (seconds / 3600).toFixed(1) + ' giờ';
    }

    /* One import job: "Đơn hàng: 1.234 / 20.000 (6%) · 198 bản ghi/giây ·
     * còn khoảng 2 phút · Đang chạy", and a <progress> when the total is known. */
    function renderImportJob(job) {
        var row = el('div', null, 'import-job');
        row.setAttribute('data-kind', job.kind);
        row.setAttribute('data-state', job.state);
        var total = Number(job.total || 0);
        var done = Number(job.done || 0);
        var parts = [(KIND_LABELS[job.kind] || job.kind) + ': ' + number(done) +
            (total > 0 ? ' / ' + number(total) + ' (' + Math.min(100, Math.floor(100 * done / total)) + '%)' : '')];
        var rate = Number(job.records_per_second || 0);
        if (job.state === 'running' && rate > 0) {
            parts.push(rate.toFixed(0) + ' bản ghi/giây');
            if (total > done) parts.push('còn khoảng ' + duration((total - done) / rate));
        }
        parts.push(IMPORT_STATES[job.state] || String(job.state));
        if (job.state === 'done' && job.finished_at) parts.push('lúc ' + formatDate(job.finished_at));
        row.appendChild(el('p', parts.join(' · '), 'import-line'));
        if (total > 0) {
            var bar = document.createElement('progress');
            bar.max = total;
            bar.value = Math.min(done, total);
            bar.setAttribute('aria-label', (KIND_LABELS[job.kind] || job.kind) + ': đã đồng bộ');
            row.appendChild(bar);
        }
        if (job.last_error) row.appendChild(el('p', 'Lỗi gần nhất: ' + job.last_error, 'muted reason'));
        return row;
    }

    function renderReconciliation(jobs) {
        var last = null;
        var found = 0;
        var fresh = 0;
        jobs.forEach(function (job) {
            if (!job.last_run_at) return;
            if (!last || job.last_run_at > last) last = job.last_run_at;
            found += Number(job.last_found || 0);
            fresh += Number(job.last_new || 0);
        });
        var text = last
            ? 'Đối soát tự động: lần cuối ' + formatDate(last) + ', thấy ' + number(found) + ' bản ghi, ' +
              number(fresh) + ' bị lỡ webhook'
            : 'Đối soát tự động: chưa chạy lần nào';
        var line = el('p', text, 'muted reconcile');
        line.setAttribute('data-last-run', last || '');
        line.setAttribute('data-new', String(fresh));
        return line;
    }

    function importCheckbox(org, kind, form) {
        var label = el('label', null, 'check');
        var box = document.createElement('input');
        box.type = 'checkbox';
        box.name = kind;
        box.checked = form[kind];
        box.setAttribute('data-import-field', kind);
        box.setAttribute('data-org', org);
        label.appendChild(box);
        label.appendChild(document.createTextNode(' ' + KIND_LABELS[kind]));
        return label;
    }

    function renderImportForm(org) {
        var form = importForms[org] || { since: '', customers: true, orders: true };
        importForms[org] = form;
        var row = el('div', null, 'import-form');
        var label = el('label', 'Từ ngày ');
        var since = document.createElement('input');
        since.type = 'date';
        since.name = 'since';
        since.value = form.since;
        since.setAttribute('data-import-field', 'since');
        since.setAttribute('data-org', org);
        label.appendChild(since);
        row.appendChild(label);
        row.appendChild(importCheckbox(org, 'customers', form));
        row.appendChild(importCheckbox(org, 'orders', form));
        row.appendChild(shopButton('Đồng bộ dữ liệu cũ', 'import', org, 'primary'));
        row.appendChild(el('p', 'Để trống ngày để lấy toàn bộ dữ liệu cũ của cửa hàng.', 'muted hint'));
        return row;
    }

    function renderCatchup(shop, org) {
        var section = el('div', null, 'shop-import');
        section.setAttribute('data-org', org);
        section.appendChild(el('h4', 'Dữ liệu cũ và đối soát'));
        var mine = function (job) { return String(job.org_id) === org; };
        var imports = catchup.imports.filter(mine);
        imports.forEach(function (job) { section.appendChild(renderImportJob(job)); });
        if (shop.status === 'connected') section.appendChild(renderImportForm(org));
        section.appendChild(renderReconciliation(catchup.reconciliations.filter(mine)));
        return section;
    }

    function onImportField(event) {
        var input = event.target.closest('[data-import-field]');
        if (!input) return;
        var form = importForms[input.getAttribute('data-org')];
        if (!form) return;
        var field = input.getAttribute('data-import-field');
        form[field] = input.type === 'checkbox' ? input.checked : input.value;
    }

    function startImport(org, button) {
        var form = importForms[org] || { since: '', customers: true, orders: true };
        var kinds = ['customers', 'orders'].filter(function (kind) { return form[kind]; });
        if (!kinds.length) {
            button.disabled = false;
            shopMessage(org, 'Hãy chọn khách hàng, đơn hàng hoặc cả hai.', 'error');
            return;
        }
        var body = { org_id: org, kinds: kinds };
        if (form.since) body.since = form.since;
        shopMessage(org, 'Đang bắt đầu đồng bộ…', '');
        request('POST', '/backfill', body).then(function (result) {
            button.disabled = false;
            if (result.status === 202) {
                shopMessage(org, 'Đã bắt đầu đồng bộ dữ liệu cũ; tiến độ hiện bên dưới.', 'ok');
            } else if (result.status === 409) {
                shopMessage(org, 'Cửa hàng chưa kết nối: hãy kết nối lại trước.', 'error');
            } else if (result.status !== 401) {
                shopMessage(org, describe(result), 'error');
            }
            loadStatus();
        });
    }

    /* While an import is queued or running, the status is read again
     * every 2 seconds so that its progress moves; then it stops. */
    function followImports() {
        var active = catchup.imports.some(function (job) {
            return job.state === 'queued' || job.state === 'running';
        });
        if (active && importPoll === null) {
            importPoll = window.setTimeout(function () {
                importPoll = null;
                loadStatus();
            }, 2000);
        }
    }

    function renderShops(list) {
        var container = $('shops');
        clear(container);
        show($('shops-empty'), list.length === 0);
        list.forEach(function (shop) {
            container.appendChild(renderShop(shop));
        });
        fillShopFilter(list);
    }

    function shopMessage(org, text, kind) {
        shopMessages[org] = { text: text, kind: kind };
        var node = document.querySelector('#shops [data-message="' + CSS.escape(org) + '"]');
        if (node) setNotice(node, text, kind);
    }

    function haravanRefusal(result) {
        if (result.status !== 502 || !result.data || result.data.error !== 'haravan') return describe(result);
        if (!result.data.status) return 'Không gọi được Haravan (mạng hoặc Haravan không trả lời).';
        var body = result.data.body;
        var message = body && typeof body === 'object' ? body.message || body.error || body.errors : null;
        return 'Haravan từ chối (HTTP ' + result.data.status + ')' + (message ? ': ' + message : '') + '.';
    }

    function onShopAction(event) {
        var button = event.target.closest('button[data-action]');
        if (!button) return;
        var org = button.getAttribute('data-org');
        var action = button.getAttribute('data-action');
        var confirm = document.querySelector('#shops [data-confirm="' + CSS.escape(org) + '"]');
        if (action === 'disconnect') {
            show(confirm, true);
            return;
        }
        if (action === 'cancel-disconnect') {
            show(confirm, false);
            return;
        }
        button.disabled = true;
        if (action === 'import') {
            startImport(org, button);
        } else if (action === 'subscribe') {
            shopMessage(org, 'Đang đăng ký webhook…', '');
            request('POST', '/webhooks' + orgQuery(org)).then(function (result) {
                button.disabled = false;
                if (result.status === 200) shopMessage(org, 'Đã đăng ký webhook với Haravan.', 'ok');
                else if (result.status === 409) shopMessage(org, 'Cửa hàng chưa kết nối: hãy kết nối lại trước.', 'error');
                else if (result.status !== 401) shopMessage(org, haravanRefusal(result), 'error');
                loadStatus();
            });
        } else if (action === 'confirm-disconnect') {
            shopMessage(org, 'Đang ngắt kết nối…', '');
            request('POST', '/disconnect' + orgQuery(org)).then(function (result) {
                button.disabled = false;
                if (result.status === 200) {
                    shopMessage(org, 'Đã ngắt kết nối: webhook đã hủy đăng ký, token đã xóa, dữ liệu được giữ lại.', 'ok');
                } else if (result.status === 409) {
                    shopMessage(org, 'Cửa hàng chưa kết nối (hoặc cần kết nối lại) nên không hủy được webhook trên ' +
                        'Haravan: hãy kết nối lại trước, hoặc gỡ ứng dụng trên Haravan.', 'error');
                } else if (result.status !== 401) {
                    shopMessage(org, haravanRefusal(result) + ' Chưa có gì thay đổi: cửa hàng vẫn kết nối; hãy thử lại.',
                        'error');
                }
                loadStatus();
            });
        }
    }

    /* ---- step 4: webhooks -------------------------------------------- */

    function renderSubscriptions(subscriptions) {
        var list = $('subscriptions');
        clear(list);
        show($('subscriptions-empty'), subscriptions.length === 0);
        subscriptions.forEach(function (subscription) {
            var item = el('li');
            if (subscription && typeof subscription === 'object') {
                item.appendChild(el('div', subscription.callback_url || '(không có Callback URL)', 'url'));
                var topics = Array.isArray(subscription.topics) ? subscription.topics : [];
                if (topics.length) {
                    var chips = el('ul', null, 'chips');
                    topics.forEach(function (topic) {
                        chips.appendChild(el('li', topic));
                    });
                    item.appendChild(chips);
                }
                var facts = [];
                if (subscription.org_id) facts.push('Org ID ' + subscription.org_id);
                if (subscription.created_at) facts.push('đăng ký lúc ' + formatDate(subscription.created_at));
                if (facts.length) item.appendChild(el('div', facts.join(', '), 'muted'));
            } else {
                item.textContent = JSON.stringify(subscription);
            }
            list.appendChild(item);
        });
    }

    function showSubscribeError(result) {
        var text;
        var body = null;
        if (result.status === 409) {
            text = 'Chưa kết nối cửa hàng Haravan. Hãy kết nối ở Bước 3 trước khi đăng ký webhook.';
        } else if (result.status === 502 && result.data && result.data.error === 'haravan') {
            body = result.data.body;
            if (!result.data.status) {
                text = 'Không gọi được Haravan (mạng hoặc Haravan không trả lời). Vui lòng thử lại sau.';
            } else {
                text = 'Haravan từ chối (HTTP ' + result.data.status + ')';
                var message = body && typeof body === 'object' ? body.message || body.error : null;
                text += message ? ': ' + message : '';
                if (!/[.!?]$/.test(text)) text += '.';
                if (body && body.error === 'verify_failed') {
                    text += ' Kiểm tra Callback URL và Verify Token ở Bước 1 đã được dán đúng trên Haravan.';
                }
            }
        } else {
            text = describe(result);
        }
        $('subscribe-error-text').textContent = text;
        var pre = $('subscribe-error-body');
        pre.textContent = body === null || body === undefined ? ''
            : typeof body === 'string' ? body : JSON.stringify(body, null, 2);
        show(pre, !!pre.textContent);
        show($('subscribe-error'), true);
    }

    function loadSubscriptions() {
        show($('subscribe-error'), false);
        return request('GET', '/webhooks' + orgQuery(topOrg)).then(function (result) {
            if (result.status === 200 && result.data) {
                renderSubscriptions(result.data.subscriptions || []);
                show($('subscriptions-unavailable'), false);
            }
            else if (result.status !== 401) showSubscribeError(result);
        });
    }

    function onSubscribe() {
        var button = $('subscribe');
        button.disabled = true;
        show($('subscribe-error'), false);
        show($('subscribe-ok'), false);
        request('POST', '/webhooks' + orgQuery(topOrg)).then(function (result) {
            button.disabled = false;
            if (result.status === 200) {
                show($('subscribe-ok'), true);
                return loadSubscriptions();
            }
            if (result.status !== 401) showSubscribeError(result);
        });
    }

    /* ---- step 6: the sync log ---------------------------------------- */

    var TOPIC_LABELS = {
        'orders/create': 'Đơn hàng mới',
        'orders/updated': 'Cập nhật đơn hàng',
        'orders/paid': 'Đơn hàng đã thanh toán',
        'orders/cancelled': 'Đơn hàng bị hủy',
        'orders/fulfilled': 'Đơn hàng đã giao',
        'customers/create': 'Khách hàng mới',
        'customers/update': 'Cập nhật khách hàng',
        'app/uninstalled': 'Gỡ ứng dụng'
    };

    /* The log's pages: a keyset on the event id (the route's "before").
     * `logPages` holds the "before" of each page shown so far, the first
     * being none; "Cũ hơn" goes one further with the last answer's
     * next_before, "Mới hơn" one back. A filter resets to the first page. */
    var logPages = [null];
    var logIndex = 0;
    var logNext = null;

    function fillShopFilter(list) {
        var select = $('log-shop');
        var chosen = select.value;
        while (select.options.length > 1) select.remove(1);
        list.forEach(function (shop) {
            var option = el('option', (shop.name || shop.org_id) + ' (' + shop.org_id + ')');
            option.value = String(shop.org_id);
            select.appendChild(option);
        });
        select.value = chosen;
        if (select.value !== chosen) select.value = '';
    }

    function fillTopicFilter() {
        var select = $('log-topic');
        Object.keys(TOPIC_LABELS).forEach(function (topic) {
            var option = el('option', TOPIC_LABELS[topic] + ' (' + topic + ')');
            option.value = topic;
            select.appendChild(option);
        });
    }

    function logQuery() {
        var query = '?limit=' + encodeURIComponent($('log-limit').value || '50');
        [['org_id', 'log-shop'], ['topic', 'log-topic'], ['status', 'log-status']].forEach(function (pair) {
            var value = $(pair[1]).value;
            if (value) query += '&' + pair[0] + '=' + encodeURIComponent(value);
        });
        var before = logPages[logIndex];
        if (before) query += '&before=' + encodeURIComponent(before);
        return query;
    }

    /* Only the answer to the last request is shown: a filter changed twice
     * quickly must not end with the first answer drawn over the second. */
    var logAsked = 0;

    function loadEvents() {
        var asked = ++logAsked;
        return request('GET', '/events' + logQuery()).then(function (result) {
            if (asked !== logAsked) return;
            if (result.status === 200 && result.data) {
                setNotice($('log-error'), '');
                logNext = result.data.next_before || null;
                renderEvents(result.data.events || []);
                renderPager();
            } else if (result.status !== 401) {
                setNotice($('log-error'), describe(result), 'error');
            }
        });
    }

    function renderPager() {
        $('log-page').textContent = 'Trang ' + (logIndex + 1);
        $('log-newer').disabled = logIndex === 0;
        $('log-older').disabled = !logNext;
    }

    function firstPage() {
        logPages = [null];
        logIndex = 0;
        return loadEvents();
    }

    function olderPage() {
        if (!logNext) return;
        logPages = logPages.slice(0, logIndex + 1);
        logPages.push(String(logNext));
        logIndex++;
        loadEvents();
    }

    function newerPage() {
        if (logIndex === 0) return;
        logIndex--;
        loadEvents();
    }

    function cell(row, label, content, className) {
        var td = el('td', typeof content === 'string' || typeof content === 'number' ? content : null, className);
        if (content && typeof content === 'object') td.appendChild(content);
        td.setAttribute('data-label', label);
        row.appendChild(td);
        return td;
    }

    function renderEvents(events) {
        var body = $('log');
        clear(body);
        var filtered = $('log-status').value || $('log-shop').value || $('log-topic').value;
        $('log-empty').textContent = filtered
            ? 'Không có sự kiện nào khớp bộ lọc.' : 'Chưa có sự kiện nào.';
        show($('log-empty'), events.length === 0);
        show($('log-table'), events.length > 0);
        events.forEach(function (event) {
            var row = el('tr');
            row.setAttribute('data-event-id', String(event.id));
            row.setAttribute('data-status', event.status);
            row.setAttribute('data-org', event.org_id || '');
            row.setAttribute('data-topic', event.topic);
            var failed = event.status === 'dead';
            if (failed) row.className = 'failed';

            cell(row, '#', String(event.id), 'c-id');
            cell(row, 'Thời gian', formatDate(event.received_at), 'c-time');
            var topic = el('span');
            topic.appendChild(el('span', TOPIC_LABELS[event.topic] || event.topic));
            topic.appendChild(el('span', event.topic, 'topic-code'));
            if (event.org_id) topic.appendChild(el('span', 'Org ' + event.org_id, 'topic-code org-code'));
            cell(row, 'Sự kiện', topic, 'c-topic');
            cell(row, 'Mã', event.resource_id || '', 'c-resource');

            var state = el('span');
            var tag = el('span', STATUS_LABELS[event.status] || event.status, 'status-tag ' + event.status);
            state.appendChild(tag);
            if (event.attempts > 1) state.appendChild(document.createTextNode(' · ' + event.attempts + ' lần thử'));
            if (event.reason) state.appendChild(el('span', 'Lý do: ' + event.reason, 'reason'));
            if (event.notes) state.appendChild(el('span', event.notes, 'notes'));
            cell(row, 'Trạng thái', state, 'c-status');

            var action = cell(row, '', null, 'c-action');
            action.removeAttribute('data-label');
            if (failed) {
                var button = el('button', 'Thử lại', 'replay');
                button.type = 'button';
                button.setAttribute('data-replay', String(event.id));
                action.appendChild(button);
                var outcome = el('span', null, 'notes');
                outcome.setAttribute('role', 'status');
                action.appendChild(outcome);
            }
            body.appendChild(row);
        });
    }

    function onReplay(event) {
        var button = event.target.closest('button[data-replay]');
        if (!button) return;
        var id = button.getAttribute('data-replay');
        var outcome = button.parentNode.querySelector('[role=status]');
        button.disabled = true;
        outcome.textContent = 'Đang xử lý lại…';
        request('POST', '/events/' + encodeURIComponent(id) + '/replay').then(function (result) {
            button.disabled = false;
            if (result.status === 200 && result.data) {
                outcome.textContent = 'Đã xử lý lại: ' + (STATUS_LABELS[result.data.status] || result.data.status);
                var row = button.closest('tr');
                row.setAttribute('data-replayed', String(result.data.status));
                /* The row's new state and reason, and the counts. */
                window.setTimeout(function () {
                    loadEvents();
                    loadStatus();
                }, 1200);
            } else if (result.status === 409) {
                outcome.textContent = 'Sự kiện đang được xử lý, hãy tải lại sau ít giây.';
            } else if (result.status !== 401) {
                outcome.textContent = describe(result);
            }
        });
    }

    /* ---- wiring ------------------------------------------------------- */

    document.addEventListener('DOMContentLoaded', function () {
        $('login-form').addEventListener('submit', onLogin);
        $('logout').addEventListener('click', onLogout);
        $('app-form').addEventListener('submit', onSaveApp);
        $('end-rotation').addEventListener('click', onEndRotation);
        $('crm-form').addEventListener('submit', onSaveCrm);
        $('paste').addEventListener('click', onCopy);
        $('subscribe').addEventListener('click', onSubscribe);
        $('subscriptions-refresh').addEventListener('click', function () {
            show($('subscribe-ok'), false);
            loadSubscriptions();
        });
        $('log-refresh').addEventListener('click', function () {
            loadEvents();
            loadStatus();
        });
        ['log-status', 'log-shop', 'log-topic', 'log-limit'].forEach(function (id) {
            $(id).addEventListener('change', firstPage);
        });
        $('log-older').addEventListener('click', olderPage);
        $('log-newer').addEventListener('click', newerPage);
        $('log').addEventListener('click', onReplay);
        $('shops').addEventListener('click', onShopAction);
        $('shops').addEventListener('change', onImportField);
        $('shops').addEventListener('input', onImportField);
        fillTopicFilter();
        readConnectResult();
        startSession();
    });
})();
