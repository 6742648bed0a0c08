/*
 * The catch-up engine (lib/haravan/catchup.h, issue #11) against the
 * stack and the simulator's generated shops (POST /sim/generate), each
 * test on a shop of its own:
 *
 *   - a full import of 5,000 customers and 20,000 orders by `haravan-ctl
 *     backfill`: the CRM tables hold exactly the simulator's data (counts,
 *     and an MD5 over the fields the CRM gets, the expected side computed
 *     in SQL from the simulator's own listing, never from the connector's
 *     code), and the simulator refused no call (no 429);
 *   - an import killed with SIGKILL at three random moments, 100 orders
 *     updated after each kill (they move to the end of the listing and
 *     shift its pages), then resumed: the simulator's rows, each record's
 *     version stored once, and a second import of the same data stores no
 *     new event (2,500 orders: the kills need a run of a few seconds, not
 *     the full set);
 *   - 5% of the webhooks of a burst of 300 updated and 100 new orders
 *     dropped by the simulator: within a few reconciliation intervals (2 s here) every
 *     order is in the CRM, each version in the inbox exactly once;
 *   - a live staff lookup while an import holds the bucket at its own
 *     ceiling: the lookup's call is the next the simulator sees, ahead of
 *     any page; and a second `haravan-ctl backfill` of the running import
 *     says that another runner has it;
 *   - POST /api/haravan/backfill: 202 and the jobs recorded, the
 *     processors finish them, the status route shows them; without CSRF,
 *     403; a job of a shop without a token stops with its reason.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "core/buffer.h"
#include "support.h"

#define SCOPES        "com.read_orders com.read_customers com.read_shop wh_api"
#define PASSWORD      "mật khẩu catch-up 2026"
#define PASSWORD_FORM "m%E1%BA%ADt+kh%E1%BA%A9u+catch-up+2026"
#define VERIFY_TOKEN  "it-catchup-verify"

static void pause_ms(long milliseconds)
{
    struct timespec pause = {milliseconds / 1000, (milliseconds % 1000) * 1000000L};
    while (nanosleep(&pause, &pause) != 0)
        continue;
}

/* ---- shops of the simulator ------------------------------------------- */

static void token_of(const char *org, char *out, size_t size)
{
    snprintf(out, size, "it-catchup-token-%s", org);
}

/* A shop in the simulator with `customers` and `orders` made from `seed`,
 * connected in the CRM with a token of its own. */
static void make_shop(const char *org, long customers, long orders, int seed)
{
    char token[64], json[256], command[512];
    token_of(org, token, sizeof token);
    snprintf(json, sizeof json, "{\"token\":\"%s\",\"org_id\":%s,\"scopes\":\"%s\"}", token, org,
             SCOPES);
    it_sim_admin("/sim/tokens", json);
    snprintf(json, sizeof json, "{\"org_id\":%s,\"customers\":%ld,\"orders\":%ld,\"seed\":%d}", org,
             customers, orders, seed);
    it_sim_admin("/sim/generate", json);
    snprintf(command, sizeof command, "shop token %s '%s' > /dev/null <<'EOF'\n%s\nEOF\n", org,
             SCOPES, token);
    assert_int_equal(it_ctl(command), 0);
}

static long long scalar_for(const char *sql, const char *org)
{
    return it_scalar(sql, org);
}

/* Waits until no event of `org` is pending; fails after `seconds`. */
static void wait_processed(const char *org, int seconds)
{
    for (int i = 0; i < seconds * 10; i++) {
        if (scalar_for("SELECT count(*) FROM hv_events WHERE org_id = $1"
                       " AND status IN ('pending', 'processing')",
                       org) == 0)
            return;
        pause_ms(100);
    }
    fail_msg("events of shop %s still pending after %d s", org, seconds);
}

