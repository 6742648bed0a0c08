/*
 * Unit tests of the simulator's own arithmetic, without a stack: the
 * timestamp reader (the _min/_max filters stand on it), the leaky bucket
 * (80 at once fit, the 81st waits exactly a quarter second at 4/s) and the
 * listing over the real seed (defaults, the cap of 50, bad parameters,
 * filters, order, fields). If these drift, the simulator stops being
 * faithful to docs/HARAVAN.md and the connector's tests prove nothing.
 *
 * And the accounts and webhook parts' pure pieces: base64url against RFC
 * 4648's vectors; RS256 tokens verified here with OpenSSL directly from
 * the JWK's n and e (not with the simulator's code), a tampered token
 * refused, a rotated key's kid new; codes single use, 5 minutes, bound to
 * client and redirect_uri; refresh tokens revocable, and a reused code's
 * whole family (refresh and access tokens) revoked; the app registry's
 * validation; HTML escaping and the pages' required markup; samples
 * unwrapped (REST) or passed byte for byte (webhook) and signed as
 * tests/data/signatures.txt says (computed with the openssl command line);
 * subscriptions; issued tokens that expire.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "apps.h"
#include "bucket.h"
#include "deliveries.h"
#include "generate.h"
#include "grants.h"
#include "jwt_sign.h"
#include "listing.h"
#include "pages.h"
#include "store.h"
#include "subscriptions.h"
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

static void test_bucket_counts_calls_by_second(void **state)
{
    (void)state;
    static sim_bucket_counts counts; /* zero, as after /sim/reset */
    assert_int_equal(sim_bucket_seconds_used(&counts, 50.0), 0);
    sim_bucket_count(&counts, 100.0, 1, 1.0);
    sim_bucket_count(&counts, 100.9, 1, 71.5);
    sim_bucket_count(&counts, 101.0, 1, 2.0);
    sim_bucket_count(&counts, 101.5, 0, 80.0); /* a 429: refused, in no second */
    sim_bucket_count(&counts, 103.2, 1, 3.0);
    assert_int_equal(counts.admitted, 4);
    assert_int_equal(counts.refused, 1);
    assert_true(counts.max_level == 71.5); /* a refused call changes nothing */
    assert_int_equal(sim_bucket_seconds_used(&counts, 103.2), 4);
    assert_int_equal(counts.per_second[0], 2);
    assert_int_equal(counts.per_second[1], 1);
    assert_int_equal(counts.per_second[2], 0);
    assert_int_equal(counts.per_second[3], 1);
    sim_bucket_count(&counts, 100.0 + 5 * SIM_BUCKET_SECONDS, 1, 1.0); /* later: the last */
    assert_int_equal(counts.per_second[SIM_BUCKET_SECONDS - 1], 1);
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

/* ---- base64url ------------------------------------------------------- */

static void test_base64url_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *input;
        const char *encoded;
    } cases[] = {
        {"", ""},
        {"f", "Zg"},
        {"fo", "Zm8"},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg"},
        {"fooba", "Zm9vYmE"},
        {"foobar", "Zm9vYmFy"},
        {"\xfb\xff", "-_8"},
        {"\xff\xfe\xfd", "__79"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        buffer out = BUFFER_INIT;
        assert_int_equal(sim_base64url_append(&out, (const unsigned char *)cases[i].input,
                                              strlen(cases[i].input)),
                         0);
        assert_string_equal(buffer_text(&out), cases[i].encoded);
        buffer_free(&out);
    }
}

/* A decoder of the test's own, so that signatures are checked without the
 * simulator's code. Returns the length, or -1. */
static long decode_base64url(const char *text, size_t length, unsigned char *out, size_t capacity)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned long bits = 0;
    int bit_count = 0;
    size_t written = 0;
    for (size_t i = 0; i < length; i++) {
        const char *found = strchr(alphabet, text[i]);
        if (text[i] == '\0' || found == NULL)
            return -1;
        bits = (bits << 6) | (unsigned long)(found - alphabet);
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            if (written == capacity)
                return -1;
            out[written++] = (unsigned char)(bits >> bit_count);
            bits &= (1UL << bit_count) - 1;
        }
    }
    return (long)written;
}

/* ---- RS256 ----------------------------------------------------------- */

static BIGNUM *jwk_number(const cJSON *jwk, const char *name)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(jwk, name);
    assert_true(cJSON_IsString(value));
    unsigned char bytes[600];
    long length =
        decode_base64url(value->valuestring, strlen(value->valuestring), bytes, sizeof bytes);
    assert_true(length > 0);
    BIGNUM *number = BN_bin2bn(bytes, (int)length, NULL);
    assert_non_null(number);
    return number;
}

/* The public key described by a JWK, built with OpenSSL from n and e. */
static EVP_PKEY *public_key_of(const cJSON *jwk)
{
    BIGNUM *n = jwk_number(jwk, "n");
    BIGNUM *e = jwk_number(jwk, "e");
    OSSL_PARAM_BLD *builder = OSSL_PARAM_BLD_new();
    assert_non_null(builder);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_N, n), 1);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_E, e), 1);
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(builder);
    EVP_PKEY_CTX *context = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *key = NULL;
    assert_non_null(params);
    assert_non_null(context);
    assert_int_equal(EVP_PKEY_fromdata_init(context), 1);
    assert_int_equal(EVP_PKEY_fromdata(context, &key, EVP_PKEY_PUBLIC_KEY, params), 1);
    EVP_PKEY_CTX_free(context);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(builder);
    BN_free(n);
    BN_free(e);
    return key;
}

