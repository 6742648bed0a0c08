/*
 * hv_uninstall: app/uninstalled disconnects its shop unless the shop was
 * connected again after the delivery arrived. See uninstall.h.
 */
#include "haravan/uninstall.h"

#include <stdio.h>

#include "haravan/shop.h"
#include "inbox/view.h"

const char *const hv_shop_topics[] = {HV_UNINSTALL_TOPIC, NULL};

#define UNINSTALL_REASON "the app was uninstalled on Haravan (app/uninstalled)"

int hv_uninstall_apply(void *context, db *database, const char *event_id, const char *topic,
                       const char *org_id, char *note, size_t note_size)
{
    (void)context;
    (void)topic;
    if (org_id[0] == '\0') {
        snprintf(note, note_size, "the uninstall names no shop: nothing disconnected");
        return 0;
    }
    /* The delivery's arrival, not the processing's time: a late uninstall
     * is compared with when it came. */
    char received_at[64];
    int found = inbox_event_received_at(database, event_id, received_at, sizeof received_at);
    if (found < 0)
        return -1;
    char error[256];
    int disconnected = hv_shop_disconnect(database, org_id, UNINSTALL_REASON,
                                          found == 1 ? received_at : NULL, error, sizeof error);
    if (disconnected < 0)
        return -1;
    if (disconnected == 1)
        snprintf(note, note_size, "shop %s disconnected: its tokens are deleted, its data kept",
                 org_id);
    else
        snprintf(note, note_size,
                 "shop %s not disconnected: not connected, or connected again after this"
                 " uninstall arrived",
                 org_id);
    return 0;
}
