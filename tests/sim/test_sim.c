/*
 * Unit tests of the simulator's own arithmetic, without a stack: the
 * timestamp reader (the _min/_max filters stand on it), the leaky bucket
 * (80 at once fit, the 81st waits exactly a quarter second at 4/s) and the
 * listing over the real seed (defaults, the cap of 50, bad parameters,
 * filters, order, fields). If these drift, the simulator stops being
 * faithful to HARAVAN.md and the connector's tests prove nothing.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "bucket.h"
#include "listing.h"
#include "store.h"
#include "timestamp.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))
#define SEED_ORG     1000114691LL

/* ---- timestamps ------------------------------------------------------ */

typedef struct timestamp_case {
    const char *text;
    int valid;
    long long microseconds;
} timestamp_case;

static const timestamp_case timestamp_cases[] = {
    {"1970-01-01T00:00:00Z", 1, 0},
    {"2021-11-03T03:33:02.313Z", 1, 1635910382313000LL},
    {"2021-08-18T06:18:27.4880706Z", 1, 1629267507488070LL}, /* 7 digits, from the docs */
    {"2024-01-01T00:00:00+07:00", 1, 1704042000000000LL},
    {"2024-01-01T00:00:00+0700", 1, 1704042000000000LL},
    {"2024-01-01T00:00:00", 1, 1704042000000000LL}, /* the shop's zone, +07:00 */
    {"2024-01-01", 1, 1704042000000000LL},
    {"2024-01-01T00:00:00-01:30", 1, 1704072600000000LL},
    {"2024-02-29T12:00:00Z", 1, 1709208000000000LL},
    {"2000-03-01T00:00:00Z", 1, 951868800000000LL},
    {"1969-12-31T23:59:59Z", 1, -1000000LL},
    {"2024-01-01T00:00:00 07:00", 0, 0}, /* '+' sent unencoded became a space */
    {"2023-02-29", 0, 0},
    {"2024-13-01", 0, 0},
    {"2024-1-01", 0, 0},
    {"2024-01-01T24:00:00Z", 0, 0},
    {"2024-01-01T00:60:00Z", 0, 0},
    {"2024-01-01T00:00:00.Z", 0, 0},
    {"2024-01-01T00:00:00Zjunk", 0, 0},
    {"2024-01-01T00", 0, 0},
    {"", 0, 0},
    {"yesterday", 0, 0},
};

static void test_timestamps(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(timestamp_cases); i++) {
        const timestamp_case *c = &timestamp_cases[i];
        long long value = 42;
        int result = sim_timestamp_parse(c->text, &value);
        if (result != (c->valid ? 0 : -1))
            fail_msg("\"%s\": expected %s", c->text, c->valid ? "valid" : "refused");
        if (c->valid && value != c->microseconds)
            fail_msg("\"%s\": %lld, expected %lld", c->text, value, c->microseconds);
    }
}

/* ---- bucket ---------------------------------------------------------- */

static void test_bucket_admits_80_then_refuses(void **state)
{
    (void)state;
    sim_bucket bucket = {0, 0};
    double retry_after = -1;
    for (int call = 1; call <= 80; call++) {
        assert_int_equal(sim_bucket_take(&bucket, 100.0, 80, 4, &retry_after), 1);
        assert_int_equal(sim_bucket_shown(&bucket, 100.0, 4), call);
    }
    assert_int_equal(sim_bucket_take(&bucket, 100.0, 80, 4, &retry_after), 0);
    assert_true(retry_after > 0.2499 && retry_after < 0.2501);
    assert_int_equal(sim_bucket_shown(&bucket, 100.0, 4), 80); /* the refusal was not counted */
    assert_int_equal(sim_bucket_take(&bucket, 100.1, 80, 4, &retry_after), 0);
    assert_true(retry_after > 0.1499 && retry_after < 0.1501);
    assert_int_equal(sim_bucket_take(&bucket, 100.25, 80, 4, &retry_after), 1);
}

