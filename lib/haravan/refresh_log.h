/*
 * hv_refresh_log: the log line of a shop token refresh, for the refresher of
 * every process (haravan/token_refresh.h reports; this writes).
 *
 *   {"event":"token_refresh","org_id","trigger":"ahead"|"401","outcome","reason"}
 *
 * The reason comes from the refresher's messages, which never hold a
 * token, code or secret.
 */
#ifndef HARAVAN_HARAVAN_REFRESH_LOG_H
#define HARAVAN_HARAVAN_REFRESH_LOG_H

#include "haravan/token_refresh.h"

void hv_refresh_log(const char *org_id, const char *trigger, hv_refresh_outcome outcome,
                    const char *error);

#endif
