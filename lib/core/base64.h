/*
 * base64: the standard alphabet of RFC 4648, as Haravan writes signatures.
 *
 * Decoding is strict (no whitespace, no URL-safe letters, padding optional
 * but never wrong) because its only input here is a signature header: a
 * lenient decoder would let two different headers name one signature.
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

#endif
