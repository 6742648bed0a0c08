/*
 * The settings page's admin API through real nginx and PostgreSQL:
 * signing in and out, the login throttle, CSRF and cross-site refusals,
 * the CRM's sign-in through nginx's auth_request, and the settings, status and events routes behind
 * them.
 *
 * Every refusal is checked twice: by its status, and by looking at the
 * database afterwards to see that nothing changed. Secrets (the password,
 * session cookies, the client secret) are checked to appear in no reply
 * they must not appear in, nor in the stack's log.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cJSON.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "core/crypto.h"
#include "support.h"

#define PASSWORD      "mật khẩu quản trị 2026!"
#define PASSWORD_FORM "m%E1%BA%ADt+kh%E1%BA%A9u+qu%E1%BA%A3n+tr%E1%BB%8B+2026%21"
#define TOKEN_CHARS   43

/* ---- HTTP with every response header kept ------------------------------ */

/* The local address requests come from (nginx's $remote_addr): NULL for
 * the default, or another loopback address such as 127.0.0.2, which
 * Linux routes to the same nginx. */
static const char *source_address;

typedef struct reply {
    long status;
    buffer body;
    buffer headers;
    double elapsed_ms;
} reply;

static size_t collect(char *data, size_t size, size_t count, void *context)
{
    return buffer_append(context, data, size * count) == 0 ? size * count : 0;
}

/* `cookie` NULL or a session token; `headers` NULL or NULL-terminated
 * "Name: value" lines; `body` NULL for none. */
static reply call(const char *method, const char *path, const char *cookie,
                  const char *const *headers, const char *body)
{
    reply out;
    memset(&out, 0, sizeof out);
    char url[1024];
    snprintf(url, sizeof url, "%s%s", it_env("HARAVAN_BASE_URL"), path);
    CURL *curl = curl_easy_init();
    assert_non_null(curl);
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    char cookie_line[256];
    if (cookie != NULL) {
        snprintf(cookie_line, sizeof cookie_line, "Cookie: other=1; hv_session=%s; x=y", cookie);
        list = curl_slist_append(list, cookie_line);
    }
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        list = curl_slist_append(list, headers[i]);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &out.headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)(60 * it_time_scale()));
    if (source_address != NULL)
        curl_easy_setopt(curl, CURLOPT_INTERFACE, source_address);
    if (body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    double started = it_now_ms();
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out.status);
    out.elapsed_ms = it_now_ms() - started;
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    assert_int_equal(buffer_append(&out.body, "", 0), 0);
    assert_int_equal(buffer_append(&out.headers, "", 0), 0);
    it_save_response(method, path, out.status, out.headers.data, out.body.data, out.body.length);
    return out;
}

static void reply_free(reply *r)
{
    buffer_free(&r->body);
    buffer_free(&r->headers);
}

/* The value of response header `name` (first one), or "" when absent. */
static const char *header(const reply *r, const char *name)
{
    const char *value = it_header_value(r->headers.data, name);
    return value != NULL ? value : "";
}

static void expect_status(const reply *r, long status, const char *what)
{
    if (r->status != status)
        fail_msg("%s: expected %ld, got %ld %s", what, status, r->status, r->body.data);
}

/* A string member of the reply's JSON body, copied into `out`. */
static void json_member(const reply *r, const char *key, char *out, size_t size)
{
    cJSON *document = cJSON_Parse(r->body.data);
    if (document == NULL)
        fail_msg("not JSON: %s", r->body.data);
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(document, key);
    if (!cJSON_IsString(item))
        fail_msg("no string \"%s\" in %s", key, r->body.data);
    snprintf(out, size, "%s", item->valuestring);
    cJSON_Delete(document);
}

static void restart_fcgi_with(const char *name, const char *value);

/* ---- signing in ------------------------------------------------------- */

typedef struct session {
    char token[64];
    char csrf[64];
} session;

static void clear_throttle(void)
{
    it_exec("DELETE FROM hv_admin_login_failures");
}

static reply login_form(const char *form_body, const char *const *headers)
{
    return call("POST", "/api/haravan/admin/login", NULL, headers, form_body);
}

/* Signs in with the password and returns the session's cookie and CSRF. */
static session sign_in(void)
{
    reply r = login_form("password=" PASSWORD_FORM, NULL);
    expect_status(&r, 200, "login");
    session s;
    const char *cookie = header(&r, "Set-Cookie");
    if (strncmp(cookie, "hv_session=", 11) != 0)
        fail_msg("no session cookie: %s", r.headers.data);
    snprintf(s.token, sizeof s.token, "%.*s", (int)strcspn(cookie + 11, ";"), cookie + 11);
    json_member(&r, "csrf", s.csrf, sizeof s.csrf);
    reply_free(&r);
    return s;
}

static int set_password(const char *password)
{
    char command[512];
    snprintf(command, sizeof command, "admin password > /dev/null <<'EOF'\n%s\nEOF\n", password);
    return it_ctl(command);
}

static int setup(void **state)
{
    (void)state;
    if (set_password(PASSWORD) != 0)
        return -1;
    it_exec("DELETE FROM hv_admin_login_failures");
    return 0;
}

static void test_session_without_cookie_is_401(void **state)
{
    (void)state;
    reply r = call("GET", "/api/haravan/admin/session", NULL, NULL, NULL);
    expect_status(&r, 401, "session without cookie");
    assert_non_null(strstr(r.body.data, "\"login\":\"password\""));
    reply_free(&r);
    /* A cookie we never issued, well-formed or not. */
    static const char *const forged[] = {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x",
                                         "' OR 1=1 --",
                                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
        r = call("GET", "/api/haravan/admin/session", forged[i], NULL, NULL);
        expect_status(&r, 401, forged[i]);
        reply_free(&r);
    }
}

/* No worker sleeps after a wrong password (the throttle does the slowing,
 * test_floods shows why), so there is no delay to assert. */
static void test_wrong_password_is_401(void **state)
{
    (void)state;
    clear_throttle();
    long long sessions = it_scalar("SELECT count(*) FROM hv_admin_sessions", NULL);
    reply r = login_form("password=not-the-password", NULL);
    expect_status(&r, 401, "wrong password");
    assert_string_equal(header(&r, "Set-Cookie"), "");
    reply_free(&r);
    /* JSON, and a password that differs in its last character only. */
    const char *json_headers[] = {"Content-Type: application/json", NULL};
    r = call("POST", "/api/haravan/admin/login", NULL, json_headers,
             "{\"password\":\"mật khẩu quản trị 2026?\"}");
    expect_status(&r, 401, "almost right password");
    reply_free(&r);
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_admin_sessions", NULL), sessions);
    /* No password at all is a malformed request, not a guess. */
    r = login_form("user=admin", NULL);
    expect_status(&r, 400, "no password");
    reply_free(&r);
    clear_throttle();
}

static void test_login_sets_a_strict_cookie_and_stores_only_its_hash(void **state)
{
    (void)state;
    clear_throttle();
    reply r = login_form("password=" PASSWORD_FORM, NULL);
    expect_status(&r, 200, "login");
    char cookie[512];
    snprintf(cookie, sizeof cookie, "%s", header(&r, "Set-Cookie"));
    char token[64];
    snprintf(token, sizeof token, "%.*s", (int)strcspn(cookie + 11, ";"), cookie + 11);
    assert_int_equal(strlen(token), TOKEN_CHARS);
    assert_non_null(strstr(cookie, "; Path=/"));
    assert_non_null(strstr(cookie, "; HttpOnly"));
    assert_non_null(strstr(cookie, "; SameSite=Strict"));
    assert_non_null(strstr(cookie, "; Max-Age=43200"));
    /* The stack's HARAVAN_PUBLIC_URL is http://: no Secure. */
    assert_null(strstr(cookie, "Secure"));
    char csrf[64];
    json_member(&r, "csrf", csrf, sizeof csrf);
    assert_int_equal(strlen(csrf), TOKEN_CHARS);
    reply_free(&r);

    char hash[2 * CRYPTO_SHA256_SIZE + 1];
    assert_int_equal(crypto_sha256_hex(token, strlen(token), hash), 0);
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_admin_sessions WHERE token_hash ="
                               " decode($1, 'hex') AND csrf IS NOT NULL"
                               " AND expires_at BETWEEN now() + interval '11 hours 59 minutes'"
                               " AND now() + interval '12 hours 1 minute'",
                               hash),
                     1);
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_admin_sessions WHERE"
                               " position(convert_to($1, 'UTF8') in token_hash) > 0",
                               token),
                     0);

    /* The session route gives the same CSRF token. */
    r = call("GET", "/api/haravan/admin/session", token, NULL, NULL);
    expect_status(&r, 200, "session");
    char again[64];
    json_member(&r, "csrf", again, sizeof again);
    assert_string_equal(again, csrf);
    assert_non_null(strstr(r.body.data, "\"authenticated\":true"));
    reply_free(&r);

    /* JSON login too. */
    const char *json_headers[] = {"Content-Type: application/json", NULL};
    r = call("POST", "/api/haravan/admin/login", NULL, json_headers,
             "{\"password\":\"" PASSWORD "\"}");
    expect_status(&r, 200, "JSON login");
    assert_true(strncmp(header(&r, "Set-Cookie"), "hv_session=", 11) == 0);
    reply_free(&r);
}

