/*
 * A shop's life, through real nginx, PostgreSQL and the simulator (issue
 * #11): app/uninstalled (sent by the simulator to a subscribed shop, and
 * one that arrives before the shop connected again), "Ngắt kết nối"
 * (Haravan unsubscribing, and Haravan failing to), several shops in the
 * status route, reconnecting a chosen shop, and the sync log in pages and
 * filters.
 *
 * Two shops are connected with the simulator's tokens: the seeded one
 * (SHOP_A) and one the simulator makes for a token (SHOP_B). Whatever
 * happens to one, the other's tokens (their sealed bytes) and CRM rows are
 * checked unchanged. Both are deleted at the end, for the tests after.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "support.h"

#define PASSWORD     "mật khẩu của cửa hàng 2026"
#define SHOP_A       "1000114691"
#define SHOP_B       "2000000011"
#define TOKEN_A      "it-shops-token-a"
#define TOKEN_B      "it-shops-token-b"
#define SCOPES       "openid wh_api com.read_orders com.read_customers com.read_shop"
#define VERIFY_TOKEN "it-shops-verify-token"

/* ---- HTTP with the admin session --------------------------------------- */

typedef struct reply {
    long status;
    buffer body;
    buffer headers;
} reply;

static size_t collect(char *data, size_t size, size_t count, void *context)
{
    return buffer_append(context, data, size * count) == 0 ? size * count : 0;
}

typedef struct session {
    char token[64];
    char csrf[64];
} session;

static session admin;

/* `s` NULL: no cookie; `csrf`: send the session's CSRF token. */
static reply call(const char *method, const char *path, const session *s, int csrf,
                  const char *body)
{
    reply out;
    memset(&out, 0, sizeof out);
    char url[1024], cookie[256], token[128];
    snprintf(url, sizeof url, "%s%s", it_env("HARAVAN_BASE_URL"), path);
    CURL *curl = curl_easy_init();
    assert_non_null(curl);
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    if (s != NULL) {
        snprintf(cookie, sizeof cookie, "Cookie: hv_session=%s", s->token);
        list = curl_slist_append(list, cookie);
    }
    if (s != NULL && csrf) {
        snprintf(token, sizeof token, "X-CSRF-Token: %s", s->csrf);
        list = curl_slist_append(list, token);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &out.headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    if (body != NULL || strcmp(method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body != NULL ? body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(body != NULL ? strlen(body) : 0));
    }
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out.status);
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

static void expect_status(const reply *r, long status, const char *what)
{
    if (r->status != status)
        fail_msg("%s: expected %ld, got %ld %s", what, status, r->status, r->body.data);
}

/* The reply's JSON; fails the test when it is not JSON. Caller deletes. */
static cJSON *json_of(const reply *r)
{
    cJSON *document = cJSON_Parse(r->body.data);
    if (document == NULL)
        fail_msg("not JSON: %s", r->body.data);
    return document;
}

static session sign_in(void)
{
    it_exec("DELETE FROM hv_admin_login_failures");
    reply r = call("POST", "/api/haravan/admin/login", NULL, 0,
                   "password=m%E1%BA%ADt+kh%E1%BA%A9u+c%E1%BB%A7a+c%E1%BB%ADa+h%C3%A0ng+2026");
    expect_status(&r, 200, "login");
    session s;
    const char *cookie = it_header_value(r.headers.data, "Set-Cookie");
    assert_non_null(cookie);
    assert_int_equal(strncmp(cookie, "hv_session=", 11), 0);
    snprintf(s.token, sizeof s.token, "%.*s", (int)strcspn(cookie + 11, ";"), cookie + 11);
    cJSON *document = json_of(&r);
    snprintf(s.csrf, sizeof s.csrf, "%s",
             cJSON_GetStringValue(cJSON_GetObjectItem(document, "csrf")));
    cJSON_Delete(document);
    reply_free(&r);
    return s;
}

/* ---- the two shops ------------------------------------------------------ */

static void connect_by_hand(const char *org, const char *token)
{
    char json[256], command[256];
    snprintf(json, sizeof json, "{\"token\":\"%s\",\"org_id\":%s,\"scopes\":\"" SCOPES "\"}", token,
             org);
    it_sim_admin("/sim/tokens", json);
    snprintf(command, sizeof command, "shop token %s '" SCOPES "' > /dev/null <<'EOF'\n%s\nEOF\n",
             org, token);
    assert_int_equal(it_ctl(command), 0);
}

/* The shop's sealed tokens and state as one text, to see them unchanged. */
static void shop_fingerprint(const char *org, char *out, size_t size)
{
    const char *value = it_text("SELECT status || ':' || coalesce(encode(access_token, 'hex'), '-')"
                                " || ':' || coalesce(encode(refresh_token, 'hex'), '-')"
                                " FROM hv_shops WHERE org_id = $1",
                                org, NULL);
    snprintf(out, size, "%s", value != NULL ? value : "(no shop)");
}

static long long customers_of(const char *org)
{
    return it_scalar("SELECT count(*) FROM customers WHERE haravan_org_id = $1", org);
}

/* A customer of `org` made through a signed delivery, processed. */
static void customer_for(const char *org, long long id)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"id\":%lld,\"first_name\":\"Khách\",\"last_name\":\"Cửa hàng %s\","
             "\"updated_at\":\"2026-03-01T00:00:00Z\"}",
             id, org);
    long long event =
        it_deliver_event(it_env("HARAVAN_SIM_CLIENT_SECRET"), "customers/create", org, body);
    assert_string_equal(it_wait_processed(event), "done");
}

