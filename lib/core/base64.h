/*
 * base64: the standard alphabet of RFC 4648, as Haravan writes signatures,
 * and the URL-safe one (RFC 4648 section 5, no padding), as JSON Web
 * Tokens, JWKs and our OAuth state values are written.
 *
 * Decoding is strict (no whitespace, no letters of the other alphabet,
 * padding optional but never wrong for base64, never present for
 * base64url) because the input is a signature header or a signed token:
 * a lenient decoder would let two different texts name one signature.
 */
#ifndef HARAVAN_CORE_BASE64_H
#define HARAVAN_CORE_BASE64_H

#include <stddef.h>

/* Bytes needed by base64_encode for `length` input bytes, NUL included. */
#define BASE64_ENCODED_SIZE(length) ((((length) + 2) / 3) * 4 + 1)

/* Writes the NUL-terminated encoding of `input` into `output`, which must
 * hold BASE64_ENCODED_SIZE(length) bytes. */
void base64_encode(const unsigned char *input, size_t length, char *output);

/* Decodes `text` (`text_length` characters) into `output` (`capacity`
 * bytes). Returns the number of bytes written, or -1 when the text is not
 * valid base64 or does not fit. */
long base64_decode(const char *text, size_t text_length, unsigned char *output, size_t capacity);

/* Bytes needed by base64url_encode for `length` input bytes, NUL included
 * (no padding, so at most this). */
#define BASE64URL_ENCODED_SIZE(length) (((length)*4 + 2) / 3 + 1)

/* Writes the NUL-terminated unpadded base64url encoding of `input` into
 * `output`, which must hold BASE64URL_ENCODED_SIZE(length) bytes. */
void base64url_encode(const unsigned char *input, size_t length, char *output);

/* Decodes unpadded base64url. Returns the number of bytes written, or -1
 * when the text has padding, a letter outside the URL-safe alphabet,
 * non-zero leftover bits, or does not fit in `capacity`. */
long base64url_decode(const char *text, size_t text_length, unsigned char *output, size_t capacity);

#endif
