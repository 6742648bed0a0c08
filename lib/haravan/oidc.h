/*
 * hv_oidc: the connector as an OpenID Connect client of Haravan's accounts
 * service (docs/HARAVAN.md section 1): discovery, the signing keys, id_token
 * verification, the authorize URL, and the token endpoint's two grants.
 *
 * Why it is built this way:
 * - Everything is found through discovery at
 *   {HARAVAN_ACCOUNTS_URL}/.well-known/openid-configuration, so the same
 *   code runs against accounts.haravan.com and the simulator. The document
 *   must name the configured URL as its issuer (OpenID Connect Discovery
 *   section 4.3), and when that URL is https every endpoint must be https
 *   too: a tampered document cannot send codes or secrets elsewhere. It is
 *   kept for HV_OIDC_DISCOVERY_SECONDS; a failed reload keeps the old one.
 * - Keys are fetched from jwks_uri and cached per process. A token whose
 *   kid is unknown makes the process fetch them again (Haravan rotated its
 *   key), but at most once per HV_OIDC_JWKS_REFETCH_SECONDS: anyone can
 *   post tokens with made-up kids, and must not be able to make us hammer
 *   Haravan. Keys older than HV_OIDC_JWKS_MAX_AGE_SECONDS are fetched
 *   again before use, so a key Haravan withdrew stops being trusted.
 * - The client authenticates at the token endpoint with client_id and
 *   client_secret in the form body (client_secret_post), as docs/HARAVAN.md and
 *   Haravan's samples do; the body is sent as
 *   application/x-www-form-urlencoded, the only type a conformant token
 *   endpoint takes (RFC 6749 3.2; the simulator refuses any other).
 * - Failures are values that say what to do: HV_OIDC_INVALID_GRANT (the
 *   code or refresh token is dead: reconnect, never retry),
 *   HV_OIDC_REFUSED (another OAuth error: the app's configuration is
 *   wrong), HV_OIDC_UNAVAILABLE (network, 5xx, an unreadable answer: try
 *   later), HV_OIDC_INVALID_TOKEN (an id_token failed a check). Messages
 *   never hold a code, token or secret.
 *
 * Ownership: an hv_oidc borrows its hv_http (which must outlive it) and
 * owns its copies of the URLs and the cached keys (hv_oidc_free). Tokens
 * returned in hv_oidc_tokens belong to the caller: hv_oidc_tokens_free
 * wipes and frees them. A verified hv_jwt belongs to the caller
 * (hv_jwt_free).
 */
#ifndef HARAVAN_HARAVAN_OIDC_H
#define HARAVAN_HARAVAN_OIDC_H

#include <stddef.h>

#include "core/buffer.h"
#include "haravan/http.h"
#include "haravan/jwks.h"
#include "haravan/jwt.h"

#define HV_OIDC_DISCOVERY_SECONDS    3600
#define HV_OIDC_JWKS_REFETCH_SECONDS 60
#define HV_OIDC_JWKS_MAX_AGE_SECONDS 86400
#define HV_OIDC_DISCOVERY_PATH       "/.well-known/openid-configuration"
#define HV_OIDC_MAX_TOKEN_FIELD      8192 /* characters of one token in an answer */

typedef enum hv_oidc_status {
    HV_OIDC_OK = 0,
    HV_OIDC_INVALID_TOKEN, /* an id_token failed a check */
    HV_OIDC_INVALID_GRANT, /* the code or refresh token is expired, used or revoked */
    HV_OIDC_REFUSED,       /* another OAuth error: invalid_client, unauthorized_client, ... */
    HV_OIDC_UNAVAILABLE,   /* network, timeout, 5xx, an answer that is not what OAuth says */
    HV_OIDC_INTERNAL,      /* out of memory, bad arguments */
} hv_oidc_status;

typedef struct hv_oidc {
    hv_http *http;      /* borrowed */
    char *accounts_url; /* without a trailing '/' */
    int discovered;
    double discovered_at; /* monotonic seconds */
    char *issuer;
    char *authorization_endpoint;
    char *token_endpoint;
    char *jwks_uri;
    hv_jwks keys;
    double keys_fetched_at;   /* monotonic; 0: never */
    double keys_refetched_at; /* of the last fetch for an unknown kid; 0: never */
} hv_oidc;

