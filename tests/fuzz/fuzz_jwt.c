/*
 * fuzz_jwt: an id_token as the merchant's browser posts it
 * (haravan/jwt.h), through the steps hv_oidc_verify_id_token() takes once
 * it has the keys: hv_jwt_parse(), the key its kid names, then
 * hv_jwt_verify_rs256(), hv_jwt_check_claims() and hv_jwt_check_hash(),
 * and the claim readers; then the whole of hv_oidc_verify_id_token(), the
 * connect flow's entry point, with a client whose discovery and keys are
 * set here and kept fresh (so it never goes to the network). The keys and
 * the expectations are those of tests/data/jwt/fixtures.json (whose tokens
 * are the seeds), read once at start into this file's own state.
 *
 * Besides "no crash, no leak, no undefined behaviour": the input is not
 * NUL-terminated (hv_jwt_parse() takes a length); a parsed token has alg
 * "RS256" and no crit header, and its signing input is exactly the text
 * before the second dot; a token that verifies was signed by a fixture
 * key, so its signing input is one of a seed's (the fuzzer cannot forge
 * RS256: a verified mutant means the check is broken), and so is one that
 * hv_oidc_verify_id_token() accepts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buffer.h"
#include "core/clock.h"
#include "haravan/http.h"
#include "haravan/jwks.h"
#include "haravan/jwt.h"
#include "haravan/oidc.h"

static cJSON *fixtures;
static hv_jwks keys;
static hv_jwt_expect expect;
static hv_http http;
static hv_oidc oidc;

/* A client of the fixtures' issuer that has discovered it and holds its
 * keys, as a worker does after its first login. */
static int prepare_client(const char *jwks)
{
    char error[256];
    buffer discovery = BUFFER_INIT;
    if (hv_http_init(&http, NULL, error, sizeof error) != 0 ||
        hv_oidc_init(&oidc, &http, expect.issuer, error, sizeof error) != 0 ||
        buffer_printf(&discovery,
                      "{\"issuer\":\"%s\",\"authorization_endpoint\":\"%s/connect/authorize\","
                      "\"token_endpoint\":\"%s/connect/token\",\"jwks_uri\":\"%s/jwks\"}",
                      expect.issuer, expect.issuer, expect.issuer, expect.issuer) != 0)
        return -1;
    hv_oidc_status read =
        hv_oidc_read_discovery(&oidc, discovery.data, discovery.length, error, sizeof error);
    buffer_free(&discovery);
    if (read != HV_OIDC_OK || hv_jwks_parse(&oidc.keys, jwks, strlen(jwks), error, sizeof error))
        return -1;
    oidc.keys_fetched_at = clock_monotonic_seconds();
    return 0;
}

static int load_fixtures(void)
{
    FILE *file = fopen(HARAVAN_TEST_DATA_DIR "/jwt/fixtures.json", "rb");
    if (file == NULL)
        return -1;
    buffer text = BUFFER_INIT;
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, file)) > 0)
        if (buffer_append(&text, chunk, got) != 0)
            abort();
    fclose(file);
    fixtures = cJSON_ParseWithLength(text.data, text.length);
    buffer_free(&text);
    char *jwks = cJSON_PrintUnformatted(cJSON_GetObjectItem(fixtures, "jwks"));
    char error[200];
    if (jwks == NULL || hv_jwks_parse(&keys, jwks, strlen(jwks), error, sizeof error) != 0)
        return -1;
    expect.issuer = cJSON_GetStringValue(cJSON_GetObjectItem(fixtures, "issuer"));
    expect.audience = cJSON_GetStringValue(cJSON_GetObjectItem(fixtures, "client_id"));
    expect.nonce = cJSON_GetStringValue(cJSON_GetObjectItem(fixtures, "nonce"));
    expect.now = (time_t)cJSON_GetNumberValue(cJSON_GetObjectItem(fixtures, "now"));
    expect.skew_seconds = HV_JWT_CLOCK_SKEW_SECONDS;
    int prepared = expect.issuer != NULL ? prepare_client(jwks) : -1;
    free(jwks);
    return prepared;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (load_fixtures() != 0) {
        fprintf(stderr, "fuzz_jwt: cannot read %s/jwt/fixtures.json\n", HARAVAN_TEST_DATA_DIR);
        exit(1);
    }
    return 0;
}