/* 1 when `token`'s RS256 signature verifies under `key`. */
static int signature_verifies(EVP_PKEY *key, const char *token)
{
    const char *last_dot = strrchr(token, '.');
    assert_non_null(last_dot);
    unsigned char signature[512];
    long length = decode_base64url(last_dot + 1, strlen(last_dot + 1), signature, sizeof signature);
    assert_true(length > 0);
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    assert_non_null(context);
    assert_int_equal(EVP_DigestVerifyInit(context, NULL, EVP_sha256(), NULL, key), 1);
    int verified = EVP_DigestVerify(context, signature, (size_t)length,
                                    (const unsigned char *)token, (size_t)(last_dot - token));
    EVP_MD_CTX_free(context);
    return verified == 1;
}

/* The JSON of the token's `part` (0 header, 1 payload). */
static cJSON *token_part(const char *token, int part)
{
    const char *start = token;
    for (int i = 0; i < part; i++)
        start = strchr(start, '.') + 1;
    size_t length = strcspn(start, ".");
    unsigned char json[4096];
    long decoded = decode_base64url(start, length, json, sizeof json - 1);
    assert_true(decoded > 0);
    json[decoded] = '\0';
    cJSON *document = cJSON_Parse((const char *)json);
    assert_non_null(document);
    return document;
}

static void test_jwt_verifies_with_the_jwk(void **state)
{
    (void)state;
    sim_key key = {0};
    assert_int_equal(sim_key_generate(&key), 0);
    cJSON *jwk = sim_key_jwk(&key);
    assert_non_null(jwk);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(jwk, "kty")->valuestring, "RSA");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(jwk, "alg")->valuestring, "RS256");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(jwk, "use")->valuestring, "sig");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(jwk, "kid")->valuestring, key.kid);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(jwk, "e")->valuestring, "AQAB");
    EVP_PKEY *public_key = public_key_of(jwk);
    assert_int_equal(EVP_PKEY_get_bits(public_key), 2048);

    cJSON *claims = cJSON_CreateObject();
    cJSON_AddStringToObject(claims, "sub", "200000244880");
    cJSON_AddStringToObject(claims, "nonce", "n-ơ-1");
    char *token = sim_jwt_sign(&key, claims);
    assert_non_null(token);
    assert_true(signature_verifies(public_key, token));

    cJSON *header = token_part(token, 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(header, "alg")->valuestring, "RS256");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(header, "kid")->valuestring, key.kid);
    cJSON *payload = token_part(token, 1);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(payload, "nonce")->valuestring, "n-ơ-1");

    /* One changed payload byte: the signature no longer holds. */
    char *tampered = strdup(token);
    char *payload_start = strchr(tampered, '.') + 1;
    payload_start[3] = payload_start[3] == 'A' ? 'B' : 'A';
    assert_false(signature_verifies(public_key, tampered));

    free(tampered);
    free(token);
    cJSON_Delete(header);
    cJSON_Delete(payload);
    cJSON_Delete(claims);
    cJSON_Delete(jwk);
    EVP_PKEY_free(public_key);
    sim_key_free(&key);
}

static void test_key_rotation_changes_kid_and_key(void **state)
{
    (void)state;
    sim_key key = {0};
    assert_int_equal(sim_key_generate(&key), 0);
    char old_kid[SIM_KID_SIZE];
    memcpy(old_kid, key.kid, sizeof old_kid);
    cJSON *claims = cJSON_CreateObject();
    cJSON_AddStringToObject(claims, "sub", "1");
    char *old_token = sim_jwt_sign(&key, claims);
    assert_non_null(old_token);

    assert_int_equal(sim_key_generate(&key), 0);
    assert_string_not_equal(key.kid, old_kid);
    cJSON *jwk = sim_key_jwk(&key);
    EVP_PKEY *public_key = public_key_of(jwk);
    assert_false(signature_verifies(public_key, old_token));

    free(old_token);
    cJSON_Delete(claims);
    cJSON_Delete(jwk);
    EVP_PKEY_free(public_key);
    sim_key_free(&key);
}

static void test_hash_half(void **state)
{
    (void)state;
    char hash[SIM_HASH_HALF_SIZE];
    /* base64url(first 16 bytes of SHA-256("abc")), computed outside C. */
    assert_int_equal(sim_hash_half("abc", hash), 0);
    assert_string_equal(hash, "ungWv48Bz-pBQUDeXa4iIw");
}

/* ---- grants ---------------------------------------------------------- */

static sim_grant_fields code_fields(const char *code)
{
    return (sim_grant_fields){.token = code,
                              .client_id = "app-1",
                              .redirect_uri = "https://crm.example/api/haravan/login",
                              .scopes = "openid org",
                              .nonce = "n1",
                              .org_id = SEED_ORG,
                              .user_id = 200000244880LL};
}