static void test_login_from_another_site_is_refused(void **state)
{
    (void)state;
    clear_throttle();
    const char *from_elsewhere[][2] = {
        {"Origin: https://evil.example", NULL},
        {"Sec-Fetch-Site: cross-site", NULL},
    };
    for (size_t i = 0; i < 2; i++) {
        reply r = login_form("password=" PASSWORD_FORM, from_elsewhere[i]);
        expect_status(&r, 403, from_elsewhere[i][0]);
        assert_string_equal(header(&r, "Set-Cookie"), "");
        reply_free(&r);
    }
}

static void test_logout_needs_csrf_and_ends_the_session(void **state)
{
    (void)state;
    clear_throttle();
    session s = sign_in();
    reply r = call("POST", "/api/haravan/admin/logout", s.token, NULL, NULL);
    expect_status(&r, 403, "logout without CSRF");
    reply_free(&r);
    /* The real token with its last character changed: never the same token
     * (replacing it with a fixed 'A' was the same whenever it ended in 'A'). */
    char wrong[128];
    size_t csrf_length = strlen(s.csrf);
    assert_true(csrf_length > 0);
    char last = s.csrf[csrf_length - 1] == 'A' ? 'B' : 'A';
    snprintf(wrong, sizeof wrong, "X-CSRF-Token: %.*s%c", (int)csrf_length - 1, s.csrf, last);
    const char *wrong_headers[] = {wrong, NULL};
    r = call("POST", "/api/haravan/admin/logout", s.token, wrong_headers, NULL);
    expect_status(&r, 403, "logout with a wrong CSRF token");
    reply_free(&r);
    r = call("GET", "/api/haravan/admin/session", s.token, NULL, NULL);
    expect_status(&r, 200, "still signed in");
    reply_free(&r);

    char line[128];
    snprintf(line, sizeof line, "X-CSRF-Token: %s", s.csrf);
    const char *headers[] = {line, NULL};
    r = call("POST", "/api/haravan/admin/logout", s.token, headers, NULL);
    expect_status(&r, 200, "logout");
    const char *cleared = header(&r, "Set-Cookie");
    assert_true(strncmp(cleared, "hv_session=;", 12) == 0);
    assert_non_null(strstr(cleared, "Max-Age=0"));
    reply_free(&r);
    r = call("GET", "/api/haravan/admin/session", s.token, NULL, NULL);
    expect_status(&r, 401, "session after logout");
    reply_free(&r);
    /* The form field works as well as the header. */
    session t = sign_in();
    char form[128];
    snprintf(form, sizeof form, "csrf=%s", t.csrf);
    r = call("POST", "/api/haravan/admin/logout", t.token, NULL, form);
    expect_status(&r, 200, "logout with the form field");
    reply_free(&r);
    r = call("GET", "/api/haravan/admin/session", t.token, NULL, NULL);
    expect_status(&r, 401, "session after form logout");
    reply_free(&r);
}

static void test_eleventh_failure_in_a_minute_is_429(void **state)
{
    (void)state;
    clear_throttle();
    for (int i = 0; i < 10; i++) {
        reply r = login_form("password=guess-number-x", NULL);
        expect_status(&r, 401, "failure before the throttle");
        reply_free(&r);
    }
    /* Now even the right password waits: the throttle does not look. */
    reply r = login_form("password=" PASSWORD_FORM, NULL);
    expect_status(&r, 429, "throttled login");
    int retry_after = atoi(header(&r, "Retry-After"));
    assert_true(retry_after >= 1 && retry_after <= 60);
    assert_true(r.elapsed_ms < 900);
    assert_string_equal(header(&r, "Set-Cookie"), "");
    reply_free(&r);
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_admin_login_failures", NULL), 10);
    /* A minute later the oldest failure has left the window. */
    it_exec("UPDATE hv_admin_login_failures SET at = at - interval '61 seconds'"
            " WHERE id = (SELECT min(id) FROM hv_admin_login_failures)");
    r = login_form("password=" PASSWORD_FORM, NULL);
    expect_status(&r, 200, "login after the window moved");
    reply_free(&r);
    clear_throttle();
}

/* Ten wrong guesses from one address lock that address out, not the
 * merchant signing in from another. */
static void test_one_address_is_throttled_not_the_others(void **state)
{
    (void)state;
    clear_throttle();
    source_address = "127.0.0.2";
    for (int i = 0; i < 10; i++) {
        reply r = login_form("password=guess-from-one-address", NULL);
        expect_status(&r, 401, "failure from 127.0.0.2");
        reply_free(&r);
    }
    reply r = login_form("password=" PASSWORD_FORM, NULL);
    expect_status(&r, 429, "the right password from the guessing address");
    reply_free(&r);
    source_address = "127.0.0.3";
    r = login_form("password=" PASSWORD_FORM, NULL);
    expect_status(&r, 200, "the right password from another address");
    reply_free(&r);
    /* And a wrong one from there is only a wrong one. */
    r = login_form("password=another-guess", NULL);
    expect_status(&r, 401, "a wrong password from another address");
    reply_free(&r);
    source_address = NULL;
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_admin_login_failures"
                               " WHERE remote_addr = '127.0.0.2'",
                               NULL),
                     10);
    clear_throttle();
}

/* Many addresses together stop at a much higher ceiling: 100 a minute. */
static void test_all_addresses_together_reach_a_ceiling(void **state)
{
    (void)state;
    clear_throttle();
    /* 99 failures from 99 addresses in the last minute, as a botnet's. */
    it_exec("INSERT INTO hv_admin_login_failures (remote_addr)"
            " SELECT '10.9.' || (g / 200) || '.' || (g % 200) FROM generate_series(1, 99) g");
    source_address = "127.0.0.4";
    reply r = login_form("password=the-hundredth-guess", NULL);
    expect_status(&r, 401, "the hundredth failure");
    reply_free(&r);
    source_address = "127.0.0.5";
    r = login_form("password=" PASSWORD_FORM, NULL);
    expect_status(&r, 429, "the right password over the ceiling");
    int retry_after = atoi(header(&r, "Retry-After"));
    assert_true(retry_after >= 1 && retry_after <= 60);
    reply_free(&r);
    /* Once the oldest leaves the minute, there is room again. */
    it_exec("UPDATE hv_admin_login_failures SET at = at - interval '61 seconds'"
            " WHERE id = (SELECT min(id) FROM hv_admin_login_failures)");
    r = login_form("password=" PASSWORD_FORM, NULL);
    expect_status(&r, 200, "the right password under the ceiling");
    reply_free(&r);
    source_address = NULL;
    clear_throttle();
}

