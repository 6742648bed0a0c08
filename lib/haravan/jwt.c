/*
 * hv_jwt: compact JWS parsing, RS256 verification with OpenSSL 3, ID token
 * claim checks. See jwt.h for why each refusal exists.
 */
#define _POSIX_C_SOURCE 200809L
#include "haravan/jwt.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include "core/base64.h"
#include "core/crypto.h"

/* Longest exponent accepted, in bytes: 65537 needs 3. */
#define MAX_EXPONENT_BYTES 8
#define MAX_MODULUS_BYTES  (HV_JWT_MAX_RSA_BITS / 8 + 1) /* a leading zero tolerated */

static hv_jwt_status failure(hv_jwt_status status, char *error, size_t error_size,
                             const char *format, ...) __attribute__((format(printf, 4, 5)));

static hv_jwt_status failure(hv_jwt_status status, char *error, size_t error_size,
                             const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(error, error_size, format, arguments);
    va_end(arguments);
    return status;
}

const char *hv_jwt_status_name(hv_jwt_status status)
{
    switch (status) {
    case HV_JWT_OK:
        return "ok";
    case HV_JWT_MALFORMED:
        return "malformed";
    case HV_JWT_ALGORITHM:
        return "algorithm";
    case HV_JWT_UNKNOWN_KEY:
        return "unknown_key";
    case HV_JWT_BAD_KEY:
        return "bad_key";
    case HV_JWT_SIGNATURE:
        return "signature";
    case HV_JWT_ISSUER:
        return "issuer";
    case HV_JWT_AUDIENCE:
        return "audience";
    case HV_JWT_EXPIRED:
        return "expired";
    case HV_JWT_NOT_YET_VALID:
        return "not_yet_valid";
    case HV_JWT_MISSING_CLAIM:
        return "missing_claim";
    case HV_JWT_NONCE:
        return "nonce";
    case HV_JWT_HASH:
        return "hash";
    case HV_JWT_INTERNAL:
        return "internal";
    }
    return "unknown";
}

/* ---- parsing ------------------------------------------------------------ */

/* Decodes one base64url part into a new buffer (NUL-terminated for JSON).
 * Returns 0, or -1 when it is not base64url or memory ran out. */
static int decode_part(const char *text, size_t length, unsigned char **out, size_t *out_length)
{
    size_t capacity = length / 4 * 3 + 3;
    unsigned char *bytes = malloc(capacity + 1);
    if (bytes == NULL)
        return -1;
    long written = base64url_decode(text, length, bytes, capacity);
    if (written < 0) {
        free(bytes);
        return -1;
    }
    bytes[written] = '\0';
    *out = bytes;
    *out_length = (size_t)written;
    return 0;
}

/* A JSON object from a decoded part, or NULL. The whole part must be the
 * object: trailing bytes mean two texts could carry one signature. */
