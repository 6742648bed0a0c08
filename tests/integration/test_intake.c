/*
 * Webhook intake through real nginx and PostgreSQL: the handshake, every
 * real sample delivered under each signature header spelling, refusals
 * that must store nothing, redeliveries, size limits, unparseable bodies,
 * secret rotation, and secrets that never show in the database or the log.
 *
 * Each case talks to the running stack as Haravan would and then looks at
 * hv_events as the CRM's operator would.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <time.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <cmocka.h>

#include "haravan/webhook.h"
#include "support.h"

#define SECRET       "it-client-secret-Đ-2026"
#define VERIFY_TOKEN "it-verify-token-42"

static long long count_events(void)
{
    return it_scalar("SELECT count(*) FROM hv_events", NULL);
}

static int setup_secrets(void **state)
{
    (void)state;
    if (it_ctl("settings set client_secret '" SECRET "' > /dev/null") != 0 ||
        it_ctl("settings unset client_secret_previous > /dev/null") != 0 ||
        it_ctl("settings set verify_token '" VERIFY_TOKEN "' > /dev/null") != 0)
        return -1;
    return 0;
}

static void test_health_reports_database_up(void **state)
{
    (void)state;
    it_response response = it_request("GET", "/api/haravan/health", NULL, NULL, 0);
    assert_int_equal(response.status, 200);
    assert_non_null(strstr(response.body.data, "\"status\":\"ok\""));
    assert_non_null(strstr(response.body.data, "\"db\":\"ok\""));
    assert_string_equal(response.content_type, "application/json");
    it_response_free(&response);
}

static void test_handshake_answers_challenge(void **state)
{
    (void)state;
    it_response response =
        it_request("GET",
                   "/api/haravan/webhook?hub.mode=subscribe&hub.verify_token=" VERIFY_TOKEN
                   "&hub.challenge=ch%C3%A0o-123",
                   NULL, NULL, 0);
    assert_int_equal(response.status, 200);
    assert_string_equal(response.body.data, "chào-123");
    assert_string_equal(response.content_type, "text/plain; charset=utf-8");
    it_response_free(&response);
}

static void test_handshake_refuses_wrong_requests(void **state)
{
    (void)state;
    static const char *const queries[] = {
        "?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=x",
        "?hub.mode=subscribe&hub.verify_token=" VERIFY_TOKEN "x&hub.challenge=x",
        "?hub.mode=subscribe&hub.challenge=x",
        "?hub.mode=unsubscribe&hub.verify_token=" VERIFY_TOKEN "&hub.challenge=x",
        "?hub.mode=subscribe&hub.verify_token=" VERIFY_TOKEN,
        "?hub.mode=subscribe&hub.verify_token=%zz&hub.challenge=x",
        "",
    };
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "/api/haravan/webhook%s", queries[i]);
        it_response response = it_request("GET", path, NULL, NULL, 0);
        if (response.status != 401)
            fail_msg("%s: expected 401, got %ld", queries[i], response.status);
        it_response_free(&response);
    }
}

/* A webhook body as Haravan sends it: the bare resource. The REST samples
 * wrap it ({"order": {...}}); the list samples are delivered as they are. */
typedef struct sample {
    const char *file;
    const char *wrapper; /* NULL: the file is the body */
    const char *topic;
} sample;

static const sample samples[] = {
    {"order-webhook-payload-haravan_draft_order-paid.captured.json", NULL, "orders/create"},
    {"order-api-get-single-web-cod.docs.json", "order", "orders/create"},
    {"order-api-create-pos-response.docs.json", "order", "orders/create"},
    {"order-api-assign-response-draft-order.docs.json", "order", "orders/updated"},
    {"customer-api-create-with-address-response.docs.json", "customer", "customers/create"},
    {"customer-api-get-single.docs.json", "customer", "customers/update"},
    {"shop-get.docs.json", "shop", "shop/update"},
    {"users-list.docs.json", NULL, "users/list"},
    {"customer-groups-list.docs.json", NULL, "customer_groups/list"},
};

static void sample_body(const sample *s, buffer *body)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", HARAVAN_SAMPLES_DIR, s->file);
    buffer raw = BUFFER_INIT;
    it_read_file(path, &raw);
    if (s->wrapper == NULL) {
        assert_int_equal(buffer_append(body, raw.data, raw.length), 0);
    } else {
        cJSON *document = cJSON_ParseWithLength(raw.data, raw.length);
        assert_non_null(document);
        char *inner = cJSON_PrintUnformatted(cJSON_GetObjectItem(document, s->wrapper));
        assert_non_null(inner);
        assert_int_equal(buffer_append_string(body, inner), 0);
        free(inner);
        cJSON_Delete(document);
    }
    buffer_free(&raw);
}

