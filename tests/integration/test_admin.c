/*
 * The settings page's admin API through real nginx and PostgreSQL:
 * signing in and out, the login throttle, CSRF and cross-site refusals,
 * the CRM-header mode, and the settings, status and events routes behind
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
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
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
    static char value[1024];
    value[0] = '\0';
    size_t length = strlen(name);
    for (const char *line = r->headers.data; line != NULL && *line != '\0';) {
        const char *end = strstr(line, "\r\n");
        size_t line_length = end != NULL ? (size_t)(end - line) : strlen(line);
        if (line_length > length && strncasecmp(line, name, length) == 0 && line[length] == ':') {
            const char *start = line + length + 1;
            while (*start == ' ')
                start++;
            snprintf(value, sizeof value, "%.*s", (int)(line_length - (size_t)(start - line)),
                     start);
            return value;
        }
        line = end != NULL ? end + 2 : NULL;
    }
    return value;
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

static void test_wrong_password_is_401_after_a_delay(void **state)
{
    (void)state;
    clear_throttle();
    long long sessions = it_scalar("SELECT count(*) FROM hv_admin_sessions", NULL);
    reply r = login_form("password=not-the-password", NULL);
    expect_status(&r, 401, "wrong password");
    assert_true(r.elapsed_ms >= 950);
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
    char wrong[128];
    snprintf(wrong, sizeof wrong, "X-CSRF-Token: %.42sA", s.csrf);
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

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_without_cookie_is_401),
        cmocka_unit_test(test_wrong_password_is_401_after_a_delay),
        cmocka_unit_test(test_login_sets_a_strict_cookie_and_stores_only_its_hash),
        cmocka_unit_test(test_login_from_another_site_is_refused),
        cmocka_unit_test(test_logout_needs_csrf_and_ends_the_session),
        cmocka_unit_test(test_eleventh_failure_in_a_minute_is_429),
        cmocka_unit_test(test_ctl_password_rules_and_reset),
        cmocka_unit_test(test_log_holds_no_password_or_token),
    };
    int failures = cmocka_run_group_tests(tests, setup, NULL);
    curl_global_cleanup();
    return failures;
}
