/*
 * fuzz_phone: phone_canonical() (core/phone.h) on any text a customer's
 * phone field can hold.
 *
 * Besides "no crash, no undefined behaviour", what phone.h promises of
 * every input:
 * - 0 leaves `out` "" and 1 leaves a form that fits PHONE_CANONICAL_SIZE:
 *   either a Vietnamese national number, '0' then digits, 10 digits for a
 *   mobile (03, 05, 07, 08, 09) or 11 for a landline (02), or "+" and 8 to
 *   15 digits of another country (never +84, which is written nationally);
 * - it is idempotent: the canonical form of a canonical form is itself,
 *   so a number matches itself however many times it is stored and read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/phone.h"

static int all_digits(const char *text)
{
    if (*text == '\0')
        return 0;
    for (; *text != '\0'; text++)
        if (*text < '0' || *text > '9')
            return 0;
    return 1;
}

static int well_formed(const char *out)
{
    size_t length = strlen(out);
    if (length >= PHONE_CANONICAL_SIZE)
        return 0;
    if (out[0] == '+')
        return all_digits(out + 1) && length - 1 >= 8 && strncmp(out, "+84", 3) != 0 &&
               out[1] != '0';
    if (out[0] != '0' || !all_digits(out))
        return 0;
    if (length == 10)
        return strchr("35789", out[1]) != NULL;
    return length == 11 && out[1] == '2';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char out[PHONE_CANONICAL_SIZE];
    memset(out, 'x', sizeof out);
    int plausible = phone_canonical(text, out);
    free(text);
    if (!plausible) {
        if (out[0] != '\0')
            abort();
        return 0;
    }
    if (plausible != 1 || !well_formed(out))
        abort();
    char again[PHONE_CANONICAL_SIZE];
    if (phone_canonical(out, again) != 1 || strcmp(again, out) != 0)
        abort();
    return 0;
}
