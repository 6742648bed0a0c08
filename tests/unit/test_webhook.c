/*
 * Unit tests for lib/haravan/webhook (and the header-name mapping of
 * lib/core/header it relies on): signature verification, topic checks and
 * what hv_webhook_read derives from a delivery.
 *
 * The signature is the only thing between the internet and the inbox, so
 * it is checked against values computed by an independent tool: the
 * openssl command line wrote tests/data/signatures.txt (its header says
 * how) over real Haravan payloads in HARAVAN_SAMPLES_DIR. Each one must be
 * accepted, and refused with another secret, a changed body byte, a
 * truncated signature or garbage. The dedupe key decides which deliveries
 * are duplicates, so its exact text is asserted for each kind of body
 * (with and without id/updated_at, invalid JSON, too deeply nested); the
 * SHA-256 values in the table were computed with sha256sum.
 *
 * Bodies are handed over as malloc'd copies of exactly their length (no
 * NUL after them), as a request body is, so ASan catches any over-read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/crypto.h"
#include "core/header.h"
#include "haravan/webhook.h"
#include "inbox/body.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

#define CAPTURED_ORDER "order-webhook-payload-haravan_draft_order-paid.captured.json"
#define TEST_ORG       "1000114691"

/* ---- helpers --------------------------------------------------------- */

/* A malloc'd copy of exactly `length` bytes (at least one allocated). */
static char *exact_copy(const void *bytes, size_t length)
{
    char *copy = malloc(length > 0 ? length : 1);
    assert_non_null(copy);
    if (length > 0)
        memcpy(copy, bytes, length);
    return copy;
}

/* Reads a whole file into an exact-length malloc'd block; free() it. */
static char *read_whole_file(const char *path, size_t *length)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        fail_msg("cannot open %s", path);
    size_t capacity = 4096;
    size_t used = 0;
    char *data = malloc(capacity);
    assert_non_null(data);
    size_t got;
    while ((got = fread(data + used, 1, capacity - used, file)) > 0) {
        used += got;
        if (used == capacity) {
            capacity *= 2;
            data = realloc(data, capacity);
            assert_non_null(data);
        }
    }
    assert_int_equal(ferror(file), 0);
    fclose(file);
    char *exact = exact_copy(data, used);
    free(data);
    *length = used;
    return exact;
}

static char *read_sample(const char *name, size_t *length)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", HARAVAN_SAMPLES_DIR, name);
    return read_whole_file(path, length);
}

/* ---- the openssl-computed signature fixture ---------------------------- */

#define MAX_SIGNATURE_CASES 32

typedef struct signature_case {
    char secret[128];
    char sample[256];
    char signature[128];
} signature_case;

/* Copies the text up to the next tab (or the end) into `out`; returns a
 * pointer past the tab, or NULL when there is no tab. */
static char *take_field(char *text, char *out, size_t size)
{
    char *tab = strchr(text, '\t');
    size_t length = tab != NULL ? (size_t)(tab - text) : strlen(text);
    if (length == 0 || length >= size)
        fail_msg("signatures.txt: empty or too long field in \"%s\"", text);
    memcpy(out, text, length);
    out[length] = '\0';
    return tab != NULL ? tab + 1 : NULL;
}

static size_t load_signature_cases(signature_case cases[MAX_SIGNATURE_CASES])
{
    const char *path = HARAVAN_TEST_DATA_DIR "/signatures.txt";
    FILE *file = fopen(path, "r");
    if (file == NULL)
        fail_msg("cannot open %s", path);
    size_t count = 0;
    char line[1024];
    while (fgets(line, sizeof line, file) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        assert_true(count < MAX_SIGNATURE_CASES);
        signature_case *c = &cases[count++];
        char *rest = take_field(line, c->secret, sizeof c->secret);
        assert_non_null(rest);
        rest = take_field(rest, c->sample, sizeof c->sample);
        assert_non_null(rest);
        assert_null(take_field(rest, c->signature, sizeof c->signature));
    }
    fclose(file);
    return count;
}

static void test_fixture_covers_required_samples(void **state)
{
    (void)state;
    static const char *const required[] = {
        CAPTURED_ORDER,
        "customer-api-get-single.docs.json",
        "order-api-get-single-web-cod.docs.json",
    };
    signature_case cases[MAX_SIGNATURE_CASES];
    size_t count = load_signature_cases(cases);
    assert_true(count >= COUNT(required));
    for (size_t r = 0; r < COUNT(required); r++) {
        size_t found = 0;
        for (size_t i = 0; i < count; i++)
            found += strcmp(cases[i].sample, required[r]) == 0;
        if (found == 0)
            fail_msg("signatures.txt has no case for %s", required[r]);
    }
    /* 32 bytes in base64: 43 letters and one '='. */
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(strlen(cases[i].signature), 44);
        assert_int_equal(cases[i].signature[43], '=');
    }
}

static void test_verify_accepts_openssl_signatures(void **state)
{
    (void)state;
    signature_case cases[MAX_SIGNATURE_CASES];
    size_t count = load_signature_cases(cases);
    for (size_t i = 0; i < count; i++) {
        size_t length;
        char *body = read_sample(cases[i].sample, &length);
        const char *secrets[] = {cases[i].secret};
        int result = hv_webhook_verify(body, length, cases[i].signature, secrets, 1);
        if (result != 0)
            fail_msg("%s: hv_webhook_verify returned %d, expected 0", cases[i].sample, result);
        free(body);
    }
}

