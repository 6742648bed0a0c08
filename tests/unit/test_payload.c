/*
 * Unit tests for lib/crm/haravan_payload and lib/crm/haravan_field: what a Haravan
 * order or customer becomes before any SQL, over every sample in
 * HARAVAN_SAMPLES_DIR.
 *
 * Three tables drive it:
 *   - samples: every file of the samples directory (a file missing from
 *     the table fails the test, so a new sample cannot be forgotten), with
 *     what it is (order, customer, neither) and the values its mapping
 *     must give; each must fit its own topic and no other, and map with no
 *     notes (a rule that noted a real payload would be rejecting a
 *     legitimate variant);
 *   - broken fields: one field of a real sample replaced at a time, each
 *     with what must happen: the event fails with a reason naming the
 *     field's path and value, or it is read with a note saying what was
 *     left empty; never a silent default;
 *   - readers: crm_field's answers for ids, amounts and counts in every
 *     form they come in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "core/buffer.h"
#include "core/json.h"
#include "crm/haravan_field.h"
#include "crm/haravan_payload.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))
#define ORG          "1000114691"

/* ---- loading samples ------------------------------------------------- */

static void read_sample(const char *name, buffer *out)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", HARAVAN_SAMPLES_DIR, name);
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        fail_msg("cannot open %s", path);
    char chunk[4096];
    size_t got = 0;
    while ((got = fread(chunk, 1, sizeof chunk, file)) > 0)
        assert_int_equal(buffer_append(out, chunk, got), 0);
    fclose(file);
}

/* The resource a sample holds, as a webhook would carry it: the inner
 * object of a REST answer's wrapper, or the body of an .http.txt. */
static cJSON *load_resource(const char *name, const char *wrapper)
{
    buffer raw = BUFFER_INIT;
    read_sample(name, &raw);
    const char *text = raw.data;
    if (strstr(name, ".http.txt") != NULL) {
        text = strstr(raw.data, "Body:");
        assert_non_null(text);
        text += strlen("Body:");
    }
    cJSON *document = cJSON_Parse(text);
    buffer_free(&raw);
    if (document == NULL)
        fail_msg("%s is not JSON", name);
    if (wrapper == NULL)
        return document;
    cJSON *inner = cJSON_DetachItemFromObjectCaseSensitive(document, wrapper);
    cJSON_Delete(document);
    if (inner == NULL)
        fail_msg("%s has no \"%s\"", name, wrapper);
    return inner;
}

/* ---- the samples ----------------------------------------------------- */

typedef enum kind { ORDER, CUSTOMER, NEITHER } kind;

typedef struct sample {
    const char *file;
    const char *wrapper; /* the REST answer's key, or NULL */
    kind kind;
    /* what the mapping must give (orders and customers) */
    const char *id;
    const char *total;
    size_t items;
    size_t payments;
    const char *customer_id; /* NULL: no customer */
    const char *staff_id;
    const char *name; /* the customer's */
} sample;

static const sample samples[] = {
    {"order-webhook-payload-haravan_draft_order-paid.captured.json", NULL, ORDER, "1238520665",
     "980000.00", 1, 1, "1053472936", "200000905615", ""},
    {"order-api-assign-response-draft-order.docs.json", "order", ORDER, "1272208520", "289000.00",
     1, 0, "1024510520", "200000496639", NULL},
    {"order-api-create-pos-response.docs.json", "order", ORDER, "1456389374", "455000.00", 2, 0,
     "1085558958", "1000374246", "Nguyễn Văn A"},
    {"order-api-get-single-web-cod.docs.json", "order", ORDER, "1138637099", "13200000.00", 1, 1,
     "1036847352", "", "Haravan Demo"},
    {"customer-api-create-with-address-response.docs.json", "customer", CUSTOMER, "1050764416",
     NULL, 0, 0, NULL, NULL, "Haravan New"},
    {"customer-api-get-single.docs.json", "customer", CUSTOMER, "1037889951", NULL, 0, 0, NULL,
     NULL, "Haravan Demo"},
    {"customer-groups-list.docs.json", NULL, NEITHER, NULL, NULL, 0, 0, NULL, NULL, NULL},
    {"shop-get.docs.json", "shop", NEITHER, NULL, NULL, 0, 0, NULL, NULL, NULL},
    {"users-list.docs.json", NULL, NEITHER, NULL, NULL, 0, 0, NULL, NULL, NULL},
    {"webhook-app_subscriptions-update.docs.http.txt", NULL, NEITHER, NULL, NULL, 0, 0, NULL, NULL,
     NULL},
};

static const sample *sample_named(const char *file)
{
    for (size_t i = 0; i < COUNT(samples); i++)
        if (strcmp(samples[i].file, file) == 0)
            return &samples[i];
    return NULL;
}