static void test_codes_are_single_use_and_bound(void **state)
{
    (void)state;
    sim_grants grants = {0};
    const char *login = "https://crm.example/api/haravan/login";
    sim_grant_fields fields = code_fields("code-a");
    assert_int_equal(sim_grants_add_code(&grants, &fields, 1000.0), 0);
    fields = code_fields("code-b");
    assert_int_equal(sim_grants_add_code(&grants, &fields, 1000.0), 0);
    fields = code_fields("code-c");
    assert_int_equal(sim_grants_add_code(&grants, &fields, 1000.0), 0);
    fields = code_fields("code-d");
    assert_int_equal(sim_grants_add_code(&grants, &fields, 1000.0), 0);

    const sim_code *code = NULL;
    assert_int_equal(sim_grants_redeem_code(&grants, "code-a", "app-1", login, 1299.0, &code),
                     SIM_CODE_OK);
    assert_non_null(code);
    assert_string_equal(code->nonce, "n1");
    assert_string_equal(code->scopes, "openid org");
    assert_int_equal(code->user_id, 200000244880LL);
    assert_int_equal(sim_grants_redeem_code(&grants, "code-a", "app-1", login, 1299.0, &code),
                     SIM_CODE_USED);
    assert_null(code);
    assert_int_equal(sim_grants_redeem_code(&grants, "code-b", "app-1", login, 1300.0, &code),
                     SIM_CODE_EXPIRED);
    assert_int_equal(sim_grants_redeem_code(&grants, "code-c", "app-2", login, 1001.0, &code),
                     SIM_CODE_WRONG_CLIENT);
    /* Presented by the wrong client, it is burnt for the right one too. */
    assert_int_equal(sim_grants_redeem_code(&grants, "code-c", "app-1", login, 1001.0, &code),
                     SIM_CODE_USED);
    assert_int_equal(sim_grants_redeem_code(&grants, "code-d", "app-1",
                                            "https://crm.example/api/haravan/grandservice", 1001.0,
                                            &code),
                     SIM_CODE_WRONG_REDIRECT);
    assert_int_equal(sim_grants_redeem_code(&grants, "code-z", "app-1", login, 1001.0, &code),
                     SIM_CODE_UNKNOWN);

    /* Issuing after the five minutes drops the expired codes. */
    fields = code_fields("code-e");
    assert_int_equal(sim_grants_add_code(&grants, &fields, 2000.0), 0);
    assert_int_equal(grants.code_count, 1);
    sim_grants_free(&grants);
}

static void test_refresh_tokens(void **state)
{
    (void)state;
    sim_grants grants = {0};
    sim_grant_fields fields = {.token = "refresh-1",
                               .client_id = "app-1",
                               .scopes = "openid offline_access",
                               .org_id = SEED_ORG,
                               .user_id = 7};
    assert_int_equal(sim_grants_add_refresh(&grants, &fields), 0);
    sim_refresh *refresh = sim_grants_refresh(&grants, "refresh-1", "app-1");
    assert_non_null(refresh);
    assert_int_equal(refresh->user_id, 7);
    assert_null(sim_grants_refresh(&grants, "refresh-1", "app-2"));
    assert_null(sim_grants_refresh(&grants, "refresh-2", "app-1"));
    assert_int_equal(sim_grants_revoke_refresh(&grants, "refresh-1"), 1);
    assert_null(sim_grants_refresh(&grants, "refresh-1", "app-1"));
    assert_int_equal(sim_grants_revoke_refresh(&grants, "refresh-2"), 0);
    sim_grants_free(&grants);
}

/* A code redeemed twice takes back what it issued (RFC 6749 4.1.2): the
 * refresh tokens of its family, through rotations, and its access tokens;
 * nothing of another family. */
static void test_reused_code_family_is_revoked(void **state)
{
    (void)state;
    sim_grants grants = {0};
    sim_grant_fields fields = {.token = "refresh-a1",
                               .client_id = "app-1",
                               .scopes = "openid offline_access",
                               .family = "code-a",
                               .org_id = SEED_ORG,
                               .user_id = 7};
    assert_int_equal(sim_grants_add_refresh(&grants, &fields), 0);
    fields.token = "refresh-a2"; /* its rotation */
    assert_int_equal(sim_grants_add_refresh(&grants, &fields), 0);
    fields.token = "refresh-b1";
    fields.family = "code-b";
    assert_int_equal(sim_grants_add_refresh(&grants, &fields), 0);
    assert_int_equal(sim_grants_revoke_family(&grants, "code-a"), 2);
    assert_null(sim_grants_refresh(&grants, "refresh-a1", "app-1"));
    assert_null(sim_grants_refresh(&grants, "refresh-a2", "app-1"));
    assert_non_null(sim_grants_refresh(&grants, "refresh-b1", "app-1"));
    assert_int_equal(sim_grants_revoke_family(&grants, "code-a"), 0);
    assert_int_equal(sim_grants_revoke_family(&grants, ""), 0);
    sim_grants_free(&grants);

    sim_store store;
    memset(&store, 0, sizeof store);
    sim_token_grant grant = {SEED_ORG, "openid", "app-1", 7, 1000.0, "code-a"};
    assert_int_equal(sim_store_issue_token(&store, "access-a1", &grant, 10.0), 0);
    assert_int_equal(sim_store_issue_token(&store, "access-a2", &grant, 10.0), 0);
    grant.family = "code-b";
    assert_int_equal(sim_store_issue_token(&store, "access-b1", &grant, 10.0), 0);
    assert_int_equal(sim_store_put_token(&store, "seeded", SEED_ORG, "com.read_shop"), 0);
    assert_int_equal(sim_store_expire_family(&store, "code-a"), 2);
    assert_null(sim_store_live_token(&store, "access-a1", 11.0));
    assert_null(sim_store_live_token(&store, "access-a2", 11.0));
    assert_non_null(sim_store_live_token(&store, "access-b1", 11.0));
    assert_non_null(sim_store_live_token(&store, "seeded", 11.0));
    sim_store_free(&store);
}

