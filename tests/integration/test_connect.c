/*
 * Connecting a shop (issue #4), through the real stack: nginx, haravan-fcgi
 * (sanitizer build), PostgreSQL, and the simulator playing accounts,
 * webhook and REST services (docs/CONNECT.md).
 *
 * The browser is libcurl with a cookie jar, driven as a merchant would:
 * sign in as admin, GET /api/haravan/connect, follow to the simulator's
 * consent page, choose a staff member and press Đồng ý (or Từ chối), read
 * the auto-submitting form_post page, post its fields to the connector,
 * follow to the grant step, again, and land on /haravan/?connect=CODE.
 *
 * Covers: the whole flow to connect=ok and the hv_shops row it leaves
 * (sealed tokens: the columns do not hold the plaintext; expiry, scopes,
 * name, who connected); the stored token reads /com/shop.json; a staff
 * member gets not_owner; deny gets denied; a replayed state, a login state
 * at the grant step and a forged state get expired; a state finished in
 * another browser (no cookie, or another value) gets a page that says to
 * start again, stores nothing and stays the merchant's, whose browser then
 * connects (the cookie: HttpOnly, its callback's path, stored hashed,
 * cleared once used); a code redeemed by
 * someone else first gets exchange_failed and stores nothing; a GET (or
 * any method but POST) at a callback gets 405 and a page, and its query is
 * neither used nor logged; a tampered id_token
 * gets invalid_token; a consent without grant_service gets missing_scope;
 * a wrong client secret gets exchange_failed; no client secret gets
 * not_configured; the connect link needs an admin; a rotated signing key
 * is fetched, and (lib/haravan/oidc against the simulator) fetched again
 * for an unknown kid at most once a minute; webhooks (and the status
 * page's list of them): subscribe fails with Haravan's verify_failed until
 * the verify tokens match, then subscribes (the simulator's handshake
 * against our webhook route) and lists; token lifecycle: the background
 * refreshes a short-lived token ahead of expiry, a 401 at the REST API is
 * answered with one refresh (staff lookup of an order's executor), and a
 * revoked refresh token leaves the shop needs_reconnect with its reason
 * and no token handed out; no token, code or secret in the connector's
 * log.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "core/base64.h"
#include "core/config.h"
#include "core/db.h"
#include "core/form.h"
#include "haravan/api.h"
#include "haravan/clients.h"
#include "haravan/oidc.h"
#include "haravan/shop.h"
#include "support.h"

#define ORG            "1000114691"
#define OWNER_ID       "200000244880"
#define OWNER_EMAIL    "shop@gmail.com"
#define STAFF_ID       "200000905615"
#define STAFF_EMAIL    "sales.staff@example.com"
#define ADMIN_PASSWORD "connect-test-password"
#define VERIFY_TOKEN   "it-connect-verify-token"

static config configuration;

/* ---- the browser ---------------------------------------------------------- */

typedef struct page {
    long status;
    buffer body;
    char location[4096];
    buffer headers; /* every header line as received */
} page;

static CURL *browser;
static char csrf[128];

static size_t collect_body(char *data, size_t size, size_t count, void *context)
{
    return buffer_append(context, data, size * count) == 0 ? size * count : 0;
}

static size_t collect_location(char *data, size_t size, size_t count, void *context)
{
    page *p = context;
    size_t length = size * count;
    if (buffer_append(&p->headers, data, length) != 0)
        return 0;
    if (length > 9 && strncasecmp(data, "Location:", 9) == 0) {
        const char *value = data + 9;
        size_t value_length = length - 9;
        while (value_length > 0 && *value == ' ')
            value++, value_length--;
        while (value_length > 0 &&
               (value[value_length - 1] == '\r' || value[value_length - 1] == '\n'))
            value_length--;
        snprintf(p->location, sizeof p->location, "%.*s", (int)value_length, value);
    }
    return length;
}

/* GET (body NULL) or POST a form (body) to an absolute URL, with the jar's
 * cookies; `header` NULL or one extra header line. No redirect followed. */
