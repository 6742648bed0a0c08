/*
 * The connect flow (docs/CONNECT.md "Connector routes"; docs/HARAVAN.md section
 * 1): Haravan's OpenID Connect Hybrid flow in two steps.
 *
 *   GET /api/haravan/connect[?org_id=ORG] (admin)
 *     -> 302 authorize: login scopes, redirect_uri .../login, state, nonce,
 *        and orgid=ORG when the page reconnects a chosen shop (Haravan
 *        then preselects it; the shop stored is still the one the owner
 *        signs into, read from the id_token)
 *   POST /api/haravan/login (Haravan's form_post)
 *     state, id_token, owner, code exchange
 *     -> 302 authorize: install scopes, redirect_uri .../grandservice,
 *        a new state and nonce, orgid of the shop just logged into
 *   POST /api/haravan/grandservice
 *     state, id_token, owner, code exchange, grant_service + wh_api granted
 *     -> shop stored with its sealed tokens -> 302 {page}?connect=ok
 *
 * The callbacks are public: Haravan's form_post is a cross-site POST, which
 * brings no SameSite=Strict session cookie. What makes them safe is the
 * state: made here, stored hashed, good once, for one step, for 10 minutes
 * (haravan/oauth_state.h), and bound to the browser that started the step
 * by a cookie of its own (connect_cookie.h), so that whoever sees the
 * authorize URL cannot finish it in another browser. The nonce inside the
 * signed id_token binds the token to that same request. A callback checks
 * the state and its cookie before anything else, so a forged, replayed or
 * transplanted post ends there; the cookie is cleared once used.
 *
 * Every outcome is a 302 to {HARAVAN_PUBLIC_URL}/haravan/?connect=CODE, and
 * a log line with the step and the reason, except a state presented
 * without its browser's cookie, which gets a page that says to start again
 * from the settings page (connect_page.h): the one who sees it may be
 * someone else, not signed in there. No code, token or message text goes
 * into a URL or a log.
 */
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "connect_cookie.h"
#include "connect_page.h"
#include "core/crypto.h"
#include "core/form.h"
#include "core/log.h"
#include "core/settings.h"
#include "handlers.h"
#include "haravan/jwt.h"
#include "haravan/oauth_state.h"
#include "haravan/oidc.h"
#include "haravan/shop.h"

#define SETTINGS_PAGE "/haravan/"
#define LOGIN_PATH    CONNECT_LOGIN_PATH
#define GRANT_PATH    CONNECT_GRANT_PATH
/* docs/HARAVAN.md section 1: the login step, then the install scopes. */
#define LOGIN_SCOPES "openid profile email org userinfo"
#define GRANT_SCOPES                                                                               \
    "openid profile email org userinfo offline_access grant_service wh_api com.read_orders "       \
    "com.read_customers com.read_shop"
/* A form_post is a handful of fields; the id_token is the largest. */
#define CALLBACK_MAX_BODY (64 * 1024)

/* The app's registration as the merchant configured it. */
typedef struct app_settings {
    buffer client_id;
    buffer client_secret;
} app_settings;

/* What one callback is working with. */
typedef struct callback {
    worker *w;
    request *r;
    const char *step; /* "login" or "grant" */
    const char *redirect_path;
    form params;
    app_settings app;
    char nonce[HV_OAUTH_STATE_TEXT];
    hv_jwt identity; /* the verified front-channel id_token */
    hv_oidc_tokens tokens;
    char org_id[HV_SHOP_ORG_ID_SIZE];
    char reason[512];  /* for the log */
    buffer cookies;    /* Set-Cookie lines for the reply */
    int other_browser; /* the state came without its cookie: a page, no redirect */
} callback;

/* ---- replies ------------------------------------------------------------- */

static const char *public_url(const worker *w)
{
    /* Without HARAVAN_PUBLIC_URL the page's path alone still works. */
    return w->configuration->public_url != NULL ? w->configuration->public_url : "";
}

/* `cookies` is "" or Set-Cookie lines. */
static void redirect(request *r, const char *location, const char *cookies)
{
    buffer headers = BUFFER_INIT;
    /* The page's URL (and, for the authorize redirect, the state) is not
     * for the next site's Referer. */
    if (buffer_printf(&headers, "Location: %s\r\nReferrer-Policy: no-referrer\r\n%s", location,
                      cookies) != 0) {
        buffer_free(&headers);
        request_reply_error(r, 500, "out of memory");
        return;
    }
    request_reply(r, 302, "text/plain; charset=utf-8", headers.data, "", 0);
    buffer_free(&headers);
}

