/*
 * hv_jwks: a key set's usable RSA signing keys. See jwks.h.
 */
#include "haravan/jwks.h"

#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "core/json.h"
#include "haravan/jwt.h"

/* 1 when `key` (a JWK object) is meant for RS256 signatures. */
static int is_rs256_signing_key(const cJSON *key)
{
    const char *kty = json_string(key, "kty");
    const char *use = json_string(key, "use");
    const char *alg = json_string(key, "alg");
    return kty != NULL && strcmp(kty, "RSA") == 0 && (use == NULL || strcmp(use, "sig") == 0) &&
           (alg == NULL || strcmp(alg, "RS256") == 0);
}

/* Adds `key` when usable; an unusable one is skipped (see jwks.h). */
static void add_key(hv_jwks *set, const cJSON *key)
{
    const char *kid = json_string(key, "kid");
    if (set->count == HV_JWKS_MAX_KEYS || !cJSON_IsObject(key) || !is_rs256_signing_key(key) ||
        kid == NULL || kid[0] == '\0' || strlen(kid) > HV_JWKS_MAX_KID_LENGTH ||
        hv_jwks_find(set, kid) != NULL)
        return;
    char error[160];
    EVP_PKEY *public_key =
        hv_jwk_rsa_public_key(json_string(key, "n"), json_string(key, "e"), error, sizeof error);
    if (public_key == NULL)
        return;
    hv_jwk *slot = &set->keys[set->count++];
    snprintf(slot->kid, sizeof slot->kid, "%s", kid);
    slot->key = public_key;
}

int hv_jwks_parse(hv_jwks *out, const char *json, size_t length, char *error, size_t error_size)
{
    memset(out, 0, sizeof *out);
    if (json == NULL || length > HV_JWKS_MAX_BYTES) {
        snprintf(error, error_size, "the key set is missing or larger than %d bytes",
                 HV_JWKS_MAX_BYTES);
        return -1;
    }
    cJSON *document = cJSON_ParseWithLength(json, length);
    const cJSON *keys = json_array(document, "keys");
    if (keys == NULL) {
        snprintf(error, error_size, "the key set is not a JSON object with a \"keys\" array");
        cJSON_Delete(document);
        return -1;
    }
    const cJSON *key = NULL;
    cJSON_ArrayForEach(key, keys)
    {
        add_key(out, key);
    }
    cJSON_Delete(document);
    if (out->count == 0) {
        snprintf(error, error_size, "the key set has no usable RS256 key");
        return -1;
    }
    return 0;
}

EVP_PKEY *hv_jwks_find(const hv_jwks *set, const char *kid)
{
    if (kid == NULL)
        return set->count == 1 ? set->keys[0].key : NULL;
    for (size_t i = 0; i < set->count; i++)
        if (strcmp(set->keys[i].kid, kid) == 0)
            return set->keys[i].key;
    return NULL;
}

void hv_jwks_free(hv_jwks *set)
{
    for (size_t i = 0; i < set->count; i++)
        EVP_PKEY_free(set->keys[i].key);
    memset(set, 0, sizeof *set);
}