static void test_verify_refuses_other_secrets(void **state)
{
    (void)state;
    signature_case cases[MAX_SIGNATURE_CASES];
    size_t count = load_signature_cases(cases);
    for (size_t i = 0; i < count; i++) {
        size_t length;
        char *body = read_sample(cases[i].sample, &length);
        const char *secret = cases[i].secret;
        size_t secret_length = strlen(secret);

        char longer[160];
        snprintf(longer, sizeof longer, "%sx", secret);
        char shorter[128];
        snprintf(shorter, sizeof shorter, "%.*s", (int)(secret_length - 1), secret);
        char last_changed[128];
        snprintf(last_changed, sizeof last_changed, "%s", secret);
        last_changed[secret_length - 1] ^= 0x01;
        char first_case_changed[128];
        snprintf(first_case_changed, sizeof first_case_changed, "%s", secret);
        first_case_changed[0] =
            (char)(isupper((unsigned char)secret[0]) ? tolower((unsigned char)secret[0])
                                                     : toupper((unsigned char)secret[0]));

        const char *const wrong[] = {longer, shorter, last_changed, "hv-test-secret-2025"};
        for (size_t w = 0; w < COUNT(wrong); w++) {
            if (strcmp(wrong[w], secret) == 0)
                continue;
            const char *secrets[] = {wrong[w]};
            int result = hv_webhook_verify(body, length, cases[i].signature, secrets, 1);
            if (result != -1)
                fail_msg("%s with secret \"%s\": returned %d, expected -1", cases[i].sample,
                         wrong[w], result);
        }
        if (strcmp(first_case_changed, secret) != 0) {
            const char *secrets[] = {first_case_changed};
            assert_int_equal(hv_webhook_verify(body, length, cases[i].signature, secrets, 1), -1);
        }
        free(body);
    }
}

static void test_verify_refuses_changed_body(void **state)
{
    (void)state;
    signature_case cases[MAX_SIGNATURE_CASES];
    size_t count = load_signature_cases(cases);
    for (size_t i = 0; i < count; i++) {
        size_t length;
        char *body = read_sample(cases[i].sample, &length);
        const char *secrets[] = {cases[i].secret};
        const size_t positions[] = {0, length / 2, length - 1};
        for (size_t p = 0; p < COUNT(positions); p++) {
            body[positions[p]] ^= 0x01;
            int result = hv_webhook_verify(body, length, cases[i].signature, secrets, 1);
            if (result != -1)
                fail_msg("%s with byte %zu changed: returned %d, expected -1", cases[i].sample,
                         positions[p], result);
            body[positions[p]] ^= 0x01;
        }
        /* One byte fewer, and one byte more (a re-serialised newline). */
        assert_int_equal(hv_webhook_verify(body, length - 1, cases[i].signature, secrets, 1), -1);
        char *longer = malloc(length + 1);
        assert_non_null(longer);
        memcpy(longer, body, length);
        longer[length] = '\n';
        assert_int_equal(hv_webhook_verify(longer, length + 1, cases[i].signature, secrets, 1), -1);
        free(longer);
        /* Unchanged again: still accepted, so the refusals were the change. */
        assert_int_equal(hv_webhook_verify(body, length, cases[i].signature, secrets, 1), 0);
        free(body);
    }
}

static void test_verify_refuses_truncated_signature(void **state)
{
    (void)state;
    signature_case cases[MAX_SIGNATURE_CASES];
    size_t count = load_signature_cases(cases);
    for (size_t i = 0; i < count; i++) {
        size_t length;
        char *body = read_sample(cases[i].sample, &length);
        const char *secrets[] = {cases[i].secret};
        size_t full = strlen(cases[i].signature);
        /* Every proper prefix that drops signature bits is refused. */
        for (size_t keep = 0; keep + 1 < full; keep++) {
            char truncated[128];
            snprintf(truncated, sizeof truncated, "%.*s", (int)keep, cases[i].signature);
            int result = hv_webhook_verify(body, length, truncated, secrets, 1);
            if (result != -1)
                fail_msg("%s: signature cut to %zu characters returned %d, expected -1",
                         cases[i].sample, keep, result);
        }
        /* Dropping only the '=' keeps all 32 bytes: base64.h makes padding
         * optional, so this one is still the signature. */
        char unpadded[128];
        snprintf(unpadded, sizeof unpadded, "%.*s", (int)(full - 1), cases[i].signature);
        assert_int_equal(hv_webhook_verify(body, length, unpadded, secrets, 1), 0);
        free(body);
    }
}

