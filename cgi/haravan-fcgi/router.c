/*
 * router: the route table. See router.h; docs/CONTRACT.md is the
 * contract these paths keep.
 */
#include "router.h"

#include <stdio.h>
#include <string.h>

#include "handlers.h"

typedef void (*handler)(worker *w, request *r);

typedef struct route {
    const char *path;
    const char *method;
    handler handle;
} route;

static const route routes[] = {
    {"/api/haravan/health", "GET", handle_health},
    {"/api/haravan/health", "HEAD", handle_health},
    {"/api/haravan/webhook", "GET", handle_webhook_handshake},
    {"/api/haravan/webhook", "POST", handle_webhook_delivery},
    {"/api/haravan/admin/login", "POST", handle_admin_login},
    {"/api/haravan/admin/logout", "POST", handle_admin_logout},
    {"/api/haravan/admin/session", "GET", handle_admin_session},
    {"/api/haravan/settings", "GET", handle_settings_get},
    {"/api/haravan/settings", "POST", handle_settings_post},
    {"/api/haravan/status", "GET", handle_status},
    {"/api/haravan/backfill", "POST", handle_backfill},
    {"/api/haravan/events", "GET", handle_events_list},
    {"/api/haravan/events/*/replay", "POST", handle_event_replay},
    {"/api/haravan/connect", "GET", handle_connect},
    /* Haravan's callbacks: its form_post (POST) only; any other method
     * gets a page that explains (a code in a URL is refused, unread). */
    {"/api/haravan/login", "POST", handle_connect_login},
    {"/api/haravan/login", "*", handle_connect_wrong_method},
    {"/api/haravan/grandservice", "POST", handle_connect_grant},
    {"/api/haravan/grandservice", "*", handle_connect_wrong_method},
    {"/api/haravan/webhooks", "GET", handle_webhooks_list},
    {"/api/haravan/webhooks", "POST", handle_webhooks_subscribe},
    {"/api/haravan/disconnect", "POST", handle_disconnect},
};

#define ROUTE_COUNT (sizeof routes / sizeof routes[0])

int router_path_matches(const char *pattern, const char *path)
{
    while (*pattern != '\0') {
        if (*pattern == '*') {
            /* One whole, non-empty segment. */
            size_t segment = strcspn(path, "/");
            if (segment == 0)
                return 0;
            path += segment;
            pattern++;
            continue;
        }
        if (*pattern != *path)
            return 0;
        pattern++;
        path++;
    }
    return *path == '\0';
}

void router_dispatch(worker *w, request *r)
{
    char allow[128] = "";
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        if (!router_path_matches(routes[i].path, r->path))
            continue;
        if (strcmp(routes[i].method, r->method) == 0 || strcmp(routes[i].method, "*") == 0) {
            routes[i].handle(w, r);
            return;
        }
        size_t used = strlen(allow);
        snprintf(allow + used, sizeof allow - used, "%s%s", used > 0 ? ", " : "", routes[i].method);
    }
    if (allow[0] == '\0') {
        request_reply_error(r, 404, "no such route");
        return;
    }
    char header[160];
    snprintf(header, sizeof header, "Allow: %s\r\n", allow);
    request_reply(r, 405, "application/json", header, "{\"error\":\"method not allowed\"}",
                  strlen("{\"error\":\"method not allowed\"}"));
}
