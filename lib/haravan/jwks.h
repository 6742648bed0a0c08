/*
 * hv_jwks: the JSON Web Key Set Haravan publishes at its jwks_uri, as the
 * RSA public keys its id_tokens are verified with.
 *
 * Only keys that can verify an RS256 signature are kept: kty "RSA", use
 * absent or "sig", alg absent or "RS256", a kid, and n and e that make an
 * RSA key of an accepted size (haravan/jwt.h). Others (EC keys, encryption
 * keys, a broken entry) are skipped rather than failing the whole set, so a
 * key Haravan adds for another purpose does not stop logins. A set with no
 * usable key is an error.
 *
 * Ownership: a set owns its keys (hv_jwks_free). A key returned by
 * hv_jwks_find belongs to the set and lives until the set is freed.
 */
#ifndef HARAVAN_HARAVAN_JWKS_H
#define HARAVAN_HARAVAN_JWKS_H

#include <stddef.h>

#include <openssl/evp.h>

#define HV_JWKS_MAX_KEYS       16
#define HV_JWKS_MAX_KID_LENGTH 127
#define HV_JWKS_MAX_BYTES      (256 * 1024) /* of the JSON document */

typedef struct hv_jwk {
    char kid[HV_JWKS_MAX_KID_LENGTH + 1];
    EVP_PKEY *key;
} hv_jwk;

typedef struct hv_jwks {
    hv_jwk keys[HV_JWKS_MAX_KEYS];
    size_t count;
} hv_jwks;

/* Reads a JWKS document. Returns 0, or -1 with `error` filled (not JSON,
 * no "keys" array, no usable key); `out` is then empty. */
int hv_jwks_parse(hv_jwks *out, const char *json, size_t length, char *error, size_t error_size);

/* The key named `kid`; with `kid` NULL (a token without one), the only key
 * when the set has exactly one. NULL when none matches. */
EVP_PKEY *hv_jwks_find(const hv_jwks *set, const char *kid);

void hv_jwks_free(hv_jwks *set);

#endif