static void test_verify_refuses_garbage_signatures(void **state)
{
    (void)state;
    signature_case cases[MAX_SIGNATURE_CASES];
    size_t count = load_signature_cases(cases);
    for (size_t i = 0; i < count; i++) {
        const char *good = cases[i].signature;
        size_t length;
        char *body = read_sample(cases[i].sample, &length);
        const char *secrets[] = {cases[i].secret};

        unsigned char raw[CRYPTO_SHA256_SIZE + 1];
        assert_int_equal(base64_decode(good, strlen(good), raw, sizeof raw), CRYPTO_SHA256_SIZE);
        char first_31_bytes[BASE64_ENCODED_SIZE(CRYPTO_SHA256_SIZE + 1)];
        base64_encode(raw, CRYPTO_SHA256_SIZE - 1, first_31_bytes);
        raw[CRYPTO_SHA256_SIZE] = 0x00;
        char with_33rd_byte[BASE64_ENCODED_SIZE(CRYPTO_SHA256_SIZE + 1)];
        base64_encode(raw, CRYPTO_SHA256_SIZE + 1, with_33rd_byte);
        char hex_digest[2 * CRYPTO_SHA256_SIZE + 1];
        for (size_t b = 0; b < CRYPTO_SHA256_SIZE; b++)
            snprintf(hex_digest + 2 * b, 3, "%02x", raw[b]);

        char url_safe[128];
        snprintf(url_safe, sizeof url_safe, "%s", good);
        for (char *c = url_safe; *c != '\0'; c++)
            *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
        char lower_case[128];
        snprintf(lower_case, sizeof lower_case, "%s", good);
        for (char *c = lower_case; *c != '\0'; c++)
            *c = (char)tolower((unsigned char)*c);
        char trailing_newline[130];
        snprintf(trailing_newline, sizeof trailing_newline, "%s\n", good);
        char leading_space[130];
        snprintf(leading_space, sizeof leading_space, " %s", good);
        char doubled[260];
        snprintf(doubled, sizeof doubled, "%s%s", good, good);
        char sha256_prefixed[140];
        snprintf(sha256_prefixed, sizeof sha256_prefixed, "sha256=%s", good);

        const char *const garbage[] = {
            "",
            "garbage",
            "!!!!!!!!",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "null",
            first_31_bytes,
            with_33rd_byte,
            hex_digest,
            url_safe,
            lower_case,
            trailing_newline,
            leading_space,
            doubled,
            sha256_prefixed,
        };
        for (size_t g = 0; g < COUNT(garbage); g++) {
            if (strcmp(garbage[g], good) == 0)
                continue; /* e.g. a signature with no '+', '/' or letters */
            int result = hv_webhook_verify(body, length, garbage[g], secrets, 1);
            if (result != -1)
                fail_msg("%s: signature \"%s\" returned %d, expected -1", cases[i].sample,
                         garbage[g], result);
        }
        free(body);
    }
}

typedef struct secrets_case {
    const char *why;
    const char *secrets[3];
    size_t count;
    int expected;
} secrets_case;

#define RIGHT "hv-test-secret-2026"

/* The fixture of the captured order signed with RIGHT, from
 * tests/data/signatures.txt (loaded into `fixtures`). */
static const signature_case *captured_order_signed_right(signature_case *fixtures)
{
    size_t fixture_count = load_signature_cases(fixtures);
    for (size_t i = 0; i < fixture_count; i++)
        if (strcmp(fixtures[i].sample, CAPTURED_ORDER) == 0 &&
            strcmp(fixtures[i].secret, RIGHT) == 0)
            return &fixtures[i];
    fail_msg("no fixture of %s signed with %s", CAPTURED_ORDER, RIGHT);
    return NULL;
}

static void test_verify_with_several_secrets(void **state)
{
    (void)state;
    static const secrets_case cases[] = {
        {"{wrong, right}", {"old-secret", RIGHT, NULL}, 2, 1},
        {"{right, other}", {RIGHT, "new-secret", NULL}, 2, 0},
        {"{right, right}: the first", {RIGHT, RIGHT, NULL}, 2, 0},
        {"NULL and empty skipped", {NULL, "", RIGHT}, 3, 2},
        {"only NULL and empty", {NULL, "", NULL}, 3, -1},
        {"{wrong, wrong}", {"old-secret", "new-secret", NULL}, 2, -1},
        {"count 0 ignores the array", {RIGHT, RIGHT, RIGHT}, 0, -1},
        {"count 1 stops before right", {"old-secret", RIGHT, NULL}, 1, -1},
    };
    signature_case fixtures[MAX_SIGNATURE_CASES];
    const signature_case *order = captured_order_signed_right(fixtures);
    size_t length;
    char *body = read_sample(order->sample, &length);
    for (size_t i = 0; i < COUNT(cases); i++) {
        int result =
            hv_webhook_verify(body, length, order->signature, cases[i].secrets, cases[i].count);
        if (result != cases[i].expected)
            fail_msg("%s: hv_webhook_verify returned %d, expected %d", cases[i].why, result,
                     cases[i].expected);
    }
    free(body);
}

typedef struct signatures_case {
    const char *why;
    const char *signatures[4]; /* "RIGHT" is the fixture's signature */
    size_t count;
    const char *secrets[2];
    int expected;
} signatures_case;

/* Several signatures on one delivery: any valid one, at any position,
 * under either secret, is enough; none valid is -1. */