/* ---- apps ------------------------------------------------------------ */

static const cJSON *put_app(sim_apps *apps, const char *json, char *error, size_t size)
{
    cJSON *body = cJSON_Parse(json);
    assert_non_null(body);
    const cJSON *app = sim_apps_put(apps, body, error, size);
    cJSON_Delete(body);
    return app;
}

static void test_apps_register_update_validate(void **state)
{
    (void)state;
    sim_apps apps = {0};
    char error[256];
    assert_null(put_app(&apps, "{\"client_id\":\"a1\"}", error, sizeof error));
    assert_non_null(strstr(error, "client_secret"));
    const cJSON *app = put_app(&apps,
                               "{\"client_id\":\"a1\",\"client_secret\":\"s1\","
                               "\"redirect_uris\":[\"http://127.0.0.1:8080/api/haravan/login\"],"
                               "\"webhook\":{\"callback_url\":\"http://127.0.0.1:8080/w\","
                               "\"topics\":[\"orders/create\"]}}",
                               error, sizeof error);
    assert_non_null(app);
    assert_string_equal(sim_app_text(app, "name"), "a1");
    assert_string_equal(sim_app_webhook_text(app, "verify_token"), "");
    assert_true(sim_app_redirect_registered(app, "http://127.0.0.1:8080/api/haravan/login"));
    /* Exact matching only: no prefix, no trailing slash, no case folding. */
    assert_false(sim_app_redirect_registered(app, "http://127.0.0.1:8080/api/haravan/login/"));
    assert_false(sim_app_redirect_registered(app, "http://127.0.0.1:8080/api/haravan/LOGIN"));
    assert_false(sim_app_redirect_registered(app, "http://127.0.0.1:8080/api/haravan"));

    /* An update changes what it names and keeps the rest. */
    app = put_app(&apps, "{\"client_id\":\"a1\",\"webhook\":{\"verify_token\":\"vt\"}}", error,
                  sizeof error);
    assert_non_null(app);
    assert_string_equal(sim_app_webhook_text(app, "verify_token"), "vt");
    assert_string_equal(sim_app_webhook_text(app, "callback_url"), "http://127.0.0.1:8080/w");
    assert_string_equal(sim_app_text(app, "client_secret"), "s1");

    /* A bad field saves nothing. */
    static const char *const refused[] = {
        "{\"client_id\":\"a1\",\"client_secret\":\"new\",\"redirect_uris\":[\"ftp://x/\"]}",
        "{\"client_id\":\"a1\",\"client_secret\":\"new\",\"redirect_uris\":[\"/relative\"]}",
        "{\"client_id\":\"a1\",\"client_secret\":\"new\","
        "\"webhook\":{\"callback_url\":\"http://x/\\\"><script>\"}}",
        "{\"client_id\":\"a1\",\"client_secret\":\"new\","
        "\"webhook\":{\"topics\":[\"Orders Create\"]}}",
        "{\"client_id\":\"a1\",\"client_secret\":\"with space\"}",
        "{\"client_id\":\"a1\",\"client_secret\":\"new\",\"webhook\":[]}",
    };
    for (size_t i = 0; i < COUNT(refused); i++) {
        if (put_app(&apps, refused[i], error, sizeof error) != NULL)
            fail_msg("accepted %s", refused[i]);
    }
    app = sim_apps_find(&apps, "a1");
    assert_string_equal(sim_app_text(app, "client_secret"), "s1");
    assert_null(sim_apps_find(&apps, "a2"));
    assert_int_equal(cJSON_GetArraySize(sim_app_topics(app)), 1);
    sim_apps_free(&apps);
}

/* ---- pages ----------------------------------------------------------- */