/* The log line of an outcome. */
static void log_outcome(const char *step, const char *code, const char *org_id, const char *reason)
{
    log_record record;
    log_begin(&record, strcmp(code, "ok") == 0 ? "info" : "warning", "connect");
    log_string(&record, "step", step);
    log_string(&record, "result", code);
    log_string(&record, "org_id", org_id != NULL && org_id[0] != '\0' ? org_id : NULL);
    log_string(&record, "reason", reason != NULL && reason[0] != '\0' ? reason : NULL);
    log_end(&record);
}

/* Ends the flow: the log line, then 302 to the page with `code`, with
 * `cookies` ("" or Set-Cookie lines). */
static void finish(worker *w, request *r, const char *step, const char *code, const char *org_id,
                   const char *reason, const char *cookies)
{
    log_outcome(step, code, org_id, reason);
    if (org_id != NULL)
        snprintf(r->org_id, sizeof r->org_id, "%s", org_id);
    r->outcome = code;
    char location[1024];
    snprintf(location, sizeof location, "%s" SETTINGS_PAGE "?connect=%s", public_url(w), code);
    redirect(r, location, cookies);
}

/* ---- settings ------------------------------------------------------------ */

static void app_settings_free(app_settings *app)
{
    if (app->client_secret.data != NULL)
        crypto_wipe(app->client_secret.data, app->client_secret.length);
    buffer_free(&app->client_secret);
    buffer_free(&app->client_id);
}

/* Reads client_id and client_secret. Returns 1 when both are set, 0 when
 * not (or no master key opens the secret), -1 when the database fails. */
static int load_app(worker *w, app_settings *app, char *error, size_t error_size)
{
    memset(app, 0, sizeof *app);
    if (!w->configuration->has_master_key) {
        snprintf(error, error_size, "no HARAVAN_MASTER_KEY: the client secret cannot be opened");
        return 0;
    }
    const unsigned char *key = w->configuration->master_key;
    int has_id =
        settings_get(&w->database, key, "client_id", &app->client_id, NULL, error, error_size);
    int has_secret = has_id < 0 ? -1
                                : settings_get(&w->database, key, "client_secret",
                                               &app->client_secret, NULL, error, error_size);
    if (has_id < 0 || has_secret < 0)
        return -1;
    if (has_id == 0 || has_secret == 0) {
        snprintf(error, error_size, "client_id or client_secret is not configured");
        return 0;
    }
    return 1;
}

/* The authorize URL for a new state of `step`, and in `cookies` the
 * Set-Cookie line binding it to this browser. 0, or -1 with the outcome
 * code in *code and the reason in `error`. */
static int authorize_location(worker *w, const char *client_id, const char *step,
                              const char *redirect_path, const char *scope, const char *orgid,
                              buffer *location, buffer *cookies, const char **code, char *error,
                              size_t error_size)
{
    char state[HV_OAUTH_STATE_TEXT];
    char nonce[HV_OAUTH_STATE_TEXT];
    char browser[HV_OAUTH_STATE_TEXT];
    char redirect_uri[1024];
    *code = "exchange_failed";
    if (hv_oauth_state_create(&w->database, step, state, nonce, browser, error, error_size) != 0)
        return -1;
    int cookie_made = connect_cookie_line(w, step, browser, cookies);
    crypto_wipe(browser, sizeof browser);
    if (cookie_made != 0) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    snprintf(redirect_uri, sizeof redirect_uri, "%s%s", public_url(w), redirect_path);
    hv_oidc_authorize params = {.client_id = client_id,
                                .redirect_uri = redirect_uri,
                                .scope = scope,
                                .state = state,
                                .nonce = nonce,
                                .orgid = orgid};
    hv_oidc_status status =
        hv_oidc_authorize_url(&w->haravan.oidc, &params, location, error, error_size);
    crypto_wipe(state, sizeof state);
    return status == HV_OIDC_OK ? 0 : -1;
}

/* ---- GET /api/haravan/connect ---------------------------------------------- */

/* The shop ?org_id= names for a reconnect: 1 with `out` filled, 0 none,
 * -1 not an org id (Haravan's are digits). */
static int reconnect_org(const request *r, char *out, size_t size)
{
    if (webhooks_requested_org(r, out, size) == NULL)
        return 0;
    size_t digits = strspn(out, "0123456789");
    return digits > 0 && out[digits] == '\0' ? 1 : -1;
}