/* The simulator's bucket of `org` (GET /sim/buckets), parsed. */
static cJSON *bucket_of(const char *org)
{
    it_sim_response response = it_sim_request("GET", "/sim/buckets", NULL, NULL);
    assert_int_equal(response.status, 200);
    cJSON *all = cJSON_Parse(response.body.data);
    it_sim_response_free(&response);
    cJSON *found = NULL;
    cJSON *bucket = NULL;
    cJSON_ArrayForEach(bucket, cJSON_GetObjectItemCaseSensitive(all, "buckets"))
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(bucket, "org_id");
        if (cJSON_IsNumber(id) && (long long)id->valuedouble == atoll(org))
            found = cJSON_Duplicate(bucket, 1);
    }
    cJSON_Delete(all);
    assert_non_null(found);
    return found;
}

static double number_in(const cJSON *object, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
    assert_true(cJSON_IsNumber(item));
    return item->valuedouble;
}

/* ---- the expected side: the simulator's own listing -------------------- */

/* Copies every record of `kind` the simulator lists for `org` into the
 * table it_sim_{kind}_{org} (one jsonb a row). The bucket is emptied
 * before each page (a control), so this costs the test no waiting and the
 * connector no slot. */
static void load_listing(const char *org, const char *kind)
{
    char token[64], sql[512], path[256], reset[96];
    token_of(org, token, sizeof token);
    snprintf(sql, sizeof sql,
             "DROP TABLE IF EXISTS it_sim_%s_%s; CREATE TABLE it_sim_%s_%s (doc jsonb)", kind, org,
             kind, org);
    it_exec(sql);
    snprintf(reset, sizeof reset, "{\"org_id\":%s,\"used\":0}", org);
    for (int page = 1;; page++) {
        it_sim_admin("/sim/buckets", reset);
        snprintf(path, sizeof path, "/com/%s.json?limit=50&page=%d%s", kind, page,
                 strcmp(kind, "orders") == 0 ? "&status=any" : "");
        it_sim_response response = it_sim_request("GET", path, token, NULL);
        assert_int_equal(response.status, 200);
        snprintf(sql, sizeof sql,
                 "WITH added AS (INSERT INTO it_sim_%s_%s SELECT jsonb_array_elements($1::jsonb"
                 " -> '%s') RETURNING 1) SELECT count(*) FROM added",
                 kind, org, kind);
        long long added = it_scalar(sql, response.body.data);
        it_sim_response_free(&response);
        if (added < 50)
            return;
    }
}

/* What the CRM must hold of the orders, one line each: id, total, the
 * customer's Haravan id, line items, their quantity, updated_at. */
#define EXPECTED_ORDER_LINE                                                                        \
    "concat_ws('|', doc->>'id', to_char((doc->>'total_price')::numeric, 'FM999999999990.00'),"     \
    " coalesce(doc->'customer'->>'id', ''), jsonb_array_length(doc->'line_items'),"                \
    " (SELECT sum((li->>'quantity')::int) FROM jsonb_array_elements(doc->'line_items') li),"       \
    " extract(epoch FROM (doc->>'updated_at')::timestamptz)::bigint)"
#define ACTUAL_ORDER_LINE                                                                          \
    "concat_ws('|', o.haravan_order_id, to_char(o.total, 'FM999999999990.00'),"                    \
    " coalesce(c.haravan_customer_id, ''),"                                                        \
    " (SELECT count(*) FROM order_items i WHERE i.order_id = o.id),"                               \
    " (SELECT sum(quantity) FROM order_items i WHERE i.order_id = o.id),"                          \
    " extract(epoch FROM o.haravan_updated_at)::bigint)"

static void expect_same(const char *what, const char *expected_sql, const char *actual_sql,
                        const char *org)
{
    char expected[64], actual[64];
    const char *text = it_text(expected_sql, NULL, NULL);
    snprintf(expected, sizeof expected, "%s", text != NULL ? text : "(none)");
    text = it_text(actual_sql, org, NULL);
    snprintf(actual, sizeof actual, "%s", text != NULL ? text : "(none)");
    if (strcmp(expected, actual) != 0)
        fail_msg("%s of shop %s: the simulator's %s, the CRM's %s", what, org, expected, actual);
}