static cJSON *parse_object(const unsigned char *bytes, size_t length)
{
    const char *end = NULL;
    cJSON *document = cJSON_ParseWithLengthOpts((const char *)bytes, length, &end, 0);
    if (document == NULL)
        return NULL;
    while (end != NULL && end < (const char *)bytes + length &&
           (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
        end++;
    if (!cJSON_IsObject(document) || end != (const char *)bytes + length) {
        cJSON_Delete(document);
        return NULL;
    }
    return document;
}

static hv_jwt_status parse_json_part(const char *text, size_t length, const char *what, cJSON **out,
                                     char *error, size_t error_size)
{
    unsigned char *bytes = NULL;
    size_t decoded = 0;
    if (decode_part(text, length, &bytes, &decoded) != 0)
        return failure(HV_JWT_MALFORMED, error, error_size, "the %s is not base64url", what);
    /* A NUL inside would make the text shorter than the bytes signed. */
    if (memchr(bytes, '\0', decoded) != NULL) {
        free(bytes);
        return failure(HV_JWT_MALFORMED, error, error_size, "the %s holds a NUL byte", what);
    }
    *out = parse_object(bytes, decoded);
    free(bytes);
    if (*out == NULL)
        return failure(HV_JWT_MALFORMED, error, error_size, "the %s is not a JSON object", what);
    return HV_JWT_OK;
}

/* Checks the header: the algorithm is ours to choose, not the token's. */
static hv_jwt_status check_header(hv_jwt *jwt, char *error, size_t error_size)
{
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(jwt->header, "alg");
    const cJSON *kid = cJSON_GetObjectItemCaseSensitive(jwt->header, "kid");
    if (!cJSON_IsString(alg))
        return failure(HV_JWT_MALFORMED, error, error_size, "the header has no alg");
    jwt->alg = alg->valuestring;
    if (strcmp(jwt->alg, "RS256") != 0)
        return failure(HV_JWT_ALGORITHM, error, error_size, "alg \"%.20s\" is not RS256", jwt->alg);
    if (cJSON_GetObjectItemCaseSensitive(jwt->header, "crit") != NULL)
        return failure(HV_JWT_ALGORITHM, error, error_size, "the header has a crit extension");
    if (kid != NULL && !cJSON_IsString(kid))
        return failure(HV_JWT_MALFORMED, error, error_size, "kid is not a string");
    jwt->kid = kid != NULL ? kid->valuestring : NULL;
    return HV_JWT_OK;
}

static hv_jwt_status split_and_decode(hv_jwt *jwt, const char *compact, size_t length, char *error,
                                      size_t error_size)
{
    if (length == 0 || length > HV_JWT_MAX_LENGTH)
        return failure(HV_JWT_MALFORMED, error, error_size, "the token is empty or longer than %d",
                       HV_JWT_MAX_LENGTH);
    const char *first = memchr(compact, '.', length);
    const char *second =
        first != NULL ? memchr(first + 1, '.', length - (size_t)(first + 1 - compact)) : NULL;
    if (first == NULL || second == NULL ||
        memchr(second + 1, '.', length - (size_t)(second + 1 - compact)) != NULL)
        return failure(HV_JWT_MALFORMED, error, error_size, "the token is not three parts");
    size_t header_length = (size_t)(first - compact);
    size_t payload_length = (size_t)(second - first - 1);
    size_t signature_length = length - (size_t)(second + 1 - compact);
    hv_jwt_status status =
        parse_json_part(compact, header_length, "header", &jwt->header, error, error_size);
    if (status == HV_JWT_OK)
        status = check_header(jwt, error, error_size);
    if (status == HV_JWT_OK)
        status =
            parse_json_part(first + 1, payload_length, "payload", &jwt->claims, error, error_size);
    if (status != HV_JWT_OK)
        return status;
    if (signature_length == 0 ||
        decode_part(second + 1, signature_length, &jwt->signature, &jwt->signature_length) != 0)
        return failure(HV_JWT_MALFORMED, error, error_size,
                       "the signature is missing or not base64url");
    jwt->signing_input_length = (size_t)(second - compact);
    jwt->signing_input = malloc(jwt->signing_input_length + 1);
    if (jwt->signing_input == NULL)
        return failure(HV_JWT_INTERNAL, error, error_size, "out of memory");
    memcpy(jwt->signing_input, compact, jwt->signing_input_length);
    jwt->signing_input[jwt->signing_input_length] = '\0';
    return HV_JWT_OK;
}

hv_jwt_status hv_jwt_parse(hv_jwt *jwt, const char *compact, size_t length, char *error,
                           size_t error_size)
{
    memset(jwt, 0, sizeof *jwt);
    if (compact == NULL)
        return failure(HV_JWT_MALFORMED, error, error_size, "no token");
    hv_jwt_status status = split_and_decode(jwt, compact, length, error, error_size);
    if (status != HV_JWT_OK)
        hv_jwt_free(jwt);
    return status;
}

void hv_jwt_free(hv_jwt *jwt)
{
    cJSON_Delete(jwt->header);
    cJSON_Delete(jwt->claims);
    free(jwt->signing_input);
    free(jwt->signature);
    memset(jwt, 0, sizeof *jwt);
}

/* ---- keys and signatures -------------------------------------------------- */

/* A big number from base64url, or NULL. */
static BIGNUM *decode_number(const char *text, size_t max_bytes, size_t *bytes_out)
{
    size_t length = strlen(text);
    if (length == 0 || length > (max_bytes * 4 + 2) / 3)
        return NULL;
    unsigned char bytes[MAX_MODULUS_BYTES];
    long written = base64url_decode(text, length, bytes, max_bytes);
    if (written <= 0)
        return NULL;
    *bytes_out = (size_t)written;
    return BN_bin2bn(bytes, (int)written, NULL);
}

static EVP_PKEY *build_key(const BIGNUM *n, const BIGNUM *e)
{
    EVP_PKEY *key = NULL;
    OSSL_PARAM_BLD *builder = OSSL_PARAM_BLD_new();
    OSSL_PARAM *parameters = NULL;
    EVP_PKEY_CTX *context = NULL;
    if (builder == NULL || OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
        OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_E, e) != 1)
        goto done;
    parameters = OSSL_PARAM_BLD_to_param(builder);
    context = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (parameters == NULL || context == NULL || EVP_PKEY_fromdata_init(context) != 1 ||
        EVP_PKEY_fromdata(context, &key, EVP_PKEY_PUBLIC_KEY, parameters) != 1) {
        EVP_PKEY_free(key);
        key = NULL;
    }
done:
    EVP_PKEY_CTX_free(context);
    OSSL_PARAM_free(parameters);
    OSSL_PARAM_BLD_free(builder);
    return key;
}

EVP_PKEY *hv_jwk_rsa_public_key(const char *n_text, const char *e_text, char *error,
                                size_t error_size)
{
    if (n_text == NULL || e_text == NULL) {
        snprintf(error, error_size, "the key has no n or e");
        return NULL;
    }
    size_t n_bytes = 0;
    size_t e_bytes = 0;
    BIGNUM *n = decode_number(n_text, MAX_MODULUS_BYTES, &n_bytes);
    BIGNUM *e = decode_number(e_text, MAX_EXPONENT_BYTES, &e_bytes);
    EVP_PKEY *key = NULL;
    if (n == NULL || e == NULL) {
        snprintf(error, error_size, "n or e is not base64url of an accepted size");
    } else if (BN_num_bits(n) < HV_JWT_MIN_RSA_BITS || BN_num_bits(n) > HV_JWT_MAX_RSA_BITS) {
        snprintf(error, error_size, "an RSA key of %d bits is outside %d..%d", BN_num_bits(n),
                 HV_JWT_MIN_RSA_BITS, HV_JWT_MAX_RSA_BITS);
    } else if (!BN_is_odd(e) || BN_is_one(e)) {
        snprintf(error, error_size, "the RSA exponent is not an odd number above 1");
    } else {
        key = build_key(n, e);
        if (key == NULL)
            snprintf(error, error_size, "OpenSSL refused the RSA key");
    }
    BN_free(n);
    BN_free(e);
    return key;
}

hv_jwt_status hv_jwt_verify_rs256(const hv_jwt *jwt, EVP_PKEY *key, char *error, size_t error_size)
{
    if (jwt->signing_input == NULL || jwt->alg == NULL || strcmp(jwt->alg, "RS256") != 0)
        return failure(HV_JWT_ALGORITHM, error, error_size, "not an RS256 token");
    if (key == NULL || !EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_get_bits(key) < HV_JWT_MIN_RSA_BITS ||
        EVP_PKEY_get_bits(key) > HV_JWT_MAX_RSA_BITS)
        return failure(HV_JWT_BAD_KEY, error, error_size, "the key is not RSA of %d..%d bits",
                       HV_JWT_MIN_RSA_BITS, HV_JWT_MAX_RSA_BITS);
    if (jwt->signature_length != (size_t)EVP_PKEY_get_size(key))
        return failure(HV_JWT_SIGNATURE, error, error_size,
                       "the signature is %zu bytes, the key's size is %d", jwt->signature_length,
                       EVP_PKEY_get_size(key));
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    if (context == NULL)
        return failure(HV_JWT_INTERNAL, error, error_size, "out of memory");
    hv_jwt_status status = HV_JWT_INTERNAL;
    /* EVP_DigestVerify returns 1 for a good signature, 0 for a bad one and
     * a negative value on other errors; only 1 is acceptance. */
    if (EVP_DigestVerifyInit(context, NULL, EVP_sha256(), NULL, key) != 1) {
        failure(status, error, error_size, "OpenSSL cannot verify with this key");
    } else if (EVP_DigestVerify(context, jwt->signature, jwt->signature_length,
                                (const unsigned char *)jwt->signing_input,
                                jwt->signing_input_length) == 1) {
        status = HV_JWT_OK;
    } else {
        status = failure(HV_JWT_SIGNATURE, error, error_size, "the signature does not verify");
    }
    EVP_MD_CTX_free(context);
    return status;
}

/* ---- claims ------------------------------------------------------------------ */

const char *hv_jwt_claim(const hv_jwt *jwt, const char *name)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(jwt->claims, name);
    return cJSON_IsString(value) && value->valuestring[0] != '\0' ? value->valuestring : NULL;
}