static void test_ctl_password_rules_and_reset(void **state)
{
    (void)state;
    clear_throttle();
    assert_int_equal(set_password("short"), 1);
    assert_int_equal(it_ctl("admin password < /dev/null 2> /dev/null"), 1);
    assert_int_equal(it_ctl("settings set admin_password_hash x > /dev/null 2>&1"), 1);
    /* `settings get` never shows it; the table holds it sealed. */
    char command[1024];
    snprintf(command, sizeof command,
             "settings get admin_password_hash | grep -q 'write-only' && "
             "! '%s' settings list | grep -q pbkdf2",
             it_env("HARAVAN_CTL"));
    assert_int_equal(it_ctl(command), 0);
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_settings WHERE name ="
                               " 'admin_password_hash' AND value IS NULL AND sealed IS NOT NULL",
                               NULL),
                     1);
    /* A new password signs everybody out. */
    session s = sign_in();
    assert_int_equal(set_password("another password 42"), 0);
    reply r = call("GET", "/api/haravan/admin/session", s.token, NULL, NULL);
    expect_status(&r, 401, "session after a password change");
    reply_free(&r);
    r = login_form("password=another+password+42", NULL);
    expect_status(&r, 200, "login with the new password");
    reply_free(&r);
    assert_int_equal(set_password(PASSWORD), 0);
}

static void test_log_holds_no_password_or_token(void **state)
{
    (void)state;
    clear_throttle();
    session s = sign_in();
    char path[1024];
    snprintf(path, sizeof path, "%s/log/haravan-fcgi.log", it_env("HARAVAN_VAR"));
    buffer log = BUFFER_INIT;
    it_read_file(path, &log);
    assert_null(strstr(log.data, s.token));
    assert_null(strstr(log.data, s.csrf));
    assert_null(strstr(log.data, "quản trị"));
    assert_null(strstr(log.data, "guess-number"));
    assert_non_null(strstr(log.data, "\"outcome\":\"signed in\""));
    buffer_free(&log);
}

/* ---- the admin routes ------------------------------------------------ */

#define SECRET      "it-admin-client-secret-Ω-77"
#define OWNER_EMAIL "Chu.Shop@crm-admin.test"
#define ORG         "it-admin-org"

/* A fingerprint of everything POST /api/haravan/settings may change. */
static void fingerprint(char *out, size_t size)
{
    const char *settings = it_text(
        "SELECT coalesce(md5(string_agg(name || ':' || coalesce(value, '') || ':' ||"
        " coalesce(encode(sealed, 'hex'), '') || ':' || updated_at::text, ',' ORDER BY name)),"
        " '') FROM hv_settings",
        NULL, NULL);
    char first[64];
    snprintf(first, sizeof first, "%s", settings != NULL ? settings : "");
    const char *sources = it_text("SELECT coalesce(md5(string_agg(haravan_channel || ':' || name,"
                                  " ',' ORDER BY id)), '') FROM order_sources",
                                  NULL, NULL);
    snprintf(out, size, "%s/%s", first, sources != NULL ? sources : "");
}

/* A setting's plain value, or "(not set)". */
static const char *setting(const char *name)
{
    const char *value = it_text("SELECT value FROM hv_settings WHERE name = $1", name, NULL);
    return value != NULL ? value : "(not set)";
}

/* The name of a channel's order source, or "(none)". */
static const char *source_name(const char *channel)
{
    const char *value =
        it_text("SELECT name FROM order_sources WHERE haravan_channel = $1", channel, NULL);
    return value != NULL ? value : "(none)";
}

/* The sealed client secret in hex, or "(not set)". */
static const char *sealed_secret(void)
{
    const char *value = it_text(
        "SELECT encode(sealed, 'hex') FROM hv_settings WHERE name = 'client_secret'", NULL, NULL);
    return value != NULL ? value : "(not set)";
}

/* A request with the session's cookie and, when `csrf` is set, its token. */
static reply admin_call(const char *method, const char *path, const session *s, int with_csrf,
                        const char *content_type, const char *extra, const char *body)
{
    char csrf_line[128];
    char type_line[128];
    const char *headers[4] = {NULL};
    size_t count = 0;
    if (with_csrf) {
        snprintf(csrf_line, sizeof csrf_line, "X-CSRF-Token: %s", s->csrf);
        headers[count++] = csrf_line;
    }
    if (content_type != NULL) {
        snprintf(type_line, sizeof type_line, "Content-Type: %s", content_type);
        headers[count++] = type_line;
    }
    if (extra != NULL)
        headers[count++] = extra;
    return call(method, path, s != NULL ? s->token : NULL, headers, body);
}

static void assert_no_secret(const reply *r, const char *what)
{
    if (strstr(r->body.data, SECRET) != NULL ||
        strstr(r->body.data, "it-admin-client-secret") != NULL)
        fail_msg("%s shows the client secret: %s", what, r->body.data);
}

static int setup_routes(void **state)
{
    (void)state;
    clear_throttle();
    if (it_ctl("user add --email '" OWNER_EMAIL "' --name 'Chủ shop' > /dev/null") != 0 ||
        it_ctl("user add --email 'former@crm-admin.test' > /dev/null") != 0)
        return -1;
    it_exec("UPDATE crm_users SET active = false WHERE email = 'former@crm-admin.test'");
    return 0;
}

static void test_admin_routes_refuse_strangers_and_change_nothing(void **state)
{
    (void)state;
    char before[160], after[160];
    fingerprint(before, sizeof before);
    static const char *const reads[] = {"/api/haravan/settings", "/api/haravan/status",
                                        "/api/haravan/events", "/api/haravan/events?status=dead"};
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        reply r = call("GET", reads[i], NULL, NULL, NULL);
        expect_status(&r, 401, reads[i]);
        reply_free(&r);
    }
    reply r = call("POST", "/api/haravan/settings", NULL, NULL,
                   "client_id=stranger&client_secret=stranger-secret&source.web=Stranger");
    expect_status(&r, 401, "POST settings without a session");
    reply_free(&r);
    const char *json_headers[] = {"Content-Type: application/json", "X-CSRF-Token: guess", NULL};
    r = call("POST", "/api/haravan/settings", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
             json_headers, "{\"client_id\":\"stranger\"}");
    expect_status(&r, 401, "POST settings with a forged cookie");
    reply_free(&r);
    r = call("POST", "/api/haravan/events/1/replay", NULL, NULL, NULL);
    expect_status(&r, 401, "replay without a session");
    reply_free(&r);
    fingerprint(after, sizeof after);
    assert_string_equal(before, after);
}

static void test_settings_post_needs_csrf_and_same_origin(void **state)
{
    (void)state;
    clear_throttle();
    session s = sign_in();
    char before[160], after[160];
    fingerprint(before, sizeof before);
    const char *body = "client_id=from-elsewhere&source.web=Elsewhere";
    reply r = admin_call("POST", "/api/haravan/settings", &s, 0, NULL, NULL, body);
    expect_status(&r, 403, "no CSRF token");
    reply_free(&r);
    char wrong_form[160];
    snprintf(wrong_form, sizeof wrong_form, "%s&csrf=%.42sx", body, s.csrf);
    r = admin_call("POST", "/api/haravan/settings", &s, 0, NULL, NULL, wrong_form);
    expect_status(&r, 403, "wrong CSRF form field");
    reply_free(&r);
    static const char *const cross_site[] = {"Origin: https://evil.example", "Origin: null",
                                             "Sec-Fetch-Site: cross-site",
                                             "Sec-Fetch-Site: same-site"};
    for (size_t i = 0; i < sizeof cross_site / sizeof cross_site[0]; i++) {
        r = admin_call("POST", "/api/haravan/settings", &s, 1, NULL, cross_site[i], body);
        expect_status(&r, 403, cross_site[i]);
        reply_free(&r);
    }
    /* A session's token does not work with another session. */
    session other = sign_in();
    session mixed = s;
    snprintf(mixed.csrf, sizeof mixed.csrf, "%s", other.csrf);
    r = admin_call("POST", "/api/haravan/settings", &mixed, 1, NULL, NULL, body);
    expect_status(&r, 403, "another session's CSRF token");
    reply_free(&r);
    fingerprint(after, sizeof after);
    assert_string_equal(before, after);

    /* Our own page: Origin is HARAVAN_PUBLIC_URL's, Sec-Fetch-Site same-origin. */
    char origin[256];
    snprintf(origin, sizeof origin, "Origin: %s", it_env("HARAVAN_PUBLIC_URL"));
    r = admin_call("POST", "/api/haravan/settings", &s, 1, NULL, origin,
                   "client_id=same-origin-id");
    expect_status(&r, 200, "same-origin POST");
    reply_free(&r);
    r = admin_call("POST", "/api/haravan/settings", &s, 1, NULL, "Sec-Fetch-Site: same-origin",
                   "client_id=same-origin-id-2");
    expect_status(&r, 200, "Sec-Fetch-Site same-origin");
    reply_free(&r);
    assert_string_equal(setting("client_id"), "same-origin-id-2");
}

