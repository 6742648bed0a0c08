/*
 * utf8: well-formedness and repair. See utf8.h.
 */
#include "core/utf8.h"

/* The lead byte's sequence length, and the range of its second byte
 * (narrower than 80..BF for E0, ED, F0 and F4: no overlong forms, no
 * surrogates, nothing above U+10FFFF). Returns 0 for a byte that cannot
 * start a sequence. */
static size_t lead_length(unsigned char lead, unsigned char *low, unsigned char *high)
{
    *low = 0x80;
    *high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF)
        return 2;
    if (lead == 0xE0)
        *low = 0xA0;
    else if (lead == 0xED)
        *high = 0x9F;
    else if (lead == 0xF0)
        *low = 0x90;
    else if (lead == 0xF4)
        *high = 0x8F;
    if (lead >= 0xE0 && lead <= 0xEF)
        return 3;
    if (lead >= 0xF0 && lead <= 0xF4)
        return 4;
    return 0;
}

long utf8_sequence(const unsigned char *p, size_t available)
{
    if (p[0] < 0x80)
        return 1;
    unsigned char low;
    unsigned char high;
    size_t length = lead_length(p[0], &low, &high);
    if (length == 0)
        return -1;
    for (size_t i = 1; i < length; i++) {
        if (i >= available || p[i] < low || p[i] > high)
            return -(long)i;
        low = 0x80;
        high = 0xBF;
    }
    return (long)length;
}

int utf8_append_repaired(buffer *out, const char *text, size_t length, size_t *replaced)
{
    *replaced = 0;
    size_t at = 0;
    while (at < length) {
        long n = utf8_sequence((const unsigned char *)text + at, length - at);
        int result = 0;
        if (n > 0) {
            result = buffer_append(out, text + at, (size_t)n);
            at += (size_t)n;
        } else {
            result = buffer_append(out, UTF8_REPLACEMENT, 3);
            (*replaced)++;
            at += (size_t)-n;
        }
        if (result != 0)
            return -1;
    }
    return 0;
}