/* Reads a NumericDate (RFC 7519: seconds, possibly fractional). */
static int numeric_date(const hv_jwt *jwt, const char *name, double *out)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(jwt->claims, name);
    if (!cJSON_IsNumber(value) || !isfinite(value->valuedouble) || value->valuedouble < 0 ||
        value->valuedouble > 1e12)
        return 0;
    *out = value->valuedouble;
    return 1;
}

static hv_jwt_status check_audience(const hv_jwt *jwt, const char *audience, char *error,
                                    size_t error_size)
{
    const cJSON *aud = cJSON_GetObjectItemCaseSensitive(jwt->claims, "aud");
    int found = 0;
    if (cJSON_IsString(aud)) {
        found = strcmp(aud->valuestring, audience) == 0;
    } else if (cJSON_IsArray(aud)) {
        const cJSON *item = NULL;
        cJSON_ArrayForEach(item, aud)
        {
            if (cJSON_IsString(item) && strcmp(item->valuestring, audience) == 0)
                found = 1;
        }
    }
    if (!found)
        return failure(HV_JWT_AUDIENCE, error, error_size, "aud does not name this client");
    /* Core 3.1.3.7: an azp, when present, must be us. */
    const cJSON *azp = cJSON_GetObjectItemCaseSensitive(jwt->claims, "azp");
    if (azp != NULL && (!cJSON_IsString(azp) || strcmp(azp->valuestring, audience) != 0))
        return failure(HV_JWT_AUDIENCE, error, error_size, "azp names another client");
    return HV_JWT_OK;
}