static void test_bucket_drains_at_its_rate(void **state)
{
    (void)state;
    sim_bucket bucket = {0, 0};
    sim_bucket_set(&bucket, 10.0, 80);
    assert_int_equal(sim_bucket_shown(&bucket, 15.0, 4), 60);
    assert_int_equal(sim_bucket_shown(&bucket, 15.1, 4), 60); /* 59.6 shows as 60 */
    assert_int_equal(sim_bucket_shown(&bucket, 40.0, 4), 0);  /* never below empty */
}

static void test_retry_after_format(void **state)
{
    (void)state;
    static const struct {
        double seconds;
        const char *text;
    } cases[] = {
        /* Exact hundredths print as they are, without trailing zeros. */
        {0.25, "0.25"},
        {1.0, "1"},
        {2.5, "2.5"},
        /* Anything else rounds up, never to zero: "retry now" would be a lie. */
        {0.001, "0.01"},
        {0.251, "0.26"},
        {0, "0.01"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        char text[32];
        sim_bucket_format_seconds(cases[i].seconds, text, sizeof text);
        assert_string_equal(text, cases[i].text);
    }
}

/* ---- records -------------------------------------------------------- */

static cJSON *record_with(long long id, const char *name)
{
    cJSON *record = cJSON_CreateObject();
    assert_non_null(cJSON_AddNumberToObject(record, "id", (double)id));
    assert_non_null(cJSON_AddStringToObject(record, "name", name));
    return record;
}

static void test_records_stay_in_id_order(void **state)
{
    (void)state;
    static const long long ids[] = {200000500173LL, 200000244880LL, 200000496639LL, 5, 900};
    cJSON *records = cJSON_CreateArray();
    for (size_t i = 0; i < COUNT(ids); i++)
        assert_int_equal(sim_record_put(records, record_with(ids[i], "first")), 0);
    assert_int_equal(sim_record_put(records, record_with(900, "replaced")), 0);
    assert_int_equal(sim_record_put(records, record_with(0, "no valid id")), -1);
    char *text = cJSON_PrintUnformatted(records);
    assert_string_equal(text, "[{\"id\":5,\"name\":\"first\"},{\"id\":900,\"name\":\"replaced\"},"
                              "{\"id\":200000244880,\"name\":\"first\"},"
                              "{\"id\":200000496639,\"name\":\"first\"},"
                              "{\"id\":200000500173,\"name\":\"first\"}]");
    cJSON_free(text);
    cJSON_Delete(records);
}

/* ---- listings over the seed ------------------------------------------ */

static int load_seed(void **state)
{
    static sim_store store;
    char error[512];
    if (sim_store_load(&store, HARAVAN_SIM_SEED_DIR, error, sizeof error) != 0) {
        print_error("%s\n", error);
        return -1;
    }
    *state = &store;
    return 0;
}

static int free_seed(void **state)
{
    if (*state != NULL)
        sim_store_free(*state);
    return 0;
}

/* The ids listed for `query_text` over the seeded orders, comma separated. */
static void order_ids(sim_store *store, const char *query_text, char *out, size_t size)
{
    form query;
    assert_int_equal(form_parse(&query, query_text, strlen(query_text)), 0);
    sim_listing listing;
    char parameter[64];
    char message[200];
    assert_int_equal(sim_listing_parse(&listing, &query, SIM_LISTING_STATUS, parameter,
                                       sizeof parameter, message, sizeof message),
                     0);
    cJSON *page = sim_listing_page(&listing, sim_store_org(store, SEED_ORG)->orders);
    assert_non_null(page);
    out[0] = '\0';
    const cJSON *order = NULL;
    cJSON_ArrayForEach(order, page)
    {
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%lld", used > 0 ? "," : "", sim_record_id(order));
    }
    cJSON_Delete(page);
    form_free(&query);
}

static void test_seed_is_loaded(void **state)
{
    sim_store *store = *state;
    sim_org *org = sim_store_org(store, SEED_ORG);
    assert_non_null(org);
    assert_int_equal(sim_record_id(org->shop), SEED_ORG);
    assert_int_equal(cJSON_GetArraySize(org->orders), 4);
    assert_int_equal(cJSON_GetArraySize(org->customers), 6);
    assert_non_null(sim_record_find(org->users, 200000905615LL));
    const sim_token *token = sim_store_token(store, "sim-token-1000114691-all-read");
    assert_non_null(token);
    assert_true(sim_token_has_scope(token, "com.read_orders"));
    const sim_token *narrow = sim_store_token(store, "sim-token-1000114691-orders-only");
    assert_non_null(narrow);
    assert_false(sim_token_has_scope(narrow, "com.read_shop"));
}

static void test_listing_pages_and_filters(void **state)
{
    static const struct {
        const char *query;
        const char *ids;
    } cases[] = {
        {"", "1138637099,1238520665,1272208520,1456389374"},
        {"limit=2", "1138637099,1238520665"},
        {"limit=2&page=2", "1272208520,1456389374"},
        {"limit=2&page=3", ""},
        {"limit=500", "1138637099,1238520665,1272208520,1456389374"},
        {"since_id=1238520665", "1272208520,1456389374"},
        {"updated_at_min=2021-11-03T03:33:02.313Z", "1238520665,1272208520,1456389374"},
        {"updated_at_max=2021-11-03T10:33:02.313%2B07:00", "1138637099,1238520665"},
        {"created_at_min=2022-01-01&created_at_max=2022-12-31", "1272208520"},
        {"order=updated_at+desc", "1456389374,1272208520,1238520665,1138637099"},
        {"status=cancelled", ""},
        {"status=any&limit=1&page=4", "1456389374"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        char ids[256];
        order_ids(*state, cases[i].query, ids, sizeof ids);
        if (strcmp(ids, cases[i].ids) != 0)
            fail_msg("\"%s\": listed [%s], expected [%s]", cases[i].query, ids, cases[i].ids);
    }
}

static void test_listing_refuses_bad_parameters(void **state)
{
    (void)state;
    static const struct {
        const char *query;
        const char *parameter;
    } cases[] = {
        {"limit=0", "limit"},
        {"limit=abc", "limit"},
        {"limit=-5", "limit"},
        {"page=0", "page"},
        {"page=1.5", "page"},
        {"since_id=x", "since_id"},
        {"updated_at_min=2024-01-01T00:00:00+07:00", "updated_at_min"}, /* '+' not encoded */
        {"created_at_max=soon", "created_at_max"},
        {"status=open,closed", "status"},
        {"order=total_price", "order"},
        {"order=id+sideways", "order"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        form query;
        assert_int_equal(form_parse(&query, cases[i].query, strlen(cases[i].query)), 0);
        sim_listing listing;
        char parameter[64] = "";
        char message[200] = "";
        int result = sim_listing_parse(&listing, &query, SIM_LISTING_STATUS, parameter,
                                       sizeof parameter, message, sizeof message);
        form_free(&query);
        if (result != -1 || strcmp(parameter, cases[i].parameter) != 0 || message[0] == '\0')
            fail_msg("\"%s\": expected a refusal naming %s, got %d [%s]", cases[i].query,
                     cases[i].parameter, result, parameter);
    }
}

static void test_fields_projection(void **state)
{
    sim_store *store = *state;
    const cJSON *order = sim_record_find(sim_store_org(store, SEED_ORG)->orders, 1238520665LL);
    assert_non_null(order);
    cJSON *projected = sim_listing_project("id, name,no_such_field", order);
    assert_non_null(projected);
    assert_int_equal(cJSON_GetArraySize(projected), 2);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(projected, "name")->valuestring,
                        "#100022");
    cJSON_Delete(projected);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_bucket_admits_80_then_refuses),
        cmocka_unit_test(test_bucket_drains_at_its_rate),
        cmocka_unit_test(test_retry_after_format),
        cmocka_unit_test(test_records_stay_in_id_order),
        cmocka_unit_test(test_listing_refuses_bad_parameters),
    };
    const struct CMUnitTest seeded[] = {
        cmocka_unit_test(test_seed_is_loaded),
        cmocka_unit_test(test_listing_pages_and_filters),
        cmocka_unit_test(test_fields_projection),
    };
    int failures = cmocka_run_group_tests_name("sim", pure, NULL, NULL);
    failures += cmocka_run_group_tests_name("sim_seed", seeded, load_seed, free_seed);
    return failures;
}