/* Every file of the samples directory is in the table. */
static void test_every_sample_is_in_the_table(void **state)
{
    (void)state;
    DIR *directory = opendir(HARAVAN_SAMPLES_DIR);
    assert_non_null(directory);
    size_t seen = 0;
    for (struct dirent *entry = readdir(directory); entry != NULL; entry = readdir(directory)) {
        if (entry->d_name[0] == '.' || strcmp(entry->d_name, "README.md") == 0)
            continue;
        if (sample_named(entry->d_name) == NULL)
            fail_msg("%s is not in test_payload.c's table", entry->d_name);
        seen++;
    }
    closedir(directory);
    assert_int_equal(seen, COUNT(samples));
}

static void test_each_sample_fits_its_own_topic_only(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(samples); i++) {
        const sample *s = &samples[i];
        cJSON *body = load_resource(s->file, s->wrapper);
        crm_report as_order = {.reason = ""}, as_customer = {.reason = ""};
        int fits_order = crm_payload_fits(body, CRM_PAYLOAD_ORDER, "orders/create", &as_order);
        int fits_customer =
            crm_payload_fits(body, CRM_PAYLOAD_CUSTOMER, "customers/create", &as_customer);
        if (fits_order != (s->kind == ORDER) || fits_customer != (s->kind == CUSTOMER))
            fail_msg("%s: fits orders %d (%s), customers %d (%s)", s->file, fits_order,
                     as_order.reason, fits_customer, as_customer.reason);
        assert_int_equal(as_order.reason[0] == '\0', fits_order);
        assert_int_equal(as_customer.reason[0] == '\0', fits_customer);
        cJSON_Delete(body);
    }
}

static void check_order_sample(const sample *s)
{
    cJSON *body = load_resource(s->file, s->wrapper);
    crm_order_payload payload;
    crm_report report = {.reason = "", .notes = ""};
    if (crm_payload_order(body, "orders/create", ORG, &payload, &report) != 0)
        fail_msg("%s: %s", s->file, report.reason);
    if (report.notes[0] != '\0')
        fail_msg("%s: a real order was noted: %s", s->file, report.notes);
    assert_string_equal(payload.order.haravan_id, s->id);
    assert_string_equal(payload.order.total, s->total);
    assert_int_equal(payload.order.item_count, s->items);
    assert_int_equal(payload.order.payment_count, s->payments);
    assert_int_equal(payload.has_customer, s->customer_id != NULL);
    assert_string_equal(payload.customer.haravan_id, s->customer_id);
    assert_string_equal(payload.staff_id, s->staff_id);
    if (s->name != NULL)
        assert_string_equal(payload.customer.name, s->name);
    for (size_t i = 0; i < payload.order.item_count; i++) {
        assert_true(payload.order.items[i].quantity > 0);
        assert_true(payload.order.items[i].line_item_id[0] != '\0');
        assert_true(payload.order.items[i].name[0] != '\0');
    }
    crm_payload_order_free(&payload);
    cJSON_Delete(body);
}

static void check_customer_sample(const sample *s)
{
    cJSON *body = load_resource(s->file, s->wrapper);
    crm_customer_input customer;
    crm_report report = {.reason = "", .notes = ""};
    if (crm_payload_customer(body, ORG, &customer, &report) != 0)
        fail_msg("%s: %s", s->file, report.reason);
    if (report.notes[0] != '\0')
        fail_msg("%s: a real customer was noted: %s", s->file, report.notes);
    assert_string_equal(customer.haravan_id, s->id);
    assert_string_equal(customer.name, s->name);
    assert_string_equal(customer.province, "Hồ Chí Minh");
    cJSON_Delete(body);
}

static void test_each_sample_maps_without_notes(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(samples); i++) {
        if (samples[i].kind == ORDER)
            check_order_sample(&samples[i]);
        else if (samples[i].kind == CUSTOMER)
            check_customer_sample(&samples[i]);
    }
}

/* ---- one field broken at a time ------------------------------------- */

/* The item at `path` ("line_items[0].price", "customer.gender") of
 * `root`: its parent and last key, or the parent array and index. */
typedef struct location {
    cJSON *parent;
    char key[64]; /* "" when the last step is an index */
    int index;
} location;

static int locate(cJSON *root, const char *path, location *where)
{
    cJSON *current = root;
    const char *step = path;
    for (;;) {
        size_t length = strcspn(step, ".[");
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)length, step);
        const char *next = step + length;
        int index = -1;
        if (*next == '[') {
            index = atoi(next + 1);
            next = strchr(next, ']') + 1;
        }
        int last = *next == '\0';
        if (index < 0 && last) {
            where->parent = current;
            snprintf(where->key, sizeof where->key, "%s", key);
            return cJSON_IsObject(current);
        }
        cJSON *item = cJSON_GetObjectItemCaseSensitive(current, key);
        if (index >= 0 && last) {
            where->parent = item;
            where->key[0] = '\0';
            where->index = index;
            return cJSON_IsArray(item) && index < cJSON_GetArraySize(item);
        }
        current = index >= 0 ? cJSON_GetArrayItem(item, index) : item;
        if (current == NULL)
            return 0;
        step = next + (*next == '.');
    }
}

/* Sets `path` to the JSON `value`. Returns 0 when the path's parent is
 * not in this sample. */