/* The documented delivery: its headers and the body after "Body:". */
static void documented_delivery(buffer *body, char *topic, size_t topic_size)
{
    buffer raw = BUFFER_INIT;
    it_read_file(HARAVAN_SAMPLES_DIR "/webhook-app_subscriptions-update.docs.http.txt", &raw);
    const char *topic_line = strstr(raw.data, "X-Haravan-Topic: ");
    const char *body_start = strstr(raw.data, "Body:\n");
    assert_non_null(topic_line);
    assert_non_null(body_start);
    sscanf(topic_line + strlen("X-Haravan-Topic: "), "%99s", topic);
    (void)topic_size;
    /* The body is indented by two spaces in the document. */
    for (const char *line = body_start + strlen("Body:\n"); *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t length = end != NULL ? (size_t)(end - line) : strlen(line);
        if (length >= 2 && line[0] == ' ' && line[1] == ' ')
            buffer_append(body, line + 2, length - 2), buffer_append_char(body, '\n');
        line += length + (end != NULL ? 1 : 0);
    }
    buffer_free(&raw);
}

static int stored_exactly(long long event_id, const buffer *body, const char *topic,
                          const char *org)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", event_id);
    const char *values[] = {id, body->data, topic, org};
    const int lengths[] = {0, (int)body->length, 0, 0};
    const int formats[] = {0, 1, 0, 0};
    PGresult *result =
        PQexecParams(it_db(),
                     "SELECT count(*) FROM hv_events WHERE id = $1::bigint"
                     " AND body = $2 AND topic = $3 AND org_id = $4"
                     " AND status <> 'dead' AND NOT headers ? 'X-Haravan-Hmacsha256'",
                     4, NULL, values, lengths, formats, 0);
    int found =
        PQresultStatus(result) == PGRES_TUPLES_OK && strcmp(PQgetvalue(result, 0, 0), "1") == 0;
    PQclear(result);
    return found;
}

static long long deliver_and_check(const char *spelling, const char *topic, const char *org,
                                   const buffer *body)
{
    it_response response = it_deliver(SECRET, spelling, topic, org, body->data, body->length);
    if (response.status != 200)
        fail_msg("%s with %s: got %ld %s", topic, spelling, response.status, response.body.data);
    cJSON *reply = cJSON_Parse(response.body.data);
    assert_non_null(reply);
    assert_string_equal(cJSON_GetObjectItem(reply, "status")->valuestring, "stored");
    long long event_id = (long long)cJSON_GetObjectItem(reply, "event_id")->valuedouble;
    cJSON_Delete(reply);
    it_response_free(&response);
    if (!stored_exactly(event_id, body, topic, org))
        fail_msg("%s with %s: event %lld not stored byte for byte", topic, spelling, event_id);
    return event_id;
}

/* Removes an org's events, so that their bodies can be delivered again as
 * new events. */
static void forget_org(const char *org)
{
    const char *values[] = {org};
    PGresult *result = PQexecParams(it_db(), "DELETE FROM hv_events WHERE org_id = $1", 1, NULL,
                                    values, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(result), PGRES_COMMAND_OK);
    PQclear(result);
}

static void test_every_sample_lands_byte_exact_under_each_spelling(void **state)
{
    (void)state;
    for (size_t h = 0; hv_webhook_signature_headers[h] != NULL; h++) {
        /* The same signed body again, under any org, is (rightly) a
         * duplicate: each spelling's rows go before the next spelling
         * delivers the same samples. */
        char org[32];
        snprintf(org, sizeof org, "it-spelling-%zu", h);
        for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
            buffer body = BUFFER_INIT;
            sample_body(&samples[i], &body);
            deliver_and_check(hv_webhook_signature_headers[h], samples[i].topic, org, &body);
            buffer_free(&body);
        }
        buffer body = BUFFER_INIT;
        char topic[100];
        documented_delivery(&body, topic, sizeof topic);
        assert_string_equal(topic, "app_subscriptions/update");
        deliver_and_check(hv_webhook_signature_headers[h], topic, org, &body);
        buffer_free(&body);
        forget_org(org);
    }
}

/* An order's body is larger than the 2 kB at which PostgreSQL compresses
 * a row's values: it is stored with lz4 (sql/connector/012), not the slow
 * default, and still reads back byte for byte. */
static void test_order_body_is_stored_with_lz4(void **state)
{
    (void)state;
    buffer body = BUFFER_INIT;
    it_read_file(
        HARAVAN_SAMPLES_DIR "/order-webhook-payload-haravan_draft_order-paid.captured.json", &body);
    assert_true(body.length > 2048);
    long long event =
        deliver_and_check(hv_webhook_signature_headers[0], "orders/create", "it-lz4", &body);
    char id[32];
    snprintf(id, sizeof id, "%lld", event);
    const char *method = it_text(
        "SELECT pg_column_compression(body) FROM hv_events WHERE id = $1::bigint", id, NULL);
    assert_string_equal(method, "lz4");
    buffer_free(&body);
    forget_org("it-lz4");
}