/* The CRM's orders and customers of `org` are exactly the simulator's. */
static void expect_crm_holds_the_simulators_data(const char *org)
{
    load_listing(org, "orders");
    load_listing(org, "customers");
    char expected[1024], actual[1024];
    snprintf(expected, sizeof expected, "SELECT count(*)::text FROM it_sim_orders_%s", org);
    expect_same("order count", expected,
                "SELECT count(*)::text FROM orders WHERE haravan_org_id = $1", org);
    snprintf(expected, sizeof expected, "SELECT count(*)::text FROM it_sim_customers_%s", org);
    expect_same("customer count", expected,
                "SELECT count(*)::text FROM customers WHERE haravan_org_id = $1", org);
    snprintf(expected, sizeof expected,
             "SELECT md5(string_agg(line, E'\\n' ORDER BY line)) FROM (SELECT " EXPECTED_ORDER_LINE
             " AS line FROM it_sim_orders_%s) x",
             org);
    snprintf(actual, sizeof actual,
             "SELECT md5(string_agg(line, E'\\n' ORDER BY line)) FROM (SELECT " ACTUAL_ORDER_LINE
             " AS line FROM orders o LEFT JOIN customers c ON c.id = o.customer_id"
             " WHERE o.haravan_org_id = $1) x");
    expect_same("orders' checksum", expected, actual, org);
    snprintf(expected, sizeof expected,
             "SELECT md5(string_agg(line, E'\\n' ORDER BY line)) FROM (SELECT concat_ws('|',"
             " doc->>'id', lower(doc->>'email'), doc->>'phone' IS NOT NULL) AS line"
             " FROM it_sim_customers_%s) x",
             org);
    expect_same("customers' checksum", expected,
                "SELECT md5(string_agg(line, E'\\n' ORDER BY line)) FROM (SELECT concat_ws('|',"
                " haravan_customer_id, email, phone IS NOT NULL) AS line FROM customers"
                " WHERE haravan_org_id = $1) x",
                org);
}

static void reset_counters(void)
{
    it_sim_admin("/sim/reset", "{\"buckets\":false,\"failures\":false,\"counters\":true}");
}

/* ---- the full import -------------------------------------------------- */

static void test_full_import_yields_the_simulators_data(void **state)
{
    (void)state;
    const char *org = "9101";
    make_shop(org, 5000, 20000, 11);
    reset_counters();
    double started = it_now_ms();
    char command[128];
    snprintf(command, sizeof command, "backfill --shop %s > /dev/null 2>&1", org);
    assert_int_equal(it_ctl(command), 0);
    print_message("import of 25,000 records: %.1f s\n", (it_now_ms() - started) / 1000);
    wait_processed(org, 300);
    cJSON *bucket = bucket_of(org);
    assert_true(number_in(bucket, "refused") == 0);
    cJSON_Delete(bucket);
    assert_int_equal(scalar_for("SELECT count(*) FROM hv_events WHERE org_id = $1"
                                " AND status <> 'done'",
                                org),
                     0);
    expect_crm_holds_the_simulators_data(org);
    /* The automation sees imported changes as such. */
    assert_int_equal(scalar_for("SELECT count(*) FROM crm_events WHERE type = 'order.created'"
                                " AND payload->>'haravan_org_id' = $1"
                                " AND payload->>'catchup' = 'import'",
                                org),
                     20000);
}

/* ---- an import killed, then resumed ----------------------------------- */

/* `haravan-ctl backfill --shop org` in the background. */
static pid_t start_backfill(const char *org)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char log_path[512];
        snprintf(log_path, sizeof log_path, "%s/log/backfill-%s.log", it_env("HARAVAN_VAR"), org);
        FILE *log = freopen(log_path, "a", stderr);
        (void)log;
        if (freopen("/dev/null", "w", stdout) == NULL)
            _exit(127);
        execl(it_env("HARAVAN_CTL"), "haravan-ctl", "backfill", "--shop", org, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void kill_and_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
}