static void test_form_post_saves_everything_together(void **state)
{
    (void)state;
    clear_throttle();
    it_exec("DELETE FROM hv_settings WHERE name IN ('verify_token', 'default_owner')");
    session s = sign_in();
    char body[1024];
    snprintf(body, sizeof body,
             "client_id=+form-client-id+&client_secret=%s&verify_token=&default_owner=%s"
             "&source.pos=C%%E1%%BB%%ADa+h%%C3%%A0ng&source.it-admin-web=Website&csrf=%s",
             "it-admin-client-secret-%CE%A9-77", "chu.shop%40CRM-ADMIN.test", s.csrf);
    reply r = admin_call("POST", "/api/haravan/settings", &s, 0, NULL, NULL, body);
    expect_status(&r, 200, "form POST");
    assert_no_secret(&r, "the POST reply");
    cJSON *reply_json = cJSON_Parse(r.body.data);
    assert_non_null(reply_json);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(reply_json, "client_secret_set")));
    assert_string_equal(cJSON_GetObjectItem(reply_json, "client_id")->valuestring,
                        "form-client-id");
    assert_string_equal(cJSON_GetObjectItem(reply_json, "default_owner")->valuestring, OWNER_EMAIL);
    char token[64];
    snprintf(token, sizeof token, "%s",
             cJSON_GetObjectItem(reply_json, "verify_token")->valuestring);
    assert_int_equal(strlen(token), 32);
    const cJSON *paste = cJSON_GetObjectItem(reply_json, "paste");
    char expected[512];
    snprintf(expected, sizeof expected, "%s/api/haravan/webhook", it_env("HARAVAN_PUBLIC_URL"));
    assert_string_equal(cJSON_GetObjectItem(paste, "webhook_url")->valuestring, expected);
    snprintf(expected, sizeof expected, "%s/api/haravan/login", it_env("HARAVAN_PUBLIC_URL"));
    assert_string_equal(cJSON_GetObjectItem(paste, "login_redirect_url")->valuestring, expected);
    snprintf(expected, sizeof expected, "%s/api/haravan/grandservice",
             it_env("HARAVAN_PUBLIC_URL"));
    assert_string_equal(cJSON_GetObjectItem(paste, "grant_redirect_url")->valuestring, expected);
    assert_string_equal(cJSON_GetObjectItem(paste, "verify_token")->valuestring, token);
    int inactive_listed = strstr(r.body.data, "former@crm-admin.test") != NULL;
    assert_false(inactive_listed);
    assert_non_null(strstr(r.body.data, "{\"email\":\"" OWNER_EMAIL "\",\"name\":\"Chủ shop\"}"));
    cJSON_Delete(reply_json);
    reply_free(&r);

    assert_string_equal(setting("client_id"), "form-client-id");
    assert_string_equal(setting("default_owner"), OWNER_EMAIL);
    /* Secrets are sealed: no plaintext column. */
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_settings WHERE name IN"
                               " ('client_secret', 'verify_token') AND value IS NULL"
                               " AND sealed IS NOT NULL",
                               NULL),
                     2);
    assert_string_equal(source_name("pos"), "Cửa hàng");
    assert_string_equal(source_name("it-admin-web"), "Website");
    /* The new secret is in force at once: a delivery signed with it lands. */
    long long id = it_deliver_event(SECRET, "customers/create", ORG,
                                    "{\"id\":9300001,\"first_name\":\"An\",\"last_name\":\"Lê\","
                                    "\"updated_at\":\"2026-02-01T00:00:00Z\"}");
    assert_true(id > 0);

    /* An empty verify_token keeps the one there is. */
    char again[256];
    snprintf(again, sizeof again, "verify_token=&csrf=%s", s.csrf);
    r = admin_call("POST", "/api/haravan/settings", &s, 0, NULL, NULL, again);
    expect_status(&r, 200, "second form POST");
    assert_non_null(strstr(r.body.data, token));
    reply_free(&r);
}

static void test_json_post_saves(void **state)
{
    (void)state;
    clear_throttle();
    session s = sign_in();
    const char *body = "{\"client_id\":\"json-client-id\",\"client_secret\":\"\","
                       "\"verify_token\":\"json-verify-token-1\",\"default_owner\":null,"
                       "\"sources\":[{\"haravan_channel\":\"pos\",\"name\":\"Cửa hàng Q1\"},"
                       "{\"haravan_channel\":\"it-admin-shopee\",\"name\":\"Shopee\"}]}";
    char sealed[1024];
    snprintf(sealed, sizeof sealed, "%s", sealed_secret());
    reply r = admin_call("POST", "/api/haravan/settings", &s, 1, "application/json", NULL, body);
    expect_status(&r, 200, "JSON POST");
    assert_no_secret(&r, "the JSON POST reply");
    assert_non_null(strstr(r.body.data, "\"verify_token\":\"json-verify-token-1\""));
    reply_free(&r);
    assert_string_equal(setting("client_id"), "json-client-id");
    assert_string_equal(setting("default_owner"), OWNER_EMAIL);
    /* An empty client_secret leaves it as it was. */
    assert_string_equal(sealed_secret(), sealed);
    assert_string_equal(source_name("pos"), "Cửa hàng Q1");
    assert_int_equal(
        it_scalar("SELECT count(*) FROM order_sources WHERE haravan_channel = 'it-admin-shopee'",
                  NULL),
        1);
    /* The handshake Haravan makes now answers with the new token. */
    reply h = call("GET",
                   "/api/haravan/webhook?hub.mode=subscribe&hub.verify_token=json-verify-token-1"
                   "&hub.challenge=xin-chao",
                   NULL, NULL, NULL);
    expect_status(&h, 200, "handshake with the saved token");
    assert_string_equal(h.body.data, "xin-chao");
    reply_free(&h);
}

/* An order that names no channel (no source_name) is filed under the
 * source of channel "" (processor.c); the page sends every source back
 * when it saves, that one included, and must still be able to save. */
static void test_sources_save_with_the_no_channel_source(void **state)
{
    (void)state;
    clear_throttle();
    it_exec("INSERT INTO order_sources (name, haravan_channel) VALUES ('Haravan', '')"
            " ON CONFLICT (haravan_channel) DO NOTHING");
    session s = sign_in();
    const char *body = "{\"sources\":[{\"haravan_channel\":\"\",\"name\":\"Không ghi kênh\"},"
                       "{\"haravan_channel\":\"pos\",\"name\":\"Cửa hàng Q1\"}]}";
    reply r = admin_call("POST", "/api/haravan/settings", &s, 1, "application/json", NULL, body);
    expect_status(&r, 200, "saving the sources with the no-channel one among them");
    reply_free(&r);
    assert_string_equal(source_name(""), "Không ghi kênh");
    /* The form spelling of the same: source.=Name. */
    r = admin_call("POST", "/api/haravan/settings", &s, 1, "application/x-www-form-urlencoded",
                   NULL, "source.=Haravan&source.pos=C%E1%BB%ADa+h%C3%A0ng+Q1");
    expect_status(&r, 200, "the form spelling");
    reply_free(&r);
    assert_string_equal(source_name(""), "Haravan");
}

typedef struct invalid_case {
    const char *content_type;
    const char *body;
    const char *fields[4]; /* the fields that must have a message */
} invalid_case;

