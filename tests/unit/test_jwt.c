/*
 * Unit tests for lib/haravan/jwt and lib/haravan/jwks: ID token parsing,
 * RS256 verification against JWKs, claim checks.
 *
 * The key set and every token come from tests/data/jwt/fixtures.json,
 * made once by tests/data/jwt/make-fixtures.py with Python's
 * `cryptography` from keys made by `openssl genpkey`: an implementation
 * independent of ours, so a bug shared by our signer and our verifier
 * cannot hide. Times in the tokens are fixed; the tests pass the
 * fixtures' "now".
 *
 * Covers: a good token (each of two keys, aud as array, no kid with a
 * single-key set), a flipped signature bit, a swapped payload, a token
 * signed by another key under our kid, an unknown kid, a small key,
 * expiry with and without the skew, a future iat, missing claims, wrong
 * aud, azp, iss, nonce, c_hash and at_hash wrong or missing (each is
 * required where it applies), alg none / HS256 / RS512 and crit
 * refused, malformed texts and size limits, the key set's filtering, role
 * as string or array.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "core/buffer.h"
#include "haravan/jwks.h"
#include "haravan/jwt.h"

static cJSON *fixtures;
static hv_jwks key_set;

static int setup(void **state)
{
    (void)state;
    FILE *file = fopen(HARAVAN_TEST_DATA_DIR "/jwt/fixtures.json", "rb");
    if (file == NULL)
        return -1;
    buffer text = BUFFER_INIT;
    char chunk[4096];
    for (size_t got = fread(chunk, 1, sizeof chunk, file); got > 0;
         got = fread(chunk, 1, sizeof chunk, file))
        if (buffer_append(&text, chunk, got) != 0)
            return -1;
    fclose(file);
    fixtures = cJSON_ParseWithLength(text.data, text.length);
    buffer_free(&text);
    if (fixtures == NULL)
        return -1;
    char *jwks = cJSON_PrintUnformatted(cJSON_GetObjectItem(fixtures, "jwks"));
    char error[200];
    int parsed =
        jwks != NULL ? hv_jwks_parse(&key_set, jwks, strlen(jwks), error, sizeof error) : -1;
    free(jwks);
    return parsed;
}

static int teardown(void **state)
{
    (void)state;
    hv_jwks_free(&key_set);
    cJSON_Delete(fixtures);
    return 0;
}

static const char *fixture(const char *name)
{
    const cJSON *value = cJSON_GetObjectItem(fixtures, name);
    assert_true(cJSON_IsString(value));
    return value->valuestring;
}

static const char *token(const char *name)
{
    const cJSON *value = cJSON_GetObjectItem(cJSON_GetObjectItem(fixtures, "tokens"), name);
    if (!cJSON_IsString(value))
        fail_msg("no token %s in the fixtures", name);
    return value->valuestring;
}

static hv_jwt_expect expectations(void)
{
    hv_jwt_expect expect = {
        .issuer = fixture("issuer"),
        .audience = fixture("client_id"),
        .nonce = fixture("nonce"),
        .now = (time_t)cJSON_GetObjectItem(fixtures, "now")->valuedouble,
        .skew_seconds = HV_JWT_CLOCK_SKEW_SECONDS,
    };
    return expect;
}

/* Where an id_token comes from, and so which hash it must carry. */
typedef enum channel {
    FRONT, /* with a code from the authorization endpoint: c_hash */
    BACK,  /* from the token endpoint with an access token: at_hash */
} channel;

/* What a login callback does: parse, find the key, verify, check claims,
 * then the hash the channel requires. Returns the first failure. */
static hv_jwt_status verify_on(const char *name, const hv_jwt_expect *expect, channel from)
{
    const char *text = token(name);
    hv_jwt jwt;
    char error[256] = "";
    hv_jwt_status status = hv_jwt_parse(&jwt, text, strlen(text), error, sizeof error);
    if (status == HV_JWT_OK) {
        EVP_PKEY *key = hv_jwks_find(&key_set, jwt.kid);
        status =
            key == NULL ? HV_JWT_UNKNOWN_KEY : hv_jwt_verify_rs256(&jwt, key, error, sizeof error);
    }
    if (status == HV_JWT_OK)
        status = hv_jwt_check_claims(&jwt, expect, error, sizeof error);
    if (status == HV_JWT_OK && from == FRONT)
        status = hv_jwt_check_hash(&jwt, "c_hash", fixture("code"), error, sizeof error);
    if (status == HV_JWT_OK && from == BACK)
        status = hv_jwt_check_hash(&jwt, "at_hash", fixture("access_token"), error, sizeof error);
    /* Every refusal says why, for the log line. */
    if (status != HV_JWT_OK && error[0] == '\0' && status != HV_JWT_UNKNOWN_KEY)
        fail_msg("%s: %s without a message", name, hv_jwt_status_name(status));
    hv_jwt_free(&jwt);
    return status;
}

