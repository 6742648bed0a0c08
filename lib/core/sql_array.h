/*
 * sql_array: several values in one statement parameter, as a PostgreSQL
 * array literal.
 *
 * A statement that writes a list (an order's items, the automation events
 * of one change) runs once with arrays and `unnest()` instead of once per
 * element: one round trip and one executor start instead of N. The values
 * still travel as a parameter, never in the SQL text, so the quoting here
 * is about the array syntax only, not about injection: every element is
 * quoted (so that `NULL`, an empty string, commas and braces stay text) and
 * its `"` and `\` are escaped; a NULL pointer is SQL NULL.
 *
 * Ownership: the caller owns `out`.
 */
#ifndef HARAVAN_CORE_SQL_ARRAY_H
#define HARAVAN_CORE_SQL_ARRAY_H

#include <stddef.h>

#include "core/buffer.h"

/* Appends `{"a",NULL,"b\"c"}` for `count` elements (a NULL pointer is SQL
 * NULL) to `out`, for a text[] parameter. Returns 0, or -1 when memory ran
 * out. */
int sql_text_array(buffer *out, const char *const *elements, size_t count);

#endif