static void test_invalid_fields_are_named_and_nothing_is_saved(void **state)
{
    (void)state;
    clear_throttle();
    session s = sign_in();
    static const invalid_case cases[] = {
        {NULL,
         "client_id=has+space&client_secret=new-secret-never-saved&default_owner=nobody%40x.test"
         "&source.pos=",
         {"client_id", "default_owner", "source.pos", NULL}},
        {NULL, "default_owner=former%40crm-admin.test&client_id=ok-id", {"default_owner", NULL}},
        {NULL, "verify_token=short&whatever=1", {"verify_token", "whatever", NULL}},
        {NULL, "client_id=a&client_id=b", {"client_id", NULL}},
        /* source. (no channel) is a name like any other: only web's is wrong,
         * and nothing is saved, the no-channel name neither. */
        {NULL, "source.=Nameless&source.web=%C3%28", {"source.web", NULL}},
        {"application/json",
         "{\"client_id\":42,\"sources\":[{\"haravan_channel\":\"web\"},"
         "{\"haravan_channel\":\"pos\",\"name\":\" \"}],\"client_secret\":\"never-saved-2\"}",
         {"client_id", "source.web", "source.pos", NULL}},
        {"application/json",
         "{\"sources\":[{\"haravan_channel\":\"web\",\"name\":\"A\"},"
         "{\"haravan_channel\":\"web\",\"name\":\"B\"}],\"client_id\":\"fine\"}",
         {"source.web", NULL}},
        {"application/json", "{\"sources\":{\"web\":\"A\"}}", {"sources", NULL}},
    };
    char before[160], after[160];
    fingerprint(before, sizeof before);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reply r = admin_call("POST", "/api/haravan/settings", &s, 1, cases[i].content_type, NULL,
                             cases[i].body);
        expect_status(&r, 400, cases[i].body);
        cJSON *document = cJSON_Parse(r.body.data);
        assert_non_null(document);
        assert_string_equal(cJSON_GetObjectItem(document, "error")->valuestring, "invalid");
        const cJSON *fields = cJSON_GetObjectItem(document, "fields");
        for (size_t k = 0; cases[i].fields[k] != NULL; k++) {
            const cJSON *message = cJSON_GetObjectItemCaseSensitive(fields, cases[i].fields[k]);
            if (!cJSON_IsString(message) || message->valuestring[0] == '\0')
                fail_msg("case %zu: no message for %s in %s", i, cases[i].fields[k], r.body.data);
        }
        size_t expected = 0;
        while (cases[i].fields[expected] != NULL)
            expected++;
        if (cJSON_GetArraySize(fields) != (int)expected)
            fail_msg("case %zu: expected %zu messages, got %s", i, expected, r.body.data);
        cJSON_Delete(document);
        reply_free(&r);
    }
    /* Malformed bodies. */
    char deep[512] = "{\"sources\":";
    for (int i = 0; i < 40; i++)
        strcat(deep, "[");
    reply r = admin_call("POST", "/api/haravan/settings", &s, 1, "application/json", NULL, deep);
    expect_status(&r, 400, "JSON nested 40 deep");
    reply_free(&r);
    r = admin_call("POST", "/api/haravan/settings", &s, 1, "application/json", NULL, "[1]");
    expect_status(&r, 400, "JSON that is not an object");
    reply_free(&r);
    r = admin_call("POST", "/api/haravan/settings", &s, 1, NULL, NULL, "client_id=%zz");
    expect_status(&r, 400, "bad %-escape");
    reply_free(&r);
    char *large = malloc(70 * 1024 + 1);
    assert_non_null(large);
    memset(large, 'a', 70 * 1024);
    memcpy(large, "client_id=", 10);
    large[70 * 1024] = '\0';
    r = admin_call("POST", "/api/haravan/settings", &s, 1, NULL, NULL, large);
    expect_status(&r, 413, "a 70 KiB body");
    reply_free(&r);
    free(large);
    fingerprint(after, sizeof after);
    assert_string_equal(before, after);
}

static void test_client_secret_is_never_shown(void **state)
{
    (void)state;
    clear_throttle();
    session s = sign_in();
    char form[256];
    snprintf(form, sizeof form, "client_secret=it-admin-client-secret-%%CE%%A9-77&csrf=%s", s.csrf);
    reply r = admin_call("POST", "/api/haravan/settings", &s, 0, NULL, NULL, form);
    expect_status(&r, 200, "set the secret");
    assert_no_secret(&r, "POST settings");
    reply_free(&r);
    static const char *const reads[] = {"/api/haravan/settings", "/api/haravan/status",
                                        "/api/haravan/events?limit=200",
                                        "/api/haravan/admin/session"};
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        r = admin_call("GET", reads[i], &s, 0, NULL, NULL, NULL);
        expect_status(&r, 200, reads[i]);
        assert_no_secret(&r, reads[i]);
        reply_free(&r);
    }
    char command[512];
    snprintf(command, sizeof command, "settings list | grep -q 'it-admin-client-secret'");
    assert_int_not_equal(it_ctl(command), 0);
    char path[1024];
    snprintf(path, sizeof path, "%s/log/haravan-fcgi.log", it_env("HARAVAN_VAR"));
    buffer log = BUFFER_INIT;
    it_read_file(path, &log);
    assert_null(strstr(log.data, "it-admin-client-secret"));
    assert_null(strstr(log.data, s.token));
    buffer_free(&log);
}

/* The "rotation" member of GET /api/haravan/settings: its previous_until,
 * or "" when it is null. */
static void rotation_until(const session *s, char *out, size_t size)
{
    reply r = admin_call("GET", "/api/haravan/settings", s, 0, NULL, NULL, NULL);
    expect_status(&r, 200, "settings");
    cJSON *document = cJSON_Parse(r.body.data);
    const cJSON *rotation = cJSON_GetObjectItemCaseSensitive(document, "rotation");
    if (rotation == NULL)
        fail_msg("no rotation in %s", r.body.data);
    const cJSON *until = cJSON_GetObjectItemCaseSensitive(rotation, "previous_until");
    snprintf(out, size, "%s", cJSON_IsString(until) ? until->valuestring : "");
    assert_true(cJSON_IsNull(rotation) || cJSON_IsString(until));
    cJSON_Delete(document);
    reply_free(&r);
}

/* A rotation shows on the page with its end, and the page can end it (a
 * CSRF-protected POST), after which the old secret signs nothing. */
static void test_settings_page_ends_a_secret_rotation(void **state)
{
    (void)state;
    clear_throttle();
    session s = sign_in();
    assert_int_equal(it_ctl("settings unset client_secret_previous > /dev/null"), 0);
    char until[64];
    rotation_until(&s, until, sizeof until);
    assert_string_equal(until, "");

    assert_int_equal(it_ctl("settings set client_secret it-admin-rotation-old > /dev/null"), 0);
    assert_int_equal(it_ctl("settings set client_secret it-admin-rotation-new > /dev/null"), 0);
    rotation_until(&s, until, sizeof until);
    const char *expected = it_text("SELECT to_char((updated_at + interval '72 hours') AT TIME ZONE"
                                   " 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM hv_settings"
                                   " WHERE name = 'client_secret_previous'",
                                   NULL, NULL);
    assert_non_null(expected);
    assert_string_equal(until, expected);
    long long id = it_deliver_event("it-admin-rotation-old", "customers/create", ORG,
                                    "{\"id\":9300050,\"updated_at\":\"2026-02-05T00:00:00Z\"}");
    assert_true(id > 0);

    /* Not without the CSRF token, nor from another site, nor a wrong value. */
    reply r = admin_call("POST", "/api/haravan/settings", &s, 0, NULL, NULL, "end_rotation=1");
    expect_status(&r, 403, "ending a rotation without CSRF");
    reply_free(&r);
    r = admin_call("POST", "/api/haravan/settings", &s, 1, NULL, "Origin: https://evil.example",
                   "end_rotation=1");
    expect_status(&r, 403, "ending a rotation cross-site");
    reply_free(&r);
    r = admin_call("POST", "/api/haravan/settings", &s, 1, "application/json", NULL,
                   "{\"end_rotation\":\"yes\"}");
    expect_status(&r, 400, "end_rotation not a boolean");
    assert_non_null(strstr(r.body.data, "\"end_rotation\""));
    reply_free(&r);
    assert_int_equal(
        it_scalar("SELECT count(*) FROM hv_settings WHERE name = 'client_secret_previous'", NULL),
        1);

    r = admin_call("POST", "/api/haravan/settings", &s, 1, "application/json", NULL,
                   "{\"end_rotation\":true}");
    expect_status(&r, 200, "ending the rotation");
    assert_non_null(strstr(r.body.data, "\"rotation\":null"));
    reply_free(&r);
    assert_int_equal(
        it_scalar("SELECT count(*) FROM hv_settings WHERE name = 'client_secret_previous'", NULL),
        0);
    /* The workers heard it: the old secret signs nothing, the new one does. */
    const char *body = "{\"id\":9300051,\"updated_at\":\"2026-02-06T00:00:00Z\"}";
    it_response old = it_deliver("it-admin-rotation-old", "X-Haravan-Hmacsha256",
                                 "customers/create", ORG, body, strlen(body));
    assert_int_equal(old.status, 401);
    it_response_free(&old);
    id = it_deliver_event("it-admin-rotation-new", "customers/create", ORG, body);
    assert_true(id > 0);
    /* The form spelling does the same (nothing left to end: still 200). */
    char form[128];
    snprintf(form, sizeof form, "end_rotation=1&csrf=%s", s.csrf);
    r = admin_call("POST", "/api/haravan/settings", &s, 0, NULL, NULL, form);
    expect_status(&r, 200, "ending no rotation");
    reply_free(&r);
    assert_int_equal(it_ctl("settings set client_secret '" SECRET "' > /dev/null"), 0);
}