static void test_org_id_falls_back_to_body(void **state)
{
    (void)state;
    const char body[] =
        "{\"id\":777001,\"updated_at\":\"2026-01-01T00:00:00Z\",\"org_id\":5550001}";
    it_response response =
        it_deliver(SECRET, "X-Haravan-Hmacsha256", "orders/create", NULL, body, strlen(body));
    assert_int_equal(response.status, 200);
    it_response_free(&response);
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_events WHERE org_id = '5550001'"
                               " AND resource_id = '777001'",
                               NULL),
                     1);
}

static void test_bad_signatures_store_nothing(void **state)
{
    (void)state;
    const char body[] = "{\"id\":1,\"updated_at\":\"2026-01-01T00:00:00Z\"}";
    char right[64];
    char other_body[64];
    it_sign(SECRET, "{\"id\":2}", 8, other_body);
    it_sign(SECRET, body, strlen(body), right);
    char truncated[64];
    snprintf(truncated, sizeof truncated, "%.20s", right);
    char wrong_secret[64];
    it_sign("not-the-secret", body, strlen(body), wrong_secret);
    const char *const signatures[] = {wrong_secret, other_body, truncated, "", "!!!!", NULL};

    long long before = count_events();
    for (size_t i = 0; i < sizeof signatures / sizeof signatures[0]; i++) {
        char header[128];
        snprintf(header, sizeof header, "X-Haravan-Hmacsha256: %s", signatures[i]);
        const char *headers[] = {"X-Haravan-Topic: orders/create", "X-Haravan-Org-Id: 1",
                                 signatures[i] != NULL ? header : NULL, NULL};
        it_response response =
            it_request("POST", "/api/haravan/webhook", headers, body, strlen(body));
        if (response.status != 401)
            fail_msg("signature %zu: expected 401, got %ld", i, response.status);
        it_response_free(&response);
    }
    assert_int_equal(count_events(), before);
}

static void test_missing_or_invalid_topic_is_400(void **state)
{
    (void)state;
    const char body[] = "{\"id\":3,\"updated_at\":\"2026-01-01T00:00:00Z\"}";
    long long before = count_events();
    it_response response =
        it_deliver(SECRET, "X-Haravan-Hmacsha256", NULL, "1", body, strlen(body));
    assert_int_equal(response.status, 400);
    assert_non_null(strstr(response.body.data, "X-Haravan-Topic"));
    it_response_free(&response);
    response = it_deliver(SECRET, "X-Haravan-Hmacsha256", "Orders Create", "1", body, strlen(body));
    assert_int_equal(response.status, 400);
    it_response_free(&response);
    assert_int_equal(count_events(), before);
}

static void test_five_redeliveries_leave_one_row(void **state)
{
    (void)state;
    const char body[] =
        "{\"id\":424242,\"updated_at\":\"2026-11-28T10:00:00+07:00\",\"note\":\"Giao "
        "hàng nhanh\"}";
    for (int i = 0; i < 5; i++) {
        it_response response = it_deliver(SECRET, "X-Haravan-HmacSha256", "orders/updated",
                                          "it-redeliver", body, strlen(body));
        assert_int_equal(response.status, 200);
        assert_non_null(strstr(response.body.data, i == 0 ? "\"stored\"" : "\"duplicate\""));
        it_response_free(&response);
    }
    assert_int_equal(
        it_scalar("SELECT count(*) FROM hv_events WHERE org_id = 'it-redeliver'", NULL), 1);
}

static void test_body_over_one_mebibyte_is_413(void **state)
{
    (void)state;
    size_t length = 1536 * 1024;
    char *body = malloc(length);
    assert_non_null(body);
    memset(body, ' ', length);
    memcpy(body, "{\"id\":5,\"pad\":\"", 15);
    body[length - 2] = '"';
    body[length - 1] = '}';
    long long before = count_events();
    it_response response =
        it_deliver(SECRET, "X-Haravan-Hmacsha256", "orders/create", "1", body, length);
    assert_int_equal(response.status, 413);
    it_response_free(&response);
    free(body);
    assert_int_equal(count_events(), before);
}

static void test_signed_garbage_is_kept_dead_with_reason(void **state)
{
    (void)state;
    const char body[] = "{\"id\": 6, this is not json";
    it_response response = it_deliver(SECRET, "X-Haravan-Hmacsha256", "orders/create", "it-garbage",
                                      body, strlen(body));
    assert_int_equal(response.status, 200);
    it_response_free(&response);
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_events WHERE org_id = 'it-garbage'"
                               " AND status = 'dead' AND reason LIKE 'body is not valid JSON%'"
                               " AND body = convert_to($1, 'UTF8')",
                               body),
                     1);
    /* And Haravan's retry of it is a duplicate, not a second row. */
    response = it_deliver(SECRET, "X-Haravan-Hmacsha256", "orders/create", "it-garbage", body,
                          strlen(body));
    assert_int_equal(response.status, 200);
    it_response_free(&response);
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_events WHERE org_id = 'it-garbage'", NULL),
                     1);
}

