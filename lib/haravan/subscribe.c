/*
 * hv_subscribe: /api/subscribe with the shop's token, refreshed once on a
 * 401. See subscribe.h.
 */
#include "haravan/subscribe.h"

#include <stdio.h>
#include <string.h>

#include "haravan/shop.h"

static void wipe(buffer *token)
{
    if (token->data != NULL)
        crypto_wipe(token->data, token->length);
    buffer_free(token);
}

hv_subscribe_status hv_subscribe_call(const hv_subscribe_context *context, const char *org_id,
                                      const char *method, hv_http_response *response, char *error,
                                      size_t error_size)
{
    memset(response, 0, sizeof *response);
    if (context->master_key == NULL) {
        snprintf(error, error_size, "no HARAVAN_MASTER_KEY to open the shop's token");
        return HV_SUBSCRIBE_NO_TOKEN;
    }
    buffer url = BUFFER_INIT;
    if (buffer_printf(&url, "%s%s", context->webhook_url, HV_SUBSCRIBE_PATH) != 0) {
        buffer_free(&url);
        snprintf(error, error_size, "out of memory");
        return HV_SUBSCRIBE_FAILED;
    }
    hv_subscribe_status status = HV_SUBSCRIBE_FAILED;
    for (int attempt = 0; attempt < 2; attempt++) {
        buffer token = BUFFER_INIT;
        int found = hv_shop_token(context->database, context->master_key, org_id, &token, error,
                                  error_size);
        if (found != 1) {
            wipe(&token);
            if (found == 0)
                snprintf(error, error_size, "shop %s has no usable token: connect it (again)",
                         org_id);
            status = found == 0 ? HV_SUBSCRIBE_NO_TOKEN : HV_SUBSCRIBE_FAILED;
            break;
        }
        hv_http_response_free(response);
        hv_http_request request = {.method = method,
                                   .url = url.data,
                                   .bearer = token.data,
                                   .timeout_ms = context->timeout_ms};
        int sent = hv_http_send(context->http, &request, response, error, error_size);
        status = sent == 0 ? HV_SUBSCRIBE_ANSWERED : HV_SUBSCRIBE_FAILED;
        if (sent != 0 || response->status != 401 || attempt > 0 || context->refresher == NULL) {
            wipe(&token);
            break;
        }
        char reason[512];
        hv_refresh_outcome outcome = hv_token_refresh_rejected(
            context->refresher, context->database, org_id, token.data, reason, sizeof reason);
        wipe(&token);
        /* Not refreshed: Haravan's 401 is the answer to pass on. */
        if (outcome != HV_REFRESH_REFRESHED && outcome != HV_REFRESH_NOT_NEEDED)
            break;
    }
    buffer_free(&url);
    return status;
}
