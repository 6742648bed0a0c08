/*
 * hv_oauth_state: the state and nonce of each authorize request the
 * connector sends a merchant to (hv_oauth_states, sql/004_connect.sql).
 *
 * Haravan's callbacks (/api/haravan/login, /api/haravan/grandservice) are
 * cross-site form posts, so no session cookie comes with them; the state is
 * what ties a callback to an authorize request this connector made, and so
 * it is the callbacks' CSRF defence:
 *   - 32 random bytes, base64url: unguessable;
 *   - only its SHA-256 is stored: the table alone completes nothing;
 *   - bound to one step: a login state cannot finish a grant;
 *   - single use and HV_OAUTH_STATE_SECONDS of life, enforced by one
 *     UPDATE ... WHERE consumed_at IS NULL AND created_at > now() - ...
 *     RETURNING, so two requests racing with one state cannot both pass.
 * The nonce (also 32 random bytes) goes into the authorize request and must
 * come back inside the signed id_token, which binds the token to this
 * request: a token captured elsewhere does not carry it.
 *
 * Ownership: state and nonce are written into caller-owned arrays.
 */
#ifndef HARAVAN_HARAVAN_OAUTH_STATE_H
#define HARAVAN_HARAVAN_OAUTH_STATE_H

#include <stddef.h>

#include "core/base64.h"
#include "core/db.h"

#define HV_OAUTH_STATE_SECONDS    600
#define HV_OAUTH_STATE_BYTES      32
#define HV_OAUTH_STATE_TEXT       BASE64URL_ENCODED_SIZE(HV_OAUTH_STATE_BYTES)
#define HV_OAUTH_STATE_MAX_LENGTH 256 /* longer states are refused unhashed */

/* Makes and stores a state and nonce for `step` ("login" or "grant").
 * Rows older than a day are deleted on the way. Returns 0, or -1 with
 * `error` filled. */
int hv_oauth_state_create(db *database, const char *step, char state[HV_OAUTH_STATE_TEXT],
                          char nonce[HV_OAUTH_STATE_TEXT], char *error, size_t error_size);

/* Consumes `state` for `step`. Returns 1 with its nonce in `nonce` when
 * it was known, unused and young enough; 0 when not (unknown, used,
 * expired, another step, malformed); -1 on a database error (`error`). */
int hv_oauth_state_consume(db *database, const char *step, const char *state,
                           char nonce[HV_OAUTH_STATE_TEXT], char *error, size_t error_size);

#endif
