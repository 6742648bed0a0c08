/*
 * cookie: reading one cookie from a request's Cookie header (RFC 6265
 * section 5.4 syntax: "name=value; name2=value2").
 *
 * Only the admin session cookie is read, and its value is a token we
 * issued, so values are taken as they are (no quotes or %-decoding): a
 * value we did not issue simply matches no session.
 *
 * Ownership: the value is copied into the caller's buffer.
 */
#ifndef HARAVAN_CORE_COOKIE_H
#define HARAVAN_CORE_COOKIE_H

#include <stddef.h>

/* Copies the value of the first cookie called `name` in `header` (may be
 * NULL) into `out`. Returns 1 when found, 0 when absent, -1 when found but
 * longer than size-1 bytes (then `out` is ""). */
int cookie_find(const char *header, const char *name, char *out, size_t size);

#endif