static void test_killed_import_resumes_to_the_same_rows(void **state)
{
    (void)state;
    const char *org = "9102";
    make_shop(org, 300, 2500, 12);
    srand((unsigned)time(NULL));
    for (int kill_number = 0; kill_number < 3; kill_number++) {
        long after_ms = 300 + rand() % 1500;
        print_message("kill -9 of the import %ld ms after its start\n", after_ms);
        pid_t pid = start_backfill(org);
        pause_ms(after_ms);
        kill_and_reap(pid);
        /* Merchants keep working: 100 orders move to the end of the
         * listing by updated_at, which shifts every page behind them. */
        char touch[160];
        snprintf(touch, sizeof touch,
                 "{\"org_id\":9102,\"kind\":\"orders\",\"count\":100,\"seed\":%d}",
                 30 + kill_number);
        it_sim_admin("/sim/touch", touch);
    }
    assert_true(it_scalar("SELECT count(*) FROM hv_catchup WHERE org_id = $1 AND done > 0", org) >
                0);
    char command[128];
    snprintf(command, sizeof command, "backfill --shop %s > /dev/null 2>&1", org);
    assert_int_equal(it_ctl(command), 0);
    wait_processed(org, 120);
    expect_crm_holds_the_simulators_data(org);
    /* Every record, and no version of one stored twice across the kills
     * (a touched order may have been stored in its old version too). */
    assert_int_equal(scalar_for("SELECT count(DISTINCT resource_id) FROM hv_events"
                                " WHERE org_id = $1",
                                org),
                     2800);
    long long events = scalar_for("SELECT count(*) FROM hv_events WHERE org_id = $1", org);
    assert_int_equal(scalar_for("SELECT count(DISTINCT (resource_id, resource_updated_at))"
                                " FROM hv_events WHERE org_id = $1",
                                org),
                     events);
    /* The same data imported again stores nothing new. */
    assert_int_equal(it_ctl(command), 0);
    assert_int_equal(scalar_for("SELECT count(*) FROM hv_events WHERE org_id = $1", org), events);
    assert_int_equal(scalar_for("SELECT sum(stored) FROM hv_catchup WHERE org_id = $1"
                                " AND job LIKE '%/import'",
                                org),
                     0);
    assert_int_equal(scalar_for("SELECT sum(done) FROM hv_catchup WHERE org_id = $1"
                                " AND job LIKE '%/import'",
                                org),
                     2800);
}

/* ---- the reconciliation ----------------------------------------------- */

/* Restarts haravan-fcgi with `name`=`value` (NULL: unset) in its
 * environment, then puts the environment back. */
static void restart_fcgi_with(const char *name, const char *value)
{
    const char *current = getenv(name);
    char *saved = current != NULL ? strdup(current) : NULL;
    assert_int_equal(it_stack("fcgi-stop"), 0);
    if (value != NULL)
        setenv(name, value, 1);
    else
        unsetenv(name);
    int started = it_stack("fcgi-start");
    if (saved != NULL)
        setenv(name, saved, 1);
    else
        unsetenv(name);
    free(saved);
    assert_int_equal(started, 0);
}

/* The CRM verifies the simulator's deliveries and answers its
 * verify-token check; the simulator's app delivers to the stack. */
static void set_up_webhooks(const char *org)
{
    char command[256], json[512], token[64];
    snprintf(command, sizeof command, "settings set client_id '%s' > /dev/null",
             it_env("HARAVAN_SIM_CLIENT_ID"));
    assert_int_equal(it_ctl(command), 0);
    snprintf(command, sizeof command, "settings set client_secret '%s' > /dev/null",
             it_env("HARAVAN_SIM_CLIENT_SECRET"));
    assert_int_equal(it_ctl(command), 0);
    snprintf(command, sizeof command, "settings set verify_token '%s' > /dev/null", VERIFY_TOKEN);
    assert_int_equal(it_ctl(command), 0);
    snprintf(json, sizeof json, "{\"client_id\":\"%s\",\"webhook\":{\"verify_token\":\"%s\"}}",
             it_env("HARAVAN_SIM_CLIENT_ID"), VERIFY_TOKEN);
    it_sim_admin("/sim/apps", json);
    token_of(org, token, sizeof token);
    it_sim_response response = it_sim_request("POST", "/api/subscribe", token, NULL);
    if (response.status != 200)
        fail_msg("subscribe: %ld %s", response.status, response.body.data);
    it_sim_response_free(&response);
}

