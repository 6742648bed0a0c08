/*
 * base64: RFC 4648 encoding and strict decoding, standard and URL-safe
 * alphabets. See base64.h.
 */
#include "core/base64.h"

static const char standard_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encodes with `alphabet`; pads with '=' when `pad`. */
static void encode(const char *alphabet, int pad, const unsigned char *input, size_t length,
                   char *output)
{
    size_t out = 0;
    size_t i = 0;
    for (; i + 2 < length; i += 3) {
        unsigned long group =
            (unsigned long)input[i] << 16 | (unsigned long)input[i + 1] << 8 | input[i + 2];
        output[out++] = alphabet[(group >> 18) & 63];
        output[out++] = alphabet[(group >> 12) & 63];
        output[out++] = alphabet[(group >> 6) & 63];
        output[out++] = alphabet[group & 63];
    }
    if (i < length) {
        unsigned long group = (unsigned long)input[i] << 16;
        if (i + 1 < length)
            group |= (unsigned long)input[i + 1] << 8;
        output[out++] = alphabet[(group >> 18) & 63];
        output[out++] = alphabet[(group >> 12) & 63];
        if (i + 1 < length)
            output[out++] = alphabet[(group >> 6) & 63];
        else if (pad)
            output[out++] = '=';
        if (pad)
            output[out++] = '=';
    }
    output[out] = '\0';
}

void base64_encode(const unsigned char *input, size_t length, char *output)
{
    encode(standard_alphabet, 1, input, length, output);
}

void base64url_encode(const unsigned char *input, size_t length, char *output)
{
    encode(url_alphabet, 0, input, length, output);
}

/* The value of letter `c` in the standard (`url` 0) or URL-safe alphabet,
 * or -1. */
static int sextet(char c, int url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

/* Decodes unpadded text (padding already checked and removed). */
static long decode(const char *text, size_t text_length, int url, unsigned char *output,
                   size_t capacity)
{
    if (text_length % 4 == 1)
        return -1;
    size_t written = 0;
    unsigned long group = 0;
    int bits = 0;
    for (size_t i = 0; i < text_length; i++) {
        int value = sextet(text[i], url);
        if (value < 0)
            return -1;
        group = (group << 6) | (unsigned long)value;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (written == capacity)
                return -1;
            output[written++] = (unsigned char)((group >> bits) & 0xff);
        }
    }
    /* Leftover bits must be zero, or two texts would decode alike. */
    if ((group & ((1ul << bits) - 1)) != 0)
        return -1;
    return (long)written;
}

long base64_decode(const char *text, size_t text_length, unsigned char *output, size_t capacity)
{
    size_t padding = 0;
    while (text_length > 0 && text[text_length - 1] == '=' && padding < 2) {
        text_length--;
        padding++;
    }
    if (padding > 0 && (text_length + padding) % 4 != 0)
        return -1;
    return decode(text, text_length, 0, output, capacity);
}

long base64url_decode(const char *text, size_t text_length, unsigned char *output, size_t capacity)
{
    /* JWS (RFC 7515 section 2) forbids padding; '=' fails as a letter. */
    return decode(text, text_length, 1, output, capacity);
}