static void test_html_escape(void **state)
{
    (void)state;
    buffer out = BUFFER_INIT;
    assert_int_equal(sim_html_escape(&out, "<a href=\"x\">&'Đồng ý"), 0);
    assert_string_equal(buffer_text(&out), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;Đồng ý");
    buffer_free(&out);
}

static void test_consent_page(void **state)
{
    sim_store *store = *state;
    sim_org *org = sim_store_org(store, SEED_ORG);
    const sim_field hidden[] = {{"state", "\"><script>alert(1)</script>"}, {"nonce", "n1"}};
    sim_consent consent = {
        .app_name = "CRM <test>",
        .shop_name = "shop",
        .scopes = "openid wh_api",
        .users = org->users,
        .hidden = hidden,
        .hidden_count = COUNT(hidden),
    };
    buffer page = BUFFER_INIT;
    assert_int_equal(sim_page_consent(&page, &consent), 0);
    const char *html = buffer_text(&page);
    assert_non_null(strstr(html, "<select name=\"user_id\">"));
    assert_non_null(strstr(html, "<button name=\"decision\" value=\"allow\">Đồng ý</button>"));
    assert_non_null(strstr(html, "<button name=\"decision\" value=\"deny\">Từ chối</button>"));
    assert_non_null(strstr(html, "<form method=\"post\" action=\"/connect/authorize\">"));
    /* The owner (200000244880) is the first option and the selected one,
     * though the seed lists someone else first. */
    const char *first_option = strstr(html, "<option ");
    assert_non_null(first_option);
    assert_true(strncmp(first_option, "<option value=\"200000244880\" selected>", 38) == 0);
    assert_null(strstr(strstr(first_option, "</option>"), " selected"));
    assert_null(strstr(html, "<script>"));
    assert_non_null(strstr(html, "value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""));
    assert_non_null(strstr(html, "CRM &lt;test&gt;"));
    assert_non_null(strstr(html, "<code>wh_api</code>"));
    buffer_free(&page);
}

static void test_form_post_page(void **state)
{
    (void)state;
    const sim_field fields[] = {{"code", "c1"}, {"state", "a&b"}, {"absent", NULL}};
    buffer page = BUFFER_INIT;
    assert_int_equal(sim_page_form_post(&page, "http://crm.example/api/haravan/login?x=1&y=2",
                                        fields, COUNT(fields)),
                     0);
    const char *html = buffer_text(&page);
    assert_non_null(strstr(html, "<body onload=\"document.forms[0].submit()\">"));
    assert_non_null(strstr(
        html,
        "<form method=\"post\" action=\"http://crm.example/api/haravan/login?x=1&amp;y=2\">"));
    assert_non_null(strstr(html, "<input type=\"hidden\" name=\"code\" value=\"c1\">"));
    assert_non_null(strstr(html, "<input type=\"hidden\" name=\"state\" value=\"a&amp;b\">"));
    assert_null(strstr(html, "absent"));
    assert_non_null(strstr(html, "<noscript>"));
    buffer_free(&page);
}

/* ---- samples and signatures ------------------------------------------ */

static void test_rest_sample_is_unwrapped(void **state)
{
    (void)state;
    buffer text = BUFFER_INIT;
    char error[300];
    assert_int_equal(sim_sample_read(HARAVAN_SAMPLES_DIR, "order-api-get-single-web-cod.docs.json",
                                     &text, error, sizeof error),
                     0);
    char *body = sim_sample_body(text.data, text.length, error, sizeof error);
    assert_non_null(body);
    cJSON *order = cJSON_Parse(body);
    assert_non_null(order);
    assert_null(cJSON_GetObjectItemCaseSensitive(order, "order"));
    assert_int_equal(sim_record_id(order), 1138637099LL);
    cJSON_Delete(order);
    free(body);
    buffer_free(&text);
}

static void test_webhook_sample_is_sent_as_is_and_signed(void **state)
{
    (void)state;
    buffer text = BUFFER_INIT;
    char error[300];
    const char *name = "order-webhook-payload-haravan_draft_order-paid.captured.json";
    assert_int_equal(sim_sample_read(HARAVAN_SAMPLES_DIR, name, &text, error, sizeof error), 0);
    char *body = sim_sample_body(text.data, text.length, error, sizeof error);
    assert_non_null(body);
    assert_int_equal(strlen(body), text.length);
    assert_memory_equal(body, text.data, text.length);
    char signature[SIM_SIGNATURE_SIZE];
    assert_int_equal(sim_delivery_signature("hv-test-secret-2026", body, strlen(body), signature),
                     0);
    /* tests/data/signatures.txt, from the openssl command line. */
    assert_string_equal(signature, "ZMRCS+6tnX2fyFEvc6CuVrciATEe+RBoeuISHZ68TCE=");
    free(body);
    buffer_free(&text);
}

static void test_samples_refused(void **state)
{
    (void)state;
    buffer text = BUFFER_INIT;
    char error[300];
    assert_int_equal(
        sim_sample_read(HARAVAN_SAMPLES_DIR, "../CMakeLists.txt", &text, error, sizeof error), -1);
    assert_int_equal(sim_sample_read(HARAVAN_SAMPLES_DIR, ".hidden", &text, error, sizeof error),
                     -1);
    assert_int_equal(
        sim_sample_read(HARAVAN_SAMPLES_DIR, "no-such.json", &text, error, sizeof error), -1);
    buffer_free(&text);
    assert_null(sim_sample_body("GET / HTTP/1.1", 14, error, sizeof error));
    assert_null(sim_sample_body("[1,2]", 5, error, sizeof error));
}

/* ---- subscriptions and issued tokens ---------------------------------- */

static void test_subscriptions(void **state)
{
    (void)state;
    sim_subscriptions list = {0};
    cJSON *topics = cJSON_Parse("[\"orders/create\",\"orders/paid\"]");
    assert_non_null(sim_subscriptions_put(&list, SEED_ORG, "app-1", "http://a/w", topics, 0));
    assert_non_null(sim_subscriptions_put(&list, SEED_ORG, "app-2", "http://b/w", topics, 0));
    const sim_subscription *replaced =
        sim_subscriptions_put(&list, SEED_ORG, "app-1", "http://a/w2", topics, 86400);
    assert_non_null(replaced);
    assert_int_equal(list.count, 2);
    assert_string_equal(replaced->created_at, "1970-01-02T00:00:00Z");
    assert_true(sim_subscription_has_topic(replaced, "orders/paid"));
    assert_false(sim_subscription_has_topic(replaced, "orders/cancelled"));
    cJSON *json = sim_subscription_json(replaced);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(json, "callback_url")->valuestring,
                        "http://a/w2");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(json, "org_id")->valuedouble, SEED_ORG);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(json, "topics")), 2);
    assert_null(cJSON_GetObjectItemCaseSensitive(json, "client_id"));
    cJSON_Delete(json);
    assert_null(sim_subscriptions_find(&list, SEED_ORG + 1, "app-1"));
    assert_int_equal(sim_subscriptions_remove(&list, SEED_ORG, "app-1"), 1);
    assert_int_equal(sim_subscriptions_remove(&list, SEED_ORG, "app-1"), 0);
    assert_string_equal(list.items[0].client_id, "app-2");
    cJSON_Delete(topics);
    sim_subscriptions_free(&list);
}

