/*
 * admin: who may use the admin routes (the settings page and its API).
 *
 * Two ways in, chosen by configuration:
 *
 *   - sessions (default): the merchant signs in with the admin password
 *     (`haravan-ctl admin password`; POST /api/haravan/admin/login). The
 *     browser gets cookie hv_session, a random 32-byte token (base64url);
 *     hv_admin_sessions keeps only its SHA-256, the session's CSRF token and
 *     an expiry 12 hours on.
 *   - HARAVAN_ADMIN_AUTH=crm: the CRM's nginx asks the CRM's sign-in check
 *     (auth_request, nginx/haravan-location.conf) and passes the identity
 *     it answers with as FastCGI parameter HARAVAN_ADMIN_IDENTITY; a
 *     non-empty value is trusted and sessions are off. Never a request
 *     header: nginx passes every header a client sends as HTTP_*, so a
 *     header would let anyone on the internet in. The CSRF token is then
 *     HMAC(key from HARAVAN_MASTER_KEY, identity, 12-hour window), so no
 *     state is kept; the token of the previous window is accepted too.
 *
 * Either way, a state-changing request must not come cross-site
 * (core/origin.h) and must carry the CSRF token, in header X-CSRF-Token or
 * form field `csrf`, compared in constant time.
 *
 * Cookies and tokens are never logged; nothing here writes them anywhere
 * but the reply and (hashed) the database.
 */
#ifndef HARAVAN_FCGI_ADMIN_H
#define HARAVAN_FCGI_ADMIN_H

#include <stddef.h>

#include "request.h"
#include "worker.h"

#define ADMIN_COOKIE          "hv_session"
#define ADMIN_SESSION_SECONDS (12 * 3600)
/* Admin bodies are a handful of fields; anything larger is not ours. */
#define ADMIN_MAX_BODY (64 * 1024)
/* 32 random bytes in base64url without padding, and a NUL. */
#define ADMIN_TOKEN_SIZE 44
/* Set by nginx/haravan-location.conf from the CRM's sign-in check. */
#define ADMIN_IDENTITY_PARAM "HARAVAN_ADMIN_IDENTITY"
/* An email or a user id; anything longer is not one. */
#define ADMIN_IDENTITY_MAX 256

/* Returns 1 when the request may go on; else it has replied 401 (no
 * session) or 403 (cross-site, or a state-changing request without the
 * session's CSRF token) and returns 0. It may also have replied 413 or 400
 * (a form body too large or cut short, read to find the `csrf` field) or
 * 503 (the database is unreachable). For a state-changing form request the
 * body may have been read: use admin_read_body, not request_read_body. */
int admin_require(worker *w, request *r, int state_changing);

/* Reads the body within ADMIN_MAX_BODY, once: a second call (after
 * admin_require read it) returns the first result without reading. */
enum request_body_result admin_read_body(request *r);

/* 1 when HARAVAN_ADMIN_AUTH=crm (sessions are off). */
int admin_crm_mode(const worker *w);

/* 1 when the request passes the cross-site check of core/origin.h and,
 * when it has no Origin, carries no Referer of another origin. */
int admin_same_origin(const worker *w, const request *r);

/* Who is asking: 1 when signed in (session cookie or the CRM's identity), with
 * the CSRF token to expect written into `csrf`; 0 when not; -1 when the
 * database (or, in crm mode, the master key) is unavailable. */
int admin_identify(worker *w, const request *r, char csrf[ADMIN_TOKEN_SIZE]);

/* Starts a session: writes its cookie token and CSRF token. Also removes
 * expired sessions. Returns 0, or -1 (database or randomness). */
int admin_session_start(worker *w, char token[ADMIN_TOKEN_SIZE], char csrf[ADMIN_TOKEN_SIZE]);

/* Ends the request's session, if it has one. Returns 0 or -1. */
int admin_session_end(worker *w, const request *r);

/* Appends the complete "Set-Cookie: ...\r\n" line for `token`, or one that
 * removes the cookie when `token` is NULL. Returns 0 or -1. */
int admin_cookie_line(const worker *w, const char *token, buffer *out);

/* Replies 401 {"error":"not signed in","login":"password"|"crm"}: the page
 * shows its password form, or sends the user to the CRM to sign in. */
void admin_reply_unauthenticated(const worker *w, request *r);

#endif