static int set_path(cJSON *root, const char *path, const char *value)
{
    location where;
    if (!locate(root, path, &where))
        return 0;
    cJSON *item = cJSON_Parse(value);
    if (item == NULL)
        fail_msg("bad test value %s", value);
    if (where.key[0] == '\0')
        assert_true(cJSON_ReplaceItemInArray(where.parent, where.index, item));
    else if (cJSON_HasObjectItem(where.parent, where.key))
        assert_true(cJSON_ReplaceItemInObjectCaseSensitive(where.parent, where.key, item));
    else
        assert_true(cJSON_AddItemToObject(where.parent, where.key, item));
    return 1;
}

typedef enum expect { FAILS, NOTED, READ } expect;

typedef struct broken {
    const char *path;
    const char *value;
    expect expect;
    /* FAILS: the reason after "order {id}: "; NOTED: a note, exactly as
     * it appears in the notes */
    const char *says;
    const char *also_path; /* a second edit that makes the field matter */
    const char *also_value;
} broken;

#define PAID                 "financial_status", "\"paid\""
#define CAPTURE_WITH(fields) "[{\"id\":5,\"kind\":\"capture\",\"amount\":1000," fields "}]"

static const broken order_cases[] = {
    /* what the order cannot be right without */
    {"total_price", "\"abc\"", FAILS, "total_price: \"abc\" is not an amount", NULL, NULL},
    {"total_price", "null", FAILS, "total_price: missing", NULL, NULL},
    {"total_price", "\"1e5\"", FAILS, "total_price: \"1e5\" is not an amount", NULL, NULL},
    {"total_price", "\"980.000\\u20ab\"", FAILS, "total_price: \"980.000₫\" is not an amount", NULL,
     NULL},
    {"financial_status", "5", FAILS, "financial_status: 5 is not a financial status", NULL, NULL},
    {"financial_status", "\"sort of\"", FAILS,
     "financial_status: \"sort of\" is not a financial status", NULL, NULL},
    {"currency", "704", FAILS, "currency: 704 is not a currency", NULL, NULL},
    {"cancelled_at", "true", FAILS, "cancelled_at: true is not a time", NULL, NULL},
    {"closed_at", "{}", FAILS, "closed_at: an object is not a time", NULL, NULL},
    {"line_items", "{}", FAILS, "line_items is not an array", NULL, NULL},
    {"line_items", "null", FAILS, "line_items missing", NULL, NULL},
    {"line_items[0]", "\"x\"", FAILS, "line_items[0]: \"x\" is not an object", NULL, NULL},
    {"line_items[0].quantity", "\"two\"", FAILS,
     "line_items[0].quantity: \"two\" is not a quantity", NULL, NULL},
    {"line_items[0].quantity", "-1", FAILS, "line_items[0].quantity: -1 is not a quantity", NULL,
     NULL},
    {"line_items[0].quantity", "1.5", FAILS, "line_items[0].quantity: 1.5 is not a quantity", NULL,
     NULL},
    {"line_items[0].quantity", "null", FAILS, "line_items[0].quantity: missing", NULL, NULL},
    {"line_items[0].price", "\"abc\"", FAILS, "line_items[0].price: \"abc\" is not an amount", NULL,
     NULL},
    {"line_items[0].price", "null", FAILS, "line_items[0].price: missing", NULL, NULL},
    {"line_items[0].price", "[250000]", FAILS, "line_items[0].price: an array is not an amount",
     NULL, NULL},
    {"line_items[0].total_discount", "\"abc\"", FAILS,
     "line_items[0].total_discount: \"abc\" is not an amount", NULL, NULL},
    {"customer", "\"Nguyễn Văn A\"", FAILS, "customer: \"Nguyễn Văn A\" is not an object", NULL,
     NULL},
    {"customer", "[]", FAILS, "customer: an array is not an object", NULL, NULL},
    {"customer.id", "\"a b\"", FAILS, "customer.id: \"a b\" is not an id", NULL, NULL},
    {"customer.id", "true", FAILS, "customer.id: true is not an id", NULL, NULL},
    {"customer.id", "-7", FAILS, "customer.id: -7 is not an id", NULL, NULL},
    {"transactions", "\"x\"", FAILS, "transactions: \"x\" is not an array", PAID},
    {"transactions", "[\"x\"]", FAILS, "transactions[0]: \"x\" is not an object", PAID},
    {"transactions", "[{\"id\":5,\"kind\":5,\"amount\":1}]", FAILS,
     "transactions[0].kind: 5 is not a transaction kind", PAID},
    {"transactions", CAPTURE_WITH("\"status\":{}"), FAILS,
     "transactions[0].status: an object is not a transaction status", PAID},
    {"transactions", "[{\"id\":5,\"kind\":\"capture\",\"amount\":\"abc\"}]", FAILS,
     "transactions[0].amount: \"abc\" is not an amount", PAID},
    {"transactions", "[{\"id\":\"x y\",\"kind\":\"capture\",\"amount\":1}]", FAILS,
     "transactions[0].id: \"x y\" is not an id", PAID},
    {"transactions", "[{\"kind\":\"sale\",\"amount\":1}]", FAILS, "transactions[0].id: missing",
     PAID},
    /* descriptive: left empty and noted */
    {"name", "5", NOTED, "name: 5 is not text; left empty", NULL, NULL},
    {"note", "{\"a\":1}", NOTED, "note: an object is not text; left empty", NULL, NULL},
    {"created_at", "5", NOTED, "created_at: 5 is not text; left empty", NULL, NULL},
    {"updated_at", "true", NOTED, "updated_at: true is not text; left empty", NULL, NULL},
    {"source_name", "7", NOTED, "source_name: 7 is not text; the order's source is Haravan", NULL,
     NULL},
    {"gateway", "1", NOTED, "gateway: 1 is not text; left empty", NULL, NULL},
    {"user_id", "\"x y\"", NOTED, "user_id: \"x y\" is not an id; left empty", NULL, NULL},
    {"user_id", "-3", NOTED, "user_id: -3 is not an id; left empty", NULL, NULL},
    {"shipping_address", "\"12 Nguyễn Huệ\"", NOTED,
     "shipping_address: \"12 Nguyễn Huệ\" is not an object; left empty", NULL, NULL},
    {"shipping_address.address1", "5", NOTED,
     "shipping_address.address1: 5 is not text; left empty", NULL, NULL},
    {"line_items[0].product_id", "\"a b\"", NOTED,
     "line_items[0].product_id: \"a b\" is not an id; left empty", NULL, NULL},
    {"line_items[0].variant_id", "{}", NOTED,
     "line_items[0].variant_id: an object is not an id; left empty", NULL, NULL},
    {"line_items[0].id", "1.5", NOTED, "line_items[0].id: 1.5 is not an id; left empty", NULL,
     NULL},
    {"line_items[0].sku", "123", NOTED, "line_items[0].sku: 123 is not text; left empty", NULL,
     NULL},
    {"line_items[0].title", "[]", NOTED, "line_items[0].title: an array is not text; left empty",
     NULL, NULL},
    {"transactions", CAPTURE_WITH("\"gateway\":5"), NOTED,
     "transactions[0].gateway: 5 is not text; left empty", PAID},
    {"transactions", CAPTURE_WITH("\"created_at\":5"), NOTED,
     "transactions[0].created_at: 5 is not text; left empty", PAID},
    /* not broken: read as they are */
    {"id", "\"00001238520665\"", READ, NULL, NULL, NULL},
    {"line_items[0].total_discount", "null", READ, NULL, NULL, NULL},
    {"customer", "null", READ, NULL, NULL, NULL},
    {"customer.id", "0", READ, NULL, NULL, NULL},
    {"user_id", "\"0\"", READ, NULL, NULL, NULL},
};