static long deliver_status(const char *secret, const char *id)
{
    char body[128];
    snprintf(body, sizeof body, "{\"id\":%s,\"updated_at\":\"2026-11-28T00:00:00Z\"}", id);
    it_response response = it_deliver(secret, "X-Haravan-Hmacsha256", "orders/create",
                                      "it-rotation", body, strlen(body));
    long status = response.status;
    it_response_free(&response);
    return status;
}

static void test_rotation_accepts_previous_secret_until_removed(void **state)
{
    (void)state;
    assert_int_equal(it_ctl("settings set client_secret it-rotated-secret > /dev/null"), 0);
    assert_int_equal(deliver_status("it-rotated-secret", "9001"), 200);
    assert_int_equal(deliver_status(SECRET, "9002"), 200);
    assert_int_equal(it_ctl("settings unset client_secret_previous > /dev/null"), 0);
    assert_int_equal(deliver_status(SECRET, "9003"), 401);
    assert_int_equal(deliver_status("it-rotated-secret", "9004"), 200);
    assert_int_equal(setup_secrets(NULL), 0);
}

static void test_unknown_route_and_wrong_method(void **state)
{
    (void)state;
    it_response response = it_request("GET", "/api/haravan/nope", NULL, NULL, 0);
    assert_int_equal(response.status, 404);
    assert_string_equal(response.content_type, "application/json");
    assert_non_null(strstr(response.body.data, "\"error\""));
    it_response_free(&response);
    response = it_request("DELETE", "/api/haravan/webhook", NULL, NULL, 0);
    assert_int_equal(response.status, 405);
    assert_string_equal(response.allow, "GET, POST");
    it_response_free(&response);
    response = it_request("POST", "/api/haravan/health", NULL, "", 0);
    assert_int_equal(response.status, 405);
    assert_string_equal(response.allow, "GET, HEAD");
    it_response_free(&response);
}

static void test_secrets_sealed_at_rest_and_never_shown(void **state)
{
    (void)state;
    assert_int_equal(
        it_scalar("SELECT count(*) FROM hv_settings WHERE name = 'client_secret'"
                  " AND value IS NULL AND position(convert_to($1, 'UTF8') in sealed) = 0",
                  SECRET),
        1);
    char command[512];
    snprintf(command, sizeof command, "settings get client_secret | grep -qF '%s'", SECRET);
    assert_int_not_equal(it_ctl(command), 0);
    assert_int_equal(it_ctl("settings get client_secret | grep -q 'write-only'"), 0);
}

static void test_log_holds_no_secret_or_signature(void **state)
{
    (void)state;
    const char body[] = "{\"id\":31337,\"updated_at\":\"2026-01-01T00:00:00Z\"}";
    char signature[64];
    it_sign(SECRET, body, strlen(body), signature);
    it_response response =
        it_deliver(SECRET, "X-Haravan-Hmacsha256", "orders/create", "it-log", body, strlen(body));
    assert_int_equal(response.status, 200);
    it_response_free(&response);
    char log_path[1024];
    snprintf(log_path, sizeof log_path, "%s/log/haravan-fcgi.log", it_env("HARAVAN_VAR"));
    buffer log = BUFFER_INIT;
    it_read_file(log_path, &log);
    assert_non_null(strstr(log.data, "\"org_id\":\"it-log\""));
    assert_null(strstr(log.data, SECRET));
    assert_null(strstr(log.data, VERIFY_TOKEN));
    assert_null(strstr(log.data, signature));
    buffer_free(&log);
}

/* ---- hostile deliveries (issue #9) ---------------------------------- */

#define MAX_LINES 16

/* A delivery with exactly the header lines given (NULL-terminated), plus
 * the content type; "SIGNED" in a line is replaced by the body's valid
 * signature, "FORGED" by a signature made with another secret. */
static it_response deliver_lines(const char *const *lines, const char *body, size_t length)
{
    char good[64];
    char forged[64];
    it_sign(SECRET, body, length, good);
    it_sign("not-the-secret", body, length, forged);
    static char copies[MAX_LINES][256];
    const char *headers[MAX_LINES + 2] = {"Content-Type: application/json"};
    size_t count = 1;
    for (size_t i = 0; lines[i] != NULL && i < MAX_LINES; i++) {
        const char *mark = strstr(lines[i], "SIGNED") != NULL ? "SIGNED" : "FORGED";
        const char *at = strstr(lines[i], mark);
        if (at == NULL) {
            snprintf(copies[i], sizeof copies[i], "%s", lines[i]);
        } else {
            snprintf(copies[i], sizeof copies[i], "%.*s%s%s", (int)(at - lines[i]), lines[i],
                     strcmp(mark, "SIGNED") == 0 ? good : forged, at + strlen(mark));
        }
        headers[count++] = copies[i];
    }
    headers[count] = NULL;
    return it_request("POST", "/api/haravan/webhook", headers, body, length);
}

