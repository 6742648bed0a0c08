/*
 * hv_clients: see clients.h.
 */
#include "haravan/clients.h"

int hv_clients_init(hv_clients *clients, const config *configuration, hv_refresh_report report,
                    char *error, size_t error_size)
{
    const unsigned char *key = configuration->has_master_key ? configuration->master_key : NULL;
    if (hv_http_init(&clients->http, NULL, error, error_size) != 0)
        return -1;
    if (hv_oidc_init(&clients->oidc, &clients->http, configuration->accounts_url, error,
                     error_size) != 0) {
        hv_http_free(&clients->http);
        return -1;
    }
    if (hv_staff_directory_init(&clients->staff, configuration->api_url, NULL, key, error,
                                error_size) != 0) {
        hv_oidc_free(&clients->oidc);
        hv_http_free(&clients->http);
        return -1;
    }
    hv_token_refresher_init(&clients->refresher, &clients->oidc, key, report);
    clients->staff.refresher = &clients->refresher;
    return 0;
}

void hv_clients_free(hv_clients *clients)
{
    hv_staff_directory_free(&clients->staff);
    hv_oidc_free(&clients->oidc);
    hv_http_free(&clients->http);
}
