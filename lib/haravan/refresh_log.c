/*
 * hv_refresh_log: one line per token refresh attempt. See refresh_log.h.
 */
#include "haravan/refresh_log.h"

#include "core/log.h"

void hv_refresh_log(const char *org_id, const char *trigger, hv_refresh_outcome outcome,
                    const char *error)
{
    /* "not needed" is routine (another process got there first); a shop
     * that needs reconnecting or cannot be refreshed is for a person. */
    int trouble = outcome == HV_REFRESH_FAILED || outcome == HV_REFRESH_IMPOSSIBLE ||
                  outcome == HV_REFRESH_NEEDS_RECONNECT;
    log_record record;
    log_begin(&record, trouble ? "warning" : "info", "token_refresh");
    log_string(&record, "org_id", org_id);
    log_string(&record, "trigger", trigger);
    log_string(&record, "outcome", hv_refresh_outcome_name(outcome));
    log_string(&record, "reason",
               outcome != HV_REFRESH_REFRESHED && error != NULL && error[0] != '\0' ? error : NULL);
    log_end(&record);
}