static void test_verify_any_of_several_signatures(void **state)
{
    (void)state;
    static const signatures_case cases[] = {
        {"garbage then right", {"garbage", "RIGHT"}, 2, {RIGHT, NULL}, 0},
        {"right then garbage", {"RIGHT", "garbage"}, 2, {RIGHT, NULL}, 0},
        {"empty, truncated, right", {"", "AAAA", "RIGHT"}, 3, {RIGHT, NULL}, 0},
        {"right under the previous secret", {"x", "RIGHT"}, 2, {"new-secret", RIGHT}, 1},
        {"none right",
         {"x", "y", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
         3,
         {RIGHT, NULL},
         -1},
        {"count stops before right", {"x", "RIGHT"}, 1, {RIGHT, NULL}, -1},
        {"no signatures", {NULL}, 0, {RIGHT, NULL}, -1},
    };
    signature_case fixtures[MAX_SIGNATURE_CASES];
    const signature_case *order = captured_order_signed_right(fixtures);
    size_t length;
    char *body = read_sample(order->sample, &length);
    for (size_t i = 0; i < COUNT(cases); i++) {
        const char *signatures[4] = {NULL};
        for (size_t s = 0; s < cases[i].count; s++)
            signatures[s] = strcmp(cases[i].signatures[s], "RIGHT") == 0 ? order->signature
                                                                         : cases[i].signatures[s];
        int result =
            hv_webhook_verify_any(body, length, signatures, cases[i].count, cases[i].secrets, 2);
        if (result != cases[i].expected)
            fail_msg("%s: hv_webhook_verify_any returned %d, expected %d", cases[i].why, result,
                     cases[i].expected);
    }
    free(body);
}

/* ---- signature header values ---------------------------------------------- */

typedef struct split_case {
    const char *why;
    const char *values[3]; /* the header's values as the worker gets them */
    int result;            /* of the last hv_webhook_signatures_add() */
    const char *expected;  /* the signatures, joined with '|' */
} split_case;

#define NINE "a,b,c,d,e,f,g,h,i"
#define TOO_LONG                                                                                   \
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"     \
    "AAAAAAAAAAAAAAAA"

static void test_signature_values_split(void **state)
{
    (void)state;
    static const split_case cases[] = {
        {"one", {"c2lnbmF0dXJl"}, 0, "c2lnbmF0dXJl"},
        {"joined by nginx", {"x, y"}, 0, "x|y"},
        {"blanks around", {" \tx ,\ty\t "}, 0, "x|y"},
        {"empty elements skipped", {",, x ,,", ""}, 0, "x"},
        {"only blanks", {" ", "\t,\t"}, 0, ""},
        {"several values", {"x", "y, z"}, 0, "x|y|z"},
        {"blank inside kept", {"x y"}, 0, "x y"},
        {"eight is the most", {"a,b,c,d", "e,f,g,h"}, 0, "a|b|c|d|e|f|g|h"},
        {"nine in one value", {NINE}, -1, "a|b|c|d|e|f|g|h"},
        {"nine over two values", {"a,b,c,d,e", "f,g,h,i"}, -1, "a|b|c|d|e|f|g|h"},
        {"too long to be a signature", {TOO_LONG ",x"}, 0, "|x"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        hv_webhook_signatures signatures = {0};
        int result = 0;
        for (size_t v = 0; v < 3 && cases[i].values[v] != NULL && result == 0; v++)
            result = hv_webhook_signatures_add(&signatures, cases[i].values[v]);
        char joined[256] = "";
        for (size_t s = 0; s < signatures.count; s++) {
            assert_ptr_equal(signatures.list[s], signatures.text[s]);
            snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s",
                     s > 0 ? "|" : "", signatures.list[s]);
        }
        if (result != cases[i].result || strcmp(joined, cases[i].expected) != 0)
            fail_msg("%s: got %d \"%s\", expected %d \"%s\"", cases[i].why, result, joined,
                     cases[i].result, cases[i].expected);
    }
}

/* ---- header spellings ---------------------------------------------------- */

typedef struct header_case {
    const char *header;
    const char *cgi_name;
} header_case;

static void copy_with_case(const char *text, int (*change)(int), char *out, size_t size)
{
    size_t i = 0;
    for (; text[i] != '\0' && i + 1 < size; i++)
        out[i] = (char)change((unsigned char)text[i]);
    out[i] = '\0';
}

static void assert_cgi_name(const char *header, const char *expected)
{
    char variable[128];
    assert_int_equal(header_cgi_name(header, variable, sizeof variable), 0);
    if (strcmp(variable, expected) != 0)
        fail_msg("header_cgi_name(\"%s\") gave \"%s\", expected \"%s\"", header, variable,
                 expected);
}

static void test_signature_header_spellings(void **state)
{
    (void)state;
    static const header_case expected[] = {
        {"X-Haravan-Hmacsha256", "HTTP_X_HARAVAN_HMACSHA256"},
        {"X-Haravan-HmacSha256", "HTTP_X_HARAVAN_HMACSHA256"},
        {"X-Haravan-Hmac-Sha256", "HTTP_X_HARAVAN_HMAC_SHA256"},
    };
    size_t count = 0;
    while (hv_webhook_signature_headers[count] != NULL)
        count++;
    assert_int_equal(count, COUNT(expected));
    for (size_t i = 0; i < count; i++) {
        const char *header = hv_webhook_signature_headers[i];
        assert_string_equal(header, expected[i].header);
        assert_cgi_name(header, expected[i].cgi_name);
        char variant[64];
        copy_with_case(header, tolower, variant, sizeof variant);
        assert_cgi_name(variant, expected[i].cgi_name);
        copy_with_case(header, toupper, variant, sizeof variant);
        assert_cgi_name(variant, expected[i].cgi_name);
    }
}

static void test_other_haravan_headers(void **state)
{
    (void)state;
    static const header_case cases[] = {
        {HV_WEBHOOK_TOPIC_HEADER, "HTTP_X_HARAVAN_TOPIC"},
        {HV_WEBHOOK_ORG_HEADER, "HTTP_X_HARAVAN_ORG_ID"},
        {HV_WEBHOOK_TEST_HEADER, "HTTP_X_HARAVAN_TEST"},
        {"x-haravan-org-id", "HTTP_X_HARAVAN_ORG_ID"},
        {"Content-Type", "HTTP_CONTENT_TYPE"},
    };
    for (size_t i = 0; i < COUNT(cases); i++)
        assert_cgi_name(cases[i].header, cases[i].cgi_name);
}

static void test_header_cgi_name_size_limit(void **state)
{
    (void)state;
    /* "HTTP_X_HARAVAN_TOPIC" is 20 characters: 21 bytes with the NUL. */
    char variable[32];
    memset(variable, '#', sizeof variable);
    assert_int_equal(header_cgi_name("X-Haravan-Topic", variable, 21), 0);
    assert_string_equal(variable, "HTTP_X_HARAVAN_TOPIC");
    memset(variable, '#', sizeof variable);
    assert_int_equal(header_cgi_name("X-Haravan-Topic", variable, 20), -1);
    assert_int_equal(variable[20], '#'); /* nothing written past the size */
}

/* ---- topics --------------------------------------------------------------- */

typedef struct topic_case {
    const char *topic;
    int valid;
} topic_case;

static void test_topic_valid(void **state)
{
    (void)state;
    static const topic_case cases[] = {
        {"orders/create", 1},
        {"orders/paid", 1},
        {"customers/update", 1},
        {"app/uninstalled", 1},
        {"app_subscriptions/update", 1},
        {"", 0},
        {" ", 0},
        {"orders/ create", 0},
        {"orders create", 0},
        {" orders/create", 0},
        {"orders/create ", 0},
        {"Orders/create", 0},
        {"ORDERS/CREATE", 0},
        {"orders/create\n", 0},
        {"orders/create\r\n", 0},
        {"orders:create", 0},
        {"orders/create?x=1", 0},
        {"\xc4\x91on/tao", 0},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        int result = hv_webhook_topic_valid(cases[i].topic);
        if (result != cases[i].valid)
            fail_msg("hv_webhook_topic_valid(\"%s\") returned %d, expected %d", cases[i].topic,
                     result, cases[i].valid);
    }
}

static void test_topic_length_limit(void **state)
{
    (void)state;
    char topic[HV_WEBHOOK_MAX_TOPIC + 2];
    memset(topic, 'a', sizeof topic);
    memcpy(topic, "orders/", 7);
    topic[HV_WEBHOOK_MAX_TOPIC] = '\0';
    assert_int_equal(strlen(topic), 100);
    assert_int_equal(hv_webhook_topic_valid(topic), 1);
    topic[HV_WEBHOOK_MAX_TOPIC] = 'a';
    topic[HV_WEBHOOK_MAX_TOPIC + 1] = '\0';
    assert_int_equal(strlen(topic), 101);
    assert_int_equal(hv_webhook_topic_valid(topic), 0);
}

/* ---- hv_webhook_read ------------------------------------------------------ */

/* Fails with the case's name when `actual` is not `expected`. */
static void expect_field(const char *why, const char *field, const char *actual,
                         const char *expected)
{
    if (strcmp(actual, expected) != 0)
        fail_msg("%s: %s is \"%s\", expected \"%s\"", why, field, actual, expected);
}

/* Reads `length` bytes of `bytes` from an exact-length copy. */
static void read_delivery(hv_webhook *webhook, const char *topic, const char *org_header,
                          const char *bytes, size_t length)
{
    char *body = exact_copy(bytes, length);
    assert_int_equal(hv_webhook_read(webhook, topic, org_header, body, length), 0);
    free(body);
}

static void test_read_captured_order(void **state)
{
    (void)state;
    size_t length;
    char *body = read_sample(CAPTURED_ORDER, &length);
    /* The expected values are the file's own top-level ones. */
    char *text = malloc(length + 1);
    assert_non_null(text);
    memcpy(text, body, length);
    text[length] = '\0';
    assert_non_null(strstr(text, "\n  \"id\": 1238520665,\n"));
    assert_non_null(strstr(text, "\n  \"updated_at\": \"2021-11-03T03:33:02.313Z\",\n"));
    free(text);

    hv_webhook webhook;
    assert_int_equal(hv_webhook_read(&webhook, "orders/paid", TEST_ORG, body, length), 0);
    assert_true(webhook.readable);
    assert_string_equal(webhook.parse_error, "");
    assert_string_equal(webhook.org_id, TEST_ORG);
    assert_string_equal(webhook.resource_id, "1238520665");
    assert_string_equal(webhook.updated_at, "2021-11-03T03:33:02.313Z");
    assert_string_equal(buffer_text(&webhook.dedupe_key),
                        "v1:1000114691:orders/paid:1238520665:2021-11-03T03:33:02.313Z");
    /* Read as it is: plain JSON, nothing repaired (intake keeps no tree;
     * the processors parse the body, crm/haravan_payload.h). */
    assert_int_equal(webhook.repairs.invalid_utf8 + webhook.repairs.nul_escapes +
                         webhook.repairs.big_integers,
                     0);
    hv_webhook_free(&webhook);
    free(body);
}

typedef struct read_case {
    const char *why;
    const char *topic;
    const char *org_header;
    const char *body;
    size_t length;                 /* 0: strlen(body) */
    int parsed;                    /* readable expected */
    const char *parse_error_start; /* when not parsed */
    const char *org_id;
    const char *resource_id;
    const char *updated_at;
    const char *dedupe_key;
} read_case;

#define UPDATED          "2024-01-02T03:04:05Z"
#define WITH_ORG_IN_BODY "{\"id\":5,\"updated_at\":\"" UPDATED "\",\"org_id\":1000114691}"

static const read_case read_cases[] = {
    {"org from the body when the header is NULL", "orders/create", NULL, WITH_ORG_IN_BODY, 0, 1,
     NULL, "1000114691", "5", UPDATED, "v1:1000114691:orders/create:5:" UPDATED},
    {"org header wins over the body", "orders/create", "200000", WITH_ORG_IN_BODY, 0, 1, NULL,
     "200000", "5", UPDATED, "v1:200000:orders/create:5:" UPDATED},
    {"empty org header falls back to the body", "orders/create", "", WITH_ORG_IN_BODY, 0, 1, NULL,
     "1000114691", "5", UPDATED, "v1:1000114691:orders/create:5:" UPDATED},
    {"no org anywhere", "orders/create", NULL, "{\"id\":5,\"updated_at\":\"" UPDATED "\"}", 0, 1,
     NULL, "", "5", UPDATED, "v1::orders/create:5:" UPDATED},
    {"id as a JSON string", "app_subscriptions/update", TEST_ORG,
     "{\"id\":\"6141d6266e269fed5b515c89\",\"updated_at\":\"2021-09-15T11:17:03.458Z\","
     "\"status\":\"active\"}",
     0, 1, NULL, TEST_ORG, "6141d6266e269fed5b515c89", "2021-09-15T11:17:03.458Z",
     "v1:1000114691:app_subscriptions/update:6141d6266e269fed5b515c89:2021-09-15T11:17:03.458Z"},
    {"trailing whitespace after the JSON", "orders/create", TEST_ORG,
     "{\"id\":9,\"updated_at\":\"" UPDATED "\"} \r\n\t\n", 0, 1, NULL, TEST_ORG, "9", UPDATED,
     "v1:1000114691:orders/create:9:" UPDATED},
    {"no id and no updated_at", "orders/create", TEST_ORG, "{\"note\":\"no id here\"}", 0, 1, NULL,
     TEST_ORG, "", "",
     "sha256:1000114691:orders/create:"
     "d489d36eaa4a01b5d5c1ea6f090139c231f8d0b15ccdae79f49860ba2663d035"},
    {"same body, another topic", "orders/updated", TEST_ORG, "{\"note\":\"no id here\"}", 0, 1,
     NULL, TEST_ORG, "", "",
     "sha256:1000114691:orders/updated:"
     "d489d36eaa4a01b5d5c1ea6f090139c231f8d0b15ccdae79f49860ba2663d035"},
    {"id without updated_at", "orders/create", TEST_ORG, "{\"id\":7}", 0, 1, NULL, TEST_ORG, "7",
     "",
     "sha256:1000114691:orders/create:"
     "a3c90e3b7448d23d9eacebd0ebf15cae100e21f9b2c688f3f9d238edcd26d67f"},
    {"updated_at without id", "orders/create", TEST_ORG, "{\"updated_at\":\"" UPDATED "\"}", 0, 1,
     NULL, TEST_ORG, "", UPDATED,
     "sha256:1000114691:orders/create:"
     "7442ce7192cab5e08a1d710ddbe273998e3ae1a798b85a4d4c32ee389e8afe84"},
    /* Ids read exactly as written: 2^53 and 2^53 + 1 are two orders, and
     * a number and the string of its digits are one id. */
    {"id 2^53 as a number", "orders/create", TEST_ORG,
     "{\"id\":9007199254740992,\"updated_at\":\"" UPDATED "\"}", 0, 1, NULL, TEST_ORG,
     "9007199254740992", UPDATED, "v1:1000114691:orders/create:9007199254740992:" UPDATED},
    {"id 2^53 + 1 as a number", "orders/create", TEST_ORG,
     "{\"id\":9007199254740993,\"updated_at\":\"" UPDATED "\"}", 0, 1, NULL, TEST_ORG,
     "9007199254740993", UPDATED, "v1:1000114691:orders/create:9007199254740993:" UPDATED},
    {"id 2^53 + 1 as a string", "orders/create", TEST_ORG,
     "{\"id\":\"9007199254740993\",\"updated_at\":\"" UPDATED "\"}", 0, 1, NULL, TEST_ORG,
     "9007199254740993", UPDATED, "v1:1000114691:orders/create:9007199254740993:" UPDATED},
    {"id far beyond 2^64 as a number", "orders/create", TEST_ORG,
     "{\"id\":123456789012345678901234567890,\"updated_at\":\"" UPDATED "\"}", 0, 1, NULL, TEST_ORG,
     "123456789012345678901234567890", UPDATED,
     "v1:1000114691:orders/create:123456789012345678901234567890:" UPDATED},
    {"id containing ':' would make the key ambiguous", "orders/create", TEST_ORG,
     "{\"id\":\"a:b\",\"updated_at\":\"" UPDATED "\"}", 0, 1, NULL, TEST_ORG, "a:b", UPDATED,
     "sha256:1000114691:orders/create:"
     "4bb8f9df318f51d90033fd8f237d0903dd57fec81ac78a4a7868c821c36eeae5"},
    {"null id", "orders/create", TEST_ORG, "{\"id\":null,\"updated_at\":\"" UPDATED "\"}", 0, 1,
     NULL, TEST_ORG, "", UPDATED,
     "sha256:1000114691:orders/create:"
     "1b9c28399034786016b4865133a26a31be7689e368663c3ef477b2d242e59d9a"},
    {"a JSON array, not an object", "orders/create", TEST_ORG,
     "[{\"id\":1,\"updated_at\":\"" UPDATED "\"}]", 0, 1, NULL, TEST_ORG, "", "",
     "sha256:1000114691:orders/create:"
     "37c888f190865af967da05670f783eea98e7357448502c638425ba51bbc5cd95"},
    {"invalid JSON \"{\"", "orders/create", TEST_ORG, "{", 0, 0, "body is not valid JSON", TEST_ORG,
     "", "",
     "sha256:1000114691:orders/create:"
     "021fb596db81e6d02bf3d2586ee3981fe519f275c0ac9ca76bbcf2ebb4097d96"},
    {"invalid JSON \"not json\"", "orders/create", TEST_ORG, "not json", 0, 0,
     "body is not valid JSON", TEST_ORG, "", "",
     "sha256:1000114691:orders/create:"
     "7ccfa1fbf3940e6f0c0375d87c0f9235a50514e14cb427bdfaf5077987b26ccf"},
    {"data after the JSON", "orders/create", TEST_ORG, "{}garbage", 0, 0,
     "body is not valid JSON (unexpected data at byte 2)", TEST_ORG, "", "",
     "sha256:1000114691:orders/create:"
     "7eb696333c2056fc29f5ea0fc0bf61f752b9ff448a3ede876068fc543e7914c4"},
    {"a NUL byte after valid JSON", "orders/create", TEST_ORG, "{\"id\":1}\0", 9, 0,
     "body is not valid JSON: it contains a NUL byte", TEST_ORG, "", "",
     "sha256:1000114691:orders/create:"
     "114f6e046033df46ff1b9da498f46d764988ac6ad7d2c5943b6cbbbe75688111"},
};

static void test_read_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(read_cases); i++) {
        const read_case *c = &read_cases[i];
        size_t length = c->length != 0 ? c->length : strlen(c->body);
        hv_webhook webhook;
        read_delivery(&webhook, c->topic, c->org_header, c->body, length);
        if (c->parsed) {
            if (!webhook.readable)
                fail_msg("%s: not parsed: %s", c->why, webhook.parse_error);
            expect_field(c->why, "parse_error", webhook.parse_error, "");
        } else {
            if (webhook.readable)
                fail_msg("%s: parsed, expected json NULL", c->why);
            assert_true(strlen(webhook.parse_error) > 0);
            if (strncmp(webhook.parse_error, c->parse_error_start, strlen(c->parse_error_start)))
                fail_msg("%s: parse_error \"%s\" does not start with \"%s\"", c->why,
                         webhook.parse_error, c->parse_error_start);
        }
        expect_field(c->why, "org_id", webhook.org_id, c->org_id);
        expect_field(c->why, "resource_id", webhook.resource_id, c->resource_id);
        expect_field(c->why, "updated_at", webhook.updated_at, c->updated_at);
        expect_field(c->why, "dedupe_key", buffer_text(&webhook.dedupe_key), c->dedupe_key);
        hv_webhook_free(&webhook);
    }
}

