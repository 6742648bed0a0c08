/*
 * phone: canonical phone numbers. See phone.h for the rules; the prefix
 * table is tests/data/vn-phone-prefix-2018.csv (docs/HARAVAN.md section 5),
 * checked row by row against this copy by tests/unit/test_phone.c.
 */
#include "core/phone.h"

#include <string.h>

const phone_prefix_change phone_prefix_changes_2018[] = {
    {"0120", "070"}, {"0121", "079"}, {"0122", "077"}, {"0126", "076"}, {"0128", "078"},
    {"0123", "083"}, {"0124", "084"}, {"0125", "085"}, {"0127", "081"}, {"0129", "082"},
    {"0162", "032"}, {"0163", "033"}, {"0164", "034"}, {"0165", "035"}, {"0166", "036"},
    {"0167", "037"}, {"0168", "038"}, {"0169", "039"}, {"0186", "056"}, {"0188", "058"},
    {"0199", "059"}, {NULL, NULL},
};

#define MAX_DIGITS 15

static int is_separator(char c)
{
    return c == ' ' || c == '.' || c == '-' || c == '(' || c == ')' || c == '\t' || c == '/';
}

/* Keeps the digits; notes a leading '+'. Returns the digit count, or -1
 * for any other character or too many digits. */
static int collect_digits(const char *text, char digits[MAX_DIGITS + 1], int *international)
{
    int count = 0;
    *international = 0;
    while (*text == ' ' || *text == '\t')
        text++;
    if (*text == '+') {
        *international = 1;
        text++;
    }
    for (; *text != '\0'; text++) {
        if (is_separator(*text))
            continue;
        if (*text < '0' || *text > '9' || count == MAX_DIGITS)
            return -1;
        digits[count++] = *text;
    }
    digits[count] = '\0';
    return count;
}

/* Applies the 2018 table to an 11-digit national mobile number. */
static void renumber_2018(char national[MAX_DIGITS + 2])
{
    if (strlen(national) != 11)
        return;
    for (const phone_prefix_change *change = phone_prefix_changes_2018; change->old_prefix != NULL;
         change++) {
        if (strncmp(national, change->old_prefix, 4) == 0) {
            /* 0169 1234567 -> 039 1234567: the new prefix is one digit shorter. */
            memmove(national + 3, national + 4, strlen(national + 4) + 1);
            memcpy(national, change->new_prefix, 3);
            return;
        }
    }
}

/* A Vietnamese national number of a shape in use: 10-digit mobiles
 * (03, 05, 07, 08, 09) and 11-digit landlines (02). */
static int plausible_vietnamese(const char *national)
{
    size_t length = strlen(national);
    if (national[0] != '0')
        return 0;
    if (length == 10)
        return strchr("35789", national[1]) != NULL && national[1] != '\0';
    if (length == 11)
        return national[1] == '2';
    return 0;
}

static int vietnamese(const char *subscriber, char out[PHONE_CANONICAL_SIZE])
{
    char national[MAX_DIGITS + 2];
    if (strlen(subscriber) + 1 > MAX_DIGITS)
        return 0;
    national[0] = '0';
    strcpy(national + 1, subscriber);
    renumber_2018(national);
    if (!plausible_vietnamese(national))
        return 0;
    strcpy(out, national);
    return 1;
}

int phone_canonical(const char *text, char out[PHONE_CANONICAL_SIZE])
{
    char digits[MAX_DIGITS + 1];
    int international = 0;
    out[0] = '\0';
    int count = text != NULL ? collect_digits(text, digits, &international) : -1;
    if (count < 7)
        return 0;
    const char *number = digits;
    if (!international && strncmp(digits, "00", 2) == 0) {
        international = 1;
        number = digits + 2;
    }
    if (international || (strncmp(number, "84", 2) == 0 && count >= 11)) {
        if (strncmp(number, "84", 2) == 0)
            return vietnamese(number + 2, out);
        if (number[0] == '0' || strlen(number) < 8)
            return 0;
        out[0] = '+';
        strcpy(out + 1, number);
        return 1;
    }
    if (number[0] == '0')
        return vietnamese(number + 1, out);
    /* Typed without the leading 0: 912345678, or an old 1691234567. */
    if ((count == 9 && strchr("35789", number[0]) != NULL) || (count == 10 && number[0] == '1'))
        return vietnamese(number, out);
    return 0;
}
