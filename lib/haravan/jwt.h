/*
 * hv_jwt: Haravan's ID tokens: compact JWS (RFC 7515) signed RS256, and the
 * checks OpenID Connect Core section 3.3.2.12 asks of a Hybrid-flow client.
 *
 * An id_token arrives through the merchant's browser (form_post), so until
 * its signature is verified it is just text anyone could have typed. Hence:
 * - The algorithm is not the token's choice. Only "RS256" is accepted;
 *   "none", "HS256" (a verifier that lets HS256 through can be fooled with
 *   the public key as the HMAC secret) and everything else are refused
 *   before any key is touched, and so is any "crit" header extension.
 * - Sizes are capped before decoding (HV_JWT_MAX_LENGTH) and keys must be
 *   RSA of HV_JWT_MIN_RSA_BITS to HV_JWT_MAX_RSA_BITS bits.
 * - Claims are read only after the signature verified: the caller runs
 *   hv_jwt_parse, hv_jwt_verify_rs256, hv_jwt_check_claims in that order,
 *   and trusts nothing from the token before all three return HV_JWT_OK.
 * - Time checks allow HV_JWT_CLOCK_SKEW_SECONDS of clock difference with
 *   Haravan, and take `now` as a parameter so they can be tested.
 *
 * Ownership: a parsed hv_jwt owns its decoded parts (hv_jwt_free); strings
 * returned by the claim readers belong to it. An EVP_PKEY returned by
 * hv_jwk_rsa_public_key belongs to the caller (EVP_PKEY_free).
 */
#ifndef HARAVAN_HARAVAN_JWT_H
#define HARAVAN_HARAVAN_JWT_H

#include <stddef.h>
#include <time.h>

#include <cJSON.h>
#include <openssl/evp.h>

#define HV_JWT_MAX_LENGTH         16384 /* characters of a compact token */
#define HV_JWT_CLOCK_SKEW_SECONDS 120
#define HV_JWT_MIN_RSA_BITS       2048
#define HV_JWT_MAX_RSA_BITS       8192

typedef enum hv_jwt_status {
    HV_JWT_OK = 0,
    HV_JWT_MALFORMED,     /* not header.payload.signature of base64url JSON objects; too long */
    HV_JWT_ALGORITHM,     /* alg other than RS256 (none, HS256, ...), or a crit header */
    HV_JWT_UNKNOWN_KEY,   /* no usable key has the token's kid */
    HV_JWT_BAD_KEY,       /* the key is not RSA of an accepted size */
    HV_JWT_SIGNATURE,     /* the signature does not verify */
    HV_JWT_ISSUER,        /* iss is not the expected issuer */
    HV_JWT_AUDIENCE,      /* aud does not name the client (or azp names another) */
    HV_JWT_EXPIRED,       /* exp is past, beyond the allowed skew */
    HV_JWT_NOT_YET_VALID, /* iat or nbf is in the future, beyond the skew */
    HV_JWT_MISSING_CLAIM, /* exp, iat or sub absent or of the wrong type */
    HV_JWT_NONCE,         /* nonce absent or not the one we sent */
    HV_JWT_HASH,          /* c_hash or at_hash absent, or not matching the code or token */
    HV_JWT_INTERNAL,      /* out of memory, OpenSSL failed */
} hv_jwt_status;

typedef struct hv_jwt {
    cJSON *header;
    cJSON *claims;
    const char *alg;     /* from the header, never NULL after a successful parse */
    const char *kid;     /* from the header, NULL when it has none */
    char *signing_input; /* "header.payload" as received */
    size_t signing_input_length;
    unsigned char *signature;
    size_t signature_length;
} hv_jwt;

typedef struct hv_jwt_expect {
    const char *issuer;   /* iss must equal it exactly */
    const char *audience; /* the client id: aud must be it or an array holding it */
    const char *nonce;    /* must equal it; NULL: not checked (refresh id_tokens have none) */
    time_t now;
    int skew_seconds; /* allowed clock difference; HV_JWT_CLOCK_SKEW_SECONDS */
} hv_jwt_expect;

/* Splits and decodes `compact` (`length` characters) and checks the header:
 * alg RS256, no crit. Returns HV_JWT_OK, or another status with a message
 * in `error` (the jwt is then empty; hv_jwt_free is still safe). */
hv_jwt_status hv_jwt_parse(hv_jwt *jwt, const char *compact, size_t length, char *error,
                           size_t error_size);

void hv_jwt_free(hv_jwt *jwt);

/* The RSA public key of a JWK's `n` and `e` (base64url). Returns the key
 * (caller frees), or NULL with `error` filled when they are not base64url,
 * the modulus is outside HV_JWT_MIN_RSA_BITS..HV_JWT_MAX_RSA_BITS, or the
 * exponent is not an odd number above 1 of at most 64 bits. */
EVP_PKEY *hv_jwk_rsa_public_key(const char *n, const char *e, char *error, size_t error_size);

/* Verifies the RS256 signature of a parsed token with `key`. */
hv_jwt_status hv_jwt_verify_rs256(const hv_jwt *jwt, EVP_PKEY *key, char *error, size_t error_size);

/* The claim checks of an ID token: iss, aud (and azp when present), exp,
 * iat, nbf when present, sub, nonce. */
hv_jwt_status hv_jwt_check_claims(const hv_jwt *jwt, const hv_jwt_expect *expect, char *error,
                                  size_t error_size);

/* c_hash or at_hash (`claim`) against `value` (the code or access token):
 * base64url of the left half of SHA-256(value). The claim is required: a
 * token without it fails as one with a wrong value does. Call it where
 * the hash must be there: c_hash in the id_token that comes with a code
 * from the authorization endpoint (OpenID Connect Core 3.3.2.11: REQUIRED
 * for response_type "code id_token"), at_hash in an id_token the token
 * endpoint returns with an access token (Core makes that one optional;
 * this connector requires it, as Haravan's tokens carry it, so that the
 * token endpoint's id_token is bound to the access token it came with). */
hv_jwt_status hv_jwt_check_hash(const hv_jwt *jwt, const char *claim, const char *value,
                                char *error, size_t error_size);

/* The string claim `name`, or NULL when absent or not a non-empty string. */
const char *hv_jwt_claim(const hv_jwt *jwt, const char *name);

/* 1 when claim `name` is `value`, lists it among words separated by commas
 * or spaces, or is an array with it as an element; case-insensitive (a
 * role "Admin" is an admin). Else 0. */
int hv_jwt_claim_contains(const hv_jwt *jwt, const char *name, const char *value);

/* "ok", "malformed", "algorithm", ...: for logs. Static storage. */
const char *hv_jwt_status_name(hv_jwt_status status);

#endif