/* Fields of a customer: under "customer." in an order, at the top of a
 * customers/... body. */
static const broken customer_cases[] = {
    {"gender", "\"x\"", NOTED, "gender: \"x\" is not a gender; left empty", NULL, NULL},
    {"gender", "7", NOTED, "gender: 7 is not a gender; left empty", NULL, NULL},
    {"gender", "true", NOTED, "gender: true is not a gender; left empty", NULL, NULL},
    {"birthday", "\"soon\"", NOTED, "birthday: \"soon\" is not a date; left empty", NULL, NULL},
    {"birthday", "19900514", NOTED, "birthday: 19900514 is not text; left empty", NULL, NULL},
    {"first_name", "5", NOTED, "first_name: 5 is not text; left empty", NULL, NULL},
    {"last_name", "true", NOTED, "last_name: true is not text; left empty", NULL, NULL},
    {"phone", "912345678", NOTED, "phone: 912345678 is not text; left empty", NULL, NULL},
    {"email", "5", NOTED, "email: 5 is not text; left empty", NULL, NULL},
    {"note", "[]", NOTED, "note: an array is not text; left empty", NULL, NULL},
    {"updated_at", "5", NOTED, "updated_at: 5 is not text; left empty", NULL, NULL},
    {"default_address", "\"x\"", NOTED, "default_address: \"x\" is not an object; left empty", NULL,
     NULL},
    {"default_address.province", "79", NOTED,
     "default_address.province: 79 is not text; left empty", NULL, NULL},
    {"gender", "\"nữ\"", READ, NULL, NULL, NULL},
    {"gender", "0", READ, NULL, NULL, NULL},
    {"birthday", "\"1990-05-14T17:00:00Z\"", READ, NULL, NULL, NULL},
};

/* "{id}" in `pattern` replaced by `id`. */
static void expand(char *out, size_t size, const char *pattern, const char *id)
{
    const char *at = strstr(pattern, "{id}");
    if (at == NULL)
        snprintf(out, size, "%s", pattern);
    else
        snprintf(out, size, "%.*s%s%s", (int)(at - pattern), pattern, id, at + strlen("{id}"));
}

/* Runs the mapping of one sample with `c` applied; returns 0 when `c`
 * does not apply to it. */
