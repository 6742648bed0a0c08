/*
 * connect_cookie: the cookie that binds an OAuth state to the browser that
 * pressed Kết nối (haravan/oauth_state.h says why; docs/CONNECT.md "The
 * browser cookie").
 *
 * One cookie per step, each sent only to its own callback:
 *   hv_oauth_login  Path={public path}/api/haravan/login
 *   hv_oauth_grant  Path={public path}/api/haravan/grandservice
 * with the browser secret of the step's state (32 random bytes,
 * base64url), Max-Age of the state's life, HttpOnly (no script reads it).
 *
 * It must come back with Haravan's form_post, a cross-site POST from
 * accounts.haravan.com. Browsers send only SameSite=None cookies on those,
 * and take SameSite=None only with Secure, which needs https. So:
 * - HARAVAN_PUBLIC_URL https (production): SameSite=None; Secure.
 * - http (make run, the tests: only on 127.0.0.1, where the simulator on
 *   another port of the same host is same-site, so every cookie comes
 *   along): SameSite=Lax, and no Secure, which an http page cannot set.
 * The session cookie stays SameSite=Strict: this one opens nothing by
 * itself, it only proves which browser a state belongs to.
 *
 * Ownership: lines are appended to the caller's buffer; a value read is
 * copied into the caller's array.
 */
#ifndef HARAVAN_FCGI_CONNECT_COOKIE_H
#define HARAVAN_FCGI_CONNECT_COOKIE_H

#include <stddef.h>

#include "core/buffer.h"
#include "request.h"
#include "worker.h"

#define CONNECT_LOGIN_PATH "/api/haravan/login"
#define CONNECT_GRANT_PATH "/api/haravan/grandservice"

/* Appends "Set-Cookie: ...\r\n" for the cookie of `step` ("login" or
 * "grant") holding `value`, or clearing it when `value` is NULL, for the
 * connector at `public_url` (HARAVAN_PUBLIC_URL; NULL: none). Returns 0 or
 * -1 (memory). */
int connect_cookie_format(const char *public_url, const char *step, const char *value, buffer *out);

/* connect_cookie_format with the worker's HARAVAN_PUBLIC_URL. */
int connect_cookie_line(const worker *w, const char *step, const char *value, buffer *out);

/* Copies the value of the cookie of `step` that came with `r` into `out`.
 * Returns 1 when found, 0 when absent or too long (`out` is then ""). */
int connect_cookie_read(const request *r, const char *step, char *out, size_t size);

#endif
