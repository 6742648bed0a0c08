/*
 * sim: the state of one haravan-sim process and its two route families.
 *
 *   /com/...   Haravan's REST API as HARAVAN.md section 3 describes it
 *              (routes_api.c): Bearer tokens with scopes, the leaky-bucket
 *              rate limit, Haravan's wrappers, paging and errors;
 *   /sim/...   controls for tests, never part of Haravan (routes_admin.c):
 *              add records and tokens, inject failures, fill or empty the
 *              buckets, read the counters. JSON in, JSON out.
 *
 * Everything lives in this one struct in one process, so every request
 * sees the same buckets and data (tests/sim/README.md).
 *
 * Ownership: a sim owns its store, failure plan and counters;
 * sim_free() releases them.
 */
#ifndef HARAVAN_SIM_SIM_H
#define HARAVAN_SIM_SIM_H

#include <signal.h>
#include <stddef.h>

#include "request.h"
#include "store.h"

#define SIM_MAX_STATUS 600

typedef struct sim_settings {
    const char *socket_path;
    unsigned socket_mode;
    const char *seed_dir;
    const char *pid_file;
    double bucket_size;      /* calls; Haravan: 80 */
    double drain_per_second; /* calls; Haravan: 4 */
} sim_settings;

/* What /sim/failures asked for: the next calls under `path_prefix` fail. */
typedef struct sim_failure_plan {
    int armed;
    int status;                 /* the HTTP status to answer, or 0 for a timeout */
    long delay_ms;              /* a timeout: how long to stall before answering */
    long remaining;             /* calls still to fail; -1 until /sim/reset */
    double retry_after_seconds; /* a 429: the Retry-After it carries */
    char path_prefix[256];
} sim_failure_plan;

typedef struct sim_path_count {
    char *path;
    long long calls;
} sim_path_count;

typedef struct sim_counters {
    sim_path_count *paths;
    size_t count;
    size_t capacity;
    long long total;
    long long by_status[SIM_MAX_STATUS];
} sim_counters;

typedef struct sim {
    sim_settings settings;
    sim_store store;
    sim_failure_plan failure;
    sim_counters counters;
    volatile sig_atomic_t *stop_requested; /* set by the signal handler */
} sim;

/* Monotonic seconds. */
double sim_now(void);

/* Sleeps `milliseconds`, waking early only when a stop was requested. */
void sim_sleep_ms(const sim *s, long milliseconds);

/* Counts a served API call. Returns 0 or -1 (memory). */
int sim_counters_record(sim_counters *counters, const char *path, int status);
void sim_counters_clear(sim_counters *counters);

/* The routes; each replies exactly once. */
void sim_handle_api(sim *s, request *r);
void sim_handle_admin(sim *s, request *r);

void sim_free(sim *s);

#endif