void handle_connect(worker *w, request *r)
{
    if (!admin_require(w, r, 0))
        return;
    char orgid[HV_SHOP_ORG_ID_SIZE];
    int chosen = reconnect_org(r, orgid, sizeof orgid);
    if (chosen < 0) {
        r->outcome = "bad query";
        request_reply_error(r, 400, "org_id must be a Haravan org id (digits)");
        return;
    }
    app_settings app;
    char error[512] = "";
    int configured = load_app(w, &app, error, sizeof error);
    if (configured == 1 && w->configuration->public_url == NULL) {
        snprintf(error, sizeof error, "HARAVAN_PUBLIC_URL is not set: no redirect_uri to send");
        configured = 0;
    }
    if (configured <= 0) {
        finish(w, r, "connect", configured == 0 ? "not_configured" : "exchange_failed", NULL, error,
               "");
        app_settings_free(&app);
        return;
    }
    buffer location = BUFFER_INIT;
    buffer cookies = BUFFER_INIT;
    const char *code = NULL;
    if (authorize_location(w, buffer_text(&app.client_id), "login", LOGIN_PATH, LOGIN_SCOPES,
                           chosen == 1 ? orgid : NULL, &location, &cookies, &code, error,
                           sizeof error) != 0) {
        finish(w, r, "connect", code, NULL, error, "");
    } else {
        r->outcome = "authorize";
        redirect(r, location.data, buffer_text(&cookies));
    }
    buffer_free(&cookies);
    buffer_free(&location);
    app_settings_free(&app);
}

/* ---- the callbacks ------------------------------------------------------------ */

/* Haravan's fields: the form_post body only. A query string, if any, is
 * never read: the router sends a GET to handle_connect_wrong_method. */
static int read_params(callback *c)
{
    if (request_read_body(c->r, CALLBACK_MAX_BODY) != REQUEST_BODY_OK) {
        snprintf(c->reason, sizeof c->reason, "the callback's body cannot be read");
        return -1;
    }
    if (form_parse(&c->params, c->r->body.data, c->r->body.length) != 0) {
        snprintf(c->reason, sizeof c->reason, "the callback's fields cannot be parsed");
        return -1;
    }
    return 0;
}

/* The state and its browser's cookie first: nothing else is looked at for
 * a request this connector did not start in this browser. Returns NULL to
 * go on, else the outcome code. Once the state is spent, the step's
 * cookie is cleared, whatever comes next. */
static const char *check_state(callback *c)
{
    char error[256] = "";
    char browser[HV_OAUTH_STATE_MAX_LENGTH + 1];
    int has_cookie = connect_cookie_read(c->r, c->step, browser, sizeof browser);
    hv_oauth_state_result consumed =
        hv_oauth_state_consume(&c->w->database, c->step, form_get(&c->params, "state"),
                               has_cookie ? browser : NULL, c->nonce, error, sizeof error);
    crypto_wipe(browser, sizeof browser);
    if (consumed == HV_OAUTH_STATE_ERROR) {
        snprintf(c->reason, sizeof c->reason, "%s", error);
        return "exchange_failed";
    }
    if (consumed == HV_OAUTH_STATE_OTHER_BROWSER) {
        snprintf(c->reason, sizeof c->reason,
                 "the state is good but came %s its browser's cookie: another browser, or the "
                 "cookie was lost; the state is left unspent",
                 has_cookie ? "with another value than" : "without");
        c->other_browser = 1;
        return "other_browser";
    }
    if (consumed == HV_OAUTH_STATE_UNKNOWN) {
        snprintf(c->reason, sizeof c->reason,
                 "state unknown, already used, older than %d s, or of another step",
                 HV_OAUTH_STATE_SECONDS);
        return "expired";
    }
    if (connect_cookie_line(c->w, c->step, NULL, &c->cookies) != 0) {
        snprintf(c->reason, sizeof c->reason, "out of memory");
        return "exchange_failed";
    }
    const char *refused = form_get(&c->params, "error");
    if (refused != NULL) {
        /* Haravan's words are a fixed OAuth vocabulary; keep them short. */
        snprintf(c->reason, sizeof c->reason, "Haravan answered error=%.40s", refused);
        return strcmp(refused, "access_denied") == 0 ? "denied" : "exchange_failed";
    }
    return NULL;
}

