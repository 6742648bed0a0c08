/*
 * jwt_sign: the simulator's signing key, its JWKS entry and RS256 JSON Web
 * Tokens (RFC 7515, 7517, 7518, 7519), as accounts.haravan.com issues its
 * id_tokens.
 *
 * The key is an RSA 2048 key made at start (and again on /sim/keys/rotate)
 * with OpenSSL 3's EVP API, never read from a file: a test double has no
 * secret worth keeping, and a fresh key per run means a connector that
 * cached an old key is caught. The `kid` is random for the same reason.
 *
 * Ownership: a sim_key owns its EVP_PKEY (sim_key_free). Every char * and
 * cJSON * returned is the caller's to free (free(), cJSON_Delete()).
 */
#ifndef HARAVAN_SIM_JWT_SIGN_H
#define HARAVAN_SIM_JWT_SIGN_H

#include <stddef.h>

#include <cJSON.h>
#include <openssl/evp.h>

#include "core/buffer.h"

#define SIM_KEY_BITS       2048
#define SIM_KID_SIZE       32 /* 16 random bytes as base64url (22) and a NUL, with room */
#define SIM_HASH_HALF_SIZE 24 /* base64url of 16 bytes (22) and a NUL */

typedef struct sim_key {
    EVP_PKEY *key;
    char kid[SIM_KID_SIZE];
} sim_key;

/* Appends base64url without padding (RFC 7515 section 2). Returns 0 or -1. */
int sim_base64url_append(buffer *out, const unsigned char *bytes, size_t length);

/* Makes a new RSA 2048 key with a new random kid. On success the old key
 * (if any) is released; on failure `key` is left as it was. Returns 0 or -1. */
int sim_key_generate(sim_key *key);

void sim_key_free(sim_key *key);

/* {"kty":"RSA","use":"sig","alg":"RS256","kid","n","e"}; NULL on failure. */
cJSON *sim_key_jwk(const sim_key *key);

/* header.payload.signature with header {"alg":"RS256","typ":"JWT","kid"};
 * NULL on failure. */
char *sim_jwt_sign(const sim_key *key, const cJSON *claims);

/* OpenID Connect's c_hash / at_hash: base64url of the left half of
 * SHA-256(value) (OIDC Core 3.3.2.11). Returns 0 or -1. */
int sim_hash_half(const char *value, char out[SIM_HASH_HALF_SIZE]);

#endif