static void test_status_shows_shop_without_tokens_and_counts(void **state)
{
    (void)state;
    clear_throttle();
    session s = sign_in();
    assert_int_equal(it_ctl("shop token " ORG
                            " 'openid wh_api' > /dev/null <<'EOF'\nit-admin-shop-token\nEOF\n"),
                     0);
    it_exec("UPDATE hv_shops SET updated_at = now() + interval '1 hour', name = 'Cửa hàng IT',"
            " expires_at = '2030-01-02T03:04:05Z' WHERE org_id = '" ORG "'");
    reply r = admin_call("GET", "/api/haravan/status", &s, 0, NULL, NULL, NULL);
    expect_status(&r, 200, "status");
    assert_null(strstr(r.body.data, "it-admin-shop-token"));
    cJSON *document = cJSON_Parse(r.body.data);
    assert_non_null(document);
    const cJSON *shop = cJSON_GetObjectItem(document, "shop");
    assert_string_equal(cJSON_GetObjectItem(shop, "org_id")->valuestring, ORG);
    assert_string_equal(cJSON_GetObjectItem(shop, "name")->valuestring, "Cửa hàng IT");
    assert_string_equal(cJSON_GetObjectItem(shop, "scopes")->valuestring, "openid wh_api");
    assert_string_equal(cJSON_GetObjectItem(shop, "status")->valuestring, "connected");
    assert_string_equal(cJSON_GetObjectItem(shop, "token_expires_at")->valuestring,
                        "2030-01-02T03:04:05Z");
    assert_null(cJSON_GetObjectItem(shop, "access_token"));
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(document, "subscriptions")));
    const cJSON *events = cJSON_GetObjectItem(document, "events");
    static const char *const statuses[] = {"pending", "processing", "done", "ignored", "dead"};
    for (size_t i = 0; i < 5; i++) {
        const cJSON *count = cJSON_GetObjectItem(events, statuses[i]);
        assert_true(cJSON_IsNumber(count));
        /* Other workers may be processing meanwhile: only settled counts. */
        if (strcmp(statuses[i], "dead") == 0 || strcmp(statuses[i], "ignored") == 0)
            assert_int_equal(
                (long long)count->valuedouble,
                it_scalar("SELECT count(*) FROM hv_events WHERE status = $1", statuses[i]));
    }
    cJSON_Delete(document);
    reply_free(&r);
    /* A disconnected shop is no shop. Other tests' shops are put back. */
    it_exec("CREATE TEMP TABLE it_admin_shops AS SELECT org_id, status FROM hv_shops"
            " WHERE org_id <> '" ORG "'");
    it_exec("UPDATE hv_shops SET status = 'disconnected'");
    r = admin_call("GET", "/api/haravan/status", &s, 0, NULL, NULL, NULL);
    expect_status(&r, 200, "status without a shop");
    assert_non_null(strstr(r.body.data, "\"shop\":null"));
    reply_free(&r);
    it_exec("UPDATE hv_shops SET status = saved.status FROM it_admin_shops saved"
            " WHERE hv_shops.org_id = saved.org_id");
    it_exec("DROP TABLE it_admin_shops");
}

/* The simulator's seeded shop (tests/sim/seed). */
#define SIM_ORG "1000114691"

/* GET /api/subscribe calls the simulator has answered. */
static long long sim_subscribe_lists(void)
{
    it_sim_response response = it_sim_request("GET", "/sim/counters", NULL, NULL);
    assert_int_equal(response.status, 200);
    cJSON *counters = cJSON_Parse(response.body.data);
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(counters, "subscribe_lists");
    assert_true(cJSON_IsNumber(count));
    long long value = (long long)count->valuedouble;
    cJSON_Delete(counters);
    it_sim_response_free(&response);
    return value;
}

/* The status as the page gets it: 200, with "subscriptions_unavailable". */
static int status_subscriptions_unavailable(const session *s)
{
    reply r = admin_call("GET", "/api/haravan/status", s, 0, NULL, NULL, NULL);
    expect_status(&r, 200, "status");
    cJSON *document = cJSON_Parse(r.body.data);
    assert_non_null(document);
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(document, "subscriptions")));
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(document, "shop"), "org_id"));
    assert_true(
        cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(document, "events"), "done")));
    const cJSON *unavailable = cJSON_GetObjectItem(document, "subscriptions_unavailable");
    if (!cJSON_IsBool(unavailable))
        fail_msg("no subscriptions_unavailable in %s", r.body.data);
    int result = cJSON_IsTrue(unavailable);
    cJSON_Delete(document);
    reply_free(&r);
    return result;
}

/* The status asks Haravan for the subscriptions once a minute per worker,
 * and a slow Haravan does not hold it: after 3 s the rest is answered,
 * saying the list could not be read. One worker, so that two calls meet
 * the same cache. */
static void test_status_caches_subscriptions_and_bounds_haravan(void **state)
{
    (void)state;
    clear_throttle();
    it_sim_admin("/sim/tokens", "{\"token\":\"it-admin-status-token\",\"org_id\":" SIM_ORG
                                ",\"scopes\":\"openid wh_api\"}");
    assert_int_equal(it_ctl("shop token " SIM_ORG
                            " 'openid wh_api' > /dev/null <<'EOF'\nit-admin-status-token\nEOF\n"),
                     0);
    it_exec("UPDATE hv_shops SET updated_at = now() + interval '2 hours'"
            " WHERE org_id = '" SIM_ORG "'");
    restart_fcgi_with("HARAVAN_WORKERS", "1");
    session s = sign_in();

    long long before = sim_subscribe_lists();
    assert_int_equal(status_subscriptions_unavailable(&s), 0);
    assert_int_equal(status_subscriptions_unavailable(&s), 0);
    assert_int_equal(sim_subscribe_lists() - before, 1);

    /* A webhook service slower than the status waits (a fresh worker, so
     * nothing is cached). */
    restart_fcgi_with("HARAVAN_WORKERS", "1");
    it_sim_admin("/sim/config", "{\"subscribe_delay_ms\":6000}");
    double started = it_now_ms();
    int unavailable = status_subscriptions_unavailable(&s);
    double waited = it_now_ms() - started;
    /* Back to a prompt webhook service (this waits for the stalled call). */
    it_sim_admin("/sim/config", "{\"subscribe_delay_ms\":0}");
    assert_int_equal(unavailable, 1);
    assert_true(waited < 6000);
    /* A failure is not kept: the next status asks again and gets the list. */
    before = sim_subscribe_lists();
    assert_int_equal(status_subscriptions_unavailable(&s), 0);
    assert_int_equal(sim_subscribe_lists() - before, 1);
    restart_fcgi_with(NULL, NULL);
    /* The simulator's shop is the connect tests' to connect for real. */
    it_exec("DELETE FROM hv_shops WHERE org_id = '" SIM_ORG "'");
}