static int run_case(const sample *s, const broken *c, const char *prefix)
{
    cJSON *body = load_resource(s->file, s->wrapper);
    char path[128], also[128];
    snprintf(path, sizeof path, "%s%s", prefix, c->path);
    if (!set_path(body, path, c->value)) {
        cJSON_Delete(body);
        return 0;
    }
    if (c->also_path != NULL) {
        snprintf(also, sizeof also, "%s%s", prefix, c->also_path);
        assert_true(set_path(body, also, c->also_value));
    }
    crm_report report = {.reason = "", .notes = ""};
    int result = 0;
    if (s->kind == ORDER) {
        crm_order_payload payload;
        result = crm_payload_order(body, "orders/create", ORG, &payload, &report);
        crm_payload_order_free(&payload);
    } else {
        crm_customer_input customer;
        result = crm_payload_customer(body, ORG, &customer, &report);
    }
    cJSON_Delete(body);
    char expected[512], says[384];
    snprintf(says, sizeof says, "%s%s", prefix, c->says != NULL ? c->says : "");
    switch (c->expect) {
    case FAILS:
        expand(expected, sizeof expected, "order {id}: ", s->id);
        strncat(expected, says, sizeof expected - strlen(expected) - 1);
        if (result == 0 || strcmp(report.reason, expected) != 0)
            fail_msg("%s, %s = %s: expected to fail with '%s', got %d '%s'", s->file, path,
                     c->value, expected, result, report.reason);
        break;
    case NOTED:
        if (result != 0 || strstr(report.notes, says) == NULL)
            fail_msg("%s, %s = %s: expected the note '%s', got %d '%s' notes '%s'", s->file, path,
                     c->value, says, result, report.reason, report.notes);
        break;
    case READ:
        if (result != 0 || report.notes[0] != '\0')
            fail_msg("%s, %s = %s: expected to be read, got %d '%s' notes '%s'", s->file, path,
                     c->value, result, report.reason, report.notes);
        break;
    }
    return 1;
}

static void test_broken_order_fields(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(order_cases); i++) {
        size_t applied = 0;
        for (size_t j = 0; j < COUNT(samples); j++)
            if (samples[j].kind == ORDER)
                applied += (size_t)run_case(&samples[j], &order_cases[i], "");
        if (applied == 0)
            fail_msg("%s applies to no sample", order_cases[i].path);
    }
}

static void test_broken_customer_fields(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(customer_cases); i++) {
        size_t applied = 0;
        for (size_t j = 0; j < COUNT(samples); j++) {
            if (samples[j].kind == ORDER)
                applied += (size_t)run_case(&samples[j], &customer_cases[i], "customer.");
            else if (samples[j].kind == CUSTOMER)
                applied += (size_t)run_case(&samples[j], &customer_cases[i], "");
        }
        if (applied < 2)
            fail_msg("%s applies to %zu samples", customer_cases[i].path, applied);
    }
}

static void test_customer_body_without_a_readable_id(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        const char *reason;
    } cases[] = {
        {"null", "customer without an id"},
        {"\"0\"", "customer without an id"},
        {"\"a;b\"", "customer: id: \"a;b\" is not an id"},
        {"{}", "customer: id: an object is not an id"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        cJSON *body = load_resource("customer-api-get-single.docs.json", "customer");
        assert_true(set_path(body, "id", cases[i].value));
        crm_customer_input customer;
        crm_report report = {.reason = "", .notes = ""};
        assert_int_equal(crm_payload_customer(body, ORG, &customer, &report), -1);
        assert_string_equal(report.reason, cases[i].reason);
        cJSON_Delete(body);
    }
}

/* What was read when a field was noted: left empty, nothing made up. */
static void test_noted_fields_are_left_empty(void **state)
{
    (void)state;
    cJSON *body = load_resource("order-api-create-pos-response.docs.json", "order");
    assert_true(set_path(body, "customer.gender", "\"x\""));
    assert_true(set_path(body, "customer.birthday", "\"soon\""));
    assert_true(set_path(body, "source_name", "7"));
    assert_true(set_path(body, "line_items[1].product_id", "\"a b\""));
    crm_order_payload payload;
    crm_report report = {.reason = "", .notes = ""};
    assert_int_equal(crm_payload_order(body, "orders/create", ORG, &payload, &report), 0);
    assert_null(payload.customer.gender);
    assert_null(payload.customer.birthday);
    assert_null(payload.order.channel);
    assert_string_equal(payload.order.items[1].product_id, "");
    assert_string_equal(report.notes, "source_name: 7 is not text; the order's source is Haravan; "
                                      "line_items[1].product_id: \"a b\" is not an id; left empty; "
                                      "customer.gender: \"x\" is not a gender; left empty; "
                                      "customer.birthday: \"soon\" is not a date; left empty");
    crm_payload_order_free(&payload);
    cJSON_Delete(body);
}