static void test_issued_tokens_expire(void **state)
{
    (void)state;
    sim_store store;
    memset(&store, 0, sizeof store);
    sim_token_grant grant = {SEED_ORG, "openid wh_api", "app-1", 42, 100.0, NULL};
    assert_int_equal(sim_store_issue_token(&store, "t-short", &grant, 10.0), 0);
    grant.expires_at = 1000.0;
    assert_int_equal(sim_store_issue_token(&store, "t-long", &grant, 10.0), 0);
    assert_int_equal(sim_store_put_token(&store, "t-seeded", SEED_ORG, "com.read_shop"), 0);
    const sim_token *token = sim_store_live_token(&store, "t-short", 99.0);
    assert_non_null(token);
    assert_string_equal(token->client_id, "app-1");
    assert_int_equal(token->user_id, 42);
    assert_null(sim_store_live_token(&store, "t-short", 100.0));
    assert_non_null(sim_store_live_token(&store, "t-seeded", 1e9));
    assert_int_equal(sim_store_expire_token(&store, "t-long"), 1);
    assert_null(sim_store_live_token(&store, "t-long", 11.0));
    assert_int_equal(sim_store_expire_token(&store, "t-none"), 0);
    /* Issuing later drops the expired issued token, never a seeded one. */
    assert_int_equal(sim_store_issue_token(&store, "t-new", &grant, 500.0), 0);
    assert_null(sim_store_token(&store, "t-short"));
    assert_non_null(sim_store_token(&store, "t-seeded"));
    sim_store_free(&store);
}

/* ---- generated shops (generate.c) -------------------------------------- */

#define GENERATED_ORG 4242

/* A new org in `store` with `customers` and `orders` made from `seed`. */
static sim_org *generated(sim_store *store, long customers, long orders, unsigned long long seed)
{
    sim_org *org = sim_store_org_create(store, GENERATED_ORG);
    assert_non_null(org);
    char error[200] = "";
    assert_int_equal(sim_generate(sim_store_org(store, SEED_ORG), org, customers, orders, seed,
                                  error, sizeof error),
                     0);
    return org;
}

static char *printed(const cJSON *records)
{
    char *text = cJSON_PrintUnformatted(records);
    assert_non_null(text);
    return text;
}

static void test_generate_is_deterministic(void **state)
{
    (void)state;
    sim_store a, b, c;
    char error[512];
    assert_int_equal(sim_store_load(&a, HARAVAN_SIM_SEED_DIR, error, sizeof error), 0);
    assert_int_equal(sim_store_load(&b, HARAVAN_SIM_SEED_DIR, error, sizeof error), 0);
    assert_int_equal(sim_store_load(&c, HARAVAN_SIM_SEED_DIR, error, sizeof error), 0);
    sim_org *first = generated(&a, 50, 300, 7);
    sim_org *again = generated(&b, 50, 300, 7);
    sim_org *other = generated(&c, 50, 300, 8);
    char *x = printed(first->orders), *y = printed(again->orders), *z = printed(other->orders);
    assert_string_equal(x, y);
    assert_string_not_equal(x, z);
    free(x);
    free(y);
    free(z);
    x = printed(first->customers);
    y = printed(again->customers);
    assert_string_equal(x, y);
    free(x);
    free(y);
    sim_store_free(&a);
    sim_store_free(&b);
    sim_store_free(&c);
}

/* Haravan's ids are global: two shops generated from one seed share no
 * order id and no order body (a guest order has no customer to tell the
 * two apart, and the inbox would take the second for a replay of the
 * first). */