static void subscribe(const char *org)
{
    char path[128];
    snprintf(path, sizeof path, "/api/haravan/webhooks?org_id=%s", org);
    reply r = call("POST", path, &admin, 1, NULL);
    expect_status(&r, 200, "subscribe");
    reply_free(&r);
}

/* How many subscriptions the simulator lists for `token`'s shop. */
static int subscriptions_at_haravan(const char *token)
{
    it_sim_response response = it_sim_request("GET", "/api/subscribe", token, NULL);
    assert_int_equal(response.status, 200);
    cJSON *document = cJSON_Parse(response.body.data);
    int count = cJSON_GetArraySize(cJSON_GetObjectItem(document, "data"));
    cJSON_Delete(document);
    it_sim_response_free(&response);
    return count;
}

static int setup(void **state)
{
    (void)state;
    char command[256];
    if (it_ctl("admin password > /dev/null <<'EOF'\n" PASSWORD "\nEOF\n") != 0)
        return -1;
    snprintf(command, sizeof command, "settings set client_secret '%s' > /dev/null",
             it_env("HARAVAN_SIM_CLIENT_SECRET"));
    if (it_ctl(command) != 0 ||
        it_ctl("settings set verify_token '" VERIFY_TOKEN "' > /dev/null") != 0)
        return -1;
    snprintf(command, sizeof command, "settings set client_id '%s' > /dev/null",
             it_env("HARAVAN_SIM_CLIENT_ID"));
    if (it_ctl(command) != 0)
        return -1;
    char json[256];
    snprintf(json, sizeof json, "{\"client_id\":\"%s\",\"webhook\":{\"verify_token\":\"%s\"}}",
             it_env("HARAVAN_SIM_CLIENT_ID"), VERIFY_TOKEN);
    it_sim_admin("/sim/apps", json);
    it_sim_admin("/sim/reset", "{\"failures\":true,\"buckets\":false,\"counters\":false}");
    connect_by_hand(SHOP_A, TOKEN_A);
    connect_by_hand(SHOP_B, TOKEN_B);
    admin = sign_in();
    return 0;
}

/* The simulator as the stack registered it, for the tests after: no
 * subscription of ours left, the app's verify token empty again. */
static int teardown(void **state)
{
    (void)state;
    it_sim_admin("/sim/reset", "{\"failures\":true,\"buckets\":false,\"counters\":false}");
    static const char *const tokens[] = {TOKEN_A, TOKEN_B};
    for (size_t i = 0; i < 2; i++) {
        it_sim_response response = it_sim_request("DELETE", "/api/subscribe", tokens[i], NULL);
        it_sim_response_free(&response);
    }
    char json[256];
    snprintf(json, sizeof json, "{\"client_id\":\"%s\",\"webhook\":{\"verify_token\":\"\"}}",
             it_env("HARAVAN_SIM_CLIENT_ID"));
    it_sim_admin("/sim/apps", json);
    it_exec("DELETE FROM hv_shops WHERE org_id IN ('" SHOP_A "', '" SHOP_B "')");
    return 0;
}