/* An empty body is not JSON; its key uses SHA-256 of nothing. */
static void test_read_empty_body(void **state)
{
    (void)state;
    hv_webhook webhook;
    read_delivery(&webhook, "orders/create", TEST_ORG, "", 0);
    assert_false(webhook.readable);
    assert_true(strlen(webhook.parse_error) > 0);
    assert_string_equal(buffer_text(&webhook.dedupe_key),
                        "sha256:1000114691:orders/create:"
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hv_webhook_free(&webhook);
}

static void test_read_same_body_same_key(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "{\"note\":\"no id here\"}",
        "{\"id\":5,\"updated_at\":\"" UPDATED "\"}",
        "not json",
    };
    for (size_t i = 0; i < COUNT(bodies); i++) {
        hv_webhook first;
        hv_webhook second;
        hv_webhook other_topic;
        read_delivery(&first, "orders/create", TEST_ORG, bodies[i], strlen(bodies[i]));
        read_delivery(&second, "orders/create", TEST_ORG, bodies[i], strlen(bodies[i]));
        read_delivery(&other_topic, "orders/updated", TEST_ORG, bodies[i], strlen(bodies[i]));
        assert_true(first.dedupe_key.length > 0);
        assert_string_equal(buffer_text(&first.dedupe_key), buffer_text(&second.dedupe_key));
        assert_string_not_equal(buffer_text(&first.dedupe_key),
                                buffer_text(&other_topic.dedupe_key));
        hv_webhook_free(&first);
        hv_webhook_free(&second);
        hv_webhook_free(&other_topic);
    }
}