static void test_two_shops_from_one_seed_share_no_order(void **state)
{
    (void)state;
    sim_store store;
    char error[512];
    assert_int_equal(sim_store_load(&store, HARAVAN_SIM_SEED_DIR, error, sizeof error), 0);
    sim_org *first = sim_store_org_create(&store, 9301);
    sim_org *second = sim_store_org_create(&store, 9302);
    assert_non_null(first);
    assert_non_null(second);
    const sim_org *seed = sim_store_org(&store, SEED_ORG);
    assert_int_equal(sim_generate(seed, first, 20, 200, 3, error, sizeof error), 0);
    assert_int_equal(sim_generate(seed, second, 20, 200, 3, error, sizeof error), 0);
    const cJSON *a = NULL;
    cJSON_ArrayForEach(a, first->orders)
    {
        const cJSON *b = NULL;
        cJSON_ArrayForEach(b, second->orders)
        {
            if (sim_record_id(a) == sim_record_id(b))
                fail_msg("order %lld in both shops", sim_record_id(a));
        }
    }
    sim_store_free(&store);
}

static const char *text_of(const cJSON *record, const char *name)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(record, name);
    return cJSON_IsString(value) ? value->valuestring : NULL;
}

/* 1 when `text` is already in `seen` (a list of `count`); else adds it. */
static int seen_before(const char **seen, int *count, const char *text)
{
    for (int i = 0; i < *count; i++)
        if (strcmp(seen[i], text) == 0)
            return 1;
    seen[(*count)++] = text;
    return 0;
}

static void test_generated_customers_are_unique_and_varied(void **state)
{
    sim_org *org = generated(*state, 400, 0, 3);
    static const char *emails[400], *phones[400];
    int email_count = 0, phone_count = 0, no_email = 0, no_phone = 0;
    const cJSON *customer = NULL;
    cJSON_ArrayForEach(customer, org->customers)
    {
        assert_true(sim_record_id(customer) > 2000000000LL);
        const char *email = text_of(customer, "email");
        const char *phone = text_of(customer, "phone");
        if (email == NULL)
            no_email++;
        else
            assert_false(seen_before(emails, &email_count, email));
        if (phone == NULL)
            no_phone++;
        else
            assert_false(seen_before(phones, &phone_count, phone));
        assert_non_null(cJSON_GetObjectItemCaseSensitive(customer, "default_address"));
    }
    assert_int_equal(cJSON_GetArraySize(org->customers), 400);
    assert_true(no_email > 0 && no_email < 100);
    assert_true(no_phone > 0 && no_phone < 100);
}

static void test_generated_orders_have_haravan_shapes(void **state)
{
    sim_org *org = generated(*state, 100, 600, 5);
    int pending = 0, paid = 0, guests = 0, staff = 0, pos = 0, same_second = 0;
    long long largest_run = 0, run = 0;
    const char *previous = "";
    const cJSON *order = NULL;
    cJSON_ArrayForEach(order, org->orders)
    {
        const char *status = text_of(order, "financial_status");
        pending += strcmp(status, "pending") == 0;
        paid += strcmp(status, "paid") == 0;
        guests += cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(order, "customer"));
        const cJSON *user = cJSON_GetObjectItemCaseSensitive(order, "user_id");
        if (user->valuedouble > 0) {
            staff++;
            assert_non_null(sim_record_find(sim_store_org(*state, SEED_ORG)->users,
                                            (long long)user->valuedouble));
        }
        pos += strcmp(text_of(order, "source_name"), "pos") == 0;
        assert_true(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(order, "line_items")) >= 1);
        const char *updated = text_of(order, "updated_at");
        same_second += strcmp(updated, previous) == 0;
        run = strcmp(updated, previous) == 0 ? run + 1 : 1;
        if (run > largest_run)
            largest_run = run;
        previous = updated;
    }
    assert_true(pending > 100 && paid > 200 && guests > 0 && staff > 0 && pos > 0);
    /* Shared seconds, and one instant holding more than a page of 50. */
    assert_true(same_second > 80);
    assert_true(largest_run >= SIM_GENERATE_SAME_INSTANT);
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* A page of an import's listing over 20,000 orders: measured, and bounded
 * well above what it takes so that only a regression (a quadratic
 * listing) fails it, not a loaded machine. */
static void test_listing_20000_orders_is_fast(void **state)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    sim_org *org = generated(*state, 5000, 20000, 11);
    double made = seconds_since(&start);
    const char *text =
        "status=any&limit=50&order=updated_at+asc&updated_at_min=2026-03-01T00:00:00Z";
    form query;
    assert_int_equal(form_parse(&query, text, strlen(text)), 0);
    sim_listing listing;
    char parameter[64], message[200];
    assert_int_equal(sim_listing_parse(&listing, &query, SIM_LISTING_STATUS, parameter,
                                       sizeof parameter, message, sizeof message),
                     0);
    clock_gettime(CLOCK_MONOTONIC, &start);
    cJSON *page = sim_listing_page(&listing, org->orders);
    double listed = seconds_since(&start);
    assert_int_equal(cJSON_GetArraySize(page), 50);
    print_message("generated 25,000 records in %.3f s; one page over 20,000 orders in %.1f ms\n",
                  made, listed * 1000);
    assert_true(listed < 0.5);
    cJSON_Delete(page);
    form_free(&query);
}

