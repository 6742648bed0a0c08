/*
 * hv_staff: who a Haravan staff id is, by e-mail, so that an order's
 * user_id can become the CRM user who executes it (issue #3).
 *
 * Haravan only says "user_id": 200000905615; the e-mail comes from
 * GET /com/users/{id}.json with the shop's token. Asking for every order
 * would spend the shop's rate-limit bucket (80 calls, 4 per second) on the
 * same few staff members, so answers are kept in hv_staff:
 *   - an e-mail, or the fact that there is none (no such user, a user
 *     without an address), is trusted for HV_STAFF_CACHE_SECONDS;
 *   - a failed call (Haravan down, a 401, a timeout) is not cached: the
 *     next order asks again. Until then a stale cached e-mail is used
 *     rather than none, since staff rarely change address.
 * Every call takes a slot of the shop's rate-limit bucket first
 * (haravan/rate_bucket.h), shared by every process on every host. When
 * there is none, or Haravan answers 429, the lookup does not wait: it
 * answers HV_STAFF_NOT_NOW with the milliseconds after which to ask again
 * (the processor leaves the event pending until then), unless a stale
 * cached e-mail can answer now.
 *
 * After a failure that says Haravan is unreachable or unwilling (network,
 * timeout, 5xx), the directory does not call again for
 * HV_STAFF_BACKOFF_SECONDS: a worker must not spend a timeout on every
 * order while Haravan is down, nor hold up the deliveries behind it.
 *
 * A 403 says the shop's token lacks the scope to read staff
 * (com.read_users), which no retry mends until the merchant connects the
 * shop again: every order asking anyway spent a call of the shop's bucket
 * and slowed an import to a few records a second. So after a 403 the
 * directory does not call for that shop for HV_STAFF_FORBIDDEN_SECONDS;
 * its orders fall back as after any failure, with the 403 in their notes.
 * The pause is this process's (each processor asks at most once in it),
 * and short, so a shop connected again with the scope is asked again soon.
 *
 * A 401 means the shop's access token expired or was revoked early: when
 * the directory has a token refresher (haravan/token_refresh.h), it
 * refreshes the token once and asks once more; a second 401 is a failure
 * like any other.
 *
 * Every call happens outside any transaction: hv_staff_lookup() is the
 * crm_processor's staff_lookup hook (crm/processor.h), which the processor
 * calls before it begins one.
 *
 * Ownership: the directory owns its API client; hv_staff_directory_free()
 * releases it. The master key is borrowed from the configuration, the
 * refresher (set by the caller after init) from the process; both must
 * outlive the directory.
 */
#ifndef HARAVAN_HARAVAN_STAFF_H
#define HARAVAN_HARAVAN_STAFF_H

#include <stddef.h>

#include "core/crypto.h"
#include "core/db.h"
#include "haravan/api.h"
#include "haravan/rate_bucket.h"
#include "haravan/shop.h"
#include "haravan/token_refresh.h"

#define HV_STAFF_CACHE_SECONDS     86400 /* a day */
#define HV_STAFF_BACKOFF_SECONDS   30
#define HV_STAFF_FORBIDDEN_SECONDS 300
#define HV_STAFF_FORBIDDEN_SHOPS   8 /* shops remembered at once; the oldest pause gives way */

/* A shop whose token was refused the staff list (a 403), until when. */
typedef struct hv_staff_forbidden {
    char org_id[HV_SHOP_ORG_ID_SIZE];                    /* "" when the entry is free */
    double until;                                        /* monotonic seconds */
    char message[sizeof(((hv_api_result *)0)->message)]; /* Haravan's answer, for the notes */
} hv_staff_forbidden;
/* hv_staff_lookup's "not now": crm/processor.h's CRM_STAFF_NOT_NOW. */
#define HV_STAFF_NOT_NOW 2

typedef struct hv_staff_directory {
    hv_api_client client;            /* shared_bucket: slots come from `limits` below */
    hv_rate_limits limits;           /* the shops' buckets (haravan/rate_bucket.h) */
    const unsigned char *master_key; /* NULL: no key, so no shop token can be opened */
    hv_token_refresher *refresher;   /* NULL: a 401 is not answered with a refresh */
    double unavailable_until;        /* monotonic seconds; 0 when Haravan answered last */
    char last_failure[sizeof(
        ((hv_api_result *)0)->message)]; /* why, for the notes of the orders it affects */
    hv_staff_forbidden forbidden[HV_STAFF_FORBIDDEN_SHOPS]; /* shops not asked after a 403 */
} hv_staff_directory;

/* Prepares a directory calling the API at `api_url` with `api_options`
 * (NULL: hv_api_options_defaults). Returns 0, or -1 with `error` filled. */
int hv_staff_directory_init(hv_staff_directory *directory, const char *api_url,
                            const hv_api_options *api_options, const unsigned char *master_key,
                            char *error, size_t error_size);

void hv_staff_directory_free(hv_staff_directory *directory);

/* The crm_staff_lookup hook; `context` is a hv_staff_directory. Returns 1
 * with `email` set, 0 with `reason` set (for the event's notes) when there
 * is no usable e-mail, HV_STAFF_NOT_NOW with *retry_after_ms set when the
 * shop's bucket has no slot yet, -1 when the database failed. Never
 * inside a transaction; never sleeps. */
int hv_staff_lookup(void *context, db *database, const char *org_id, const char *staff_id,
                    char *email, size_t email_size, char *reason, size_t reason_size,
                    long *retry_after_ms);

#endif
