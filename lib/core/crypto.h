/*
 * crypto: the few primitives the connector needs, on OpenSSL.
 *
 * - HMAC-SHA256 and SHA-256, for webhook signatures and dedupe keys;
 * - constant-time comparison, so that a caller probing signatures or
 *   verify tokens learns nothing from response times;
 * - AES-256-GCM sealing of secrets at rest. A sealed value is
 *       version (1 byte, 0x01) | nonce (12) | ciphertext | tag (16)
 *   and is bound to a label (the setting's name) as associated data, so a
 *   ciphertext copied from one setting to another fails to open.
 *
 * No function here keeps state between calls.
 */
#ifndef HARAVAN_CORE_CRYPTO_H
#define HARAVAN_CORE_CRYPTO_H

#include <stddef.h>

#include "core/buffer.h"

#define CRYPTO_SHA256_SIZE   32
#define CRYPTO_KEY_SIZE      32
#define CRYPTO_SEAL_OVERHEAD (1 + 12 + 16)

/* Returns 0, or -1 when OpenSSL failed. */
int crypto_hmac_sha256(const void *key, size_t key_length, const void *message,
                       size_t message_length, unsigned char digest[CRYPTO_SHA256_SIZE]);

/* Writes 64 lowercase hex digits and a NUL into `hex`. Returns 0 or -1. */
int crypto_sha256_hex(const void *message, size_t length, char hex[2 * CRYPTO_SHA256_SIZE + 1]);

/* 1 when the `length` bytes are equal, else 0; time depends on length only. */
int crypto_bytes_equal(const void *a, const void *b, size_t length);

/* 1 when the two strings are equal, else 0; time does not depend on where
 * they differ or on the secret's length (both are hashed first). */
int crypto_strings_equal(const char *a, const char *b);

/* Overwrites `length` bytes in a way the compiler may not optimise away;
 * for plaintext secrets before their memory is freed. */
void crypto_wipe(void *bytes, size_t length);

/* Fills `bytes` from the kernel's CSPRNG. Returns 0 or -1. */
int crypto_random(void *bytes, size_t length);

/* Parses 64 hex digits (surrounding whitespace allowed) into a key.
 * Returns 0, or -1 when the text is not exactly a 32-byte hex key (and
 * `key` is left untouched). */
int crypto_parse_key(const char *text, unsigned char key[CRYPTO_KEY_SIZE]);

/* Appends the sealed form of `plaintext` to `out`. Returns 0 or -1. */
int crypto_seal(const unsigned char key[CRYPTO_KEY_SIZE], const char *label, const void *plaintext,
                size_t length, buffer *out);

/* Appends the plaintext of `sealed` to `out`. Returns 0, or -1 when the
 * value was tampered with, sealed under another key or label, or is not a
 * sealed value at all. */
int crypto_open(const unsigned char key[CRYPTO_KEY_SIZE], const char *label, const void *sealed,
                size_t length, buffer *out);

#endif
