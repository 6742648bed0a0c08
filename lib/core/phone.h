/*
 * phone: canonical forms of phone numbers, so that one person's number
 * matches itself however it was typed.
 *
 * A Vietnamese number becomes its national form with the leading 0, and a
 * number from before the 2018 renumbering of mobiles (11 digits, 01xx...)
 * becomes its 10-digit successor, so that
 *     +84 169 123 4567, 01691234567, 0391234567, (039) 123-4567
 * are all "0391234567". A number of another country keeps its E.164 form
 * ("+14155550100"). Separators (spaces, dots, dashes, parentheses) are
 * ignored; "00" is the international prefix.
 *
 * What is not a plausible number (letters, too short, too long, a
 * Vietnamese number of the wrong shape) has no canonical form: the caller
 * keeps the raw text in the record but never matches on it.
 *
 * Landlines renumbered in 2017 (04 to 024, ...) are not mapped: their old
 * and new forms are treated as different numbers.
 */
#ifndef HARAVAN_CORE_PHONE_H
#define HARAVAN_CORE_PHONE_H

#include <stddef.h>

/* Longest canonical form, NUL included: "+" and 15 digits (E.164). */
#define PHONE_CANONICAL_SIZE 17

/* Writes the canonical form of `text` into `out`. Returns 1 when the text
 * is a plausible phone number, else 0 (and `out` is ""). */
int phone_canonical(const char *text, char out[PHONE_CANONICAL_SIZE]);

/* The 2018 mobile prefix table: old national prefix (4 digits, "0169")
 * and new (3 digits, "039"); ends with a NULL old prefix. */
typedef struct phone_prefix_change {
    const char *old_prefix;
    const char *new_prefix;
} phone_prefix_change;

extern const phone_prefix_change phone_prefix_changes_2018[];

#endif