/* The newest event of `topic` for `org`, once processed: its id. */
static long long newest_event(const char *topic, const char *org)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(max(id), 0) FROM hv_events WHERE topic = '%s' AND org_id = $1",
             topic);
    return it_scalar(sql, org);
}

/* ---- app/uninstalled ------------------------------------------------------ */

/* The simulator sends app/uninstalled to a subscribed shop; the shop is
 * disconnected, its tokens deleted, its customers kept, and the other
 * shop is untouched. A staff lookup for it afterwards says it has no
 * token, in the event's notes. */
static void test_uninstall_from_haravan_disconnects_that_shop_only(void **state)
{
    (void)state;
    customer_for(SHOP_A, 9311001);
    customer_for(SHOP_B, 9311002);
    long long customers_a = customers_of(SHOP_A);
    long long customers_b = customers_of(SHOP_B);
    char before_b[512], after_b[512];
    shop_fingerprint(SHOP_B, before_b, sizeof before_b);
    subscribe(SHOP_A);

    long long before = newest_event("app/uninstalled", SHOP_A);
    it_sim_response fired = it_sim_request("POST", "/sim/fire", NULL,
                                           "{\"topic\":\"app/uninstalled\",\"org_id\":" SHOP_A
                                           ",\"sample\":\"shop-get.docs.json\"}");
    assert_int_equal(fired.status, 200);
    if (strstr(fired.body.data, "\"status\":200") == NULL)
        fail_msg("the simulator did not deliver app/uninstalled: %s", fired.body.data);
    it_sim_response_free(&fired);
    long long event = newest_event("app/uninstalled", SHOP_A);
    assert_true(event > before);
    assert_string_equal(it_wait_processed(event), "done");

    assert_string_equal(it_text("SELECT status FROM hv_shops WHERE org_id = $1", SHOP_A, NULL),
                        "disconnected");
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_shops WHERE org_id = $1"
                               " AND access_token IS NULL AND refresh_token IS NULL"
                               " AND disconnected_at IS NOT NULL"
                               " AND status_reason LIKE '%uninstalled%'",
                               SHOP_A),
                     1);
    assert_int_equal(customers_of(SHOP_A), customers_a);
    assert_int_equal(customers_of(SHOP_B), customers_b);
    shop_fingerprint(SHOP_B, after_b, sizeof after_b);
    assert_string_equal(after_b, before_b);

    /* An order naming a staff member: the lookup finds no token, and says so. */
    char body[512];
    snprintf(body, sizeof body,
             "{\"id\":9311101,\"name\":\"#9311101\",\"user_id\":77001,\"total_price\":\"1000\","
             "\"currency\":\"VND\",\"financial_status\":\"pending\",\"line_items\":[],"
             "\"created_at\":\"2026-03-01T00:00:00Z\",\"updated_at\":\"2026-03-01T00:00:00Z\"}");
    long long order =
        it_deliver_event(it_env("HARAVAN_SIM_CLIENT_SECRET"), "orders/create", SHOP_A, body);
    assert_string_equal(it_wait_processed(order), "done");
    char id[32];
    snprintf(id, sizeof id, "%lld", order);
    const char *notes = it_text("SELECT notes FROM hv_events WHERE id = $1::bigint", id, NULL);
    if (notes == NULL || strstr(notes, "not connected") == NULL)
        fail_msg("the staff lookup of a disconnected shop is not noted: %s",
                 notes != NULL ? notes : "(no notes)");
}

/* An uninstall that arrived before the shop connected again (processed
 * late: here, replayed) leaves the new connection alone; a new uninstall
 * after it disconnects. */
