/*
 * hv_oauth_state: the state, nonce and browser secret of each authorize
 * request the connector sends a merchant to (hv_oauth_states,
 * sql/connector/004_connect.sql and sql/connector/006_oauth_browser.sql).
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
 * The state travels in the authorize URL, which others may see. So each
 * state is also bound to the browser that started it: a third random value
 * (the browser secret) goes into a cookie of that browser only, its
 * SHA-256 is stored with the state, and a state is consumed only together
 * with its browser's secret. A state shown without it (another browser, or
 * the cookie lost) is refused and left unspent, so that the merchant's own
 * flow still completes.
 *
 * Ownership: state, nonce and browser secret are written into caller-owned
 * arrays.
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

typedef enum hv_oauth_state_result {
    HV_OAUTH_STATE_ERROR = -1,        /* the database failed (`error`) */
    HV_OAUTH_STATE_UNKNOWN = 0,       /* unknown, used, expired, another step, malformed */
    HV_OAUTH_STATE_OK = 1,            /* consumed: the nonce is given */
    HV_OAUTH_STATE_OTHER_BROWSER = 2, /* good, but without its browser's secret: left unspent */
} hv_oauth_state_result;

/* Makes and stores a state, nonce and browser secret for `step` ("login"
 * or "grant"); the caller puts the browser secret in that browser's
 * cookie. Rows older than a day are deleted on the way. Returns 0, or -1
 * with `error` filled. */
int hv_oauth_state_create(db *database, const char *step, char state[HV_OAUTH_STATE_TEXT],
                          char nonce[HV_OAUTH_STATE_TEXT], char browser[HV_OAUTH_STATE_TEXT],
                          char *error, size_t error_size);

/* Consumes `state` for `step` when `browser` (the cookie's value; NULL
 * when the request had none) is its browser secret: HV_OAUTH_STATE_OK with
 * its nonce in `nonce`. Otherwise another result as above; only
 * HV_OAUTH_STATE_OK spends the state. */
hv_oauth_state_result hv_oauth_state_consume(db *database, const char *step, const char *state,
                                             const char *browser, char nonce[HV_OAUTH_STATE_TEXT],
                                             char *error, size_t error_size);

#endif