static long long events_of_org(const char *org)
{
    return it_scalar("SELECT count(*) FROM hv_events WHERE org_id = $1", org);
}

typedef struct lines_case {
    const char *why;
    const char *lines[MAX_LINES];
    long status;
    const char *reply; /* a part of the reply's body */
} lines_case;

/* Several signature headers: any valid one is enough, whatever its
 * spelling or position; none valid is a 401. nginx 1.22 passes a repeated
 * header as repeated FastCGI parameters of one name, and libfcgi's
 * FCGX_GetParam sees only the first, so the first-only check refused a
 * good delivery whose first signature was stale. */
static void test_any_valid_signature_among_several(void **state)
{
    (void)state;
    static const lines_case cases[] = {
        {"forged then valid, one spelling",
         {"X-Haravan-Hmacsha256: FORGED", "X-Haravan-Hmacsha256: SIGNED"},
         200,
         "\"stored\""},
        {"valid then forged, one spelling",
         {"X-Haravan-Hmacsha256: SIGNED", "X-Haravan-Hmacsha256: FORGED"},
         200,
         "\"stored\""},
        {"forged under one spelling, valid under another",
         {"X-Haravan-Hmacsha256: FORGED", "X-Haravan-Hmac-Sha256: SIGNED"},
         200,
         "\"stored\""},
        {"forged under the docs' spelling, valid under the case-folded one",
         {"X-Haravan-HmacSha256: FORGED", "X-Haravan-Hmacsha256: garbage",
          "X-Haravan-Hmacsha256: SIGNED"},
         200,
         "\"stored\""},
        {"empty first (curl sends \"Name;\" as \"Name:\"), valid second",
         {"X-Haravan-Hmac-Sha256;", "X-Haravan-Hmacsha256: SIGNED"},
         200,
         "\"stored\""},
        {"three forged",
         {"X-Haravan-Hmacsha256: FORGED", "X-Haravan-HmacSha256: FORGED",
          "X-Haravan-Hmac-Sha256: FORGED"},
         401,
         "invalid signature"},
        {"nine signatures: more than any delivery carries",
         {"X-Haravan-Hmacsha256: FORGED", "X-Haravan-Hmacsha256: FORGED",
          "X-Haravan-Hmacsha256: FORGED", "X-Haravan-Hmacsha256: FORGED",
          "X-Haravan-Hmacsha256: FORGED", "X-Haravan-Hmacsha256: FORGED",
          "X-Haravan-Hmacsha256: FORGED", "X-Haravan-Hmacsha256: FORGED",
          "X-Haravan-Hmacsha256: SIGNED"},
         400,
         "signature headers"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char org[32];
        snprintf(org, sizeof org, "it-signatures-%zu", i);
        char body[160];
        snprintf(body, sizeof body,
                 "{\"id\":%zu,\"updated_at\":\"2026-11-30T00:00:00Z\",\"note\":\"signatures\"}",
                 880000 + i);
        const char *lines[MAX_LINES + 3] = {"X-Haravan-Topic: orders/create"};
        char org_line[64];
        snprintf(org_line, sizeof org_line, "X-Haravan-Org-Id: %s", org);
        lines[1] = org_line;
        size_t n = 2;
        for (size_t l = 0; cases[i].lines[l] != NULL; l++)
            lines[n++] = cases[i].lines[l];
        lines[n] = NULL;
        it_response response = deliver_lines(lines, body, strlen(body));
        if (response.status != cases[i].status ||
            strstr(response.body.data, cases[i].reply) == NULL)
            fail_msg("%s: got %ld %s, expected %ld with %s", cases[i].why, response.status,
                     response.body.data, cases[i].status, cases[i].reply);
        it_response_free(&response);
        assert_int_equal(events_of_org(org), cases[i].status == 200 ? 1 : 0);
    }
}

/* A topic or org header repeated with different values is ambiguous:
 * 400, nothing stored. The same value repeated is one value. */
static void test_repeated_topic_or_org_must_agree(void **state)
{
    (void)state;
    static const lines_case cases[] = {
        {"two topics",
         {"X-Haravan-Topic: orders/create", "X-Haravan-Topic: customers/create",
          "X-Haravan-Org-Id: it-repeat-0"},
         400,
         "several different X-Haravan-Topic headers"},
        {"two orgs",
         {"X-Haravan-Topic: orders/create", "X-Haravan-Org-Id: it-repeat-1",
          "X-Haravan-Org-Id: it-repeat-1b"},
         400,
         "several different X-Haravan-Org-Id headers"},
        {"two orgs joined by a comma",
         {"X-Haravan-Topic: orders/create", "X-Haravan-Org-Id: it-repeat-2, it-repeat-2b"},
         400,
         "several different X-Haravan-Org-Id headers"},
        {"one topic twice, one org twice",
         {"X-Haravan-Topic: orders/create", "X-Haravan-Topic: orders/create",
          "X-Haravan-Org-Id: it-repeat-3", "X-Haravan-Org-Id: it-repeat-3"},
         200,
         "\"stored\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[160];
        snprintf(body, sizeof body, "{\"id\":%zu,\"updated_at\":\"2026-11-30T00:00:00Z\"}",
                 881000 + i);
        const char *lines[MAX_LINES + 2] = {"X-Haravan-Hmacsha256: SIGNED"};
        size_t n = 1;
        for (size_t l = 0; cases[i].lines[l] != NULL; l++)
            lines[n++] = cases[i].lines[l];
        lines[n] = NULL;
        long long before = count_events();
        it_response response = deliver_lines(lines, body, strlen(body));
        if (response.status != cases[i].status ||
            strstr(response.body.data, cases[i].reply) == NULL)
            fail_msg("%s: got %ld %s, expected %ld with %s", cases[i].why, response.status,
                     response.body.data, cases[i].status, cases[i].reply);
        it_response_free(&response);
        assert_int_equal(count_events(), before + (cases[i].status == 200 ? 1 : 0));
    }
    assert_int_equal(events_of_org("it-repeat-3"), 1);
}

/* An org id of 64 bytes or more used to be dropped without a word (the
 * event stored without its org); it is refused, 63 bytes are stored. */
static void test_org_header_of_64_bytes_is_refused(void **state)
{
    (void)state;
    char org[80];
    memset(org, 'o', 64);
    memcpy(org, "it-long-", 8);
    org[64] = '\0';
    const char body[] = "{\"id\":882001,\"updated_at\":\"2026-11-30T00:00:00Z\"}";
    long long before = count_events();
    it_response response =
        it_deliver(SECRET, "X-Haravan-Hmacsha256", "orders/create", org, body, strlen(body));
    assert_int_equal(response.status, 400);
    assert_non_null(strstr(response.body.data, "X-Haravan-Org-Id"));
    it_response_free(&response);
    assert_int_equal(count_events(), before);
    org[63] = '\0';
    response = it_deliver(SECRET, "X-Haravan-Hmacsha256", "orders/create", org, body, strlen(body));
    assert_int_equal(response.status, 200);
    it_response_free(&response);
    assert_int_equal(events_of_org(org), 1);
}

/* Without the header, the body's org_id names the shop; one too long to
 * keep is refused the same way, never stored as an event of no shop. */
static void test_body_org_of_64_bytes_is_refused(void **state)
{
    (void)state;
    char org[80];
    memset(org, 'b', 64);
    memcpy(org, "it-body-", 8);
    org[64] = '\0';
    char body[256];
    snprintf(body, sizeof body,
             "{\"id\":882101,\"org_id\":\"%s\",\"updated_at\":\"2026-11-30T00:00:00Z\"}", org);
    long long before = count_events();
    it_response response =
        it_deliver(SECRET, "X-Haravan-Hmacsha256", "orders/create", NULL, body, strlen(body));
    assert_int_equal(response.status, 400);
    assert_non_null(strstr(response.body.data, "org_id"));
    it_response_free(&response);
    assert_int_equal(count_events(), before);
    org[63] = '\0';
    snprintf(body, sizeof body,
             "{\"id\":882101,\"org_id\":\"%s\",\"updated_at\":\"2026-11-30T00:00:00Z\"}", org);
    response =
        it_deliver(SECRET, "X-Haravan-Hmacsha256", "orders/create", NULL, body, strlen(body));
    assert_int_equal(response.status, 200);
    it_response_free(&response);
    assert_int_equal(events_of_org(org), 1);
}

/* A byte that is not UTF-8 in a kept header made the jsonb insert fail:
 * 503 on every retry, a delivery that could never be stored. It is stored
 * with U+FFFD in its place, and the event says which headers. */
static void test_header_bytes_not_utf8_are_stored_repaired(void **state)
{
    (void)state;
    const char body[] = "{\"id\":883001,\"updated_at\":\"2026-11-30T00:00:00Z\"}";
    const char *lines[] = {
        "X-Haravan-Hmacsha256: SIGNED",
        "X-Haravan-Topic: orders/create",
        "X-Haravan-Org-Id: it-utf8-\xC3",
        "X-Haravan-Subscription-Id: sub-\xFF\xFE",
        "User-Agent: Haravan/\xE0\x80\xAF webhook",
        NULL,
    };
    for (int attempt = 0; attempt < 2; attempt++) {
        it_response response = deliver_lines(lines, body, strlen(body));
        if (response.status != 200)
            fail_msg("attempt %d: got %ld %s", attempt, response.status, response.body.data);
        assert_non_null(strstr(response.body.data, attempt == 0 ? "\"stored\"" : "\"duplicate\""));
        it_response_free(&response);
    }
    const char *org = "it-utf8-\xEF\xBF\xBD";
    assert_int_equal(events_of_org(org), 1);
    const char *value =
        it_text("SELECT headers->>'User-Agent' FROM hv_events WHERE org_id = $1", org, NULL);
    assert_non_null(value);
    assert_string_equal(value, "Haravan/\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD webhook");
    value = it_text("SELECT headers->>'X-Haravan-Subscription-Id' FROM hv_events"
                    " WHERE org_id = $1",
                    org, NULL);
    assert_non_null(value);
    assert_string_equal(value, "sub-\xEF\xBF\xBD\xEF\xBF\xBD");
    value = it_text("SELECT headers->>'_not_utf8' FROM hv_events WHERE org_id = $1", org, NULL);
    assert_non_null(value);
    assert_string_equal(value, "X-Haravan-Org-Id, X-Haravan-Subscription-Id, User-Agent");
    /* The note says so at intake and still after processing, which writes
     * the event's notes anew. */
    const char *id = it_text("SELECT id::text FROM hv_events WHERE org_id = $1", org, NULL);
    assert_non_null(id);
    it_wait_processed(strtoll(id, NULL, 10));
    value = it_text("SELECT notes FROM hv_events WHERE org_id = $1", org, NULL);
    assert_non_null(value);
    if (strstr(value, "header X-Haravan-Org-Id, X-Haravan-Subscription-Id, User-Agent: bytes that"
                      " are not UTF-8 stored as U+FFFD") == NULL)
        fail_msg("the processed event's notes lost the header note: %s", value);
}

/* Ids beyond 2^53 sent as JSON numbers were rounded: 2^53 + 1 was taken
 * for 2^53 and answered "duplicate", never stored. Both are stored now,
 * each under its exact id; the same id as a string (same updated_at) is
 * the same event. */
static void test_ids_beyond_2_53_are_exact(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        const char *reply;
    } deliveries[] = {
        {"{\"id\":9007199254740992,\"updated_at\":\"2026-11-30T01:00:00Z\"}", "\"stored\""},
        {"{\"id\":9007199254740993,\"updated_at\":\"2026-11-30T01:00:00Z\"}", "\"stored\""},
        {"{\"id\":\"9007199254740993\",\"updated_at\":\"2026-11-30T01:00:00Z\"}", "\"duplicate\""},
        {"{\"updated_at\":\"2026-11-30T01:00:00Z\",\"id\":9007199254740992}", "\"duplicate\""},
    };
    for (size_t i = 0; i < sizeof deliveries / sizeof deliveries[0]; i++) {
        const char *body = deliveries[i].body;
        it_response response = it_deliver(SECRET, "X-Haravan-Hmacsha256", "orders/create",
                                          "it-big-ids", body, strlen(body));
        if (response.status != 200 || strstr(response.body.data, deliveries[i].reply) == NULL)
            fail_msg("%s: got %ld %s, expected %s", body, response.status, response.body.data,
                     deliveries[i].reply);
        it_response_free(&response);
    }
    assert_int_equal(events_of_org("it-big-ids"), 2);
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_events WHERE org_id = 'it-big-ids'"
                               " AND resource_id IN ('9007199254740992', '9007199254740993')",
                               NULL),
                     2);
}