static void test_uninstall_older_than_the_connection_leaves_it(void **state)
{
    (void)state;
    connect_by_hand(SHOP_A, TOKEN_A);
    long long old = newest_event("app/uninstalled", SHOP_A);
    assert_true(old > 0);
    char before_a[512], after_a[512], before_b[512], after_b[512];
    shop_fingerprint(SHOP_A, before_a, sizeof before_a);
    shop_fingerprint(SHOP_B, before_b, sizeof before_b);
    assert_int_equal(strncmp(before_a, "connected:", 10), 0);

    char path[128];
    snprintf(path, sizeof path, "/api/haravan/events/%lld/replay", old);
    reply r = call("POST", path, &admin, 1, NULL);
    expect_status(&r, 200, "replay of the old uninstall");
    reply_free(&r);
    char id[32];
    snprintf(id, sizeof id, "%lld", old);
    assert_string_equal(it_text("SELECT status FROM hv_events WHERE id = $1::bigint", id, NULL),
                        "done");
    const char *notes = it_text("SELECT notes FROM hv_events WHERE id = $1::bigint", id, NULL);
    assert_non_null(notes);
    assert_non_null(strstr(notes, "not disconnected"));
    shop_fingerprint(SHOP_A, after_a, sizeof after_a);
    assert_string_equal(after_a, before_a);

    /* A new uninstall (another version of the shop: not a redelivery). */
    long long fresh = it_deliver_event(
        it_env("HARAVAN_SIM_CLIENT_SECRET"), "app/uninstalled", SHOP_A,
        "{\"id\":" SHOP_A ",\"name\":\"shop\",\"updated_at\":\"2026-04-01T00:00:00Z\"}");
    assert_string_equal(it_wait_processed(fresh), "done");
    assert_string_equal(it_text("SELECT status FROM hv_shops WHERE org_id = $1", SHOP_A, NULL),
                        "disconnected");
    shop_fingerprint(SHOP_B, after_b, sizeof after_b);
    assert_string_equal(after_b, before_b);
}

/* ---- "Ngắt kết nối" ------------------------------------------------------- */

static void test_disconnect_unsubscribes_then_forgets_the_tokens(void **state)
{
    (void)state;
    connect_by_hand(SHOP_A, TOKEN_A);
    subscribe(SHOP_A);
    assert_int_equal(subscriptions_at_haravan(TOKEN_A), 1);
    long long customers_a = customers_of(SHOP_A);
    char before_a[512], after[512], before_b[512];
    shop_fingerprint(SHOP_A, before_a, sizeof before_a);
    shop_fingerprint(SHOP_B, before_b, sizeof before_b);

    /* Refusals change nothing. */
    reply r = call("POST", "/api/haravan/disconnect?org_id=" SHOP_A, &admin, 0, NULL);
    expect_status(&r, 403, "disconnect without CSRF");
    reply_free(&r);
    r = call("POST", "/api/haravan/disconnect", &admin, 1, NULL);
    expect_status(&r, 400, "disconnect naming no shop");
    reply_free(&r);
    r = call("POST", "/api/haravan/disconnect?org_id=" SHOP_A, NULL, 0, NULL);
    expect_status(&r, 401, "disconnect by a stranger");
    reply_free(&r);
    shop_fingerprint(SHOP_A, after, sizeof after);
    assert_string_equal(after, before_a);

    /* Haravan fails the unsubscribe: a 502 with its answer, nothing changed. */
    it_sim_admin("/sim/failures",
                 "{\"status\":500,\"count\":1,\"path_prefix\":\"/api/subscribe\"}");
    r = call("POST", "/api/haravan/disconnect?org_id=" SHOP_A, &admin, 1, NULL);
    expect_status(&r, 502, "disconnect while Haravan fails");
    cJSON *document = json_of(&r);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(document, "error")), "haravan");
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(document, "status")), 500);
    cJSON_Delete(document);
    reply_free(&r);
    shop_fingerprint(SHOP_A, after, sizeof after);
    assert_string_equal(after, before_a);
    assert_int_equal(subscriptions_at_haravan(TOKEN_A), 1);

    /* Haravan answers: unsubscribed, then the tokens go; the data stays. */
    r = call("POST", "/api/haravan/disconnect?org_id=" SHOP_A, &admin, 1, NULL);
    expect_status(&r, 200, "disconnect");
    document = json_of(&r);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(document, "status")),
                        "disconnected");
    cJSON_Delete(document);
    reply_free(&r);
    assert_int_equal(subscriptions_at_haravan(TOKEN_A), 0);
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_shops WHERE org_id = $1"
                               " AND status = 'disconnected' AND access_token IS NULL"
                               " AND refresh_token IS NULL AND disconnected_at IS NOT NULL",
                               SHOP_A),
                     1);
    assert_int_equal(customers_of(SHOP_A), customers_a);
    shop_fingerprint(SHOP_B, after, sizeof after);
    assert_string_equal(after, before_b);

    /* Nothing left to disconnect. */
    r = call("POST", "/api/haravan/disconnect?org_id=" SHOP_A, &admin, 1, NULL);
    expect_status(&r, 409, "disconnect of a disconnected shop");
    reply_free(&r);
}