static page browse(const char *url, const char *body, const char *header)
{
    page p;
    memset(&p, 0, sizeof p);
    struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
    if (header != NULL)
        headers = curl_slist_append(headers, header);
    curl_easy_setopt(browser, CURLOPT_URL, url);
    curl_easy_setopt(browser, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(browser, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(browser, CURLOPT_WRITEDATA, &p.body);
    curl_easy_setopt(browser, CURLOPT_HEADERFUNCTION, collect_location);
    curl_easy_setopt(browser, CURLOPT_HEADERDATA, &p);
    curl_easy_setopt(browser, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(browser, CURLOPT_TIMEOUT, (long)(60 * it_time_scale()));
    if (body != NULL) {
        curl_easy_setopt(browser, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(browser, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    } else {
        curl_easy_setopt(browser, CURLOPT_HTTPGET, 1L);
    }
    if (curl_easy_perform(browser) == CURLE_OK)
        curl_easy_getinfo(browser, CURLINFO_RESPONSE_CODE, &p.status);
    curl_slist_free_all(headers);
    if (p.body.data == NULL)
        assert_int_equal(buffer_append(&p.body, "", 0), 0);
    if (strncmp(url, it_env("HARAVAN_PUBLIC_URL"), strlen(it_env("HARAVAN_PUBLIC_URL"))) == 0)
        it_save_response(body != NULL ? "POST" : "GET", url, p.status,
                         p.headers.data != NULL ? p.headers.data : "", p.body.data, p.body.length);
    return p;
}

static void page_free(page *p)
{
    buffer_free(&p->body);
    buffer_free(&p->headers);
}

/* The value of header `name` (the first, without CR LF; static), or NULL. */
static const char *header_of(const page *p, const char *name)
{
    return it_header_value(p->headers.data, name);
}

static void connector_url(const char *path, char *out, size_t size)
{
    snprintf(out, size, "%s%s", it_env("HARAVAN_BASE_URL"), path);
}

/* Signs the browser in as the admin; keeps the CSRF token. */
static void sign_in(void)
{
    char url[512];
    connector_url("/api/haravan/admin/login", url, sizeof url);
    page p = browse(url, "password=" ADMIN_PASSWORD, NULL);
    if (p.status != 200)
        fail_msg("admin login: %ld %s", p.status, p.body.data);
    cJSON *answer = cJSON_Parse(p.body.data);
    const cJSON *token = cJSON_GetObjectItem(answer, "csrf");
    assert_true(cJSON_IsString(token));
    snprintf(csrf, sizeof csrf, "%s", token->valuestring);
    cJSON_Delete(answer);
    page_free(&p);
}

/* ---- HTML of the simulator's pages ------------------------------------------------ */

/* `text` with the entities the simulator writes decoded, as a new string. */
static char *unescape(const char *text, size_t length)
{
    static const struct {
        const char *entity;
        char c;
    } entities[] = {{"&amp;", '&'}, {"&quot;", '"'}, {"&lt;", '<'},
                    {"&gt;", '>'},  {"&#39;", '\''}, {"&#x27;", '\''}};
    buffer out = BUFFER_INIT;
    for (size_t i = 0; i < length;) {
        size_t used = 0;
        for (size_t e = 0; e < sizeof entities / sizeof entities[0] && used == 0; e++) {
            size_t n = strlen(entities[e].entity);
            if (i + n <= length && strncmp(text + i, entities[e].entity, n) == 0) {
                assert_int_equal(buffer_append_char(&out, entities[e].c), 0);
                used = n;
            }
        }
        if (used == 0) {
            assert_int_equal(buffer_append_char(&out, text[i]), 0);
            used = 1;
        }
        i += used;
    }
    assert_int_equal(buffer_append(&out, "", 0), 0);
    return buffer_detach(&out);
}

/* The value of attribute `name` in the tag starting at `tag`, or NULL. */
static char *attribute(const char *tag, const char *name)
{
    const char *end = strchr(tag, '>');
    char pattern[64];
    snprintf(pattern, sizeof pattern, " %s=\"", name);
    const char *found = strstr(tag, pattern);
    if (found == NULL || end == NULL || found > end)
        return NULL;
    const char *value = found + strlen(pattern);
    const char *close = strchr(value, '"');
    assert_non_null(close);
    return unescape(value, (size_t)(close - value));
}

/* The page's hidden inputs as a urlencoded form, with `replace_name`'s
 * value replaced by `replace_value` when given. */
static void hidden_form(const char *html, buffer *out, const char *replace_name,
                        const char *replace_value)
{
    for (const char *tag = strstr(html, "<input"); tag != NULL; tag = strstr(tag + 1, "<input")) {
        char *type = attribute(tag, "type");
        char *name = attribute(tag, "name");
        char *value = attribute(tag, "value");
        if (type != NULL && strcmp(type, "hidden") == 0 && name != NULL) {
            const char *sent = replace_name != NULL && strcmp(name, replace_name) == 0
                                   ? replace_value
                                   : (value != NULL ? value : "");
            assert_int_equal(buffer_printf(out, "%s%s=", out->length > 0 ? "&" : "", name), 0);
            assert_int_equal(form_append_encoded(out, sent), 0);
        }
        free(type);
        free(name);
        free(value);
    }
}

/* A field of a urlencoded form, decoded (static buffer). */
static const char *field_of(const char *body, const char *name)
{
    static char value[16384];
    form parsed;
    assert_int_equal(form_parse(&parsed, body, strlen(body)), 0);
    const char *found = form_get(&parsed, name);
    if (found != NULL)
        snprintf(value, sizeof value, "%s", found);
    form_free(&parsed);
    return found != NULL ? value : NULL;
}

/* ---- the flow ---------------------------------------------------------------------- */

typedef struct consent_choice {
    const char *user_id;  /* NULL: the owner */
    const char *decision; /* NULL: allow */
    const char *scope;    /* NULL: as the connector asked */
} consent_choice;

/* From an authorize URL through the consent page to the form_post: writes
 * the auto-submit form's action and its fields (urlencoded). */
static void consent(const char *authorize_url, const consent_choice *choice, char *action,
                    size_t action_size, buffer *fields)
{
    page shown = browse(authorize_url, NULL, NULL);
    if (shown.status != 200 || strstr(shown.body.data, "Đồng ý") == NULL)
        fail_msg("consent page: %ld %s", shown.status, shown.body.data);
    buffer decision = BUFFER_INIT;
    int narrowed = choice != NULL && choice->scope != NULL;
    hidden_form(shown.body.data, &decision, narrowed ? "scope" : NULL,
                narrowed ? choice->scope : NULL);
    assert_int_equal(
        buffer_printf(&decision, "&user_id=%s&decision=%s",
                      choice != NULL && choice->user_id != NULL ? choice->user_id : OWNER_ID,
                      choice != NULL && choice->decision != NULL ? choice->decision : "allow"),
        0);
    char url[512];
    snprintf(url, sizeof url, "%s/connect/authorize", it_env("HARAVAN_SIM_URL"));
    page posted = browse(url, decision.data, NULL);
    if (posted.status != 200 || strstr(posted.body.data, "document.forms[0].submit()") == NULL)
        fail_msg("form_post page: %ld %s", posted.status, posted.body.data);
    const char *form_tag = strstr(posted.body.data, "<form");
    assert_non_null(form_tag);
    char *target = attribute(form_tag, "action");
    assert_non_null(target);
    snprintf(action, action_size, "%s", target);
    free(target);
    buffer_clear(fields);
    hidden_form(posted.body.data, fields, NULL, NULL);
    buffer_free(&decision);
    page_free(&posted);
    page_free(&shown);
}

/* Posts the form_post fields to the connector; returns the Location. */
static void post_callback(const char *action, const char *fields, char *location, size_t size)
{
    page p = browse(action, fields, NULL);
    if (p.status != 302)
        fail_msg("%s: expected 302, got %ld %s", action, p.status, p.body.data);
    snprintf(location, size, "%s", p.location);
    page_free(&p);
}

/* The CODE of a Location {PUBLIC}/haravan/?connect=CODE (static), or NULL
 * when the Location goes elsewhere. */
static const char *connect_code(const char *location)
{
    static char code[64];
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/haravan/?connect=", it_env("HARAVAN_PUBLIC_URL"));
    if (strncmp(location, prefix, strlen(prefix)) != 0)
        return NULL;
    snprintf(code, sizeof code, "%s", location + strlen(prefix));
    return code;
}

/* GET /api/haravan/connect: the authorize URL (or the page's Location). */
static void start(char *location, size_t size)
{
    char url[512];
    connector_url("/api/haravan/connect", url, sizeof url);
    page p = browse(url, NULL, NULL);
    if (p.status != 302)
        fail_msg("connect: expected 302, got %ld %s", p.status, p.body.data);
    snprintf(location, size, "%s", p.location);
    page_free(&p);
}

/* One step: consent at `authorize_url` and the callback; the Location. */
static void step(const char *authorize_url, const consent_choice *choice, char *location,
                 size_t size)
{
    char action[1024];
    buffer fields = BUFFER_INIT;
    consent(authorize_url, choice, action, sizeof action, &fields);
    post_callback(action, fields.data, location, size);
    buffer_free(&fields);
}

/* The whole flow with `login` at the login step and `grant` at the grant
 * step (NULL: the owner allows); returns the final code (static). */
static const char *connect_with(const consent_choice *login, const consent_choice *grant)
{
    char location[4096];
    start(location, sizeof location);
    const char *code = connect_code(location);
    if (code != NULL)
        return code;
    step(location, login, location, sizeof location);
    code = connect_code(location);
    if (code != NULL)
        return code;
    step(location, grant, location, sizeof location);
    code = connect_code(location);
    if (code == NULL)
        fail_msg("the grant step ended at %s", location);
    return code;
}

static const char *connect_as_owner(void)
{
    return connect_with(NULL, NULL);
}

/* ---- state of the stack ------------------------------------------------------ */

static void sim_config(const char *json)
{
    it_sim_admin("/sim/config", json);
}

/* The shop's stored token of `kind`, opened with the stack's master key;
 * "" when there is none. Static buffer. */
static const char *stored_token(const char *kind)
{
    static char plain[1024];
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT %s FROM hv_shops WHERE org_id = $1", kind);
    PGresult *result = PQexecParams(it_db(), sql, 1, NULL, (const char *[]){ORG}, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(result), PGRES_TUPLES_OK);
    plain[0] = '\0';
    if (PQntuples(result) == 1 && !PQgetisnull(result, 0, 0)) {
        buffer opened = BUFFER_INIT;
        char error[256];
        if (hv_shop_open_token(configuration.master_key, kind, ORG, PQgetvalue(result, 0, 0),
                               &opened, error, sizeof error) != 0)
            fail_msg("%s", error);
        snprintf(plain, sizeof plain, "%s", opened.data);
        buffer_free(&opened);
    }
    PQclear(result);
    return plain;
}

static const char *shop_field(const char *column)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT %s::text FROM hv_shops WHERE org_id = $1", column);
    return it_text(sql, ORG, NULL);
}

static void expect_connected(void)
{
    assert_string_equal(connect_as_owner(), "ok");
    assert_string_equal(shop_field("status"), "connected");
}

/* Waits up to `seconds` for `column` of the shop to differ from `before`. */
static int wait_change(const char *column, const char *before, int seconds)
{
    double deadline = it_now_ms() + seconds * 1000.0 * it_time_scale();
    while (it_now_ms() < deadline) {
        const char *now = shop_field(column);
        if (now != NULL && strcmp(now, before) != 0)
            return 1;
        struct timespec pause = {0, 200 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return 0;
}

/* ---- setup ---------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    char error[256];
    if (config_load(&configuration, NULL, error, sizeof error) != 0 ||
        !configuration.has_master_key) {
        fprintf(stderr, "cannot load the stack's configuration: %s\n", error);
        return -1;
    }
    char command[512];
    snprintf(command, sizeof command, "admin password > /dev/null <<'EOF'\n%s\nEOF\n",
             ADMIN_PASSWORD);
    if (it_ctl(command) != 0)
        return -1;
    snprintf(command, sizeof command, "settings set client_id '%s' > /dev/null",
             it_env("HARAVAN_SIM_CLIENT_ID"));
    if (it_ctl(command) != 0)
        return -1;
    snprintf(command, sizeof command, "settings set client_secret '%s' > /dev/null",
             it_env("HARAVAN_SIM_CLIENT_SECRET"));
    if (it_ctl(command) != 0)
        return -1;
    browser = curl_easy_init();
    if (browser == NULL)
        return -1;
    curl_easy_setopt(browser, CURLOPT_COOKIEFILE, ""); /* the cookie engine, in memory */
    sim_config("{\"access_token_seconds\":3600,\"refresh_token_usage\":\"rotate\","
               "\"c_hash\":\"include\",\"at_hash\":\"include\"}");
    sign_in();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sim_config("{\"access_token_seconds\":3600,\"refresh_token_usage\":\"rotate\","
               "\"c_hash\":\"include\",\"at_hash\":\"include\"}");
    curl_easy_cleanup(browser);
    config_free(&configuration);
    return 0;
}

/* ---- the flow ------------------------------------------------------------------------ */

static void test_connect_needs_an_admin(void **state)
{
    (void)state;
    it_response r = it_request("GET", "/api/haravan/connect", NULL, NULL, 0);
    assert_int_equal(r.status, 401);
    it_response_free(&r);
    /* The callbacks are public, but a forged one ends at the state. */
    const char *forged = "state=forged&code=x&id_token=y";
    r = it_request("POST", "/api/haravan/login", NULL, forged, strlen(forged));
    assert_int_equal(r.status, 302);
    it_response_free(&r);
    r = it_request("POST", "/api/haravan/grandservice", NULL, forged, strlen(forged));
    assert_int_equal(r.status, 302);
    it_response_free(&r);
}

/* A GET at either callback (Haravan answers by form_post): 405, Allow:
 * POST, not cached, no Referer, a page that explains and links to the
 * settings page; nothing in its query is used (the state it carries still
 * works by POST afterwards) or logged. */
static void expect_not_post(const char *method, const char *url, const char *body)
{
    curl_easy_setopt(browser, CURLOPT_CUSTOMREQUEST, method);
    page p = browse(url, body, NULL);
    curl_easy_setopt(browser, CURLOPT_CUSTOMREQUEST, NULL);
    if (p.status != 405)
        fail_msg("%s %s: %ld %s", method, url, p.status, p.body.data);
    assert_string_equal(header_of(&p, "Allow"), "POST");
    assert_non_null(strstr(header_of(&p, "Cache-Control"), "no-store"));
    assert_string_equal(header_of(&p, "Referrer-Policy"), "no-referrer");
    assert_non_null(strstr(header_of(&p, "Content-Type"), "text/html"));
    assert_string_equal(p.location, "");
    char link[600];
    snprintf(link, sizeof link, "<a href=\"%s/haravan/\">", it_env("HARAVAN_PUBLIC_URL"));
    assert_non_null(strstr(p.body.data, link));
    assert_non_null(strstr(p.body.data, "Không thể hoàn tất kết nối"));
    assert_non_null(strstr(p.body.data, "form post"));
    assert_null(strstr(p.body.data, "get-query-code"));
    page_free(&p);
}

static void test_callbacks_take_post_only(void **state)
{
    (void)state;
    static const char *const paths[] = {"/api/haravan/login", "/api/haravan/grandservice"};
    for (size_t i = 0; i < 2; i++) {
        char url[1024];
        connector_url(paths[i], url, sizeof url);
        expect_not_post("GET", url, NULL);
        expect_not_post("PUT", url, "code=get-query-code-put");
        snprintf(url + strlen(url), sizeof url - strlen(url),
                 "?code=get-query-code-%zu&id_token=a.b.c&state=s", i);
        expect_not_post("GET", url, NULL);
    }
    /* A real form_post's fields, sent as a GET query first: refused, and
     * not spent; the same fields by POST then go on to the grant step. */
    char location[4096];
    char action[1024];
    buffer fields = BUFFER_INIT;
    start(location, sizeof location);
    consent(location, NULL, action, sizeof action, &fields);
    char url[8192];
    snprintf(url, sizeof url, "%s?%s", action, fields.data);
    expect_not_post("GET", url, NULL);
    char next[4096];
    post_callback(action, fields.data, next, sizeof next);
    assert_null(connect_code(next));
    assert_non_null(strstr(next, "/connect/authorize?"));
    buffer_free(&fields);
    /* The connector's log holds no query value. */
    char path[512];
    snprintf(path, sizeof path, "%s/log/haravan-fcgi.log", it_env("HARAVAN_VAR"));
    buffer log = BUFFER_INIT;
    it_read_file(path, &log);
    assert_null(strstr(log.data, "get-query-code"));
    assert_non_null(strstr(log.data, "\"not_post\""));
    buffer_free(&log);
}

static void test_authorize_request_is_the_contracts(void **state)
{
    (void)state;
    char location[4096];
    start(location, sizeof location);
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/connect/authorize?", it_env("HARAVAN_ACCOUNTS_URL"));
    assert_memory_equal(location, prefix, strlen(prefix));
    const char *query = location + strlen(prefix);
    char redirect[512];
    snprintf(redirect, sizeof redirect, "%s/api/haravan/login", it_env("HARAVAN_PUBLIC_URL"));
    assert_string_equal(field_of(query, "client_id"), it_env("HARAVAN_SIM_CLIENT_ID"));
    assert_string_equal(field_of(query, "redirect_uri"), redirect);
    assert_string_equal(field_of(query, "response_type"), "code id_token");
    assert_string_equal(field_of(query, "response_mode"), "form_post");
    assert_string_equal(field_of(query, "scope"), "openid profile email org userinfo");
    assert_true(strlen(field_of(query, "state")) >= 43);
    assert_true(strlen(field_of(query, "nonce")) >= 43);
    /* Only the state's hash is stored. */
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_oauth_states WHERE"
                               " state_hash = sha256(convert_to($1, 'UTF8')) AND step = 'login'",
                               field_of(query, "state")),
                     1);
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_oauth_states WHERE"
                               " position(convert_to($1, 'UTF8') in state_hash) > 0",
                               field_of(query, "state")),
                     0);
}

static void test_owner_connects_the_shop(void **state)
{
    (void)state;
    it_exec("DELETE FROM hv_shops WHERE org_id = '" ORG "'");
    expect_connected();
    assert_string_equal(shop_field("connected_by"), OWNER_EMAIL);
    assert_non_null(shop_field("name"));
    assert_null(shop_field("status_reason"));
    const char *scopes = shop_field("scopes");
    assert_non_null(strstr(scopes, "grant_service"));
    assert_non_null(strstr(scopes, "wh_api"));
    assert_non_null(strstr(scopes, "com.read_orders"));
    /* expires_in 3600 from the simulator. */
    assert_int_equal(it_scalar("SELECT round(extract(epoch FROM expires_at - token_issued_at))"
                               " FROM hv_shops WHERE org_id = $1",
                               ORG),
                     3600);
    /* Sealed: neither column holds its plaintext, and each opens only
     * under its own label. */
    char access[1024];
    char refresh[1024];
    snprintf(access, sizeof access, "%s", stored_token("access_token"));
    snprintf(refresh, sizeof refresh, "%s", stored_token("refresh_token"));
    assert_true(strlen(access) > 10);
    assert_true(strlen(refresh) > 10);
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_shops WHERE"
                               " position(convert_to($1, 'UTF8') in access_token) > 0"
                               " OR position(convert_to($1, 'UTF8') in refresh_token) > 0",
                               access),
                     0);
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_shops WHERE"
                               " position(convert_to($1, 'UTF8') in refresh_token) > 0"
                               " OR position(convert_to($1, 'UTF8') in access_token) > 0",
                               refresh),
                     0);
    /* The stored token is the shop's: it reads /com/shop.json. */
    it_sim_response shop = it_sim_request("GET", "/com/shop.json", access, NULL);
    assert_int_equal(shop.status, 200);
    assert_non_null(strstr(shop.body.data, "\"shop\""));
    it_sim_response_free(&shop);
}