/* The front-channel id_token: signature, claims, nonce, c_hash, owner. */
static const char *check_identity(callback *c)
{
    const char *code = form_get(&c->params, "code");
    char error[400] = "";
    hv_oidc_status status = hv_oidc_verify_id_token(
        &c->w->haravan.oidc, form_get(&c->params, "id_token"), buffer_text(&c->app.client_id),
        c->nonce, &c->identity, error, sizeof error);
    if (status != HV_OIDC_OK) {
        snprintf(c->reason, sizeof c->reason, "%s", error);
        return status == HV_OIDC_INVALID_TOKEN ? "invalid_token" : "exchange_failed";
    }
    const char *org_id = hv_jwt_claim(&c->identity, "orgid");
    if (code == NULL || code[0] == '\0') {
        snprintf(c->reason, sizeof c->reason, "no code with the id_token");
        return "invalid_token";
    }
    if (hv_jwt_check_hash(&c->identity, "c_hash", code, error, sizeof error) != HV_JWT_OK) {
        snprintf(c->reason, sizeof c->reason, "id_token: %s", error);
        return "invalid_token";
    }
    if (org_id == NULL || strlen(org_id) >= sizeof c->org_id) {
        snprintf(c->reason, sizeof c->reason, "the id_token names no shop (orgid)");
        return "invalid_token";
    }
    snprintf(c->org_id, sizeof c->org_id, "%s", org_id);
    /* docs/HARAVAN.md: only the shop's owner may install. */
    if (!hv_jwt_claim_contains(&c->identity, "role", "admin")) {
        snprintf(c->reason, sizeof c->reason, "user %.40s is not the shop's owner (role)",
                 hv_jwt_claim(&c->identity, "sub"));
        return "not_owner";
    }
    return NULL;
}

/* The back-channel id_token, when the token endpoint sent one: the same
 * user and shop as the front channel's, and at_hash of the access token. */
static const char *check_token_identity(callback *c)
{
    if (c->tokens.id_token == NULL)
        return NULL;
    hv_jwt back;
    char error[400] = "";
    /* No nonce check: a token endpoint need not repeat it (Core 3.3.3.7);
     * the front-channel token carried it and sub/orgid must match that. */
    hv_oidc_status status =
        hv_oidc_verify_id_token(&c->w->haravan.oidc, c->tokens.id_token,
                                buffer_text(&c->app.client_id), NULL, &back, error, sizeof error);
    const char *code = NULL;
    if (status != HV_OIDC_OK) {
        snprintf(c->reason, sizeof c->reason, "token endpoint %s", error);
        code = status == HV_OIDC_INVALID_TOKEN ? "invalid_token" : "exchange_failed";
    } else if (strcmp(hv_jwt_claim(&back, "sub"), hv_jwt_claim(&c->identity, "sub")) != 0 ||
               hv_jwt_claim(&back, "orgid") == NULL ||
               strcmp(hv_jwt_claim(&back, "orgid"), c->org_id) != 0) {
        snprintf(c->reason, sizeof c->reason, "the token endpoint's id_token is another user's");
        code = "invalid_token";
    } else if (hv_jwt_check_hash(&back, "at_hash", c->tokens.access_token, error, sizeof error) !=
               HV_JWT_OK) {
        snprintf(c->reason, sizeof c->reason, "token endpoint id_token: %s", error);
        code = "invalid_token";
    }
    hv_jwt_free(&back);
    return code;
}

static const char *exchange(callback *c)
{
    char redirect_uri[1024];
    char error[400] = "";
    snprintf(redirect_uri, sizeof redirect_uri, "%s%s", public_url(c->w), c->redirect_path);
    hv_oidc_client client = {buffer_text(&c->app.client_id), buffer_text(&c->app.client_secret)};
    hv_oidc_status status =
        hv_oidc_exchange_code(&c->w->haravan.oidc, &client, form_get(&c->params, "code"),
                              redirect_uri, &c->tokens, error, sizeof error);
    if (status != HV_OIDC_OK) {
        snprintf(c->reason, sizeof c->reason, "code exchange %s: %s", hv_oidc_status_name(status),
                 error);
        return "exchange_failed";
    }
    return check_token_identity(c);
}

/* 1 when the space-separated `scopes` holds `scope`. */
static int has_scope(const char *scopes, const char *scope)
{
    size_t length = strlen(scope);
    for (const char *cursor = scopes; cursor != NULL && *cursor != '\0';) {
        cursor += strspn(cursor, " ");
        size_t word = strcspn(cursor, " ");
        if (word == length && strncmp(cursor, scope, length) == 0)
            return 1;
        cursor += word;
    }
    return 0;
}

