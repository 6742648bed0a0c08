/*
 * deliveries: webhook deliveries as Haravan sends them (docs/HARAVAN.md section
 * 2), fired on demand by POST /sim/fire and `haravan-sim fire`.
 *
 * A delivery is a POST of the bare resource (a REST sample's wrapper
 * {"order":{...}} is taken off, as a webhook body carries no wrapper) to a
 * subscription's callback URL, with X-Haravan-Hmacsha256 =
 * base64(HMAC-SHA256(client secret, raw body)), X-Haravan-Topic and
 * X-Haravan-Org-Id. An answer other than 2xx within the timeout is
 * redelivered, up to the configured number of retries, at once: Haravan's
 * own schedule is not documented, and a test wants the redeliveries now.
 *
 * Deliveries run inside the /sim/fire request (the simulator is one
 * process; see outbound.h), so their timeouts are capped by /sim/config.
 *
 * Ownership: sim_sample_body() returns text the caller frees; buffers are
 * the caller's.
 */
#ifndef HARAVAN_SIM_DELIVERIES_H
#define HARAVAN_SIM_DELIVERIES_H

#include <stddef.h>

#include <cJSON.h>

#include "core/base64.h"
#include "core/buffer.h"

#define SIM_SIGNATURE_SIZE BASE64_ENCODED_SIZE(32)
#define SIM_MAX_SAMPLE     (1024 * 1024)

/* base64(HMAC-SHA256(secret, body)). Returns 0 or -1. */
int sim_delivery_signature(const char *secret, const void *body, size_t length,
                           char out[SIM_SIGNATURE_SIZE]);

/* 1 when `document` is a REST wrapper: an object whose one member is an
 * object ({"order":{...}}, {"customer":{...}}). */
int sim_sample_is_wrapped(const cJSON *document);

/* The body to deliver for a sample's text: the inner object printed for a
 * REST wrapper, else the text itself byte for byte. NULL with a message in
 * `error` when the text is not a JSON object. */
char *sim_sample_body(const char *text, size_t length, char *error, size_t error_size);

/* Reads `name` (a plain file name: no '/', not starting with '.') from
 * `directory` into `out`, at most SIM_MAX_SAMPLE bytes. Returns 0, or -1
 * with a message in `error`. */
int sim_sample_read(const char *directory, const char *name, buffer *out, char *error,
                    size_t error_size);

typedef struct sim_delivery {
    const char *callback_url;
    const char *secret;
    const char *topic;
    const char *org_id;
    const char *body;
    size_t length;
    long timeout_ms;
    long retries;
} sim_delivery;

typedef struct sim_delivery_outcome {
    long attempts;
    long status; /* the last answer's status; 0 when none came */
    char error[256];
} sim_delivery_outcome;

/* Delivers, redelivering until a 2xx or the retries are spent. Returns 0
 * when a 2xx came, -1 otherwise. */
int sim_deliver(const sim_delivery *delivery, sim_delivery_outcome *outcome);

#endif