static void test_staff_member_is_not_owner(void **state)
{
    (void)state;
    consent_choice staff = {.user_id = STAFF_ID};
    assert_string_equal(connect_with(&staff, NULL), "not_owner");
}

static void test_deny_is_denied(void **state)
{
    (void)state;
    consent_choice deny = {.decision = "deny"};
    assert_string_equal(connect_with(&deny, NULL), "denied");
    /* ... at either step. */
    assert_string_equal(connect_with(NULL, &deny), "denied");
}

static void test_states_are_single_use_and_per_step(void **state)
{
    (void)state;
    char location[4096];
    char action[1024];
    char next[4096];
    buffer fields = BUFFER_INIT;
    start(location, sizeof location);
    consent(location, NULL, action, sizeof action, &fields);
    /* A login state at the grant callback: not its step. */
    char grant_url[512];
    connector_url("/api/haravan/grandservice", grant_url, sizeof grant_url);
    post_callback(grant_url, fields.data, next, sizeof next);
    assert_string_equal(connect_code(next), "expired");
    /* That did not spend it: the login callback takes it, once. */
    post_callback(action, fields.data, next, sizeof next);
    assert_null(connect_code(next));
    assert_non_null(strstr(next, "/connect/authorize?"));
    post_callback(action, fields.data, next, sizeof next);
    assert_string_equal(connect_code(next), "expired");
    /* An old state is expired too. */
    start(location, sizeof location);
    consent(location, NULL, action, sizeof action, &fields);
    it_exec("UPDATE hv_oauth_states SET created_at = now() - interval '11 minutes'"
            " WHERE consumed_at IS NULL");
    post_callback(action, fields.data, next, sizeof next);
    assert_string_equal(connect_code(next), "expired");
    buffer_free(&fields);
}