static void test_reconciliation_brings_dropped_webhooks(void **state)
{
    (void)state;
    const char *org = "9103";
    restart_fcgi_with("HARAVAN_RECONCILE_SECONDS", "2");
    make_shop(org, 200, 1000, 13);
    char command[128];
    snprintf(command, sizeof command, "backfill --shop %s > /dev/null 2>&1", org);
    assert_int_equal(it_ctl(command), 0);
    wait_processed(org, 60);
    set_up_webhooks(org);
    reset_counters();
    /* The new orders are those with ids above the generated ones. */
    long long last_generated = scalar_for(
        "SELECT max(haravan_order_id::bigint) FROM orders WHERE haravan_org_id = $1", org);
    assert_true(last_generated > 0);
    it_sim_response fired =
        it_sim_request("POST", "/sim/touch", NULL,
                       "{\"org_id\":9103,\"kind\":\"orders\",\"count\":300,\"new\":100,\"seed\":21,"
                       "\"fire\":true,\"drop_percent\":5}");
    assert_int_equal(fired.status, 200);
    cJSON *answer = cJSON_Parse(fired.body.data);
    long long dropped = (long long)number_in(answer, "dropped");
    long long delivered = (long long)number_in(answer, "delivered");
    cJSON_Delete(answer);
    it_sim_response_free(&fired);
    print_message("300 orders updated and 100 new: %lld webhooks delivered, %lld dropped\n",
                  delivered, dropped);
    assert_true(dropped > 0);
    assert_int_equal(delivered + dropped, 400);
    /* Every updated order carries its new note, every new order is there
     * (ids above the 1,000 generated): wait for all of them. */
    char caught_sql[256];
    snprintf(caught_sql, sizeof caught_sql,
             "SELECT count(*) FROM orders WHERE haravan_org_id = $1"
             " AND (note LIKE 'sửa lúc %%' OR haravan_order_id::bigint > %lld)",
             last_generated);
    long long caught = 0;
    for (int i = 0; i < 300 && caught < 400; i++) {
        pause_ms(100);
        caught = scalar_for(caught_sql, org);
    }
    assert_int_equal(caught, 400);
    wait_processed(org, 30);
    /* Each new version in the inbox exactly once: by its webhook, or (the
     * dropped ones) by the reconciliation. */
    assert_int_equal(scalar_for("SELECT count(*) FROM hv_events WHERE org_id = $1"
                                " AND topic IN ('orders/updated', 'orders/create')",
                                org),
                     delivered);
    assert_int_equal(scalar_for("SELECT count(DISTINCT resource_id) FROM hv_events"
                                " WHERE org_id = $1 AND topic IN ('orders/updated',"
                                " 'orders/create', 'orders/reconcile')",
                                org),
                     400);
    assert_int_equal(scalar_for("SELECT count(*) FROM hv_events WHERE org_id = $1"
                                " AND topic = 'orders/reconcile'",
                                org),
                     dropped);
    assert_true(scalar_for("SELECT count(*) FROM hv_catchup WHERE org_id = $1"
                           " AND job = 'orders/reconcile' AND last_run_at IS NOT NULL",
                           org) == 1);
    /* Runs that find nothing keep their watermark: each looks back one
     * overlap (120 s) from it, never further back run after run. */
    long long runs_from = it_scalar("SELECT extract(epoch FROM now())::bigint", NULL);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM hv_catchup WHERE org_id = $1 AND job = 'customers/reconcile'"
             " AND last_run_at > to_timestamp(%lld) + interval '5 seconds'",
             runs_from);
    for (int i = 0; i < 200 && scalar_for(sql, org) == 0; i++)
        pause_ms(100);
    assert_int_equal(scalar_for(sql, org), 1);
    assert_int_equal(scalar_for("SELECT count(*) FROM hv_catchup WHERE org_id = $1"
                                " AND job = 'customers/reconcile'"
                                " AND hv_timestamptz(watermark) > now() - interval '100 seconds'",
                                org),
                     1);
    restart_fcgi_with("HARAVAN_RECONCILE_SECONDS", NULL);
}