static void test_touch_picks_distinct_records_from_the_seed(void **state)
{
    sim_org *org = generated(*state, 10, 200, 9);
    cJSON **touched = NULL;
    size_t count = 0;
    char error[200];
    assert_int_equal(sim_generate_touch(org, SIM_TOUCH_ORDERS, 30, 4, 1780000000123LL, &touched,
                                        &count, error, sizeof error),
                     0);
    assert_int_equal(count, 30);
    long long first_ids[30];
    for (size_t i = 0; i < count; i++) {
        assert_string_equal(text_of(touched[i], "updated_at"), "2026-05-28T20:26:40.123Z");
        first_ids[i] = sim_record_id(touched[i]);
        for (size_t j = 0; j < i; j++)
            assert_true(first_ids[j] != first_ids[i]);
    }
    free(touched);
    /* The same seed picks the same records again. */
    assert_int_equal(sim_generate_touch(org, SIM_TOUCH_ORDERS, 30, 4, 1780000000999LL, &touched,
                                        &count, error, sizeof error),
                     0);
    for (size_t i = 0; i < count; i++)
        assert_int_equal(sim_record_id(touched[i]), first_ids[i]);
    free(touched);
    assert_int_equal(
        sim_generate_touch(org, SIM_TOUCH_ORDERS, 201, 4, 0, &touched, &count, error, sizeof error),
        -1);
}

static void test_new_orders_are_today_and_of_the_shops_customers(void **state)
{
    sim_org *org = generated(*state, 20, 50, 6);
    cJSON **made = NULL;
    size_t count = 0;
    char error[200];
    assert_int_equal(sim_generate_new_orders(sim_store_org(*state, SEED_ORG), org, 10, 3,
                                             1780000000123LL, &made, &count, error, sizeof error),
                     0);
    assert_int_equal(count, 10);
    assert_int_equal(cJSON_GetArraySize(org->orders), 60);
    for (size_t i = 0; i < count; i++) {
        assert_string_equal(text_of(made[i], "updated_at"), "2026-05-28T20:26:40.123Z");
        assert_string_equal(text_of(made[i], "created_at"), "2026-05-28T20:26:40.123Z");
        assert_true(sim_record_id(made[i]) > 3000000050LL);
        const cJSON *customer = cJSON_GetObjectItemCaseSensitive(made[i], "customer");
        if (!cJSON_IsNull(customer))
            assert_non_null(sim_record_find(org->customers, sim_record_id(customer)));
    }
    free(made);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_bucket_admits_80_then_refuses),
        cmocka_unit_test(test_bucket_drains_at_its_rate),
        cmocka_unit_test(test_bucket_counts_calls_by_second),
        cmocka_unit_test(test_retry_after_format),
        cmocka_unit_test(test_records_stay_in_id_order),
        cmocka_unit_test(test_listing_refuses_bad_parameters),
        cmocka_unit_test(test_base64url_vectors),
        cmocka_unit_test(test_jwt_verifies_with_the_jwk),
        cmocka_unit_test(test_key_rotation_changes_kid_and_key),
        cmocka_unit_test(test_hash_half),
        cmocka_unit_test(test_codes_are_single_use_and_bound),
        cmocka_unit_test(test_refresh_tokens),
        cmocka_unit_test(test_reused_code_family_is_revoked),
        cmocka_unit_test(test_apps_register_update_validate),
        cmocka_unit_test(test_html_escape),
        cmocka_unit_test(test_form_post_page),
        cmocka_unit_test(test_rest_sample_is_unwrapped),
        cmocka_unit_test(test_webhook_sample_is_sent_as_is_and_signed),
        cmocka_unit_test(test_samples_refused),
        cmocka_unit_test(test_subscriptions),
        cmocka_unit_test(test_issued_tokens_expire),
    };
    const struct CMUnitTest seeded[] = {
        cmocka_unit_test(test_seed_is_loaded),
        cmocka_unit_test(test_listing_pages_and_filters),
        cmocka_unit_test(test_fields_projection),
        cmocka_unit_test(test_consent_page),
    };
    const struct CMUnitTest generating[] = {
        cmocka_unit_test(test_generate_is_deterministic),
        cmocka_unit_test(test_two_shops_from_one_seed_share_no_order),
        cmocka_unit_test_setup_teardown(test_generated_customers_are_unique_and_varied, load_seed,
                                        free_seed),
        cmocka_unit_test_setup_teardown(test_generated_orders_have_haravan_shapes, load_seed,
                                        free_seed),
        cmocka_unit_test_setup_teardown(test_listing_20000_orders_is_fast, load_seed, free_seed),
        cmocka_unit_test_setup_teardown(test_touch_picks_distinct_records_from_the_seed, load_seed,
                                        free_seed),
        cmocka_unit_test_setup_teardown(test_new_orders_are_today_and_of_the_shops_customers,
                                        load_seed, free_seed),
    };
    int failures = cmocka_run_group_tests_name("sim", pure, NULL, NULL);
    failures += cmocka_run_group_tests_name("sim_generate", generating, NULL, NULL);
    failures += cmocka_run_group_tests_name("sim_seed", seeded, load_seed, free_seed);
    return failures;
}