/* An order as a shop sends it; `note` tells two shops' bodies apart. */
static void replay_order(char *out, size_t size, const char *id, const char *note)
{
    snprintf(out, size,
             "{\"id\":%s,\"name\":\"#R%s\",\"created_at\":\"2026-11-30T08:00:00+07:00\","
             "\"updated_at\":\"2026-11-30T09:00:00+07:00\",\"financial_status\":\"paid\","
             "\"gateway\":\"COD\",\"source_name\":\"web\",\"total_price\":300000,"
             "\"currency\":\"VND\","
             "\"note\":\"%s\",\"user_id\":0,\"line_items\":[{\"id\":7%s,\"product_id\":1,"
             "\"variant_id\":2,\"sku\":\"R\",\"title\":\"Replay\",\"quantity\":1,"
             "\"price\":300000,\"total_discount\":0}],\"transactions\":[],\"customer\":null}",
             id, id, note, id);
}

static long long orders_of(const char *org, const char *id)
{
    const char *values[] = {org, id};
    PGresult *result = PQexecParams(it_db(),
                                    "SELECT count(*) FROM orders WHERE haravan_org_id = $1"
                                    " AND haravan_order_id = $2",
                                    2, NULL, values, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(result), PGRES_TUPLES_OK);
    long long n = strtoll(PQgetvalue(result, 0, 0), NULL, 10);
    PQclear(result);
    return n;
}

