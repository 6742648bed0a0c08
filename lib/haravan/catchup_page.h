/*
 * hv_catchup_page: one call of the catch-up engine to Haravan, in the
 * shop's shared bucket (haravan/rate_bucket.h) at the catch-up's own
 * ceiling (haravan/catchup.h, "Rate limit").
 *
 * The slot is taken first; without one nothing is sent and the caller
 * is told how long to wait. The answer's X-Haravan-Api-Call-Limit
 * corrects the bucket; a 429 closes it for its Retry-After, for every
 * process. A 401 refreshes the shop's token once (when the runner has a
 * refresher) and asks once more.
 *
 * Ownership: the returned document is the caller's (cJSON_Delete).
 */
#ifndef HARAVAN_HARAVAN_CATCHUP_PAGE_H
#define HARAVAN_HARAVAN_CATCHUP_PAGE_H

#include <stddef.h>

#include <cJSON.h>

#include "haravan/catchup.h"

typedef enum hv_catchup_call {
    HV_CATCHUP_CALL_OK,       /* *answer set */
    HV_CATCHUP_CALL_NOT_NOW,  /* no slot, or a 429: *wait_ms */
    HV_CATCHUP_CALL_NO_TOKEN, /* the shop has no usable token: `why` */
    HV_CATCHUP_CALL_FAILED,   /* Haravan failed (5xx, network, 4xx): `why`, *wait_ms */
    HV_CATCHUP_CALL_DATABASE, /* the database failed */
} hv_catchup_call;

/* GET {api}/com/{path} for `org_id`. */
hv_catchup_call hv_catchup_get(hv_catchup_runner *runner, db *database, const char *org_id,
                               const char *path, cJSON **answer, long *wait_ms, char *why,
                               size_t why_size);

#endif