static void test_events_list_and_replay(void **state)
{
    (void)state;
    clear_throttle();
    assert_int_equal(it_ctl("settings set client_secret '" SECRET "' > /dev/null"), 0);
    session s = sign_in();
    long long good = it_deliver_event(SECRET, "customers/create", ORG,
                                      "{\"id\":9300002,\"first_name\":\"Bình\",\"last_name\":"
                                      "\"Trần\",\"updated_at\":\"2026-02-02T00:00:00Z\"}");
    assert_string_equal(it_wait_processed(good), "done");
    long long garbage = it_deliver_event(SECRET, "customers/create", ORG, "not json {");
    assert_string_equal(it_wait_processed(garbage), "dead");
    /* As if the first had failed for a reason since fixed. */
    char good_id[32], garbage_id[32];
    snprintf(good_id, sizeof good_id, "%lld", good);
    snprintf(garbage_id, sizeof garbage_id, "%lld", garbage);
    it_text("UPDATE hv_events SET status = 'dead', reason = 'it: fixed since', attempts = 8"
            " WHERE id = $1::bigint RETURNING id",
            good_id, NULL);

    reply r =
        admin_call("GET", "/api/haravan/events?status=dead&limit=500", &s, 0, NULL, NULL, NULL);
    expect_status(&r, 200, "dead events");
    cJSON *document = cJSON_Parse(r.body.data);
    assert_non_null(document);
    const cJSON *list = cJSON_GetObjectItem(document, "events");
    long long dead = it_scalar("SELECT count(*) FROM hv_events WHERE status = 'dead'", NULL);
    assert_int_equal(cJSON_GetArraySize(list), dead < 200 ? dead : 200);
    const cJSON *first = cJSON_GetArrayItem(list, 0);
    assert_int_equal((long long)cJSON_GetObjectItem(first, "id")->valuedouble, garbage);
    assert_string_equal(cJSON_GetObjectItem(first, "status")->valuestring, "dead");
    assert_string_equal(cJSON_GetObjectItem(first, "topic")->valuestring, "customers/create");
    assert_string_equal(cJSON_GetObjectItem(first, "org_id")->valuestring, ORG);
    assert_non_null(strstr(cJSON_GetObjectItem(first, "reason")->valuestring, "not valid JSON"));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(first, "resource_id")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(first, "attempts")));
    assert_non_null(cJSON_GetObjectItem(first, "notes"));
    const char *received = cJSON_GetObjectItem(first, "received_at")->valuestring;
    assert_int_equal(strlen(received), 20);
    assert_int_equal(received[19], 'Z');
    const cJSON *second = cJSON_GetArrayItem(list, 1);
    assert_int_equal((long long)cJSON_GetObjectItem(second, "id")->valuedouble, good);
    assert_string_equal(cJSON_GetObjectItem(second, "resource_id")->valuestring, "9300002");
    cJSON_Delete(document);
    reply_free(&r);

    r = admin_call("GET", "/api/haravan/events?limit=2", &s, 0, NULL, NULL, NULL);
    expect_status(&r, 200, "two events");
    document = cJSON_Parse(r.body.data);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(document, "events")), 2);
    cJSON_Delete(document);
    reply_free(&r);
    static const char *const bad_queries[] = {"?status=lost", "?limit=0",  "?limit=-1",
                                              "?limit=ten",   "?limit=5x", "?status=%zz"};
    for (size_t i = 0; i < sizeof bad_queries / sizeof bad_queries[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "/api/haravan/events%s", bad_queries[i]);
        r = admin_call("GET", path, &s, 0, NULL, NULL, NULL);
        expect_status(&r, 400, path);
        reply_free(&r);
    }

    /* Replay: CSRF first, then the event. */
    char path[128];
    snprintf(path, sizeof path, "/api/haravan/events/%lld/replay", good);
    r = admin_call("POST", path, &s, 0, NULL, NULL, NULL);
    expect_status(&r, 403, "replay without CSRF");
    reply_free(&r);
    r = admin_call("POST", path, &s, 1, NULL, "Origin: https://evil.example", NULL);
    expect_status(&r, 403, "cross-site replay");
    reply_free(&r);
    assert_string_equal(
        it_text("SELECT status FROM hv_events WHERE id = $1::bigint", good_id, NULL), "dead");
    r = admin_call("POST", path, &s, 1, NULL, NULL, NULL);
    expect_status(&r, 200, "replay");
    char expected[128];
    snprintf(expected, sizeof expected, "{\"id\":%lld,\"status\":\"done\"}", good);
    assert_string_equal(r.body.data, expected);
    reply_free(&r);
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_events WHERE id = $1::bigint AND"
                               " status = 'done' AND reason IS NULL",
                               good_id),
                     1);
    /* Nothing twice: still one customer for it. */
    assert_int_equal(it_scalar("SELECT count(*) FROM customers WHERE haravan_customer_id ="
                               " '9300002'",
                               NULL),
                     1);
    /* Garbage stays dead, with its reason. */
    snprintf(path, sizeof path, "/api/haravan/events/%lld/replay", garbage);
    r = admin_call("POST", path, &s, 1, NULL, NULL, NULL);
    expect_status(&r, 200, "replay of garbage");
    snprintf(expected, sizeof expected, "{\"id\":%lld,\"status\":\"dead\"}", garbage);
    assert_string_equal(r.body.data, expected);
    reply_free(&r);

    it_text("UPDATE hv_events SET status = 'pending', next_attempt_at = now() + interval '1 hour'"
            " WHERE id = $1::bigint RETURNING id",
            good_id, NULL);
    snprintf(path, sizeof path, "/api/haravan/events/%lld/replay", good);
    r = admin_call("POST", path, &s, 1, NULL, NULL, NULL);
    expect_status(&r, 409, "replay of a pending event");
    reply_free(&r);
    it_text("UPDATE hv_events SET status = 'done', next_attempt_at = now() WHERE id = $1::bigint"
            " RETURNING id",
            good_id, NULL);
    static const char *const missing[] = {"/api/haravan/events/999999999/replay",
                                          "/api/haravan/events/0/replay",
                                          "/api/haravan/events/12a/replay"};
    for (size_t i = 0; i < 3; i++) {
        r = admin_call("POST", missing[i], &s, 1, NULL, NULL, NULL);
        expect_status(&r, 404, missing[i]);
        reply_free(&r);
    }
    r = admin_call("GET", path, &s, 0, NULL, NULL, NULL);
    expect_status(&r, 405, "GET replay");
    reply_free(&r);
    r = admin_call("POST", "/api/haravan/events//replay", &s, 1, NULL, NULL, NULL);
    expect_status(&r, 404, "empty id");
    reply_free(&r);
}

/* ---- HARAVAN_ADMIN_AUTH=crm --------------------------------------------- */

/* Restarts haravan-fcgi with `name`=`value` in its environment (NULL: none
 * added): the stack script starts it with its stack.env and our
 * environment, which wins. */
static void restart_fcgi_with(const char *name, const char *value)
{
    assert_int_equal(it_stack("fcgi-stop"), 0);
    if (name != NULL)
        setenv(name, value, 1);
    int started = it_stack("fcgi-start");
    if (name != NULL)
        unsetenv(name);
    assert_int_equal(started, 0);
    /* Wait until the workers answer through nginx. */
    for (int i = 0; i < 100; i++) {
        reply r = call("GET", "/api/haravan/health", NULL, NULL, NULL);
        long status = r.status;
        reply_free(&r);
        if (status == 200)
            return;
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    fail_msg("haravan-fcgi does not answer after a restart");
}

/* "Cookie: crm_session=..." for the stack's stand-in CRM sign-in check
 * (nginx/dev-server.conf.in): `suffix` "" for boss@crm.example, "-other"
 * for other@crm.example. */
static void crm_cookie(char *out, size_t size, const char *suffix)
{
    snprintf(out, size, "Cookie: crm_session=%s%s", it_env("STACK_CRM_ADMIN_COOKIE"), suffix);
}

/* In crm mode nothing a client sends makes it an admin: the header a CRM
 * might name, the parameter's own name as a header, an empty or refused
 * CRM sign-in. */
static void expect_strangers_refused(void)
{
    static const char *const forged[][2] = {
        {"X-CRM-Admin: boss@crm.example", NULL},
        {"Haravan-Admin-Identity: boss@crm.example", NULL},
        {"Haravan_Admin_Identity: boss@crm.example", NULL},
        {"X-CRM-Admin: ", NULL},
        {"Cookie: crm_session=signed-out", NULL},
        {"Cookie: crm_session=signed-out", "X-CRM-Admin: boss@crm.example"},
    };
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
        const char *headers[] = {forged[i][0], forged[i][1], NULL};
        reply r = call("GET", "/api/haravan/admin/session", NULL, headers, NULL);
        expect_status(&r, 401, forged[i][0]);
        if (strstr(r.body.data, "\"login\":\"crm\"") == NULL)
            fail_msg("%s: the page is not sent to the CRM's sign-in: %s", forged[i][0],
                     r.body.data);
        reply_free(&r);
        r = call("GET", "/api/haravan/settings", NULL, headers, NULL);
        expect_status(&r, 401, forged[i][0]);
        reply_free(&r);
    }
}

