/*
 * outbound: the HTTP calls the simulated Haravan makes itself: the
 * verify-token handshake of /api/subscribe and the webhook deliveries of
 * /sim/fire, both to the app's callback URL.
 *
 * The simulator is one process serving one request at a time, so a call
 * made from inside a request handler blocks every other request until it
 * ends. Every call therefore has a hard total timeout (connect included),
 * follows no redirect, speaks http and https only, and keeps at most
 * SIM_OUTBOUND_MAX_BODY bytes of the answer. A callback that points back at
 * the simulator itself cannot be answered while it waits: such a call ends
 * at its timeout.
 *
 * Ownership: a sim_outbound_result owns its body (sim_outbound_result_free).
 */
#ifndef HARAVAN_SIM_OUTBOUND_H
#define HARAVAN_SIM_OUTBOUND_H

#include <stddef.h>

#include "core/buffer.h"

#define SIM_OUTBOUND_MAX_BODY (64 * 1024)

typedef struct sim_outbound_result {
    long status;     /* the HTTP status; 0 when no answer came */
    buffer body;     /* at most SIM_OUTBOUND_MAX_BODY bytes, always terminated */
    char error[256]; /* why there was no answer, "" otherwise */
} sim_outbound_result;

/* One request. `headers` is NULL or a NULL-terminated list of "Name: value"
 * lines; `body` NULL sends none. Returns 0 when an answer came (whatever
 * its status), -1 otherwise (timeout, refused, too large, ...), with
 * result->error saying why. */
int sim_outbound_send(const char *method, const char *url, const char *const *headers,
                      const char *body, size_t length, long timeout_ms,
                      sim_outbound_result *result);

void sim_outbound_result_free(sim_outbound_result *result);

#endif