/* ---- the state bound to the browser ---------------------------------------------- */

/* A browser of its own (an empty cookie jar): someone else's. */
static CURL *other_browser(const char *cookie)
{
    CURL *handle = curl_easy_init();
    assert_non_null(handle);
    curl_easy_setopt(handle, CURLOPT_COOKIEFILE, "");
    if (cookie != NULL)
        curl_easy_setopt(handle, CURLOPT_COOKIELIST, cookie);
    return handle;
}

/* In `someone`'s browser: consent at `authorize_url` as the owner and post
 * the form_post to the connector. Returns the connector's answer. */
static page finish_elsewhere(CURL *someone, const char *authorize_url)
{
    CURL *merchant = browser;
    browser = someone;
    char action[1024];
    buffer fields = BUFFER_INIT;
    consent(authorize_url, NULL, action, sizeof action, &fields);
    page answer = browse(action, fields.data, NULL);
    browser = merchant;
    buffer_free(&fields);
    return answer;
}

static void expect_start_again_page(page *p)
{
    if (p->status != 403)
        fail_msg("expected 403, got %ld %s", p->status, p->body.data);
    assert_string_equal(p->location, "");
    assert_non_null(strstr(header_of(p, "Content-Type"), "text/html"));
    assert_string_equal(header_of(p, "Referrer-Policy"), "no-referrer");
    assert_non_null(strstr(header_of(p, "Cache-Control"), "no-store"));
    assert_non_null(strstr(p->body.data, "Hãy bắt đầu lại từ trang cài đặt"));
    assert_non_null(strstr(p->body.data, "Start again from the settings page"));
    char link[600];
    snprintf(link, sizeof link, "<a href=\"%s/haravan/\">", it_env("HARAVAN_PUBLIC_URL"));
    assert_non_null(strstr(p->body.data, link));
    page_free(p);
}

/* The value of cookie `name` as a Set-Cookie header line of `p` set it
 * (static), with the whole line in `line` when given; NULL when unset. */
static const char *set_cookie(const page *p, const char *name, char *line, size_t size)
{
    static char value[256];
    char marker[64];
    snprintf(marker, sizeof marker, "Set-Cookie: %s=", name);
    const char *found = p->headers.data != NULL ? strstr(p->headers.data, marker) : NULL;
    if (found == NULL)
        return NULL;
    const char *end = strstr(found, "\r\n");
    if (line != NULL)
        snprintf(line, size, "%.*s", (int)(end - found), found);
    const char *start = found + strlen(marker);
    snprintf(value, sizeof value, "%.*s", (int)strcspn(start, ";\r"), start);
    return value;
}

static long long states_like(const char *state, const char *condition)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM hv_oauth_states WHERE state_hash ="
             " sha256(convert_to($1, 'UTF8')) AND %s",
             condition);
    return it_scalar(sql, state);
}

/* Someone who sees the authorize URL (of either step) cannot finish it in
 * another browser: with no cookie or another one, a page says to start
 * again, nothing is stored and the state stays the merchant's, who then
 * finishes in the browser that pressed Kết nối. The cookie is HttpOnly,
 * limited to its callback's path, stored only hashed, cleared once used. */