/* Login step done: on to the grant step, for the same shop. */
static const char *continue_to_grant(callback *c)
{
    buffer location = BUFFER_INIT;
    const char *code = NULL;
    if (authorize_location(c->w, buffer_text(&c->app.client_id), "grant", GRANT_PATH, GRANT_SCOPES,
                           c->org_id, &location, &c->cookies, &code, c->reason,
                           sizeof c->reason) != 0) {
        buffer_free(&location);
        return code;
    }
    log_record record;
    log_begin(&record, "info", "connect");
    log_string(&record, "step", c->step);
    log_string(&record, "result", "grant");
    log_string(&record, "org_id", c->org_id);
    log_end(&record);
    snprintf(c->r->org_id, sizeof c->r->org_id, "%s", c->org_id);
    c->r->outcome = "grant";
    redirect(c->r, location.data, buffer_text(&c->cookies));
    buffer_free(&location);
    return NULL;
}

/* Grant step done: the shop and its tokens. */
static const char *store_shop(callback *c)
{
    /* The token endpoint's scope is what the token can do; the form's is
     * what the browser said. */
    const char *granted = c->tokens.scope != NULL ? c->tokens.scope : form_get(&c->params, "scope");
    if (granted == NULL || !has_scope(granted, "grant_service") || !has_scope(granted, "wh_api")) {
        snprintf(c->reason, sizeof c->reason, "granted scopes lack grant_service or wh_api: %.300s",
                 granted != NULL ? granted : "(none)");
        return "missing_scope";
    }
    hv_shop_connection connection = {.org_id = c->org_id,
                                     .name = hv_jwt_claim(&c->identity, "orgname"),
                                     .scopes = granted,
                                     .connected_by = hv_jwt_claim(&c->identity, "email"),
                                     .access_token = c->tokens.access_token,
                                     .refresh_token = c->tokens.refresh_token,
                                     .expires_in = c->tokens.expires_in};
    char error[300] = "";
    if (hv_shop_store_connection(&c->w->database, c->w->configuration->master_key, &connection,
                                 error, sizeof error) != 0) {
        snprintf(c->reason, sizeof c->reason, "%s", error);
        return "exchange_failed";
    }
    snprintf(c->reason, sizeof c->reason, "connected by %.200s%s",
             connection.connected_by != NULL ? connection.connected_by : "(no e-mail)",
             c->tokens.refresh_token == NULL ? "; Haravan sent no refresh token" : "");
    return "ok";
}

/* Runs the checks in order; returns the outcome code, or NULL when the
 * reply (the grant step's redirect) has been made. */
static const char *run_callback(callback *c)
{
    if (read_params(c) != 0)
        return "expired";
    const char *code = check_state(c);
    if (code != NULL)
        return code;
    char error[300] = "";
    int configured = load_app(c->w, &c->app, error, sizeof error);
    if (configured <= 0) {
        snprintf(c->reason, sizeof c->reason, "%s", error);
        return configured == 0 ? "not_configured" : "exchange_failed";
    }
    code = check_identity(c);
    if (code == NULL)
        code = exchange(c);
    if (code != NULL)
        return code;
    return strcmp(c->step, "login") == 0 ? continue_to_grant(c) : store_shop(c);
}

/* The code and id_token are spent, but still the merchant's: the copies
 * in the body and the parsed fields are wiped before they are freed. */
static void wipe_params(callback *c)
{
    for (size_t i = 0; i < c->params.count; i++)
        crypto_wipe(c->params.fields[i].value, strlen(c->params.fields[i].value));
    form_free(&c->params);
    if (c->r->body.data != NULL)
        crypto_wipe(c->r->body.data, c->r->body.length);
}

static void handle_callback(worker *w, request *r, const char *step, const char *redirect_path)
{
    callback c;
    memset(&c, 0, sizeof c);
    c.w = w;
    c.r = r;
    c.step = step;
    c.redirect_path = redirect_path;
    const char *code = run_callback(&c);
    if (c.other_browser) {
        log_outcome(step, code, NULL, c.reason);
        r->outcome = code;
        connect_page_reply(w, r, CONNECT_PAGE_OTHER_BROWSER);
    } else if (code != NULL) {
        finish(w, r, step, code, c.org_id, c.reason, buffer_text(&c.cookies));
    }
    buffer_free(&c.cookies);
    hv_oidc_tokens_free(&c.tokens);
    hv_jwt_free(&c.identity);
    app_settings_free(&c.app);
    wipe_params(&c);
}

void handle_connect_login(worker *w, request *r)
{
    handle_callback(w, r, "login", LOGIN_PATH);
}

void handle_connect_grant(worker *w, request *r)
{
    handle_callback(w, r, "grant", GRANT_PATH);
}

void handle_connect_wrong_method(worker *w, request *r)
{
    /* The query may hold a code or id_token: neither read nor logged. */
    r->outcome = "not_post";
    connect_page_reply(w, r, CONNECT_PAGE_METHOD);
}