/* Text longer than its CRM column is cut at a character and noted. */
static void test_long_text_is_cut_at_a_character(void **state)
{
    (void)state;
    cJSON *body = load_resource("order-api-create-pos-response.docs.json", "order");
    buffer long_name = BUFFER_INIT;
    assert_int_equal(buffer_append_char(&long_name, '"'), 0);
    for (int i = 0; i < 400; i++)
        assert_int_equal(buffer_append_string(&long_name, "Đ"), 0);
    assert_int_equal(buffer_append_char(&long_name, '"'), 0);
    assert_true(set_path(body, "line_items[0].title", long_name.data));
    crm_order_payload payload;
    crm_report report = {.reason = "", .notes = ""};
    assert_int_equal(crm_payload_order(body, "orders/create", ORG, &payload, &report), 0);
    const char *name = payload.order.items[0].name;
    assert_int_equal(strlen(name), 2 * 255); /* 511 bytes fit, but the 256th Đ would be split */
    assert_string_equal(report.notes, "line_items[0] name: longer than 511 bytes; cut");
    crm_payload_order_free(&payload);
    buffer_free(&long_name);
    cJSON_Delete(body);
}

/* ---- topic against body --------------------------------------------- */

static void test_bodies_that_do_not_fit_their_topic(void **state)
{
    (void)state;
    cJSON *order = load_resource("order-api-create-pos-response.docs.json", "order");
    cJSON *customer = load_resource("customer-api-get-single.docs.json", "customer");
    crm_report report = {.reason = ""};
    assert_int_equal(crm_payload_fits(order, CRM_PAYLOAD_CUSTOMER, "customers/create", &report), 0);
    assert_string_equal(report.reason, "body does not fit topic customers/create: it has "
                                       "line_items, financial_status, total_price, order_number, "
                                       "fulfillment_status, which only an order has");
    report.reason[0] = '\0';
    assert_int_equal(crm_payload_fits(customer, CRM_PAYLOAD_ORDER, "orders/paid", &report), 0);
    assert_string_equal(report.reason,
                        "body does not fit topic orders/paid: it has first_name, last_name, "
                        "addresses, default_address, accepts_marketing, orders_count, total_spent, "
                        "verified_email, gender, birthday, last_order_id, which only a customer "
                        "has");
    cJSON_Delete(order);
    cJSON_Delete(customer);

    /* Minimal bodies of each kind still fit. */
    static const struct {
        const char *body;
        crm_payload_kind kind;
        int fits;
    } cases[] = {
        {"{\"id\":1,\"line_items\":[]}", CRM_PAYLOAD_ORDER, 1},
        {"{\"id\":1,\"first_name\":\"An\"}", CRM_PAYLOAD_CUSTOMER, 1},
        {"{\"id\":1,\"updated_at\":\"2026-01-01T00:00:00Z\"}", CRM_PAYLOAD_ORDER, 0},
        {"{\"id\":1,\"email\":\"a@b.vn\"}", CRM_PAYLOAD_CUSTOMER, 0},
        {"{\"id\":1,\"first_name\":\"An\",\"user_type\":\"invited\"}", CRM_PAYLOAD_CUSTOMER, 0},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        cJSON *body = cJSON_Parse(cases[i].body);
        crm_report r = {.reason = ""};
        if (crm_payload_fits(body, cases[i].kind, "x/y", &r) != cases[i].fits)
            fail_msg("%s: expected fits %d, reason '%s'", cases[i].body, cases[i].fits, r.reason);
        cJSON_Delete(body);
    }
}

/* ---- readers -------------------------------------------------------- */

static void test_ids_are_exact_text(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        crm_field state;
        const char *text;
    } cases[] = {
        {"1238520665", CRM_FIELD_READ, "1238520665"},
        {"\"1238520665\"", CRM_FIELD_READ, "1238520665"},
        {"\"001238520665\"", CRM_FIELD_READ, "1238520665"},
        {"9007199254740992", CRM_FIELD_READ, "9007199254740992"},
        /* beyond 2^53 as a number: a double cannot be trusted with it */
        {"18014398509481984", CRM_FIELD_UNREADABLE, ""},
        {"\"9007199254740993\"", CRM_FIELD_READ, "9007199254740993"},
        {"\"123456789012345678901234567890\"", CRM_FIELD_READ, "123456789012345678901234567890"},
        {"\"12345678901234567890123456789012\"", CRM_FIELD_UNREADABLE, ""},
        {"\"6141d6266e269fed5b515c89\"", CRM_FIELD_READ, "6141d6266e269fed5b515c89"},
        {"0", CRM_FIELD_ABSENT, ""},
        {"\"000\"", CRM_FIELD_ABSENT, ""},
        {"null", CRM_FIELD_ABSENT, ""},
        {"\"\"", CRM_FIELD_ABSENT, ""},
        {"-5", CRM_FIELD_UNREADABLE, ""},
        {"1.5", CRM_FIELD_UNREADABLE, ""},
        {"\"12 34\"", CRM_FIELD_UNREADABLE, ""},
        {"\"12:34\"", CRM_FIELD_UNREADABLE, ""},
        {"true", CRM_FIELD_UNREADABLE, ""},
        {"[1]", CRM_FIELD_UNREADABLE, ""},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        char json[128], out[32];
        snprintf(json, sizeof json, "{\"id\":%s}", cases[i].json);
        cJSON *object = cJSON_Parse(json);
        crm_field state_read = crm_field_id(object, "id", out, sizeof out);
        if (state_read != cases[i].state || strcmp(out, cases[i].text) != 0)
            fail_msg("%s: got %d '%s'", cases[i].json, state_read, out);
        cJSON_Delete(object);
    }
}