typedef struct hv_oidc_client {
    const char *client_id;
    const char *client_secret;
} hv_oidc_client;

/* A token endpoint's answer. Strings are NULL when absent. */
typedef struct hv_oidc_tokens {
    char *access_token;
    char *refresh_token;
    char *id_token;
    char *scope;
    long long expires_in; /* seconds; 0 when the answer did not say */
} hv_oidc_tokens;

typedef struct hv_oidc_authorize {
    const char *client_id;
    const char *redirect_uri;
    const char *scope; /* space-separated */
    const char *state;
    const char *nonce;
    const char *orgid; /* NULL, or the shop to pre-select */
} hv_oidc_authorize;

/* Prepares a client of the accounts service at `accounts_url` (nothing is
 * fetched yet). Returns 0, or -1 with `error` filled. */
int hv_oidc_init(hv_oidc *oidc, hv_http *http, const char *accounts_url, char *error,
                 size_t error_size);

void hv_oidc_free(hv_oidc *oidc);

/* Loads the discovery document unless a fresh one is held. Returns
 * HV_OIDC_OK, or HV_OIDC_UNAVAILABLE with `error` filled. */
hv_oidc_status hv_oidc_discover(hv_oidc *oidc, char *error, size_t error_size);

/* Appends the authorize URL (discovered endpoint and %-encoded `params`,
 * response_type "code id_token", response_mode form_post) to `out`. */
hv_oidc_status hv_oidc_authorize_url(hv_oidc *oidc, const hv_oidc_authorize *params, buffer *out,
                                     char *error, size_t error_size);

/* Verifies `id_token`: signature with the key its kid names (fetching the
 * keys again as described above), then iss (the discovered issuer), aud
 * (`client_id`), times, sub and, when `nonce` is not NULL, the nonce.
 * HV_OIDC_OK: `out` holds the verified token (caller frees). Otherwise
 * `out` is empty and `error` says why (HV_OIDC_INVALID_TOKEN, or
 * HV_OIDC_UNAVAILABLE when the keys cannot be had). */
hv_oidc_status hv_oidc_verify_id_token(hv_oidc *oidc, const char *id_token, const char *client_id,
                                       const char *nonce, hv_jwt *out, char *error,
                                       size_t error_size);

/* grant_type=authorization_code with `code` and the `redirect_uri` of the
 * authorize request. HV_OIDC_OK: `out` holds at least an access token. */
hv_oidc_status hv_oidc_exchange_code(hv_oidc *oidc, const hv_oidc_client *client, const char *code,
                                     const char *redirect_uri, hv_oidc_tokens *out, char *error,
                                     size_t error_size);

/* grant_type=refresh_token. HV_OIDC_OK: `out` holds at least an access
 * token; its refresh_token is NULL when Haravan sent none (keep the old). */
hv_oidc_status hv_oidc_refresh(hv_oidc *oidc, const hv_oidc_client *client,
                               const char *refresh_token, hv_oidc_tokens *out, char *error,
                               size_t error_size);

/* Wipes and frees the tokens; safe on a zeroed or freed value. */
void hv_oidc_tokens_free(hv_oidc_tokens *tokens);

/* "ok", "invalid_token", "invalid_grant", ...: for logs. Static storage. */
const char *hv_oidc_status_name(hv_oidc_status status);

/* ---- the pieces, exposed for unit tests ------------------------------- */

/* Reads a token endpoint answer (`status` and `body`). `secrets` is a
 * NULL-terminated list of values (the grant, the client secret) a message
 * must never contain. */
hv_oidc_status hv_oidc_read_token_answer(long status, const char *body, size_t length,
                                         const char *const *secrets, hv_oidc_tokens *out,
                                         char *error, size_t error_size);

/* Reads a discovery document into `oidc`'s endpoints, checking it as
 * described above against oidc->accounts_url. Returns HV_OIDC_OK, or
 * HV_OIDC_UNAVAILABLE with `error` filled (and the endpoints unchanged). */
hv_oidc_status hv_oidc_read_discovery(hv_oidc *oidc, const char *body, size_t length, char *error,
                                      size_t error_size);

#endif