/* ---- several shops ---------------------------------------------------------- */

static const cJSON *shop_in(const cJSON *status, const char *org)
{
    const cJSON *shop = NULL;
    cJSON_ArrayForEach(shop, cJSON_GetObjectItem(status, "shops"))
    {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(shop, "org_id")), org) == 0)
            return shop;
    }
    fail_msg("shop %s is not in the status", org);
    return NULL;
}

static void test_status_lists_every_shop_with_its_own_state(void **state)
{
    (void)state;
    subscribe(SHOP_B);
    reply r = call("GET", "/api/haravan/status", &admin, 0, NULL);
    expect_status(&r, 200, "status");
    assert_null(strstr(r.body.data, TOKEN_A));
    assert_null(strstr(r.body.data, TOKEN_B));
    cJSON *document = json_of(&r);
    const cJSON *a = shop_in(document, SHOP_A);
    const cJSON *b = shop_in(document, SHOP_B);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(a, "status")), "disconnected");
    assert_non_null(cJSON_GetStringValue(cJSON_GetObjectItem(a, "disconnected_at")));
    assert_non_null(cJSON_GetStringValue(cJSON_GetObjectItem(a, "status_reason")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(a, "subscriptions")), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(b, "status")), "connected");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(b, "subscriptions")), 1);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(b, "subscriptions_unavailable")));
    assert_null(cJSON_GetObjectItem(b, "access_token"));
    /* Each shop's own counts and chart. */
    static const char *const outcomes[] = {"done", "ignored", "dead"};
    const cJSON *shops[] = {a, b};
    const char *orgs[] = {SHOP_A, SHOP_B};
    for (int s = 0; s < 2; s++) {
        const cJSON *events = cJSON_GetObjectItem(shops[s], "events");
        const cJSON *hours = cJSON_GetObjectItem(cJSON_GetObjectItem(shops[s], "chart"), "hours");
        assert_int_equal(cJSON_GetArraySize(hours), 24);
        for (int o = 0; o < 3; o++) {
            char sql[256];
            snprintf(sql, sizeof sql,
                     "SELECT count(*) FROM hv_events WHERE org_id = $1 AND status = '%s'",
                     outcomes[o]);
            assert_int_equal(
                (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(events, outcomes[o])),
                it_scalar(sql, orgs[s]));
            long long charted = 0;
            const cJSON *hour = NULL;
            cJSON_ArrayForEach(hour, hours)
            {
                charted += (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(hour, outcomes[o]));
            }
            snprintf(sql, sizeof sql,
                     "SELECT count(*) FROM hv_events WHERE org_id = $1 AND status = '%s'"
                     " AND received_at >= date_trunc('hour', now()) - interval '23 hours'",
                     outcomes[o]);
            assert_int_equal(charted, it_scalar(sql, orgs[s]));
        }
    }
    /* B's last hour holds its events of this run. */
    const cJSON *hours = cJSON_GetObjectItem(cJSON_GetObjectItem(b, "chart"), "hours");
    assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(hours, 23), "done")) >=
                1);
    /* The old top-level fields: the connected shop. */
    assert_string_equal(
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(document, "shop"), "org_id")),
        SHOP_B);
    cJSON_Delete(document);
    reply_free(&r);
}

/* Kết nối lại for a chosen shop: Haravan's authorize preselects it. */
static void test_reconnect_names_the_chosen_shop(void **state)
{
    (void)state;
    reply r = call("GET", "/api/haravan/connect?org_id=" SHOP_A, &admin, 0, NULL);
    expect_status(&r, 302, "reconnect");
    const char *location = it_header_value(r.headers.data, "Location");
    assert_non_null(location);
    if (strstr(location, "orgid=" SHOP_A) == NULL)
        fail_msg("the authorize URL does not name the shop: %s", location);
    reply_free(&r);
    r = call("GET", "/api/haravan/connect?org_id=1%27%3E", &admin, 0, NULL);
    expect_status(&r, 400, "reconnect naming no org id");
    reply_free(&r);
}

/* ---- the sync log --------------------------------------------------------- */

/* Every page of `query` (without before=), following next_before; the ids
 * in order into `ids`. Returns how many. */