static hv_jwt_status verify_with(const char *name, const hv_jwt_expect *expect)
{
    return verify_on(name, expect, FRONT);
}

static hv_jwt_status verify(const char *name)
{
    hv_jwt_expect expect = expectations();
    return verify_with(name, &expect);
}

static void expect_status(const char *name, hv_jwt_status expected)
{
    hv_jwt_status got = verify(name);
    if (got != expected)
        fail_msg("%s: got %s, expected %s", name, hv_jwt_status_name(got),
                 hv_jwt_status_name(expected));
}

/* ---- accepted ------------------------------------------------------------ */

static void test_valid_tokens(void **state)
{
    (void)state;
    expect_status("valid", HV_JWT_OK);
    expect_status("valid_key_2", HV_JWT_OK);
    expect_status("aud_array", HV_JWT_OK);
    expect_status("expired_within_skew", HV_JWT_OK);
    hv_jwt_expect back = expectations();
    assert_int_equal(verify_on("at_hash", &back, BACK), HV_JWT_OK);
}

static void test_claims_are_readable_after_verification(void **state)
{
    (void)state;
    const char *text = token("valid");
    hv_jwt jwt;
    char error[200];
    assert_int_equal(hv_jwt_parse(&jwt, text, strlen(text), error, sizeof error), HV_JWT_OK);
    assert_string_equal(jwt.alg, "RS256");
    assert_string_equal(jwt.kid, "key-1");
    assert_string_equal(hv_jwt_claim(&jwt, "orgid"), "1000114691");
    assert_string_equal(hv_jwt_claim(&jwt, "orgname"), "Cửa hàng Thử");
    assert_string_equal(hv_jwt_claim(&jwt, "email"), "owner@shop.test");
    assert_null(hv_jwt_claim(&jwt, "no_such_claim"));
    assert_null(hv_jwt_claim(&jwt, "exp")); /* a number, not a string */
    assert_true(hv_jwt_claim_contains(&jwt, "role", "admin"));
    assert_false(hv_jwt_claim_contains(&jwt, "role", "staff"));
    hv_jwt_free(&jwt);
}

