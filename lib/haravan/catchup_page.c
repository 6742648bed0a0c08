/*
 * hv_catchup_page: a slot, the call, the bucket corrected. See
 * catchup_page.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "haravan/catchup_page.h"

#include <stdio.h>
#include <string.h>

#include "core/buffer.h"
#include "core/crypto.h"
#include "haravan/shop.h"

static void wipe(buffer *token)
{
    if (token->data != NULL)
        crypto_wipe(token->data, token->length);
    buffer_free(token);
}

/* The answer's word on the bucket. Returns 0, 1 (a 429: *wait_ms set) or
 * -1 (database). */
static int record_in_bucket(hv_catchup_runner *runner, db *database, const char *org_id,
                            long long ticket, const hv_api_result *result, long *wait_ms)
{
    if (result->http_status == 429) {
        if (hv_rate_refused(database, org_id, &runner->limits, result->retry_after) != 0)
            return -1;
        double seconds = result->retry_after > 0 ? result->retry_after : 1.0;
        *wait_ms = (long)(seconds * 1000) + HV_RATE_MIN_WAIT_MS;
        return 1;
    }
    if (result->call_limit_used >= 0 &&
        hv_rate_observe(database, org_id, &runner->limits, ticket, result->call_limit_used) != 0)
        return -1;
    return 0;
}

/* One call with the token in hand. */
static hv_catchup_call call_once(hv_catchup_runner *runner, db *database, const char *org_id,
                                 const char *token, const char *path, cJSON **answer,
                                 hv_api_result *result, long *wait_ms)
{
    long long ticket = 0;
    int slot = hv_rate_take(database, org_id, &runner->limits, &ticket, wait_ms);
    if (slot != 1)
        return slot == 0 ? HV_CATCHUP_CALL_NOT_NOW : HV_CATCHUP_CALL_DATABASE;
    *answer = hv_api_get(&runner->client, token, path, result);
    int recorded = record_in_bucket(runner, database, org_id, ticket, result, wait_ms);
    if (recorded != 0) {
        cJSON_Delete(*answer);
        *answer = NULL;
        return recorded > 0 ? HV_CATCHUP_CALL_NOT_NOW : HV_CATCHUP_CALL_DATABASE;
    }
    if (result->category == HV_API_OK)
        return HV_CATCHUP_CALL_OK;
    *wait_ms = HV_CATCHUP_RETRY_MS;
    return HV_CATCHUP_CALL_FAILED;
}

hv_catchup_call hv_catchup_get(hv_catchup_runner *runner, db *database, const char *org_id,
                               const char *path, cJSON **answer, long *wait_ms, char *why,
                               size_t why_size)
{
    *answer = NULL;
    *wait_ms = 0;
    for (int attempt = 0;; attempt++) {
        buffer token = BUFFER_INIT;
        char error[256] = "";
        int has = runner->master_key == NULL ? 0
                                             : hv_shop_token(database, runner->master_key, org_id,
                                                             &token, error, sizeof error);
        if (has != 1) {
            wipe(&token);
            if (has < 0)
                return HV_CATCHUP_CALL_DATABASE;
            snprintf(why, why_size, "%s",
                     runner->master_key == NULL
                         ? "no HARAVAN_MASTER_KEY to open the shop's token"
                         : "the shop has no token (disconnected, or it needs reconnecting): "
                           "connect it again, then ask for the import again");
            return HV_CATCHUP_CALL_NO_TOKEN;
        }
        hv_api_result result;
        hv_catchup_call call = call_once(runner, database, org_id, (const char *)token.data, path,
                                         answer, &result, wait_ms);
        if (call == HV_CATCHUP_CALL_FAILED)
            snprintf(why, why_size, "%s", result.message);
        if (call != HV_CATCHUP_CALL_FAILED || result.category != HV_API_UNAUTHORIZED ||
            attempt > 0 || runner->refresher == NULL) {
            wipe(&token);
            if (call == HV_CATCHUP_CALL_FAILED && result.category == HV_API_UNAUTHORIZED &&
                runner->refresher == NULL)
                return HV_CATCHUP_CALL_NO_TOKEN;
            return call;
        }
        hv_refresh_outcome outcome = hv_token_refresh_rejected(
            runner->refresher, database, org_id, (const char *)token.data, error, sizeof error);
        wipe(&token);
        if (outcome != HV_REFRESH_REFRESHED && outcome != HV_REFRESH_NOT_NEEDED)
            return outcome == HV_REFRESH_NEEDS_RECONNECT ? HV_CATCHUP_CALL_NO_TOKEN
                                                         : HV_CATCHUP_CALL_FAILED;
    }
}