static void test_state_is_bound_to_the_browser(void **state)
{
    (void)state;
    it_exec("DELETE FROM hv_shops WHERE org_id = '" ORG "'");
    char url[512];
    connector_url("/api/haravan/connect", url, sizeof url);
    page started = browse(url, NULL, NULL);
    assert_int_equal(started.status, 302);
    char line[1024] = "";
    char secret[256] = "";
    const char *value = set_cookie(&started, "hv_oauth_login", line, sizeof line);
    snprintf(secret, sizeof secret, "%s", value != NULL ? value : "");
    char login_url[4096];
    snprintf(login_url, sizeof login_url, "%s", started.location);
    const char *login_state = field_of(strchr(login_url, '?') + 1, "state");
    char login_state_copy[256];
    snprintf(login_state_copy, sizeof login_state_copy, "%s", login_state);
    page_free(&started);

    /* Another browser, then one with a made-up cookie: the login step. */
    char forged[512];
    snprintf(forged, sizeof forged,
             "127.0.0.1\tFALSE\t/api/haravan/login\tFALSE\t0\t"
             "hv_oauth_login\tnot-the-merchants");
    CURL *strangers[] = {other_browser(NULL), other_browser(forged)};
    for (size_t i = 0; i < 2; i++) {
        page refused = finish_elsewhere(strangers[i], login_url);
        assert_null(set_cookie(&refused, "hv_oauth_grant", NULL, 0));
        expect_start_again_page(&refused);
        assert_int_equal(states_like(login_state_copy, "consumed_at IS NULL"), 1);
    }
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_shops WHERE org_id = $1", ORG), 0);

    /* The cookie the merchant's browser got. */
    assert_true(strlen(secret) >= 43);
    assert_non_null(strstr(line, "; Path=/api/haravan/login;"));
    assert_non_null(strstr(line, "; Max-Age=600;"));
    assert_non_null(strstr(line, "; HttpOnly"));
    /* The stack is http://127.0.0.1: same-site with the simulator, and no
     * Secure (https deployments get SameSite=None; Secure). */
    assert_non_null(strstr(line, "; SameSite=Lax"));
    assert_null(strstr(line, "Secure"));
    /* Stored with the state: the SHA-256 of the cookie's value only. */
    assert_string_equal(it_text("SELECT count(*)::text FROM hv_oauth_states WHERE state_hash ="
                                " sha256(convert_to($1, 'UTF8')) AND browser_hash ="
                                " sha256(convert_to($2, 'UTF8'))",
                                login_state_copy, secret),
                        "1");

    /* The merchant's browser: on to the grant step; the login cookie is
     * cleared and the grant cookie set, for its own path. */
    char action[1024];
    buffer fields = BUFFER_INIT;
    consent(login_url, NULL, action, sizeof action, &fields);
    page granted = browse(action, fields.data, NULL);
    assert_int_equal(granted.status, 302);
    assert_string_equal(set_cookie(&granted, "hv_oauth_login", line, sizeof line), "");
    assert_non_null(strstr(line, "Max-Age=0"));
    assert_non_null(set_cookie(&granted, "hv_oauth_grant", line, sizeof line));
    assert_non_null(strstr(line, "; Path=/api/haravan/grandservice;"));
    char grant_url[4096];
    snprintf(grant_url, sizeof grant_url, "%s", granted.location);
    page_free(&granted);

    /* The grant step's URL in another browser: refused the same way. */
    page refused = finish_elsewhere(strangers[0], grant_url);
    expect_start_again_page(&refused);
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_shops WHERE org_id = $1", ORG), 0);
    for (size_t i = 0; i < 2; i++)
        curl_easy_cleanup(strangers[i]);

    /* The merchant finishes: connected, and the grant cookie cleared. */
    consent(grant_url, NULL, action, sizeof action, &fields);
    page done = browse(action, fields.data, NULL);
    assert_int_equal(done.status, 302);
    assert_string_equal(connect_code(done.location), "ok");
    assert_string_equal(set_cookie(&done, "hv_oauth_grant", line, sizeof line), "");
    assert_non_null(strstr(line, "Max-Age=0"));
    page_free(&done);
    assert_string_equal(shop_field("status"), "connected");
    /* Posted again from the merchant's browser: used, so expired. */
    char next[4096];
    post_callback(action, fields.data, next, sizeof next);
    assert_string_equal(connect_code(next), "expired");
    buffer_free(&fields);
}

/* One letter of the payload changed: no longer JSON. */
static void break_payload(char *token)
{
    char *payload = strchr(token, '.') + 1;
    payload[10] = payload[10] == 'A' ? 'B' : 'A';
}

/* A claim changed and the payload encoded again: good JSON, another shop,
 * and a signature that no longer holds. */
static void change_shop(char *token)
{
    char *payload = strchr(token, '.') + 1;
    char *end = strchr(payload, '.');
    unsigned char decoded[8192];
    long length = base64url_decode(payload, (size_t)(end - payload), decoded, sizeof decoded - 1);
    assert_true(length > 0);
    decoded[length] = '\0';
    char *org = strstr((char *)decoded, "\"orgid\":\"" ORG "\"");
    assert_non_null(org);
    org[strlen("\"orgid\":\"") + 9] = org[strlen("\"orgid\":\"") + 9] == '1' ? '2' : '1';
    char encoded[BASE64URL_ENCODED_SIZE(8192)];
    base64url_encode(decoded, (size_t)length, encoded);
    char signature[2048];
    snprintf(signature, sizeof signature, "%s", end);
    snprintf(payload, 8192 - (size_t)(payload - token), "%s%s", encoded, signature);
}

/* The login step with its id_token altered by `tamper`; the code. */
static const char *login_with_tampered_token(void (*tamper)(char *token))
{
    char location[4096];
    char action[1024];
    static char next[4096];
    buffer fields = BUFFER_INIT;
    buffer forged = BUFFER_INIT;
    start(location, sizeof location);
    consent(location, NULL, action, sizeof action, &fields);
    char token[8192];
    snprintf(token, sizeof token, "%s", field_of(fields.data, "id_token"));
    tamper(token);
    static const char *const names[] = {"code", "state", "scope", "session_state", NULL};
    assert_int_equal(buffer_append_string(&forged, "id_token="), 0);
    assert_int_equal(form_append_encoded(&forged, token), 0);
    for (size_t i = 0; names[i] != NULL; i++) {
        assert_int_equal(buffer_printf(&forged, "&%s=", names[i]), 0);
        assert_int_equal(form_append_encoded(&forged, field_of(fields.data, names[i])), 0);
    }
    post_callback(action, forged.data, next, sizeof next);
    buffer_free(&forged);
    buffer_free(&fields);
    return connect_code(next);
}

/* A code Haravan no longer knows (here: someone redeemed it first, as an
 * interceptor would) is refused at the exchange: the merchant is told,
 * and no shop is stored. */
static void test_used_code_is_refused_and_nothing_is_stored(void **state)
{
    (void)state;
    it_exec("DELETE FROM hv_shops WHERE org_id = '" ORG "'");
    char location[4096];
    start(location, sizeof location);
    step(location, NULL, location, sizeof location); /* the login step, as usual */
    assert_null(connect_code(location));
    char action[1024];
    buffer fields = BUFFER_INIT;
    consent(location, NULL, action, sizeof action, &fields);

    buffer exchange = BUFFER_INIT;
    assert_int_equal(buffer_append_string(&exchange, "grant_type=authorization_code&code="), 0);
    assert_int_equal(form_append_encoded(&exchange, field_of(fields.data, "code")), 0);
    assert_int_equal(buffer_append_string(&exchange, "&redirect_uri="), 0);
    assert_int_equal(form_append_encoded(&exchange, action), 0);
    assert_int_equal(buffer_printf(&exchange, "&client_id=%s&client_secret=%s",
                                   it_env("HARAVAN_SIM_CLIENT_ID"),
                                   it_env("HARAVAN_SIM_CLIENT_SECRET")),
                     0);
    char token_url[512];
    snprintf(token_url, sizeof token_url, "%s/connect/token", it_env("HARAVAN_ACCOUNTS_URL"));
    page redeemed = browse(token_url, exchange.data, NULL);
    assert_int_equal(redeemed.status, 200);
    page_free(&redeemed);

    post_callback(action, fields.data, location, sizeof location);
    assert_string_equal(connect_code(location), "exchange_failed");
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_shops WHERE org_id = $1", ORG), 0);
    buffer_free(&exchange);
    buffer_free(&fields);
    expect_connected(); /* the tests after this one start connected */
}

static void test_tampered_id_token_is_invalid(void **state)
{
    (void)state;
    assert_string_equal(login_with_tampered_token(break_payload), "invalid_token");
    assert_string_equal(login_with_tampered_token(change_shop), "invalid_token");
}

/* c_hash is required in the id_token posted with the code, at_hash in the
 * one the token endpoint returns (the simulator is told to leave them out
 * or get them wrong); each failure is invalid_token and stores nothing. */