static long long crm_events_of_org(const char *org)
{
    return it_scalar("SELECT count(*) FROM crm_events WHERE payload->>'haravan_org_id' = $1", org);
}

/* X-Haravan-Org-Id is not signed. A signed delivery replayed under
 * another org header was a new event, and so a second order and a second
 * set of crm_events under a shop that never sent it. The bytes are
 * signed: the same bytes under any org are one delivery. */
static void test_signed_delivery_replayed_under_another_org(void **state)
{
    (void)state;
    char body[1024];
    replay_order(body, sizeof body, "884001", "giao buổi sáng");
    long long event = it_deliver_event(SECRET, "orders/create", "it-replay-a", body);
    assert_string_equal(it_wait_processed(event), "done");
    assert_int_equal(orders_of("it-replay-a", "884001"), 1);
    long long emitted = crm_events_of_org("it-replay-a");
    assert_true(emitted > 0);

    static const char *const others[] = {"it-replay-b", "1000114691", ""};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        it_response response = it_deliver(SECRET, "X-Haravan-Hmacsha256", "orders/create",
                                          others[i], body, strlen(body));
        if (response.status != 200 || strstr(response.body.data, "\"duplicate\"") == NULL)
            fail_msg("replay under org '%s': got %ld %s, expected 200 duplicate", others[i],
                     response.status, response.body.data);
        it_response_free(&response);
    }
    /* Processing runs right after the answer: give it time to do harm. */
    struct timespec pause = {1, 0};
    nanosleep(&pause, NULL);
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        assert_int_equal(events_of_org(others[i]), 0);
        assert_int_equal(orders_of(others[i], "884001"), 0);
        assert_int_equal(crm_events_of_org(others[i]), 0);
    }
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_events WHERE resource_id = '884001'", NULL),
                     1);
    assert_int_equal(
        it_scalar("SELECT count(*) FROM orders WHERE haravan_order_id = '884001'", NULL), 1);
    assert_int_equal(crm_events_of_org("it-replay-a"), emitted);
}

