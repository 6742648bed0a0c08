/*
 * header: HTTP header names as CGI and FastCGI pass them.
 *
 * nginx hands a request header to FastCGI as HTTP_ + the name upper-cased
 * with '-' turned into '_'. That mapping is what makes header names
 * case-insensitive here, and what folds Haravan's spellings
 * X-Haravan-Hmacsha256 and X-Haravan-HmacSha256 into one variable.
 *
 * A header sent twice reaches the worker as one value, its copies joined
 * with ", " (nginx since 1.23; a client may also send "a, b" itself), so
 * a value is read as a comma-separated list (RFC 9110 section 5.6.1).
 */
#ifndef HARAVAN_CORE_HEADER_H
#define HARAVAN_CORE_HEADER_H

#include <stddef.h>

/* Writes the CGI variable for header `name` into `out`. Returns 0, or -1
 * when it does not fit. */
int header_cgi_name(const char *name, char *out, size_t size);

/* The next element of a comma-separated header value, trimmed of spaces
 * and tabs: *start and *length point into the value (not NUL-terminated;
 * an element may be empty, as in "a,,b"). Start with *cursor = the value;
 * returns 1 per element and 0 after the last, when *cursor is NULL. */
int header_next_part(const char **cursor, const char **start, size_t *length);

#endif