/* ---- live staff lookups go first -------------------------------------- */

/* Holds the shop's shared bucket at `level`, above the import's ceiling
 * (50 of 80) and under the staff lookups' (70): a row that does not drain
 * (updated_at ahead), until a call's answer corrects it. */
static void pin_bucket(const char *org, int level)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE hv_rate_buckets SET level = %d, updated_at = clock_timestamp() + interval"
             " '1 hour', blocked_until = NULL WHERE org_id = '%s'",
             level, org);
    it_exec(sql);
}

static void test_live_staff_lookup_goes_before_the_import(void **state)
{
    (void)state;
    const char *org = "9104";
    make_shop(org, 100, 5000, 14);
    it_sim_admin("/sim/users", "{\"org_id\":9104,\"user\":{\"id\":555000111,"
                               "\"email\":\"live.staff@shop.test\",\"first_name\":\"Live\"}}");
    assert_int_equal(
        it_ctl("user add --email live.staff@shop.test --name 'Live Staff' > /dev/null"), 0);
    set_up_webhooks(org);
    pid_t pid = start_backfill(org);
    /* The import is running once it made a few calls. */
    for (int i = 0; i < 200 && it_scalar("SELECT coalesce(sum(calls), 0) FROM hv_catchup"
                                         " WHERE org_id = $1 AND job LIKE '%/import'",
                                         org) < 5;
         i++)
        pause_ms(50);
    /* One runner per job: a second command for the same import says so. */
    char second[160];
    snprintf(second, sizeof second, "backfill --shop %s --orders > /dev/null 2>&1", org);
    assert_int_equal(it_ctl(second), 1);
    snprintf(second, sizeof second,
             "backfill --shop %s --orders 2>&1 | grep -q 'being run by another runner'", org);
    assert_int_equal(it_ctl(second), 0);
    /* Its bucket held at 60: the import may not call; wait until no call
     * of it is in flight (its answer would correct the level). */
    for (int i = 0; i < 20; i++) {
        pin_bucket(org, 60);
        pause_ms(400);
        if (it_scalar("SELECT level::bigint FROM hv_rate_buckets WHERE org_id = $1", org) == 60)
            break;
    }
    cJSON *before = bucket_of(org);
    long long admitted = (long long)number_in(before, "admitted");
    cJSON_Delete(before);
    long long event = it_deliver_event(
        it_env("HARAVAN_SIM_CLIENT_SECRET"), "orders/create", org,
        "{\"id\":9104000001,\"order_number\":1,\"total_price\":\"10000\",\"user_id\":555000111,"
        "\"financial_status\":\"pending\",\"line_items\":[{\"id\":1,\"title\":\"Áo\","
        "\"quantity\":1,\"price\":\"10000\"}],\"updated_at\":\"2026-11-30T10:00:00Z\","
        "\"created_at\":\"2026-11-30T10:00:00Z\"}");
    assert_string_equal(it_wait_processed(event), "done");
    assert_int_equal(scalar_for("SELECT count(*) FROM orders o JOIN crm_users u"
                                " ON u.id = o.executor_id WHERE o.haravan_org_id = $1"
                                " AND lower(u.email) = 'live.staff@shop.test'",
                                org),
                     1);
    /* After the pin, the live order's staff lookup reached the simulator
     * before any page of the import. Other staff lookups may come first:
     * the processors look up the staff of the orders the import already
     * stored, and those are lookups too, not pages. */
    cJSON *after = bucket_of(org);
    const cJSON *recent = cJSON_GetObjectItemCaseSensitive(after, "recent");
    long long now_admitted = (long long)number_in(after, "admitted");
    int size = cJSON_GetArraySize(recent);
    long long index = admitted - (now_admitted - size); /* position of the first new call */
    assert_true(index >= 0 && index < size);
    int live_found = 0;
    for (int i = (int)index; i < size && !live_found; i++) {
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(recent, i), "path");
        assert_true(cJSON_IsString(path));
        if (strcmp(path->valuestring, "/com/users/555000111.json") == 0)
            live_found = 1;
        else if (strncmp(path->valuestring, "/com/users/", strlen("/com/users/")) != 0)
            fail_msg("call %s reached Haravan before the live staff lookup", path->valuestring);
    }
    assert_true(live_found);
    cJSON_Delete(after);
    kill(pid, SIGTERM);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
}