static void test_crm_sign_in_through_auth_request(void **state)
{
    (void)state;
    clear_throttle();
    session password_session = sign_in();
    restart_fcgi_with("HARAVAN_ADMIN_AUTH", "crm");

    reply r = call("GET", "/api/haravan/admin/session", NULL, NULL, NULL);
    expect_status(&r, 401, "nobody signed in to the CRM");
    assert_non_null(strstr(r.body.data, "\"login\":\"crm\""));
    reply_free(&r);
    /* Sessions are off: neither a session cookie nor the password opens. */
    r = call("GET", "/api/haravan/settings", password_session.token, NULL, NULL);
    expect_status(&r, 401, "a session cookie in crm mode");
    reply_free(&r);
    r = login_form("password=" PASSWORD_FORM, NULL);
    expect_status(&r, 400, "password login in crm mode");
    reply_free(&r);
    char before[160], after[160];
    fingerprint(before, sizeof before);
    expect_strangers_refused();
    const char *forged_post[] = {"X-CRM-Admin: boss@crm.example", NULL};
    r = call("POST", "/api/haravan/settings", NULL, forged_post, "client_id=forged-id");
    expect_status(&r, 401, "a POST with a forged header");
    reply_free(&r);
    fingerprint(after, sizeof after);
    assert_string_equal(before, after);

    /* Signed in to the CRM: its check names the admin. */
    char boss_cookie[128], other_cookie[128];
    crm_cookie(boss_cookie, sizeof boss_cookie, "");
    crm_cookie(other_cookie, sizeof other_cookie, "-other");
    const char *boss[] = {boss_cookie, NULL};
    r = call("GET", "/api/haravan/admin/session", NULL, boss, NULL);
    expect_status(&r, 200, "session through the CRM's sign-in");
    char csrf[64];
    json_member(&r, "csrf", csrf, sizeof csrf);
    assert_int_equal(strlen(csrf), TOKEN_CHARS);
    reply_free(&r);
    r = call("GET", "/api/haravan/settings", NULL, boss, NULL);
    expect_status(&r, 200, "settings through the CRM's sign-in");
    assert_no_secret(&r, "settings in crm mode");
    reply_free(&r);
    /* The identity is the check's, whatever header the client adds. */
    const char *boss_claims_other[] = {boss_cookie, "X-CRM-Admin: other@crm.example", NULL};
    r = call("GET", "/api/haravan/admin/session", NULL, boss_claims_other, NULL);
    expect_status(&r, 200, "session with a header claiming another admin");
    char claimed_csrf[64];
    json_member(&r, "csrf", claimed_csrf, sizeof claimed_csrf);
    reply_free(&r);
    assert_string_equal(claimed_csrf, csrf);

    fingerprint(before, sizeof before);
    r = call("POST", "/api/haravan/settings", NULL, boss, "client_id=header-mode-id");
    expect_status(&r, 403, "crm mode without CSRF");
    reply_free(&r);
    /* Another admin's token is not this one's. */
    const char *other[] = {other_cookie, NULL};
    r = call("GET", "/api/haravan/admin/session", NULL, other, NULL);
    char other_csrf[64];
    json_member(&r, "csrf", other_csrf, sizeof other_csrf);
    reply_free(&r);
    assert_string_not_equal(csrf, other_csrf);
    char csrf_line[128];
    snprintf(csrf_line, sizeof csrf_line, "X-CSRF-Token: %s", other_csrf);
    const char *mixed[] = {boss_cookie, csrf_line, NULL};
    r = call("POST", "/api/haravan/settings", NULL, mixed, "client_id=header-mode-id");
    expect_status(&r, 403, "another admin's CSRF token");
    reply_free(&r);
    snprintf(csrf_line, sizeof csrf_line, "X-CSRF-Token: %s", csrf);
    const char *cross[] = {boss_cookie, csrf_line, "Origin: https://evil.example", NULL};
    r = call("POST", "/api/haravan/settings", NULL, cross, "client_id=header-mode-id");
    expect_status(&r, 403, "cross-site in crm mode");
    reply_free(&r);
    const char *forged_with_csrf[] = {"X-CRM-Admin: boss@crm.example", csrf_line, NULL};
    r = call("POST", "/api/haravan/settings", NULL, forged_with_csrf, "client_id=header-mode-id");
    expect_status(&r, 401, "a forged header with boss's CSRF token");
    reply_free(&r);
    fingerprint(after, sizeof after);
    assert_string_equal(before, after);

    const char *right[] = {boss_cookie, csrf_line, NULL};
    r = call("POST", "/api/haravan/settings", NULL, right, "client_id=header-mode-id");
    expect_status(&r, 200, "crm mode with CSRF");
    reply_free(&r);
    assert_string_equal(setting("client_id"), "header-mode-id");

    /* Public routes never ask the CRM: a refusing check changes nothing. */
    const char *signed_out[] = {"Cookie: crm_session=signed-out", NULL};
    r = call("GET", "/api/haravan/health", NULL, signed_out, NULL);
    expect_status(&r, 200, "health with a refusing CRM check");
    reply_free(&r);

    restart_fcgi_with(NULL, NULL);
    r = call("GET", "/api/haravan/settings", NULL, boss, NULL);
    expect_status(&r, 401, "the CRM's sign-in once sessions are back");
    reply_free(&r);
    r = call("GET", "/api/haravan/settings", password_session.token, NULL, NULL);
    expect_status(&r, 200, "the session survives the round trip");
    reply_free(&r);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_without_cookie_is_401),
        cmocka_unit_test(test_wrong_password_is_401),
        cmocka_unit_test(test_login_sets_a_strict_cookie_and_stores_only_its_hash),
        cmocka_unit_test(test_login_from_another_site_is_refused),
        cmocka_unit_test(test_logout_needs_csrf_and_ends_the_session),
        cmocka_unit_test(test_eleventh_failure_in_a_minute_is_429),
        cmocka_unit_test(test_one_address_is_throttled_not_the_others),
        cmocka_unit_test(test_all_addresses_together_reach_a_ceiling),
        cmocka_unit_test(test_ctl_password_rules_and_reset),
        cmocka_unit_test(test_log_holds_no_password_or_token),
        cmocka_unit_test_setup(test_admin_routes_refuse_strangers_and_change_nothing, setup_routes),
        cmocka_unit_test(test_settings_post_needs_csrf_and_same_origin),
        cmocka_unit_test(test_form_post_saves_everything_together),
        cmocka_unit_test(test_json_post_saves),
        cmocka_unit_test(test_sources_save_with_the_no_channel_source),
        cmocka_unit_test(test_invalid_fields_are_named_and_nothing_is_saved),
        cmocka_unit_test(test_client_secret_is_never_shown),
        cmocka_unit_test(test_settings_page_ends_a_secret_rotation),
        cmocka_unit_test(test_status_shows_shop_without_tokens_and_counts),
        cmocka_unit_test(test_status_caches_subscriptions_and_bounds_haravan),
        cmocka_unit_test(test_events_list_and_replay),
        cmocka_unit_test(test_crm_sign_in_through_auth_request),
    };
    int failures = cmocka_run_group_tests(tests, setup, NULL);
    curl_global_cleanup();
    return failures;
}
