/*
 * hv_token_refresh: keeping a shop's access token alive (docs/HARAVAN.md
 * section 1: lifetimes are [open]; store expires_in, refresh ahead of
 * expiry, refresh once on a 401; invalid_grant means reconnect).
 *
 * Two triggers, one procedure:
 *   - ahead of expiry: the processor holding the refresh duty
 *     (cgi/haravan-fcgi/processing.h) looks at the connected shops every
 *     second and refreshes one whose token has less than
 *     hv_token_refresh_ahead() seconds left;
 *   - after a 401: a caller whose request Haravan refused with the stored
 *     token asks for a refresh once, then retries once.
 * The procedure holds the shop's row lock (SELECT ... FOR UPDATE) from
 * reading the refresh token to storing its replacement, and re-checks
 * under the lock whether the work is still needed (the token is still the
 * rejected one, or still due). Haravan's refresh tokens may be single use:
 * two processes refreshing with the same one at once would make the second
 * get invalid_grant and wrongly disconnect the shop. The token call is
 * made while the lock is held; its timeouts bound how long others wait.
 * The lock goes with the connection: the procedure is one db_transaction,
 * which fails when its connection is lost (never continues on a new one,
 * without the lock), and is run again whole only if the refresh token had
 * not been sent yet.
 *
 * Outcomes: new tokens are stored (the old refresh token kept when Haravan
 * sends none). invalid_grant sets the shop's status to needs_reconnect
 * with the reason in status_reason; nothing retries it, since only the
 * merchant can fix it, by connecting again, and hv_shop_token() no longer
 * hands out the dead token. Any other failure (Haravan down, the client
 * secret refused) changes nothing and is tried again later: the refresh
 * duty waits HV_TOKEN_RETRY_SECONDS per shop.
 *
 * Ownership: the refresher borrows its hv_oidc and master key, which must
 * outlive it.
 */
#ifndef HARAVAN_HARAVAN_TOKEN_REFRESH_H
#define HARAVAN_HARAVAN_TOKEN_REFRESH_H

#include <stddef.h>

#include "core/crypto.h"
#include "core/db.h"
#include "haravan/oidc.h"
#include "haravan/shop.h"

#define HV_TOKEN_AHEAD_SECONDS  600 /* refresh this long before expiry ... */
#define HV_TOKEN_AHEAD_FRACTION 0.1 /* ... or this share of the lifetime, if more ... */
#define HV_TOKEN_AHEAD_LIMIT    0.5 /* ... but never before half the lifetime has passed */
#define HV_TOKEN_RETRY_SECONDS  30  /* after a failure that is not invalid_grant */
#define HV_TOKEN_MAX_SHOPS      32  /* shops remembered for the retry pause */
/* Runs of the locked transaction when its connection is lost before the
 * refresh token was sent (after, it is never run again). */
#define HV_TOKEN_TRANSACTION_ATTEMPTS 3

typedef enum hv_refresh_outcome {
    HV_REFRESH_REFRESHED = 0,   /* new tokens stored */
    HV_REFRESH_NOT_NEEDED,      /* another process already did it, or it is not due */
    HV_REFRESH_NEEDS_RECONNECT, /* invalid_grant: the shop is now needs_reconnect */
    HV_REFRESH_IMPOSSIBLE,      /* not connected, no refresh token, no client id or secret */
    HV_REFRESH_FAILED,          /* Haravan, the network or the database failed: later */
} hv_refresh_outcome;

typedef struct hv_retry_pause {
    char org_id[HV_SHOP_ORG_ID_SIZE];
    double until; /* monotonic seconds */
} hv_retry_pause;

/* Told of every refresh attempt, for the log: `trigger` is "ahead" or
 * "401"; `error` says why when the outcome is not REFRESHED (it never
 * holds a token). */
typedef void (*hv_refresh_report)(const char *org_id, const char *trigger,
                                  hv_refresh_outcome outcome, const char *error);

typedef struct hv_token_refresher {
    hv_oidc *oidc;                   /* borrowed */
    const unsigned char *master_key; /* borrowed; NULL: nothing can be refreshed */
    hv_refresh_report report;        /* NULL: nobody is told */
    hv_retry_pause paused[HV_TOKEN_MAX_SHOPS];
} hv_token_refresher;

void hv_token_refresher_init(hv_token_refresher *refresher, hv_oidc *oidc,
                             const unsigned char *master_key, hv_refresh_report report);

/* After Haravan answered 401 to `rejected` (the shop's token the caller
 * used). REFRESHED or NOT_NEEDED: read the token again and retry once. */
hv_refresh_outcome hv_token_refresh_rejected(hv_token_refresher *refresher, db *database,
                                             const char *org_id, const char *rejected, char *error,
                                             size_t error_size);

/* Refreshes the shop's token if it is due (see hv_token_refresh_ahead). */
hv_refresh_outcome hv_token_refresh_if_due(hv_token_refresher *refresher, db *database,
                                           const char *org_id, char *error, size_t error_size);

/* The refresh duty's pass: refreshes every connected shop that is due and
 * not pausing after a failure. Returns the number of attempts, or -1 when
 * the shops cannot be read. */
int hv_token_refresh_due_shops(hv_token_refresher *refresher, db *database);

/* Seconds before expiry at which a token of `lifetime` seconds (<= 0:
 * unknown) is refreshed: max(HV_TOKEN_AHEAD_SECONDS, lifetime x
 * HV_TOKEN_AHEAD_FRACTION), at most lifetime x HV_TOKEN_AHEAD_LIMIT so a
 * short-lived token is not refreshed again at once. */
double hv_token_refresh_ahead(double lifetime);

/* "refreshed", "not_needed", "needs_reconnect", ...: for logs. */
const char *hv_refresh_outcome_name(hv_refresh_outcome outcome);

#endif