static void test_amounts_and_counts(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        crm_field state;
        const char *amount;
    } amounts[] = {
        {"980000", CRM_FIELD_READ, "980000.00"},
        {"980000.0", CRM_FIELD_READ, "980000.00"},
        {"\"980000\"", CRM_FIELD_READ, "980000.00"},
        {"\"-12.5\"", CRM_FIELD_READ, "-12.50"},
        {"\".5\"", CRM_FIELD_READ, "0.50"},
        {"null", CRM_FIELD_ABSENT, ""},
        {"\" \"", CRM_FIELD_ABSENT, ""},
        {"\"abc\"", CRM_FIELD_UNREADABLE, ""},
        {"\"1e5\"", CRM_FIELD_UNREADABLE, ""},
        {"\"0x10\"", CRM_FIELD_UNREADABLE, ""},
        {"\" 5\"", CRM_FIELD_UNREADABLE, ""},
        {"\"inf\"", CRM_FIELD_UNREADABLE, ""},
        {"\".\"", CRM_FIELD_UNREADABLE, ""},
        {"1e15", CRM_FIELD_UNREADABLE, ""},
        {"true", CRM_FIELD_UNREADABLE, ""},
        {"{}", CRM_FIELD_UNREADABLE, ""},
    };
    for (size_t i = 0; i < COUNT(amounts); i++) {
        char json[128], out[32];
        snprintf(json, sizeof json, "{\"a\":%s}", amounts[i].json);
        cJSON *object = cJSON_Parse(json);
        crm_field state_read = crm_field_amount(object, "a", out, sizeof out);
        if (state_read != amounts[i].state || strcmp(out, amounts[i].amount) != 0)
            fail_msg("amount %s: got %d '%s'", amounts[i].json, state_read, out);
        cJSON_Delete(object);
    }
    static const struct {
        const char *json;
        crm_field state;
        long long value;
    } counts[] = {
        {"2", CRM_FIELD_READ, 2},
        {"\"2\"", CRM_FIELD_READ, 2},
        {"2.0", CRM_FIELD_READ, 2},
        {"\"-3\"", CRM_FIELD_READ, -3},
        {"null", CRM_FIELD_ABSENT, 0},
        {"2.5", CRM_FIELD_UNREADABLE, 0},
        {"\"two\"", CRM_FIELD_UNREADABLE, 0},
        {"[2]", CRM_FIELD_UNREADABLE, 0},
    };
    for (size_t i = 0; i < COUNT(counts); i++) {
        char json[128];
        long long value = 0;
        snprintf(json, sizeof json, "{\"q\":%s}", counts[i].json);
        cJSON *object = cJSON_Parse(json);
        crm_field state_read = crm_field_count(object, "q", &value);
        if (state_read != counts[i].state || value != counts[i].value)
            fail_msg("count %s: got %d %lld", counts[i].json, state_read, value);
        cJSON_Delete(object);
    }
}

static void test_reports_quote_values_and_cut_at_characters(void **state)
{
    (void)state;
    cJSON *object = cJSON_Parse("{\"note\":\"Giao hàng trước 5 giờ chiều, gọi trước khi đến nhé\","
                                "\"n\":12.25,\"big\":1234567890123}");
    crm_report report = {.reason = "", .notes = ""};
    crm_report_fail(&report, "order 7", "line_items[3]", object, "note", "an amount");
    /* 40 bytes of the value, cut before the 'ư' it would split */
    assert_string_equal(report.reason,
                        "order 7: line_items[3].note: \"Giao hàng trước 5 giờ chiều, "
                        "g...\" is not an amount");
    crm_report_fail(&report, "order 7", NULL, object, "n", "x"); /* the first reason stays */
    assert_non_null(strstr(report.reason, "line_items[3].note"));
    crm_report_note(&report, NULL, object, "n", "an id", "left empty");
    crm_report_note(&report, "customer", object, "big", "text", "left empty");
    crm_report_note(&report, "customer", object, "gone", "text", "left empty");
    assert_string_equal(report.notes, "n: 12.25 is not an id; left empty; "
                                      "customer.big: 1234567890123 is not text; left empty; "
                                      "customer.gone: null is not text; left empty");
    crm_report_add(&report, "n: 12.25 is not an id; left empty"); /* already there */
    assert_int_equal(strstr(strstr(report.notes, "n: 12.25") + 1, "n: 12.25"), NULL);
    char out[6];
    assert_int_equal(crm_copy_utf8(out, sizeof out, "aĐĐĐ"), 1);
    assert_string_equal(out, "aĐĐ");
    assert_int_equal(crm_copy_utf8(out, sizeof out, "abĐĐ"), 1);
    assert_string_equal(out, "abĐ");
    assert_int_equal(crm_copy_utf8(out, sizeof out, "abcde"), 0);
    cJSON_Delete(object);
}