/* "[[...]]" or {"a":{"a":...}} `depth` levels deep, in a new buffer. */
static void nested_json(buffer *out, size_t depth, int objects)
{
    for (size_t i = 0; i < depth; i++)
        assert_int_equal(buffer_append_string(out, objects ? "{\"a\":" : "["), 0);
    assert_int_equal(buffer_append_string(out, "1"), 0);
    for (size_t i = 0; i < depth; i++)
        assert_int_equal(buffer_append_char(out, objects ? '}' : ']'), 0);
}

typedef struct depth_case {
    size_t depth;
    int objects;
    int accepted;
} depth_case;

static void test_read_nesting_limit(void **state)
{
    (void)state;
    static const depth_case cases[] = {
        {INBOX_BODY_MAX_DEPTH, 0, 1},
        {INBOX_BODY_MAX_DEPTH + 1, 0, 0},
        {INBOX_BODY_MAX_DEPTH, 1, 1},
        {INBOX_BODY_MAX_DEPTH + 1, 1, 0},
        {10000, 0, 0},
    };
    assert_int_equal(INBOX_BODY_MAX_DEPTH, 64);
    for (size_t i = 0; i < COUNT(cases); i++) {
        buffer body = BUFFER_INIT;
        nested_json(&body, cases[i].depth, cases[i].objects);
        hv_webhook webhook;
        read_delivery(&webhook, "orders/create", TEST_ORG, body.data, body.length);
        if (cases[i].accepted) {
            if (!webhook.readable)
                fail_msg("depth %zu refused: %s", cases[i].depth, webhook.parse_error);
            assert_string_equal(webhook.parse_error, "");
        } else {
            if (webhook.readable)
                fail_msg("depth %zu accepted, expected refused", cases[i].depth);
            if (strstr(webhook.parse_error, "nested") == NULL)
                fail_msg("depth %zu: parse_error \"%s\" does not mention \"nested\"",
                         cases[i].depth, webhook.parse_error);
        }
        /* Either way no id is read, so the key is the body's SHA-256. */
        char digest[2 * CRYPTO_SHA256_SIZE + 1];
        assert_int_equal(crypto_sha256_hex(body.data, body.length, digest), 0);
        char expected[200];
        snprintf(expected, sizeof expected, "sha256:%s:orders/create:%s", TEST_ORG, digest);
        assert_string_equal(buffer_text(&webhook.dedupe_key), expected);
        hv_webhook_free(&webhook);
        buffer_free(&body);
    }
}