static hv_jwt_status check_times(const hv_jwt *jwt, const hv_jwt_expect *expect, char *error,
                                 size_t error_size)
{
    double exp = 0;
    double iat = 0;
    double nbf = 0;
    double now = (double)expect->now;
    double skew = (double)expect->skew_seconds;
    if (!numeric_date(jwt, "exp", &exp))
        return failure(HV_JWT_MISSING_CLAIM, error, error_size, "exp is missing or not a number");
    if (!numeric_date(jwt, "iat", &iat))
        return failure(HV_JWT_MISSING_CLAIM, error, error_size, "iat is missing or not a number");
    if (now >= exp + skew)
        return failure(HV_JWT_EXPIRED, error, error_size, "expired %.0f s ago", now - exp);
    if (iat > now + skew)
        return failure(HV_JWT_NOT_YET_VALID, error, error_size, "issued %.0f s in the future",
                       iat - now);
    int has_nbf = cJSON_GetObjectItemCaseSensitive(jwt->claims, "nbf") != NULL;
    if (has_nbf && !numeric_date(jwt, "nbf", &nbf))
        return failure(HV_JWT_MISSING_CLAIM, error, error_size, "nbf is not a number");
    if (has_nbf && nbf > now + skew)
        return failure(HV_JWT_NOT_YET_VALID, error, error_size, "not valid for %.0f s more",
                       nbf - now);
    return HV_JWT_OK;
}