static int walk_pages(const char *query, long long *ids, int capacity)
{
    int count = 0;
    char before[32] = "";
    for (int pages = 0; pages < 100; pages++) {
        char path[512];
        snprintf(path, sizeof path, "/api/haravan/events?%s%s%s", query,
                 before[0] != '\0' ? "&before=" : "", before);
        reply r = call("GET", path, &admin, 0, NULL);
        expect_status(&r, 200, path);
        cJSON *document = json_of(&r);
        const cJSON *event = NULL;
        cJSON_ArrayForEach(event, cJSON_GetObjectItem(document, "events"))
        {
            assert_true(count < capacity);
            ids[count++] = (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(event, "id"));
        }
        const cJSON *next = cJSON_GetObjectItem(document, "next_before");
        int more = cJSON_IsNumber(next);
        if (more)
            snprintf(before, sizeof before, "%lld", (long long)cJSON_GetNumberValue(next));
        cJSON_Delete(document);
        reply_free(&r);
        if (!more)
            return count;
    }
    fail_msg("more than 100 pages for %s", query);
    return count;
}

/* The pages of `query` hold exactly the ids `sql` (one parameter, `org`)
 * selects, newest first, each once. */
static void expect_same_ids(const char *query, const char *sql, const char *org)
{
    long long ids[512];
    int count = walk_pages(query, ids, 512);
    const char *values[] = {org};
    PGresult *result = PQexecParams(it_db(), sql, 1, NULL, values, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(result), PGRES_TUPLES_OK);
    if (PQntuples(result) != count)
        fail_msg("%s: %d events in pages, %d in the table", query, count, PQntuples(result));
    for (int i = 0; i < count; i++)
        assert_int_equal(ids[i], strtoll(PQgetvalue(result, i, 0), NULL, 10));
    PQclear(result);
}

static void test_sync_log_pages_and_filters(void **state)
{
    (void)state;
    for (long long id = 9312001; id < 9312006; id++)
        customer_for(SHOP_B, id);
    /* Pages of 2 of shop B's events: all of them, each once, newest first. */
    expect_same_ids("org_id=" SHOP_B "&limit=2",
                    "SELECT id FROM hv_events WHERE org_id = $1 ORDER BY id DESC", SHOP_B);
    /* Shop and topic and outcome together. */
    expect_same_ids("org_id=" SHOP_A "&topic=app%2Funinstalled&status=done&limit=1",
                    "SELECT id FROM hv_events WHERE org_id = $1"
                    " AND topic = 'app/uninstalled' AND status = 'done' ORDER BY id DESC",
                    SHOP_A);
    reply r = call("GET", "/api/haravan/events?org_id=" SHOP_B "&topic=customers%2Fcreate&limit=3",
                   &admin, 0, NULL);
    expect_status(&r, 200, "filtered page");
    cJSON *document = json_of(&r);
    const cJSON *events = cJSON_GetObjectItem(document, "events");
    assert_int_equal(cJSON_GetArraySize(events), 3);
    const cJSON *event = NULL;
    cJSON_ArrayForEach(event, events)
    {
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(event, "org_id")), SHOP_B);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(event, "topic")),
                            "customers/create");
    }
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(document, "next_before")));
    cJSON_Delete(document);
    reply_free(&r);

    static const char *const bad[] = {
        "?before=abc",
        "?before=0",
        "?before=-5",
        "?before=1234567890123456789",
        "?topic=orders%20create",
        "?topic=ORDERS%2FCREATE",
        "?org_id=0123456789012345678901234567890123456789012345678901234567890123",
        "?shop=" SHOP_B,
        "?status=finished",
        "?limit=0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "/api/haravan/events%s", bad[i]);
        r = call("GET", path, &admin, 0, NULL);
        expect_status(&r, 400, path);
        document = json_of(&r);
        assert_non_null(cJSON_GetStringValue(cJSON_GetObjectItem(document, "error")));
        cJSON_Delete(document);
        reply_free(&r);
    }
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uninstall_from_haravan_disconnects_that_shop_only),
        cmocka_unit_test(test_uninstall_older_than_the_connection_leaves_it),
        cmocka_unit_test(test_disconnect_unsubscribes_then_forgets_the_tokens),
        cmocka_unit_test(test_status_lists_every_shop_with_its_own_state),
        cmocka_unit_test(test_reconnect_names_the_chosen_shop),
        cmocka_unit_test(test_sync_log_pages_and_filters),
    };
    int failures = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return failures;
}