/* Through the checked parser, as processing reads a stored body: ids
 * beyond 2^53 arrive as exact text, bad text as U+FFFD, and the report
 * says where. */
static void test_the_checked_parser_feeds_the_mapping(void **state)
{
    (void)state;
    static const char text[] =
        "{\"id\":9007199254740993,\"total_price\":1000,\"financial_status\":\"paid\","
        "\"note\":\"giao\\u0000sau\",\"user_id\":9007199254741005,"
        "\"customer\":{\"id\":9007199254740995,\"first_name\":\"Th\xfa\"},"
        "\"line_items\":[{\"id\":9007199254741001,\"product_id\":9007199254740997,"
        "\"variant_id\":9007199254740999,\"quantity\":1,\"price\":1000}],"
        "\"transactions\":[{\"id\":9007199254741013,\"kind\":\"capture\",\"amount\":1000}]}";
    json_refusal refusal = JSON_ACCEPTED;
    json_repairs repairs;
    size_t offset = 0;
    cJSON *body = json_parse_checked(text, strlen(text), 64, &refusal, &offset, &repairs);
    assert_non_null(body);
    assert_int_equal(repairs.invalid_utf8, 1);
    assert_int_equal(repairs.nul_escapes, 1);
    crm_order_payload payload;
    crm_report report = {.reason = "", .notes = ""};
    assert_int_equal(crm_payload_order(body, "orders/paid", ORG, &payload, &report), 0);
    assert_string_equal(report.notes, "");
    assert_string_equal(payload.order.haravan_id, "9007199254740993");
    assert_string_equal(payload.customer.haravan_id, "9007199254740995");
    assert_string_equal(payload.staff_id, "9007199254741005");
    assert_string_equal(payload.order.items[0].line_item_id, "9007199254741001");
    assert_string_equal(payload.order.items[0].product_id, "9007199254740997");
    assert_string_equal(payload.order.items[0].variant_id, "9007199254740999");
    assert_string_equal(payload.order.payments[0].transaction_id, "9007199254741013");
    assert_string_equal(payload.order.note, "giao\xEF\xBF\xBDsau");
    assert_string_equal(payload.customer.name, "Th\xEF\xBF\xBD");
    crm_report_replacements(&report, body);
    assert_string_equal(report.notes, "U+FFFD in: note, customer.first_name");
    crm_payload_order_free(&payload);
    cJSON_Delete(body);
}

/* 1 when `text` is well-formed UTF-8 (what PostgreSQL accepts as text). */
static int is_utf8(const char *text)
{
    const unsigned char *c = (const unsigned char *)text;
    while (*c != '\0') {
        size_t need = *c < 0x80 ? 0 : (*c & 0xE0) == 0xC0 ? 1 : (*c & 0xF0) == 0xE0 ? 2 : 3;
        if (*c >= 0x80 && (*c & 0xC0) == 0x80)
            return 0;
        for (size_t i = 1; i <= need; i++)
            if ((c[i] & 0xC0) != 0x80)
                return 0;
        c += need + 1;
    }
    return 1;
}

/* The paths named in a note are cut at a character, however long the keys
 * (a key of 400 two-byte characters, holding the U+FFFD). */
static void test_replacement_paths_are_cut_at_characters(void **state)
{
    (void)state;
    buffer text = BUFFER_INIT;
    assert_int_equal(buffer_append_string(&text, "{\"a\":{\"xy"), 0);
    for (int i = 0; i < 400; i++)
        assert_int_equal(buffer_append_string(&text, "Đ"), 0);
    assert_int_equal(buffer_append_string(&text, "\":\"b\xff\"}}"), 0);
    json_repairs repairs;
    cJSON *tree = json_parse_checked(text.data, text.length, 64, NULL, NULL, &repairs);
    assert_non_null(tree);
    assert_int_equal(repairs.invalid_utf8, 1);
    crm_report report = {.reason = "", .notes = ""};
    crm_report_replacements(&report, tree);
    assert_true(strncmp(report.notes, "U+FFFD in: a.xyĐĐ", strlen("U+FFFD in: a.xyĐĐ")) == 0);
    assert_true(is_utf8(report.notes));
    cJSON_Delete(tree);
    buffer_free(&text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_sample_is_in_the_table),
        cmocka_unit_test(test_each_sample_fits_its_own_topic_only),
        cmocka_unit_test(test_each_sample_maps_without_notes),
        cmocka_unit_test(test_broken_order_fields),
        cmocka_unit_test(test_broken_customer_fields),
        cmocka_unit_test(test_customer_body_without_a_readable_id),
        cmocka_unit_test(test_noted_fields_are_left_empty),
        cmocka_unit_test(test_long_text_is_cut_at_a_character),
        cmocka_unit_test(test_bodies_that_do_not_fit_their_topic),
        cmocka_unit_test(test_ids_are_exact_text),
        cmocka_unit_test(test_amounts_and_counts),
        cmocka_unit_test(test_reports_quote_values_and_cut_at_characters),
        cmocka_unit_test(test_the_checked_parser_feeds_the_mapping),
        cmocka_unit_test(test_replacement_paths_are_cut_at_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