hv_jwt_status hv_jwt_check_claims(const hv_jwt *jwt, const hv_jwt_expect *expect, char *error,
                                  size_t error_size)
{
    if (jwt->claims == NULL || expect->issuer == NULL || expect->audience == NULL)
        return failure(HV_JWT_INTERNAL, error, error_size, "nothing to check against");
    const char *issuer = hv_jwt_claim(jwt, "iss");
    if (issuer == NULL || strcmp(issuer, expect->issuer) != 0)
        return failure(HV_JWT_ISSUER, error, error_size, "iss is not %.200s", expect->issuer);
    hv_jwt_status status = check_audience(jwt, expect->audience, error, error_size);
    if (status == HV_JWT_OK)
        status = check_times(jwt, expect, error, error_size);
    if (status != HV_JWT_OK)
        return status;
    if (hv_jwt_claim(jwt, "sub") == NULL)
        return failure(HV_JWT_MISSING_CLAIM, error, error_size, "sub is missing");
    if (expect->nonce != NULL) {
        const char *nonce = hv_jwt_claim(jwt, "nonce");
        if (nonce == NULL || !crypto_strings_equal(nonce, expect->nonce))
            return failure(HV_JWT_NONCE, error, error_size, "nonce is not the one sent");
    }
    return HV_JWT_OK;
}

hv_jwt_status hv_jwt_check_hash(const hv_jwt *jwt, const char *claim, const char *value,
                                char *error, size_t error_size)
{
    const cJSON *given = cJSON_GetObjectItemCaseSensitive(jwt->claims, claim);
    if (given == NULL)
        return failure(HV_JWT_HASH, error, error_size, "%s is missing", claim);
    unsigned char digest[CRYPTO_SHA256_SIZE];
    unsigned int digest_length = 0;
    char expected[BASE64URL_ENCODED_SIZE(CRYPTO_SHA256_SIZE / 2)];
    if (value == NULL ||
        EVP_Digest(value, strlen(value), digest, &digest_length, EVP_sha256(), NULL) != 1)
        return failure(HV_JWT_INTERNAL, error, error_size, "cannot hash the %s", claim);
    /* RS256: the left-most 128 bits of SHA-256 (Core 3.3.2.11). */
    base64url_encode(digest, CRYPTO_SHA256_SIZE / 2, expected);
    if (!cJSON_IsString(given) || strcmp(given->valuestring, expected) != 0)
        return failure(HV_JWT_HASH, error, error_size, "%s does not match", claim);
    return HV_JWT_OK;
}

/* 1 when `text` holds `value` as a word separated by commas or spaces. */
static int word_in(const char *text, const char *value)
{
    size_t length = strlen(value);
    const char *cursor = text;
    while (*cursor != '\0') {
        cursor += strspn(cursor, ", ");
        size_t word = strcspn(cursor, ", ");
        if (word == length && strncasecmp(cursor, value, length) == 0)
            return 1;
        cursor += word;
    }
    return 0;
}

int hv_jwt_claim_contains(const hv_jwt *jwt, const char *name, const char *value)
{
    const cJSON *claim = cJSON_GetObjectItemCaseSensitive(jwt->claims, name);
    if (cJSON_IsString(claim))
        return word_in(claim->valuestring, value);
    if (!cJSON_IsArray(claim))
        return 0;
    const cJSON *item = NULL;
    cJSON_ArrayForEach(item, claim)
    {
        if (cJSON_IsString(item) && strcasecmp(item->valuestring, value) == 0)
            return 1;
    }
    return 0;
}