static void test_role_as_string_or_array(void **state)
{
    (void)state;
    static const struct {
        const char *token;
        int admin;
    } cases[] = {{"valid", 1}, {"role_string", 1}, {"role_staff", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *text = token(cases[i].token);
        hv_jwt jwt;
        char error[200];
        assert_int_equal(hv_jwt_parse(&jwt, text, strlen(text), error, sizeof error), HV_JWT_OK);
        assert_int_equal(hv_jwt_claim_contains(&jwt, "role", "admin"), cases[i].admin);
        hv_jwt_free(&jwt);
    }
}

/* A token without kid is verified with the only key of a one-key set, and
 * with no key of a larger set. */
static void test_missing_kid(void **state)
{
    (void)state;
    expect_status("no_kid", HV_JWT_UNKNOWN_KEY);
    hv_jwks single;
    memset(&single, 0, sizeof single);
    single.count = 1;
    single.keys[0] = key_set.keys[0];
    const char *text = token("no_kid");
    hv_jwt jwt;
    char error[200];
    assert_int_equal(hv_jwt_parse(&jwt, text, strlen(text), error, sizeof error), HV_JWT_OK);
    assert_null(jwt.kid);
    EVP_PKEY *key = hv_jwks_find(&single, NULL);
    assert_non_null(key);
    assert_int_equal(hv_jwt_verify_rs256(&jwt, key, error, sizeof error), HV_JWT_OK);
    hv_jwt_free(&jwt);
}

/* ---- refused ------------------------------------------------------------- */

static void test_signatures(void **state)
{
    (void)state;
    expect_status("wrong_signature", HV_JWT_SIGNATURE);
    expect_status("payload_swapped", HV_JWT_SIGNATURE);
    expect_status("signed_by_key_2_as_key_1", HV_JWT_SIGNATURE);
    expect_status("unknown_kid", HV_JWT_UNKNOWN_KEY);
    /* The 1024-bit key is not even in the set. */
    expect_status("small_key", HV_JWT_UNKNOWN_KEY);
}

static void test_algorithms_are_not_the_tokens_choice(void **state)
{
    (void)state;
    expect_status("alg_none", HV_JWT_ALGORITHM);
    expect_status("alg_none_signed", HV_JWT_ALGORITHM);
    expect_status("alg_hs256", HV_JWT_ALGORITHM);
    expect_status("alg_rs512", HV_JWT_ALGORITHM);
    expect_status("crit_header", HV_JWT_ALGORITHM);
}

static void test_times(void **state)
{
    (void)state;
    expect_status("expired", HV_JWT_EXPIRED);
    expect_status("issued_in_future", HV_JWT_NOT_YET_VALID);
    expect_status("no_exp", HV_JWT_MISSING_CLAIM);
    expect_status("no_iat", HV_JWT_MISSING_CLAIM);
    expect_status("exp_as_string", HV_JWT_MISSING_CLAIM);
    /* The valid token, an hour and a skew later. */
    hv_jwt_expect later = expectations();
    later.now += 3600 + HV_JWT_CLOCK_SKEW_SECONDS;
    assert_int_equal(verify_with("valid", &later), HV_JWT_EXPIRED);
    later.now -= 1;
    assert_int_equal(verify_with("valid", &later), HV_JWT_OK);
    /* ... and before it was issued, beyond the skew. */
    hv_jwt_expect earlier = expectations();
    earlier.now -= HV_JWT_CLOCK_SKEW_SECONDS + 1;
    assert_int_equal(verify_with("valid", &earlier), HV_JWT_NOT_YET_VALID);
}

static void test_audience_issuer_nonce_hashes(void **state)
{
    (void)state;
    expect_status("wrong_aud", HV_JWT_AUDIENCE);
    expect_status("aud_array_without_us", HV_JWT_AUDIENCE);
    expect_status("wrong_azp", HV_JWT_AUDIENCE);
    expect_status("wrong_iss", HV_JWT_ISSUER);
    expect_status("wrong_nonce", HV_JWT_NONCE);
    expect_status("no_nonce", HV_JWT_NONCE);
    expect_status("wrong_c_hash", HV_JWT_HASH);
    /* c_hash is required with a code (Core 3.3.2.11), at_hash with an
     * access token from the token endpoint (this connector's rule). */
    expect_status("no_c_hash", HV_JWT_HASH);
    expect_status("c_hash_not_string", HV_JWT_HASH);
    expect_status("at_hash", HV_JWT_HASH); /* a token endpoint's, shown with a code */
    hv_jwt_expect back = expectations();
    assert_int_equal(verify_on("no_at_hash", &back, BACK), HV_JWT_HASH);
    assert_int_equal(verify_on("wrong_at_hash", &back, BACK), HV_JWT_HASH);
    assert_int_equal(verify_on("valid", &back, BACK), HV_JWT_HASH); /* c_hash only */
    /* Another client id, another issuer (a trailing slash is another). */
    hv_jwt_expect other = expectations();
    other.audience = "another-client";
    assert_int_equal(verify_with("valid", &other), HV_JWT_AUDIENCE);
    other = expectations();
    other.issuer = "https://accounts.haravan.test/";
    assert_int_equal(verify_with("valid", &other), HV_JWT_ISSUER);
    /* Refresh-time id_tokens carry no nonce: NULL skips the check. */
    other = expectations();
    other.nonce = NULL;
    assert_int_equal(verify_with("no_nonce", &other), HV_JWT_OK);
}

static void expect_malformed(const char *text, size_t length)
{
    hv_jwt jwt;
    char error[200] = "";
    hv_jwt_status status = hv_jwt_parse(&jwt, text, length, error, sizeof error);
    if (status == HV_JWT_OK)
        fail_msg("\"%.60s\" parsed", text);
    assert_true(error[0] != '\0');
    assert_null(jwt.claims);
    hv_jwt_free(&jwt);
}

static void test_malformed_texts(void **state)
{
    (void)state;
    const char *good = token("valid");
    const char *first_dot = strchr(good, '.');
    char text[HV_JWT_MAX_LENGTH + 64];
    expect_malformed("", 0);
    expect_malformed("abc", 3);
    expect_malformed("a.b", 3);
    expect_malformed("a.b.c.d", 7);
    expect_malformed("..", 2);
    /* Header "{" (not an object), payload fine. */
    snprintf(text, sizeof text, "ew%s", first_dot);
    expect_malformed(text, strlen(text));
    /* Padding in a part, standard base64 letters, a JWE (five parts). */
    snprintf(text, sizeof text, "%s==", good);
    expect_malformed(text, strlen(text));
    snprintf(text, sizeof text, "%s", good);
    text[strlen(text) - 2] = '+';
    expect_malformed(text, strlen(text));
    expect_malformed("eyJhbGciOiJSUzI1NiJ9.e30.e30.e30.e30", 36);
    /* A signature-less RS256 token. */
    size_t upto = (size_t)(strrchr(good, '.') - good) + 1;
    expect_malformed(good, upto);
    /* Longer than the limit: refused before decoding. */
    memset(text, 'A', sizeof text);
    memcpy(text, good, strlen(good));
    expect_malformed(text, HV_JWT_MAX_LENGTH + 1);
    /* A NUL inside the header bytes ({"alg":"RS256"}\0). */
    expect_malformed("eyJhbGciOiJSUzI1NiJ9AA.e30.AAAA", 31);
    /* NULL text. */
    hv_jwt jwt;
    char error[100];
    assert_int_equal(hv_jwt_parse(&jwt, NULL, 0, error, sizeof error), HV_JWT_MALFORMED);
    hv_jwt_free(&jwt);
}

/* ---- keys ---------------------------------------------------------------- */

static void test_key_set_keeps_only_rs256_signing_keys(void **state)
{
    (void)state;
    /* key-1 and key-2; not the 1024-bit key, the EC key, the "enc" key. */
    assert_int_equal(key_set.count, 2);
    assert_non_null(hv_jwks_find(&key_set, "key-1"));
    assert_non_null(hv_jwks_find(&key_set, "key-2"));
    assert_null(hv_jwks_find(&key_set, "key-small"));
    assert_null(hv_jwks_find(&key_set, "ec-key"));
    assert_null(hv_jwks_find(&key_set, "enc-key"));
    assert_null(hv_jwks_find(&key_set, NULL));
    assert_int_equal(EVP_PKEY_get_bits(hv_jwks_find(&key_set, "key-1")), 2048);
}

static void expect_bad_set(const char *json)
{
    hv_jwks set;
    char error[200] = "";
    assert_int_equal(hv_jwks_parse(&set, json, strlen(json), error, sizeof error), -1);
    assert_true(error[0] != '\0');
    assert_int_equal(set.count, 0);
    hv_jwks_free(&set);
}

static void test_bad_key_sets(void **state)
{
    (void)state;
    expect_bad_set("");
    expect_bad_set("[]");
    expect_bad_set("{\"keys\":{}}");
    expect_bad_set("{\"keys\":[]}");
    expect_bad_set("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}");
    expect_bad_set("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\",\"n\":\"!!\",\"e\":\"AQAB\"}]}");
}

static void test_rsa_key_from_jwk(void **state)
{
    (void)state;
    const cJSON *first =
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(fixtures, "jwks"), "keys"), 0);
    const char *n = cJSON_GetObjectItem(first, "n")->valuestring;
    char error[200];
    EVP_PKEY *key = hv_jwk_rsa_public_key(n, "AQAB", error, sizeof error);
    assert_non_null(key);
    EVP_PKEY_free(key);
    /* Even exponent, exponent 1, padding, standard letters, no n. */
    assert_null(hv_jwk_rsa_public_key(n, "AQAC", error, sizeof error));
    assert_null(hv_jwk_rsa_public_key(n, "AQ", error, sizeof error));
    assert_null(hv_jwk_rsa_public_key(n, "AQAB==", error, sizeof error));
    assert_null(hv_jwk_rsa_public_key(NULL, "AQAB", error, sizeof error));
    assert_null(hv_jwk_rsa_public_key("", "AQAB", error, sizeof error));
    /* A verification with a key of the wrong kind is refused. */
    const char *text = token("valid");
    hv_jwt jwt;
    assert_int_equal(hv_jwt_parse(&jwt, text, strlen(text), error, sizeof error), HV_JWT_OK);
    assert_int_equal(hv_jwt_verify_rs256(&jwt, NULL, error, sizeof error), HV_JWT_BAD_KEY);
    hv_jwt_free(&jwt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_tokens),
        cmocka_unit_test(test_claims_are_readable_after_verification),
        cmocka_unit_test(test_role_as_string_or_array),
        cmocka_unit_test(test_missing_kid),
        cmocka_unit_test(test_signatures),
        cmocka_unit_test(test_algorithms_are_not_the_tokens_choice),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_audience_issuer_nonce_hashes),
        cmocka_unit_test(test_malformed_texts),
        cmocka_unit_test(test_key_set_keeps_only_rs256_signing_keys),
        cmocka_unit_test(test_bad_key_sets),
        cmocka_unit_test(test_rsa_key_from_jwk),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
