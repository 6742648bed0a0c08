/*
 * jwt_sign: RSA key, JWK and RS256 signing on OpenSSL 3. See jwt_sign.h.
 *
 * Only the EVP interfaces are used (EVP_RSA_gen, EVP_PKEY_get_bn_param,
 * EVP_DigestSign), so nothing here depends on OpenSSL 1.1's deprecated RSA
 * structure. Signing is RSASSA-PKCS1-v1_5 with SHA-256, which is what
 * "RS256" names (RFC 7518 section 3.3).
 */
#include "jwt_sign.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

static const char url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int sim_base64url_append(buffer *out, const unsigned char *bytes, size_t length)
{
    size_t i = 0;
    for (; i + 2 < length; i += 3) {
        unsigned long group =
            (unsigned long)bytes[i] << 16 | (unsigned long)bytes[i + 1] << 8 | bytes[i + 2];
        char quad[4] = {url_alphabet[(group >> 18) & 63], url_alphabet[(group >> 12) & 63],
                        url_alphabet[(group >> 6) & 63], url_alphabet[group & 63]};
        if (buffer_append(out, quad, 4) != 0)
            return -1;
    }
    if (i < length) {
        unsigned long group = (unsigned long)bytes[i] << 16;
        if (i + 1 < length)
            group |= (unsigned long)bytes[i + 1] << 8;
        char tail[3] = {url_alphabet[(group >> 18) & 63], url_alphabet[(group >> 12) & 63],
                        url_alphabet[(group >> 6) & 63]};
        if (buffer_append(out, tail, i + 1 < length ? 3 : 2) != 0)
            return -1;
    }
    /* An empty input still leaves a terminated (empty) text behind. */
    return buffer_append(out, "", 0);
}

int sim_key_generate(sim_key *key)
{
    unsigned char random_bytes[16];
    if (RAND_bytes(random_bytes, sizeof random_bytes) != 1)
        return -1;
    buffer kid = BUFFER_INIT;
    if (sim_base64url_append(&kid, random_bytes, sizeof random_bytes) != 0 ||
        kid.length >= sizeof key->kid) {
        buffer_free(&kid);
        return -1;
    }
    EVP_PKEY *fresh = EVP_RSA_gen(SIM_KEY_BITS);
    if (fresh == NULL) {
        buffer_free(&kid);
        return -1;
    }
    EVP_PKEY_free(key->key);
    key->key = fresh;
    memcpy(key->kid, kid.data, kid.length + 1);
    buffer_free(&kid);
    return 0;
}

void sim_key_free(sim_key *key)
{
    EVP_PKEY_free(key->key);
    memset(key, 0, sizeof *key);
}

/* Adds `name`: the big number's unsigned big-endian bytes as base64url,
 * as a JWK writes "n" and "e" (RFC 7518 section 6.3.1). */
static int add_big_number(cJSON *jwk, const char *name, const EVP_PKEY *key, const char *param)
{
    BIGNUM *number = NULL;
    if (EVP_PKEY_get_bn_param(key, param, &number) != 1)
        return -1;
    int size = BN_num_bytes(number);
    unsigned char *bytes = malloc(size > 0 ? (size_t)size : 1);
    buffer text = BUFFER_INIT;
    int result = -1;
    if (bytes != NULL && BN_bn2bin(number, bytes) == size &&
        sim_base64url_append(&text, bytes, (size_t)size) == 0 &&
        cJSON_AddStringToObject(jwk, name, text.data) != NULL)
        result = 0;
    free(bytes);
    buffer_free(&text);
    BN_free(number);
    return result;
}

cJSON *sim_key_jwk(const sim_key *key)
{
    cJSON *jwk = cJSON_CreateObject();
    if (jwk == NULL || key->key == NULL)
        goto failed;
    if (cJSON_AddStringToObject(jwk, "kty", "RSA") == NULL ||
        cJSON_AddStringToObject(jwk, "use", "sig") == NULL ||
        cJSON_AddStringToObject(jwk, "alg", "RS256") == NULL ||
        cJSON_AddStringToObject(jwk, "kid", key->kid) == NULL ||
        add_big_number(jwk, "n", key->key, OSSL_PKEY_PARAM_RSA_N) != 0 ||
        add_big_number(jwk, "e", key->key, OSSL_PKEY_PARAM_RSA_E) != 0)
        goto failed;
    return jwk;
failed:
    cJSON_Delete(jwk);
    return NULL;
}

/* Appends base64url(JSON text of `document`). */
static int append_encoded_json(buffer *out, const cJSON *document)
{
    char *text = cJSON_PrintUnformatted(document);
    if (text == NULL)
        return -1;
    int result = sim_base64url_append(out, (const unsigned char *)text, strlen(text));
    free(text);
    return result;
}

/* base64url(RS256 signature of the `length` bytes) into `out`, a buffer
 * of its own: the input usually lives in the token being built, which an
 * append could move. */
static int sign_to(buffer *out, EVP_PKEY *key, const char *input, size_t length)
{
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    unsigned char *signature = NULL;
    size_t signature_length = 0;
    int result = -1;
    if (context == NULL || EVP_DigestSignInit(context, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(context, NULL, &signature_length, (const unsigned char *)input, length) != 1)
        goto done;
    signature = malloc(signature_length);
    if (signature == NULL || EVP_DigestSign(context, signature, &signature_length,
                                            (const unsigned char *)input, length) != 1)
        goto done;
    result = sim_base64url_append(out, signature, signature_length);
done:
    free(signature);
    EVP_MD_CTX_free(context);
    return result;
}

char *sim_jwt_sign(const sim_key *key, const cJSON *claims)
{
    if (key->key == NULL || !cJSON_IsObject(claims))
        return NULL;
    cJSON *header = cJSON_CreateObject();
    buffer token = BUFFER_INIT;
    int built = header != NULL && cJSON_AddStringToObject(header, "alg", "RS256") != NULL &&
                cJSON_AddStringToObject(header, "typ", "JWT") != NULL &&
                cJSON_AddStringToObject(header, "kid", key->kid) != NULL &&
                append_encoded_json(&token, header) == 0 && buffer_append_char(&token, '.') == 0 &&
                append_encoded_json(&token, claims) == 0;
    buffer signature = BUFFER_INIT;
    built = built && sign_to(&signature, key->key, token.data, token.length) == 0 &&
            buffer_append_char(&token, '.') == 0 &&
            buffer_append(&token, signature.data, signature.length) == 0;
    buffer_free(&signature);
    cJSON_Delete(header);
    if (!built) {
        buffer_free(&token);
        return NULL;
    }
    return buffer_detach(&token);
}

int sim_hash_half(const char *value, char out[SIM_HASH_HALF_SIZE])
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    if (SHA256((const unsigned char *)value, strlen(value), digest) == NULL)
        return -1;
    buffer text = BUFFER_INIT;
    int result = sim_base64url_append(&text, digest, sizeof digest / 2);
    if (result == 0 && text.length < SIM_HASH_HALF_SIZE)
        memcpy(out, text.data, text.length + 1);
    else
        result = -1;
    buffer_free(&text);
    return result;
}