/* ... while two shops' own deliveries, with the same topic, id and
 * updated_at but their own bodies, are two events, two orders and two
 * sets of crm_events. */
static void test_two_shops_same_id_are_never_one(void **state)
{
    (void)state;
    char body_c[1024];
    char body_d[1024];
    replay_order(body_c, sizeof body_c, "884002", "shop C");
    replay_order(body_d, sizeof body_d, "884002", "shop D");
    long long event_c = it_deliver_event(SECRET, "orders/create", "it-shop-c", body_c);
    long long event_d = it_deliver_event(SECRET, "orders/create", "it-shop-d", body_d);
    assert_string_equal(it_wait_processed(event_c), "done");
    assert_string_equal(it_wait_processed(event_d), "done");
    assert_int_equal(orders_of("it-shop-c", "884002"), 1);
    assert_int_equal(orders_of("it-shop-d", "884002"), 1);
    assert_true(crm_events_of_org("it-shop-c") > 0);
    assert_true(crm_events_of_org("it-shop-d") > 0);
    assert_int_equal(it_scalar("SELECT count(*) FROM orders WHERE haravan_order_id = '884002'"
                               " AND note IN ('shop C', 'shop D')",
                               NULL),
                     2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_reports_database_up),
        cmocka_unit_test(test_handshake_answers_challenge),
        cmocka_unit_test(test_handshake_refuses_wrong_requests),
        cmocka_unit_test(test_every_sample_lands_byte_exact_under_each_spelling),
        cmocka_unit_test(test_order_body_is_stored_with_lz4),
        cmocka_unit_test(test_org_id_falls_back_to_body),
        cmocka_unit_test(test_bad_signatures_store_nothing),
        cmocka_unit_test(test_missing_or_invalid_topic_is_400),
        cmocka_unit_test(test_five_redeliveries_leave_one_row),
        cmocka_unit_test(test_body_over_one_mebibyte_is_413),
        cmocka_unit_test(test_signed_garbage_is_kept_dead_with_reason),
        cmocka_unit_test(test_rotation_accepts_previous_secret_until_removed),
        cmocka_unit_test(test_unknown_route_and_wrong_method),
        cmocka_unit_test(test_secrets_sealed_at_rest_and_never_shown),
        cmocka_unit_test(test_log_holds_no_secret_or_signature),
        cmocka_unit_test(test_any_valid_signature_among_several),
        cmocka_unit_test(test_repeated_topic_or_org_must_agree),
        cmocka_unit_test(test_org_header_of_64_bytes_is_refused),
        cmocka_unit_test(test_body_org_of_64_bytes_is_refused),
        cmocka_unit_test(test_header_bytes_not_utf8_are_stored_repaired),
        cmocka_unit_test(test_ids_beyond_2_53_are_exact),
        cmocka_unit_test(test_signed_delivery_replayed_under_another_org),
        cmocka_unit_test(test_two_shops_same_id_are_never_one),
    };
    return cmocka_run_group_tests(tests, setup_secrets, NULL);
}