static void test_id_token_hashes_are_required(void **state)
{
    (void)state;
    static const char *const broken[] = {
        "{\"c_hash\":\"omit\"}",
        "{\"c_hash\":\"wrong\"}",
        "{\"at_hash\":\"omit\"}",
        "{\"at_hash\":\"wrong\"}",
        NULL,
    };
    it_exec("DELETE FROM hv_shops WHERE org_id = '" ORG "'");
    for (size_t i = 0; broken[i] != NULL; i++) {
        sim_config(broken[i]);
        const char *code = connect_as_owner();
        sim_config("{\"c_hash\":\"include\",\"at_hash\":\"include\"}");
        if (strcmp(code, "invalid_token") != 0)
            fail_msg("%s: connect=%s, expected invalid_token", broken[i], code);
        assert_int_equal(it_scalar("SELECT count(*) FROM hv_shops WHERE org_id = $1", ORG), 0);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/log/haravan-fcgi.log", it_env("HARAVAN_VAR"));
    buffer log = BUFFER_INIT;
    it_read_file(path, &log);
    assert_non_null(strstr(log.data, "c_hash is missing"));
    assert_non_null(strstr(log.data, "c_hash does not match"));
    assert_non_null(strstr(log.data, "at_hash is missing"));
    assert_non_null(strstr(log.data, "at_hash does not match"));
    buffer_free(&log);
    expect_connected(); /* the tests after this one start connected */
}

static void test_grant_without_webhook_scopes_is_missing_scope(void **state)
{
    (void)state;
    consent_choice narrow = {.scope = "openid profile email org userinfo offline_access "
                                      "com.read_orders com.read_shop"};
    assert_string_equal(connect_with(NULL, &narrow), "missing_scope");
}

static void test_configuration_failures(void **state)
{
    (void)state;
    /* Haravan refuses our secret at the token endpoint. */
    char json[512];
    snprintf(json, sizeof json, "{\"client_id\":\"%s\",\"client_secret\":\"another-secret\"}",
             it_env("HARAVAN_SIM_CLIENT_ID"));
    it_sim_admin("/sim/apps", json);
    const char *code = connect_as_owner();
    snprintf(json, sizeof json, "{\"client_id\":\"%s\",\"client_secret\":\"%s\"}",
             it_env("HARAVAN_SIM_CLIENT_ID"), it_env("HARAVAN_SIM_CLIENT_SECRET"));
    it_sim_admin("/sim/apps", json);
    assert_string_equal(code, "exchange_failed");
    /* No secret configured here. */
    assert_int_equal(it_ctl("settings unset client_secret > /dev/null"), 0);
    code = connect_as_owner();
    char command[512];
    snprintf(command, sizeof command, "settings set client_secret '%s' > /dev/null",
             it_env("HARAVAN_SIM_CLIENT_SECRET"));
    assert_int_equal(it_ctl(command), 0);
    assert_string_equal(code, "not_configured");
}

static void test_rotated_signing_key(void **state)
{
    (void)state;
    it_sim_admin("/sim/keys/rotate", "{}");
    expect_connected();
}

/* An id_token as the simulator posts it at the login step (static). */
static const char *fresh_id_token(void)
{
    static char token[8192];
    char location[4096];
    char action[1024];
    buffer fields = BUFFER_INIT;
    start(location, sizeof location);
    consent(location, NULL, action, sizeof action, &fields);
    snprintf(token, sizeof token, "%s", field_of(fields.data, "id_token"));
    buffer_free(&fields);
    return token;
}

/* lib/haravan/oidc against the simulator: an unknown kid makes the key set
 * be fetched again, but not twice within a minute. */
static void test_unknown_kid_refetch_is_rate_limited(void **state)
{
    (void)state;
    hv_http http;
    hv_oidc oidc;
    char error[512];
    assert_int_equal(hv_http_init(&http, NULL, error, sizeof error), 0);
    assert_int_equal(
        hv_oidc_init(&oidc, &http, it_env("HARAVAN_ACCOUNTS_URL"), error, sizeof error), 0);
    const char *client_id = it_env("HARAVAN_SIM_CLIENT_ID");
    hv_jwt verified;
    char first[8192];
    snprintf(first, sizeof first, "%s", fresh_id_token());
    assert_int_equal(
        hv_oidc_verify_id_token(&oidc, first, client_id, NULL, &verified, error, sizeof error),
        HV_OIDC_OK);
    assert_string_equal(hv_jwt_claim(&verified, "orgid"), ORG);
    hv_jwt_free(&verified);
    /* Haravan rotates its key: the first token of the new key makes this
     * process fetch the keys again. */
    it_sim_admin("/sim/keys/rotate", "{}");
    char second[8192];
    snprintf(second, sizeof second, "%s", fresh_id_token());
    assert_int_equal(
        hv_oidc_verify_id_token(&oidc, second, client_id, NULL, &verified, error, sizeof error),
        HV_OIDC_OK);
    hv_jwt_free(&verified);
    /* Once more within the minute: the new kid is not fetched, and the
     * old key no longer verifies anything new. */
    it_sim_admin("/sim/keys/rotate", "{}");
    char third[8192];
    snprintf(third, sizeof third, "%s", fresh_id_token());
    assert_int_equal(
        hv_oidc_verify_id_token(&oidc, third, client_id, NULL, &verified, error, sizeof error),
        HV_OIDC_INVALID_TOKEN);
    assert_non_null(strstr(error, "no signing key"));
    /* Tokens of the keys it holds still verify; another client's do not. */
    assert_int_equal(
        hv_oidc_verify_id_token(&oidc, second, client_id, NULL, &verified, error, sizeof error),
        HV_OIDC_OK);
    hv_jwt_free(&verified);
    assert_int_equal(hv_oidc_verify_id_token(&oidc, second, "another-client", NULL, &verified,
                                             error, sizeof error),
                     HV_OIDC_INVALID_TOKEN);
    hv_oidc_free(&oidc);
    /* A process that has not refetched yet takes the newest key. */
    assert_int_equal(
        hv_oidc_init(&oidc, &http, it_env("HARAVAN_ACCOUNTS_URL"), error, sizeof error), 0);
    assert_int_equal(
        hv_oidc_verify_id_token(&oidc, third, client_id, NULL, &verified, error, sizeof error),
        HV_OIDC_OK);
    hv_jwt_free(&verified);
    hv_oidc_free(&oidc);
    hv_http_free(&http);
}

/* ---- webhooks ------------------------------------------------------------------------ */

static page webhooks(const char *method)
{
    char url[512];
    char header[200];
    connector_url("/api/haravan/webhooks", url, sizeof url);
    snprintf(header, sizeof header, "X-CSRF-Token: %s", csrf);
    return browse(url, strcmp(method, "POST") == 0 ? "" : NULL, header);
}

static void set_verify_tokens(const char *ours, const char *haravans)
{
    char command[256];
    snprintf(command, sizeof command, "settings set verify_token '%s' > /dev/null", ours);
    assert_int_equal(it_ctl(command), 0);
    char json[512];
    snprintf(json, sizeof json, "{\"client_id\":\"%s\",\"webhook\":{\"verify_token\":\"%s\"}}",
             it_env("HARAVAN_SIM_CLIENT_ID"), haravans);
    it_sim_admin("/sim/apps", json);
}

static void test_webhooks_subscribe_and_list(void **state)
{
    (void)state;
    expect_connected();
    /* The dashboard's verify token differs: Haravan's error, passed on. */
    set_verify_tokens(VERIFY_TOKEN, "another-verify-token");
    page p = webhooks("POST");
    assert_int_equal(p.status, 502);
    cJSON *answer = cJSON_Parse(p.body.data);
    assert_string_equal(cJSON_GetObjectItem(answer, "error")->valuestring, "haravan");
    assert_int_equal(cJSON_GetObjectItem(answer, "status")->valueint, 400);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(answer, "body"), "error")->valuestring,
        "verify_failed");
    cJSON_Delete(answer);
    page_free(&p);
    /* Matching tokens: the handshake passes and the shop is subscribed. */
    set_verify_tokens(VERIFY_TOKEN, VERIFY_TOKEN);
    p = webhooks("POST");
    if (p.status != 200)
        fail_msg("subscribe: %ld %s", p.status, p.body.data);
    answer = cJSON_Parse(p.body.data);
    const cJSON *subscription = cJSON_GetObjectItem(answer, "subscription");
    char callback[512];
    snprintf(callback, sizeof callback, "%s/api/haravan/webhook", it_env("HARAVAN_PUBLIC_URL"));
    assert_string_equal(cJSON_GetObjectItem(subscription, "callback_url")->valuestring, callback);
    cJSON_Delete(answer);
    page_free(&p);
    p = webhooks("GET");
    assert_int_equal(p.status, 200);
    answer = cJSON_Parse(p.body.data);
    const cJSON *list = cJSON_GetObjectItem(answer, "subscriptions");
    assert_true(cJSON_IsArray(list));
    assert_int_equal(cJSON_GetArraySize(list), 1);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "callback_url")->valuestring, callback);
    cJSON_Delete(answer);
    page_free(&p);
    /* The settings page's status shows the subscription and the shop. */
    char status_url[512];
    connector_url("/api/haravan/status", status_url, sizeof status_url);
    p = browse(status_url, NULL, NULL);
    assert_int_equal(p.status, 200);
    answer = cJSON_Parse(p.body.data);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(answer, "subscriptions")), 1);
    const cJSON *shop = cJSON_GetObjectItem(answer, "shop");
    assert_string_equal(cJSON_GetObjectItem(shop, "org_id")->valuestring, ORG);
    assert_string_equal(cJSON_GetObjectItem(shop, "status")->valuestring, "connected");
    assert_true(cJSON_IsString(cJSON_GetObjectItem(shop, "token_expires_at")));
    cJSON_Delete(answer);
    page_free(&p);
    /* A POST is state-changing: without the CSRF token it is refused. */
    char url[512];
    connector_url("/api/haravan/webhooks", url, sizeof url);
    p = browse(url, "", NULL);
    assert_int_equal(p.status, 403);
    page_free(&p);
    /* Leave nothing subscribed for other tests' deliveries. */
    it_sim_response removed =
        it_sim_request("DELETE", "/api/subscribe", stored_token("access_token"), NULL);
    assert_int_equal(removed.status, 200);
    it_sim_response_free(&removed);
}