/* ---- the route --------------------------------------------------------- */

typedef struct reply {
    long status;
    buffer body;
    buffer headers;
} reply;

static size_t collect(char *data, size_t size, size_t count, void *context)
{
    return buffer_append(context, data, size * count) == 0 ? size * count : 0;
}

static reply call(const char *method, const char *path, const char *cookie, const char *csrf,
                  const char *content_type, const char *body)
{
    reply out;
    memset(&out, 0, sizeof out);
    char url[1024], line[256], origin[512];
    snprintf(url, sizeof url, "%s%s", it_env("HARAVAN_BASE_URL"), path);
    CURL *curl = curl_easy_init();
    assert_non_null(curl);
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    snprintf(origin, sizeof origin, "Origin: %s", it_env("HARAVAN_PUBLIC_URL"));
    list = curl_slist_append(list, origin);
    if (cookie != NULL) {
        snprintf(line, sizeof line, "Cookie: hv_session=%s", cookie);
        list = curl_slist_append(list, line);
    }
    if (csrf != NULL) {
        snprintf(line, sizeof line, "X-CSRF-Token: %s", csrf);
        list = curl_slist_append(list, line);
    }
    if (content_type != NULL) {
        snprintf(line, sizeof line, "Content-Type: %s", content_type);
        list = curl_slist_append(list, line);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &out.headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    if (body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
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

typedef struct session {
    char token[64];
    char csrf[64];
} session;

static session sign_in(void)
{
    char command[256];
    snprintf(command, sizeof command, "admin password > /dev/null <<'EOF'\n%s\nEOF\n", PASSWORD);
    assert_int_equal(it_ctl(command), 0);
    it_exec("DELETE FROM hv_admin_login_failures");
    reply r = call("POST", "/api/haravan/admin/login", NULL, NULL,
                   "application/x-www-form-urlencoded", "password=" PASSWORD_FORM);
    if (r.status != 200)
        fail_msg("login: %ld %s", r.status, r.body.data);
    session s;
    const char *cookie = it_header_value(r.headers.data, "Set-Cookie");
    assert_non_null(cookie);
    assert_int_equal(strncmp(cookie, "hv_session=", 11), 0);
    snprintf(s.token, sizeof s.token, "%.*s", (int)strcspn(cookie + 11, ";"), cookie + 11);
    cJSON *document = cJSON_Parse(r.body.data);
    const cJSON *csrf = cJSON_GetObjectItemCaseSensitive(document, "csrf");
    assert_true(cJSON_IsString(csrf));
    snprintf(s.csrf, sizeof s.csrf, "%s", csrf->valuestring);
    cJSON_Delete(document);
    reply_free(&r);
    return s;
}

/* The import of `kind` for `org` in the status route's "catchup". */
static cJSON *status_import(const session *s, const char *org, const char *kind)
{
    reply r = call("GET", "/api/haravan/status", s->token, NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    cJSON *document = cJSON_Parse(r.body.data);
    reply_free(&r);
    const cJSON *catchup = cJSON_GetObjectItemCaseSensitive(document, "catchup");
    assert_non_null(catchup);
    assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(catchup, "reconciliations")));
    cJSON *found = NULL;
    const cJSON *import = NULL;
    cJSON_ArrayForEach(import, cJSON_GetObjectItemCaseSensitive(catchup, "imports"))
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(import, "org_id");
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(import, "kind");
        if (cJSON_IsString(id) && strcmp(id->valuestring, org) == 0 && cJSON_IsString(k) &&
            strcmp(k->valuestring, kind) == 0)
            found = cJSON_Duplicate(import, 1);
    }
    cJSON_Delete(document);
    return found;
}

static const char *text_in(const cJSON *object, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
    return cJSON_IsString(item) ? item->valuestring : "";
}

static void test_backfill_route_queues_and_processors_finish(void **state)
{
    (void)state;
    const char *org = "9105";
    make_shop(org, 60, 300, 15);
    session s = sign_in();
    /* Without the CSRF token: refused, nothing recorded. */
    reply refused = call("POST", "/api/haravan/backfill", s.token, NULL,
                         "application/x-www-form-urlencoded", "org_id=9105&kinds=orders");
    assert_int_equal(refused.status, 403);
    reply_free(&refused);
    assert_int_equal(scalar_for("SELECT count(*) FROM hv_catchup WHERE org_id = $1"
                                " AND job LIKE '%/import'",
                                org),
                     0);
    /* A bad date: 400. */
    reply bad = call("POST", "/api/haravan/backfill", s.token, s.csrf, "application/json",
                     "{\"org_id\":\"9105\",\"since\":\"yesterday\"}");
    assert_int_equal(bad.status, 400);
    reply_free(&bad);
    reply r = call("POST", "/api/haravan/backfill", s.token, s.csrf, "application/json",
                   "{\"org_id\":\"9105\",\"since\":\"2025-01-01\",\"kinds\":[\"orders\","
                   "\"customers\"]}");
    if (r.status != 202)
        fail_msg("backfill: %ld %s", r.status, r.body.data);
    cJSON *answer = cJSON_Parse(r.body.data);
    reply_free(&r);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(answer, "jobs")), 2);
    cJSON_Delete(answer);
    assert_int_equal(scalar_for("SELECT count(*) FROM hv_catchup WHERE org_id = $1"
                                " AND requested_by = 'settings page'",
                                org),
                     2);
    cJSON *import = NULL;
    for (int i = 0; i < 600; i++) {
        cJSON_Delete(import);
        import = status_import(&s, org, "orders");
        if (import != NULL && strcmp(text_in(import, "state"), "done") == 0)
            break;
        pause_ms(100);
    }
    assert_non_null(import);
    assert_string_equal(text_in(import, "state"), "done");
    assert_true(number_in(import, "done") == 300 && number_in(import, "total") == 300);
    cJSON_Delete(import);
    wait_processed(org, 60);
    assert_int_equal(scalar_for("SELECT count(*) FROM orders WHERE haravan_org_id = $1", org), 300);

    /* A job of a shop that lost its token stops, saying why. */
    it_exec("UPDATE hv_shops SET status = 'needs_reconnect' WHERE org_id = '9105'");
    it_exec("UPDATE hv_catchup SET state = 'queued', total = NULL WHERE org_id = '9105'"
            " AND job = 'customers/import'");
    for (int i = 0; i < 100 && it_scalar("SELECT count(*) FROM hv_catchup WHERE org_id = $1"
                                         " AND state = 'stopped'",
                                         org) == 0;
         i++)
        pause_ms(100);
    cJSON *stopped = status_import(&s, org, "customers");
    assert_non_null(stopped);
    assert_string_equal(text_in(stopped, "state"), "stopped");
    assert_non_null(strstr(text_in(stopped, "last_error"), "no token"));
    cJSON_Delete(stopped);
}

/* The shops made here are not the stack's shop: later tests and the
 * settings page's (which shows the connected shop updated last) must not
 * find them. Their data stays, as a disconnected shop's does. */
static int forget_shops(void **state)
{
    (void)state;
    it_exec("DELETE FROM hv_shops WHERE org_id IN ('9101', '9102', '9103', '9104', '9105')");
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backfill_route_queues_and_processors_finish),
        cmocka_unit_test(test_killed_import_resumes_to_the_same_rows),
        cmocka_unit_test(test_live_staff_lookup_goes_before_the_import),
        cmocka_unit_test(test_reconciliation_brings_dropped_webhooks),
        cmocka_unit_test(test_full_import_yields_the_simulators_data),
    };
    /* IT_CATCHUP_ONLY=test_name* runs one while working on it. */
    if (getenv("IT_CATCHUP_ONLY") != NULL)
        cmocka_set_test_filter(getenv("IT_CATCHUP_ONLY"));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int failures = cmocka_run_group_tests(tests, NULL, forget_shops);
    curl_global_cleanup();
    return failures;
}
