/*
 * password: PBKDF2-HMAC-SHA256 hashing and verification. See password.h.
 */
#include "core/password.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/base64.h"
#include "core/crypto.h"

int password_pbkdf2(const char *password, size_t password_length, const unsigned char *salt,
                    size_t salt_length, unsigned iterations, unsigned char *out, size_t out_length)
{
    if (password_length > (size_t)0x7fffffff || salt_length > (size_t)0x7fffffff ||
        out_length > (size_t)0x7fffffff || iterations == 0 || iterations > 0x7fffffffu)
        return -1;
    /* OpenSSL wants a non-NULL pointer even for an empty password. */
    const char *text = password_length > 0 ? password : "";
    if (PKCS5_PBKDF2_HMAC(text, (int)password_length, salt, (int)salt_length, (int)iterations,
                          EVP_sha256(), (int)out_length, out) != 1)
        return -1;
    return 0;
}

int password_hash_with(const char *password, unsigned iterations, const unsigned char *salt,
                       size_t salt_length, buffer *out)
{
    if (salt_length == 0 || salt_length > PASSWORD_MAX_SALT_SIZE)
        return -1;
    unsigned char hash[PASSWORD_HASH_SIZE];
    if (password_pbkdf2(password, strlen(password), salt, salt_length, iterations, hash,
                        sizeof hash) != 0)
        return -1;
    char salt_text[BASE64_ENCODED_SIZE(PASSWORD_MAX_SALT_SIZE)];
    char hash_text[BASE64_ENCODED_SIZE(PASSWORD_HASH_SIZE)];
    base64_encode(salt, salt_length, salt_text);
    base64_encode(hash, sizeof hash, hash_text);
    crypto_wipe(hash, sizeof hash);
    int result =
        buffer_printf(out, "%s$%u$%s$%s", PASSWORD_SCHEME, iterations, salt_text, hash_text);
    crypto_wipe(hash_text, sizeof hash_text);
    return result;
}

int password_hash(const char *password, buffer *out)
{
    unsigned char salt[PASSWORD_SALT_SIZE];
    if (crypto_random(salt, sizeof salt) != 0)
        return -1;
    return password_hash_with(password, PASSWORD_ITERATIONS, salt, sizeof salt, out);
}

int password_acceptable(const char *password)
{
    size_t length = strlen(password);
    if (length < PASSWORD_MIN_LENGTH || length > PASSWORD_MAX_LENGTH)
        return 0;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)password[i];
        if (c < 0x20 || c == 0x7f)
            return 0;
    }
    return 1;
}

/* The next '$'-separated part of `*cursor`, as [start, length); advances
 * past the separator. Returns 0, or -1 when there is no such part. */
static int next_part(const char **cursor, const char **start, size_t *length)
{
    if (*cursor == NULL)
        return -1;
    const char *dollar = strchr(*cursor, '$');
    *start = *cursor;
    *length = dollar != NULL ? (size_t)(dollar - *cursor) : strlen(*cursor);
    *cursor = dollar != NULL ? dollar + 1 : NULL;
    return 0;
}

static int parse_iterations(const char *text, size_t length, unsigned *out)
{
    if (length == 0 || length > 9 || text[0] == '0')
        return -1;
    unsigned long value = 0;
    for (size_t i = 0; i < length; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        value = value * 10 + (unsigned long)(text[i] - '0');
    }
    if (value < PASSWORD_MIN_ITERATIONS || value > PASSWORD_MAX_ITERATIONS)
        return -1;
    *out = (unsigned)value;
    return 0;
}

int password_parse(const char *stored, password_stored *out)
{
    memset(out, 0, sizeof *out);
    const char *cursor = stored;
    const char *part = NULL;
    size_t length = 0;
    if (next_part(&cursor, &part, &length) != 0 || length != strlen(PASSWORD_SCHEME) ||
        memcmp(part, PASSWORD_SCHEME, length) != 0)
        return -1;
    if (next_part(&cursor, &part, &length) != 0 ||
        parse_iterations(part, length, &out->iterations) != 0)
        return -1;
    if (next_part(&cursor, &part, &length) != 0)
        return -1;
    long salt_length = base64_decode(part, length, out->salt, sizeof out->salt);
    if (salt_length < 8)
        return -1;
    out->salt_length = (size_t)salt_length;
    if (next_part(&cursor, &part, &length) != 0 || cursor != NULL)
        return -1;
    unsigned char hash[PASSWORD_HASH_SIZE + 1];
    long hash_length = base64_decode(part, length, hash, sizeof hash);
    if (hash_length != PASSWORD_HASH_SIZE)
        return -1;
    memcpy(out->hash, hash, PASSWORD_HASH_SIZE);
    return 0;
}

int password_verify(const char *password, const char *stored)
{
    password_stored parsed;
    if (password_parse(stored, &parsed) != 0)
        return -1;
    unsigned char derived[PASSWORD_HASH_SIZE];
    if (password_pbkdf2(password, strlen(password), parsed.salt, parsed.salt_length,
                        parsed.iterations, derived, sizeof derived) != 0)
        return -1;
    int equal = CRYPTO_memcmp(derived, parsed.hash, PASSWORD_HASH_SIZE) == 0;
    crypto_wipe(derived, sizeof derived);
    crypto_wipe(&parsed, sizeof parsed);
    return equal;
}