/* ---- token lifecycle --------------------------------------------------------------- */

static void test_background_refreshes_ahead_of_expiry(void **state)
{
    (void)state;
    sim_config("{\"access_token_seconds\":20}");
    expect_connected();
    char before[128];
    snprintf(before, sizeof before, "%s", shop_field("md5(access_token)"));
    char refresh_before[128];
    snprintf(refresh_before, sizeof refresh_before, "%s", shop_field("md5(refresh_token)"));
    /* 20 s tokens are refreshed when 10 s are left. */
    sim_config("{\"access_token_seconds\":3600}");
    assert_true(wait_change("md5(access_token)", before, 25));
    /* The simulator rotates refresh tokens: the new one is stored. */
    assert_string_not_equal(shop_field("md5(refresh_token)"), refresh_before);
    assert_string_equal(shop_field("status"), "connected");
    assert_int_equal(it_scalar("SELECT round(extract(epoch FROM expires_at - token_issued_at))"
                               " FROM hv_shops WHERE org_id = $1",
                               ORG),
                     3600);
    it_sim_response shop =
        it_sim_request("GET", "/com/shop.json", stored_token("access_token"), NULL);
    assert_int_equal(shop.status, 200);
    it_sim_response_free(&shop);
}

static void test_401_is_answered_with_one_refresh(void **state)
{
    (void)state;
    expect_connected();
    /* The staff member is a CRM user (maybe already, from another test). */
    assert_int_equal(it_ctl("user add --email " STAFF_EMAIL " --name 'Nhân viên bán hàng'"
                            " > /dev/null 2>&1 || true"),
                     0);
    assert_non_null(
        it_text("SELECT id FROM crm_users WHERE lower(email) = lower($1)", STAFF_EMAIL, NULL));
    it_exec("DELETE FROM hv_staff WHERE org_id = '" ORG "'");
    char before[1024];
    snprintf(before, sizeof before, "%s", stored_token("access_token"));
    char json[1200];
    snprintf(json, sizeof json, "{\"token\":\"%s\"}", before);
    it_sim_admin("/sim/tokens/expire", json);
    /* An order whose executor needs GET /com/users/{id}.json. */
    long long unique = (long long)time(NULL) % 1000000;
    char body[1024];
    snprintf(body, sizeof body,
             "{\"id\":88%06lld,\"name\":\"#C%06lld\","
             "\"created_at\":\"2026-11-02T08:00:00+07:00\","
             "\"updated_at\":\"2026-11-02T08:00:00+07:00\",\"financial_status\":\"pending\","
             "\"gateway\":\"COD\",\"total_price\":100000,\"currency\":\"VND\","
             "\"source_name\":\"web\",\"user_id\":" STAFF_ID ","
             "\"line_items\":[{\"id\":99%06lld,\"product_id\":11,\"variant_id\":111,"
             "\"title\":\"Áo\",\"quantity\":1,\"price\":100000,\"total_discount\":0}],"
             "\"transactions\":[],\"customer\":{\"id\":66%06lld,\"phone\":\"0913%06lld\","
             "\"first_name\":\"Khách\"}}",
             unique, unique, unique, unique, unique);
    long long id =
        it_deliver_event(it_env("HARAVAN_SIM_CLIENT_SECRET"), "orders/create", ORG, body);
    assert_string_equal(it_wait_processed(id), "done");
    char event[32];
    snprintf(event, sizeof event, "%lld", id);
    assert_string_equal(it_text("SELECT lower(u.email) FROM hv_events e JOIN orders o"
                                " ON o.haravan_order_id = e.resource_id AND o.haravan_org_id ="
                                " e.org_id JOIN crm_users u ON u.id = o.executor_id"
                                " WHERE e.id = $1::bigint",
                                event, NULL),
                        STAFF_EMAIL);
    /* The expired token was replaced, once. */
    assert_string_not_equal(stored_token("access_token"), before);
    assert_string_equal(shop_field("status"), "connected");
    char path[512];
    snprintf(path, sizeof path, "%s/log/haravan-fcgi.log", it_env("HARAVAN_VAR"));
    buffer log = BUFFER_INIT;
    it_read_file(path, &log);
    assert_non_null(strstr(log.data, "\"trigger\":\"401\",\"outcome\":\"refreshed\""));
    buffer_free(&log);
}

/* ---- two refreshers, one refresh token ---------------------------------------------- */

