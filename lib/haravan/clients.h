/*
 * hv_clients: the Haravan clients one process keeps: an HTTP client for the
 * accounts and webhook services, the OpenID Connect client (discovery and
 * signing keys, cached for the life of the process), the token refresher,
 * and the staff directory the processor resolves executors with.
 *
 * Workers (admin routes), processors and `haravan-ctl replay` all need the
 * same four, wired the same way (the staff directory refreshes a shop's
 * token through the refresher after a 401); building them in one place
 * keeps the three from drifting apart.
 *
 * The members point at each other, so an hv_clients must not be copied or
 * moved after hv_clients_init(). Ownership: hv_clients owns its members;
 * hv_clients_free() releases them. The configuration is borrowed and must
 * outlive the clients (the master key is read through it).
 */
#ifndef HARAVAN_HARAVAN_CLIENTS_H
#define HARAVAN_HARAVAN_CLIENTS_H

#include <stddef.h>

#include "core/config.h"
#include "haravan/http.h"
#include "haravan/oidc.h"
#include "haravan/staff.h"
#include "haravan/token_refresh.h"

typedef struct hv_clients {
    hv_http http;                 /* accounts and webhook services */
    hv_oidc oidc;                 /* discovery and signing keys */
    hv_token_refresher refresher; /* a shop token ahead of expiry or after a 401 */
    hv_staff_directory staff;     /* the processor's staff lookup (REST API) */
} hv_clients;

/* Prepares the clients for `configuration`; `report` hears of every token
 * refresh (hv_refresh_log, or NULL). Needs hv_api_global_init() first.
 * Returns 0, or -1 with `error` filled and nothing left to free. */
int hv_clients_init(hv_clients *clients, const config *configuration, hv_refresh_report report,
                    char *error, size_t error_size);

void hv_clients_free(hv_clients *clients);

#endif
