/*
 * origin: is a state-changing request coming from our own pages?
 *
 * SameSite=Strict cookies already keep the admin session out of most
 * cross-site requests; this is the second, independent check the browser
 * gives us. `Sec-Fetch-Site` (sent by current browsers) must be absent or
 * `same-origin`, and `Origin`, when present, must be the origin of
 * HARAVAN_PUBLIC_URL. Old clients and tools (curl) that send neither pass
 * this check; they still need the session's CSRF token.
 *
 * Origins are compared as RFC 6454 serialises them: lower-case scheme and
 * host, the port only when it is not the scheme's default.
 *
 * Ownership: text is written into caller buffers.
 */
#ifndef HARAVAN_CORE_ORIGIN_H
#define HARAVAN_CORE_ORIGIN_H

#include <stddef.h>

/* Writes the origin of an http:// or https:// URL ("https://crm.example.com"
 * for "https://CRM.example.com:443/x") into `out`. Returns 0, or -1 when the
 * URL is not one or does not fit. */
int origin_of_url(const char *url, char *out, size_t size);

/* 1 when a request with these headers (either NULL when absent) may change
 * state on the site at `public_url` (NULL when not configured: then any
 * Origin is refused), else 0. */
int origin_request_allowed(const char *sec_fetch_site, const char *origin, const char *public_url);

#endif
