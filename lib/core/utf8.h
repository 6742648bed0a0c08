/*
 * utf8: telling well-formed UTF-8 from bytes that only look like text.
 *
 * Haravan's deliveries reach PostgreSQL as text and jsonb, which refuse
 * bytes that are not UTF-8: one such byte in a header would make a
 * delivery impossible to store, and Haravan would send it forever. So
 * whatever goes into a text column is repaired first, the way Unicode
 * recommends (each maximal ill-formed subpart becomes one U+FFFD, as
 * Python's and WHATWG's decoders do), and the repair is counted so that
 * it can be said.
 *
 * Ownership: the caller owns every buffer.
 */
#ifndef HARAVAN_CORE_UTF8_H
#define HARAVAN_CORE_UTF8_H

#include <stddef.h>

#include "core/buffer.h"

/* U+FFFD REPLACEMENT CHARACTER in UTF-8. */
#define UTF8_REPLACEMENT "\xEF\xBF\xBD"

/* The length of the well-formed sequence at `p` (Unicode table 3-7), or,
 * when there is none, minus the length of its maximal ill-formed subpart
 * (at least one byte). `available` must be at least 1. */
long utf8_sequence(const unsigned char *p, size_t available);

/* Appends `length` bytes of `text` to `out`, each maximal ill-formed
 * subpart replaced by U+FFFD; *replaced counts them. Returns 0, or -1
 * when memory ran out. */
int utf8_append_repaired(buffer *out, const char *text, size_t length, size_t *replaced);

#endif