/* 1 when `input` is the signing input of one of the fixture tokens. */
static int is_seed_signing_input(const char *input, size_t length)
{
    const cJSON *token = NULL;
    cJSON_ArrayForEach(token, cJSON_GetObjectItem(fixtures, "tokens"))
    {
        const char *text = cJSON_GetStringValue(token);
        const char *last_dot = text != NULL ? strrchr(text, '.') : NULL;
        if (last_dot != NULL && (size_t)(last_dot - text) == length &&
            memcmp(text, input, length) == 0)
            return 1;
    }
    return 0;
}

static void check_parsed(const hv_jwt *jwt, const char *compact, size_t length)
{
    if (jwt->alg == NULL || strcmp(jwt->alg, "RS256") != 0 ||
        cJSON_GetObjectItem(jwt->header, "crit") != NULL)
        abort();
    const char *dot = memchr(compact, '.', length);
    const char *second =
        dot != NULL ? memchr(dot + 1, '.', length - (size_t)(dot + 1 - compact)) : NULL;
    if (second == NULL || jwt->signing_input_length != (size_t)(second - compact) ||
        memcmp(jwt->signing_input, compact, jwt->signing_input_length) != 0)
        abort();
}

static void check_token(const hv_jwt *jwt)
{
    char error[256];
    EVP_PKEY *key = hv_jwks_find(&keys, jwt->kid);
    if (key == NULL)
        key = keys.keys[0].key;
    hv_jwt_status verified = hv_jwt_verify_rs256(jwt, key, error, sizeof error);
    if (verified == HV_JWT_OK &&
        !is_seed_signing_input(jwt->signing_input, jwt->signing_input_length))
        abort();
    /* The claim checks run here whatever the signature: they must be safe
     * on any claims, even though the connector reads them only after. */
    (void)hv_jwt_check_claims(jwt, &expect, error, sizeof error);
    (void)hv_jwt_check_hash(jwt, "c_hash", "SplxlOBeZQQYbYS6WxSbIA", error, sizeof error);
    (void)hv_jwt_check_hash(jwt, "at_hash", "", error, sizeof error);
    (void)hv_jwt_claim(jwt, "sub");
    (void)hv_jwt_claim_contains(jwt, "role", "admin");
    (void)hv_jwt_claim_contains(jwt, "aud", expect.audience);
}

/* The connect flow's entry point, on the text as a C string (the form
 * field it comes from is one). */
static void check_oidc(const char *compact, size_t length)
{
    char *text = malloc(length + 1);
    if (text == NULL)
        return;
    memcpy(text, compact, length);
    text[length] = '\0';
    /* Fresh, so that neither discovery nor an unknown kid fetches. */
    double now = clock_monotonic_seconds();
    oidc.discovered_at = now;
    oidc.keys_fetched_at = now;
    oidc.keys_refetched_at = now;
    hv_jwt verified;
    char error[256];
    if (hv_oidc_verify_id_token(&oidc, text, expect.audience, expect.nonce, &verified, error,
                                sizeof error) == HV_OIDC_OK) {
        if (!is_seed_signing_input(verified.signing_input, verified.signing_input_length))
            abort();
        hv_jwt_free(&verified);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly `size` bytes, so that ASan sees any read past it. */
    char *compact = malloc(size > 0 ? size : 1);
    if (compact == NULL)
        return 0;
    memcpy(compact, data, size);
    hv_jwt jwt;
    char error[256];
    if (hv_jwt_parse(&jwt, compact, size, error, sizeof error) == HV_JWT_OK) {
        check_parsed(&jwt, compact, size);
        check_token(&jwt);
    }
    hv_jwt_free(&jwt);
    check_oidc(compact, size);
    free(compact);
    return 0;
}