static void pause_ms(long milliseconds)
{
    struct timespec pause = {milliseconds / 1000, (milliseconds % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

/* The server pid of the session `application` has waiting on a lock (not
 * `other`), once there is one; fails the test after 15 s. */
static long long waiting_on_a_lock(const char *application, long long other)
{
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE application_name = $1"
             " AND wait_event_type = 'Lock' AND pid <> %lld",
             other);
    for (int i = 0; i < 1500; i++) {
        long long pid = it_scalar(sql, application);
        if (pid > 0)
            return pid;
        pause_ms(10);
    }
    fail_msg("%s never waited on a lock", application);
    return 0;
}

/* A worker of its own: after the 401 to `rejected`, refresh. Exits with the
 * outcome; never returns. */
static pid_t start_refresher(const char *application, const char *rejected)
{
    pid_t child = fork();
    assert_true(child >= 0);
    if (child > 0)
        return child;
    /* Only what this process opens itself: the parent's connections are
     * not ours to use (and _exit leaves them alone). */
    db database;
    hv_clients clients;
    char error[512] = "";
    if (hv_api_global_init() != 0 || db_init(&database, it_env("HARAVAN_DB"), application) != 0 ||
        hv_clients_init(&clients, &configuration, NULL, error, sizeof error) != 0)
        _exit(100);
    hv_refresh_outcome outcome = hv_token_refresh_rejected(&clients.refresher, &database, ORG,
                                                           rejected, error, sizeof error);
    fprintf(stderr, "%s: %s %s\n", application, hv_refresh_outcome_name(outcome), error);
    _exit((int)outcome);
}

static int refresher_outcome(pid_t child)
{
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* The token endpoint requests the simulator logged after `offset`. */
static int token_requests_since(size_t offset)
{
    char path[512];
    snprintf(path, sizeof path, "%s/log/haravan-sim.log", it_env("HARAVAN_VAR"));
    buffer log = BUFFER_INIT;
    it_read_file(path, &log);
    int count = 0;
    for (const char *at = log.data + offset;
         (at = strstr(at, "\"path\":\"/connect/token\"")) != NULL; at++)
        count++;
    buffer_free(&log);
    return count;
}

static size_t sim_log_length(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/log/haravan-sim.log", it_env("HARAVAN_VAR"));
    buffer log = BUFFER_INIT;
    it_read_file(path, &log);
    size_t length = log.length;
    buffer_free(&log);
    return length;
}

/* Two workers get a 401 for the same token at once and both refresh. The
 * first holds the shop's row lock when its connection is lost (a restart,
 * a failover); it must not carry on without the lock, where the second
 * would spend the same single-use refresh token. Barriers: the client
 * settings are held by the test (ACCESS EXCLUSIVE), so a refresher that
 * has locked the row waits there, and the test waits until it does. */
static void test_two_refreshers_spend_one_refresh_token(void **state)
{
    (void)state;
    expect_connected();
    char rejected[1024];
    snprintf(rejected, sizeof rejected, "%s", stored_token("access_token"));
    size_t offset = sim_log_length();
    PGconn *holder = PQconnectdb(it_env("HARAVAN_DB"));
    assert_int_equal(PQstatus(holder), CONNECTION_OK);
    PQclear(PQexec(holder, "BEGIN"));
    PGresult *locked = PQexec(holder, "LOCK TABLE hv_settings IN ACCESS EXCLUSIVE MODE");
    assert_int_equal(PQresultStatus(locked), PGRES_COMMAND_OK);
    PQclear(locked);

    pid_t first = start_refresher("it-refresher-a", rejected);
    long long lost = waiting_on_a_lock("it-refresher-a", 0); /* row locked, then settings */
    char pid[32];
    snprintf(pid, sizeof pid, "%lld", lost);
    assert_int_equal(it_scalar("SELECT count(*) FROM pg_terminate_backend($1::int) t WHERE t", pid),
                     1);
    waiting_on_a_lock("it-refresher-a", lost); /* on a new connection, whatever it runs */
    pid_t second = start_refresher("it-refresher-b", rejected);
    waiting_on_a_lock("it-refresher-b", 0);
    PQclear(PQexec(holder, "COMMIT"));
    PQfinish(holder);

    int outcomes[2] = {refresher_outcome(first), refresher_outcome(second)};
    /* Haravan saw one refresh grant, and the shop is still connected. */
    assert_int_equal(token_requests_since(offset), 1);
    assert_string_equal(shop_field("status"), "connected");
    int refreshed = 0;
    for (int i = 0; i < 2; i++) {
        if (outcomes[i] != HV_REFRESH_REFRESHED && outcomes[i] != HV_REFRESH_NOT_NEEDED)
            fail_msg("refresher %d ended %d", i, outcomes[i]);
        refreshed += outcomes[i] == HV_REFRESH_REFRESHED;
    }
    assert_int_equal(refreshed, 1);
    /* Both read the one new token, which Haravan takes. */
    assert_string_not_equal(stored_token("access_token"), rejected);
    it_sim_response shop =
        it_sim_request("GET", "/com/shop.json", stored_token("access_token"), NULL);
    assert_int_equal(shop.status, 200);
    it_sim_response_free(&shop);
}

static void test_revoked_refresh_token_needs_reconnect(void **state)
{
    (void)state;
    expect_connected();
    char json[1200];
    snprintf(json, sizeof json, "{\"refresh_token\":\"%s\"}", stored_token("refresh_token"));
    it_sim_admin("/sim/refresh/revoke", json);
    snprintf(json, sizeof json, "{\"token\":\"%s\"}", stored_token("access_token"));
    it_sim_admin("/sim/tokens/expire", json);
    /* The 401 makes the connector refresh; Haravan says invalid_grant. */
    page p = webhooks("GET");
    assert_int_equal(p.status, 502);
    assert_non_null(strstr(p.body.data, "\"status\":401"));
    page_free(&p);
    assert_string_equal(shop_field("status"), "needs_reconnect");
    assert_non_null(strstr(shop_field("status_reason"), "invalid_grant"));
    /* What an operator sees. */
    assert_int_equal(it_ctl("shop list | grep '^" ORG "' | grep needs_reconnect"
                            " | grep -q invalid_grant"),
                     0);
    /* No token is handed out any more, and nothing retries. */
    p = webhooks("GET");
    assert_int_equal(p.status, 409);
    assert_non_null(strstr(p.body.data, "not_connected"));
    page_free(&p);
    const char *reason = shop_field("status_reason");
    char kept[512];
    snprintf(kept, sizeof kept, "%s", reason);
    struct timespec pause = {2, 0};
    nanosleep(&pause, NULL);
    assert_string_equal(shop_field("status"), "needs_reconnect");
    assert_string_equal(shop_field("status_reason"), kept);
    /* Connecting again is the way back. */
    expect_connected();
    assert_null(shop_field("status_reason"));
}

/* ---- logs ------------------------------------------------------------------------------ */

static void test_log_holds_no_token_or_secret(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/log/haravan-fcgi.log", it_env("HARAVAN_VAR"));
    buffer log = BUFFER_INIT;
    it_read_file(path, &log);
    const char *secrets[] = {stored_token("access_token"), NULL, NULL, NULL};
    char access[1024];
    snprintf(access, sizeof access, "%s", secrets[0]);
    char refresh[1024];
    snprintf(refresh, sizeof refresh, "%s", stored_token("refresh_token"));
    const char *checked[] = {access, refresh, it_env("HARAVAN_SIM_CLIENT_SECRET"), ADMIN_PASSWORD,
                             NULL};
    for (size_t i = 0; checked[i] != NULL; i++)
        if (checked[i][0] != '\0' && strstr(log.data, checked[i]) != NULL)
            fail_msg("the log holds secret %zu", i);
    /* The flow logged its outcomes with reasons. */
    assert_non_null(strstr(log.data, "\"event\":\"connect\""));
    assert_non_null(strstr(log.data, "\"result\":\"not_owner\""));
    assert_non_null(strstr(log.data, "\"trigger\":\"ahead\",\"outcome\":\"refreshed\""));
    assert_non_null(strstr(log.data, "\"outcome\":\"needs_reconnect\""));
    assert_non_null(strstr(log.data, "\"result\":\"invalid_token\""));
    buffer_free(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_needs_an_admin),
        cmocka_unit_test(test_callbacks_take_post_only),
        cmocka_unit_test(test_authorize_request_is_the_contracts),
        cmocka_unit_test(test_owner_connects_the_shop),
        cmocka_unit_test(test_staff_member_is_not_owner),
        cmocka_unit_test(test_deny_is_denied),
        cmocka_unit_test(test_states_are_single_use_and_per_step),
        cmocka_unit_test(test_state_is_bound_to_the_browser),
        cmocka_unit_test(test_tampered_id_token_is_invalid),
        cmocka_unit_test(test_used_code_is_refused_and_nothing_is_stored),
        cmocka_unit_test(test_id_token_hashes_are_required),
        cmocka_unit_test(test_grant_without_webhook_scopes_is_missing_scope),
        cmocka_unit_test(test_configuration_failures),
        cmocka_unit_test(test_rotated_signing_key),
        cmocka_unit_test(test_webhooks_subscribe_and_list),
        cmocka_unit_test(test_background_refreshes_ahead_of_expiry),
        cmocka_unit_test(test_401_is_answered_with_one_refresh),
        cmocka_unit_test(test_two_refreshers_spend_one_refresh_token),
        cmocka_unit_test(test_revoked_refresh_token_needs_reconnect),
        cmocka_unit_test(test_log_holds_no_token_or_secret),
        /* Last: it rotates the simulator's key twice within a minute, after
         * which the connector's workers, refetching at most once a minute,
         * refuse the newest key's tokens for a while, by design. */
        cmocka_unit_test(test_unknown_kid_refetch_is_rate_limited),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