/* Brackets inside strings are text, not nesting. */
static void test_read_brackets_in_strings_do_not_count(void **state)
{
    (void)state;
    static const char *const prefixes[] = {"{\"s\":\"", "{\"s\":\"\\\"", "{\"s\":\"\\\\\\\""};
    for (size_t i = 0; i < COUNT(prefixes); i++) {
        buffer body = BUFFER_INIT;
        assert_int_equal(buffer_append_string(&body, prefixes[i]), 0);
        for (int b = 0; b < 100; b++)
            assert_int_equal(buffer_append_string(&body, "[{"), 0);
        assert_int_equal(buffer_append_string(&body, "\",\"id\":3,\"updated_at\":\"" UPDATED "\"}"),
                         0);
        hv_webhook webhook;
        read_delivery(&webhook, "orders/create", TEST_ORG, body.data, body.length);
        if (!webhook.readable)
            fail_msg("body %s refused: %s", body.data, webhook.parse_error);
        assert_string_equal(buffer_text(&webhook.dedupe_key),
                            "v1:1000114691:orders/create:3:" UPDATED);
        hv_webhook_free(&webhook);
        buffer_free(&body);
    }
}

typedef struct parse_case {
    const char *body;
    size_t length; /* 0: strlen(body) */
    const char *reason;
    const char *note;
} parse_case;

