/*
 * crypto: HMAC, hashing, comparison, randomness and AES-256-GCM on OpenSSL.
 * See crypto.h for the sealed-value format and why it is bound to a label.
 */
#include "core/crypto.h"

#include <ctype.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define SEAL_VERSION 0x01
#define NONCE_SIZE   12
#define TAG_SIZE     16

int crypto_hmac_sha256(const void *key, size_t key_length, const void *message,
                       size_t message_length, unsigned char digest[CRYPTO_SHA256_SIZE])
{
    unsigned int digest_length = 0;
    if (key_length > (size_t)0x7fffffff)
        return -1;
    /* OpenSSL wants a non-NULL pointer even for empty input. */
    const unsigned char *data = message_length > 0 ? message : (const unsigned char *)"";
    if (HMAC(EVP_sha256(), key, (int)key_length, data, message_length, digest, &digest_length) ==
        NULL)
        return -1;
    return digest_length == CRYPTO_SHA256_SIZE ? 0 : -1;
}

int crypto_sha256_hex(const void *message, size_t length, char hex[2 * CRYPTO_SHA256_SIZE + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char digest[CRYPTO_SHA256_SIZE];
    unsigned int digest_length = 0;
    if (EVP_Digest(message, length, digest, &digest_length, EVP_sha256(), NULL) != 1)
        return -1;
    for (size_t i = 0; i < CRYPTO_SHA256_SIZE; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[2 * CRYPTO_SHA256_SIZE] = '\0';
    return 0;
}

int crypto_bytes_equal(const void *a, const void *b, size_t length)
{
    return CRYPTO_memcmp(a, b, length) == 0;
}

int crypto_strings_equal(const char *a, const char *b)
{
    unsigned char digest_a[CRYPTO_SHA256_SIZE];
    unsigned char digest_b[CRYPTO_SHA256_SIZE];
    unsigned int length_a = 0;
    unsigned int length_b = 0;
    if (EVP_Digest(a, strlen(a), digest_a, &length_a, EVP_sha256(), NULL) != 1)
        return 0;
    if (EVP_Digest(b, strlen(b), digest_b, &length_b, EVP_sha256(), NULL) != 1)
        return 0;
    return CRYPTO_memcmp(digest_a, digest_b, CRYPTO_SHA256_SIZE) == 0;
}

void crypto_wipe(void *bytes, size_t length)
{
    if (bytes != NULL)
        OPENSSL_cleanse(bytes, length);
}

int crypto_random(void *bytes, size_t length)
{
    if (length > (size_t)0x7fffffff)
        return -1;
    return RAND_bytes(bytes, (int)length) == 1 ? 0 : -1;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int crypto_parse_key(const char *text, unsigned char key[CRYPTO_KEY_SIZE])
{
    unsigned char parsed[CRYPTO_KEY_SIZE];
    while (isspace((unsigned char)*text))
        text++;
    for (size_t i = 0; i < CRYPTO_KEY_SIZE; i++) {
        int high = hex_value(text[2 * i]);
        int low = high < 0 ? -1 : hex_value(text[2 * i + 1]);
        if (low < 0) {
            OPENSSL_cleanse(parsed, sizeof parsed);
            return -1;
        }
        parsed[i] = (unsigned char)(high << 4 | low);
    }
    text += 2 * CRYPTO_KEY_SIZE;
    while (isspace((unsigned char)*text))
        text++;
    int valid = *text == '\0';
    if (valid)
        memcpy(key, parsed, sizeof parsed);
    OPENSSL_cleanse(parsed, sizeof parsed);
    return valid ? 0 : -1;
}

static int run_gcm(int encrypt, const unsigned char *key, const unsigned char *nonce,
                   const char *label, const unsigned char *input, size_t length,
                   unsigned char *output, unsigned char *tag)
{
    int ok = 0;
    int written = 0;
    EVP_CIPHER_CTX *context = EVP_CIPHER_CTX_new();
    if (context == NULL || length > (size_t)0x7fffffff)
        goto done;
    if (EVP_CipherInit_ex(context, EVP_aes_256_gcm(), NULL, key, nonce, encrypt) != 1)
        goto done;
    if (EVP_CipherUpdate(context, NULL, &written, (const unsigned char *)label,
                         (int)strlen(label)) != 1)
        goto done;
    if (length > 0 && EVP_CipherUpdate(context, output, &written, input, (int)length) != 1)
        goto done;
    if (!encrypt && EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, TAG_SIZE, tag) != 1)
        goto done;
    if (EVP_CipherFinal_ex(context, output + (length > 0 ? written : 0), &written) != 1)
        goto done;
    if (encrypt && EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, TAG_SIZE, tag) != 1)
        goto done;
    ok = 1;
done:
    EVP_CIPHER_CTX_free(context);
    return ok ? 0 : -1;
}

int crypto_seal(const unsigned char key[CRYPTO_KEY_SIZE], const char *label, const void *plaintext,
                size_t length, buffer *out)
{
    if (buffer_reserve(out, length + CRYPTO_SEAL_OVERHEAD) != 0)
        return -1;
    unsigned char *sealed = (unsigned char *)out->data + out->length;
    sealed[0] = SEAL_VERSION;
    unsigned char *nonce = sealed + 1;
    unsigned char *ciphertext = nonce + NONCE_SIZE;
    unsigned char *tag = ciphertext + length;
    if (crypto_random(nonce, NONCE_SIZE) != 0)
        return -1;
    if (run_gcm(1, key, nonce, label, plaintext, length, ciphertext, tag) != 0)
        return -1;
    out->length += length + CRYPTO_SEAL_OVERHEAD;
    out->data[out->length] = '\0';
    return 0;
}

int crypto_open(const unsigned char key[CRYPTO_KEY_SIZE], const char *label, const void *sealed,
                size_t length, buffer *out)
{
    const unsigned char *bytes = sealed;
    if (length < CRYPTO_SEAL_OVERHEAD || bytes[0] != SEAL_VERSION)
        return -1;
    size_t plaintext_length = length - CRYPTO_SEAL_OVERHEAD;
    if (buffer_reserve(out, plaintext_length) != 0)
        return -1;
    const unsigned char *nonce = bytes + 1;
    const unsigned char *ciphertext = nonce + NONCE_SIZE;
    unsigned char tag[TAG_SIZE];
    memcpy(tag, ciphertext + plaintext_length, TAG_SIZE);
    unsigned char *plaintext = (unsigned char *)out->data + out->length;
    if (run_gcm(0, key, nonce, label, ciphertext, plaintext_length, plaintext, tag) != 0) {
        OPENSSL_cleanse(plaintext, plaintext_length);
        return -1;
    }
    out->length += plaintext_length;
    out->data[out->length] = '\0';
    return 0;
}
