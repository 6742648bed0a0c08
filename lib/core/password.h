/*
 * password: the admin password, stored as PBKDF2-HMAC-SHA256.
 *
 * The stored form is one line of text,
 *
 *     pbkdf2-sha256$ITERATIONS$SALT$HASH
 *
 * with SALT (16 random bytes) and HASH (32 bytes) in standard base64
 * (RFC 4648, padded). The iteration count travels with the hash so that it
 * can be raised later without breaking passwords stored before.
 *
 * 600,000 iterations (OWASP's 2023 figure for PBKDF2-HMAC-SHA256) make one
 * guess cost a fraction of a second of CPU; verification compares in
 * constant time. Callers hold plaintext passwords only as long as needed and
 * wipe them (crypto_wipe).
 *
 * Ownership: text is appended to caller-owned buffers; nothing is kept.
 */
#ifndef HARAVAN_CORE_PASSWORD_H
#define HARAVAN_CORE_PASSWORD_H

#include <stddef.h>

#include "core/buffer.h"

#define PASSWORD_SCHEME     "pbkdf2-sha256"
#define PASSWORD_ITERATIONS 600000u
#define PASSWORD_SALT_SIZE  16
#define PASSWORD_HASH_SIZE  32
#define PASSWORD_MIN_LENGTH 10
#define PASSWORD_MAX_LENGTH 1024
/* Bounds on what a stored string may ask for: a tampered row must not make
 * each login burn minutes of CPU, nor accept a trivially weak hash. */
#define PASSWORD_MIN_ITERATIONS 1000u
#define PASSWORD_MAX_ITERATIONS 10000000u
#define PASSWORD_MAX_SALT_SIZE  64

typedef struct password_stored {
    unsigned iterations;
    unsigned char salt[PASSWORD_MAX_SALT_SIZE];
    size_t salt_length;
    unsigned char hash[PASSWORD_HASH_SIZE];
} password_stored;

/* PBKDF2-HMAC-SHA256 of `password` into `out` (`out_length` bytes).
 * Returns 0, or -1 when OpenSSL failed or a length is out of range. */
int password_pbkdf2(const char *password, size_t password_length, const unsigned char *salt,
                    size_t salt_length, unsigned iterations, unsigned char *out, size_t out_length);

/* Appends the stored form of `password` with the given iterations and salt.
 * Returns 0 or -1. For tests and for password_hash(). */
int password_hash_with(const char *password, unsigned iterations, const unsigned char *salt,
                       size_t salt_length, buffer *out);

/* Appends the stored form of `password` with PASSWORD_ITERATIONS and a
 * fresh random salt. Returns 0 or -1. Length rules are the caller's
 * (password_acceptable). */
int password_hash(const char *password, buffer *out);

/* 1 when `password` may become the admin password (PASSWORD_MIN_LENGTH to
 * PASSWORD_MAX_LENGTH bytes, no control characters), else 0. */
int password_acceptable(const char *password);

/* Parses a stored form. Returns 0, or -1 when it is not one we wrote
 * (scheme, iteration bounds, base64, sizes). */
int password_parse(const char *stored, password_stored *out);

/* 1 when `password` matches `stored`, 0 when it does not, -1 when `stored`
 * cannot be parsed or the derivation failed. The comparison is constant
 * time; the work is the stored iteration count whatever the password. */
int password_verify(const char *password, const char *stored);

#endif