/* inbox_body_parse() is where intake, processing and replay get their
 * verdict and its wording: the same refusals, the same repairs, and the
 * note an event carries about them. */
static void test_parse_verdicts_and_notes(void **state)
{
    (void)state;
    static const parse_case cases[] = {
        {"{\"id\":1}", 0, "", ""},
        {"{\"id\":1}\0", 9, "body is not valid JSON: it contains a NUL byte", ""},
        {"{\"id\":1", 0, "body is not valid JSON (error near byte 6)", ""},
        {"{\"id\":1} x", 0, "body is not valid JSON (unexpected data at byte 9)", ""},
        {"{\"note\":\"a\xFF\\u0000\",\"id\":9007199254740993}", 0, "",
         "body: 1 byte sequence(s) that are not UTF-8 read as U+FFFD; body: 1 \\u0000 "
         "escape(s) read as U+FFFD; body: 1 integer(s) beyond 2^53 read as exact text"},
        {"[\"\xC0\xAF\"]", 0, "", "body: 2 byte sequence(s) that are not UTF-8 read as U+FFFD"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        size_t length = cases[i].length != 0 ? cases[i].length : strlen(cases[i].body);
        char *body = exact_copy(cases[i].body, length);
        cJSON *json = NULL;
        json_repairs repairs;
        char reason[160];
        char note[256];
        assert_int_equal(inbox_body_parse(body, length, &json, &repairs, reason, sizeof reason), 0);
        assert_int_equal(json == NULL, cases[i].reason[0] != '\0');
        assert_string_equal(reason, cases[i].reason);
        inbox_body_repairs_note(&repairs, note, sizeof note);
        assert_string_equal(note, cases[i].note);
        cJSON_Delete(json);
        free(body);
    }
    /* The depth limit and its wording. */
    buffer deep = BUFFER_INIT;
    for (int d = 0; d <= INBOX_BODY_MAX_DEPTH; d++)
        assert_int_equal(buffer_append_char(&deep, '['), 0);
    cJSON *json = NULL;
    char reason[160];
    assert_int_equal(inbox_body_parse(deep.data, deep.length, &json, NULL, reason, sizeof reason),
                     0);
    assert_null(json);
    assert_string_equal(reason, "body is not accepted: JSON nested deeper than 64 levels");
    buffer_free(&deep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_covers_required_samples),
        cmocka_unit_test(test_verify_accepts_openssl_signatures),
        cmocka_unit_test(test_verify_refuses_other_secrets),
        cmocka_unit_test(test_verify_refuses_changed_body),
        cmocka_unit_test(test_verify_refuses_truncated_signature),
        cmocka_unit_test(test_verify_refuses_garbage_signatures),
        cmocka_unit_test(test_verify_with_several_secrets),
        cmocka_unit_test(test_verify_any_of_several_signatures),
        cmocka_unit_test(test_signature_values_split),
        cmocka_unit_test(test_signature_header_spellings),
        cmocka_unit_test(test_other_haravan_headers),
        cmocka_unit_test(test_header_cgi_name_size_limit),
        cmocka_unit_test(test_topic_valid),
        cmocka_unit_test(test_topic_length_limit),
        cmocka_unit_test(test_read_captured_order),
        cmocka_unit_test(test_read_cases),
        cmocka_unit_test(test_read_empty_body),
        cmocka_unit_test(test_read_same_body_same_key),
        cmocka_unit_test(test_read_nesting_limit),
        cmocka_unit_test(test_read_brackets_in_strings_do_not_count),
        cmocka_unit_test(test_parse_verdicts_and_notes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
