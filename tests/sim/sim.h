/*
 * sim: the state of one haravan-sim process and its two route families.
 *
 *   /com/...   Haravan's REST API as docs/HARAVAN.md section 3 describes it
 *              (routes_api.c): Bearer tokens with scopes, the leaky-bucket
 *              rate limit, Haravan's wrappers, paging and errors;
 *   /.well-known/openid-configuration[/jwks], /connect/...
 *              accounts.haravan.com, docs/HARAVAN.md section 1 (oidc.c): the
 *              OpenID Connect hybrid flow with form_post, RS256 id_tokens,
 *              codes, access and refresh tokens;
 *   /api/subscribe
 *              webhook.haravan.com, docs/HARAVAN.md section 2 (subscriptions.c),
 *              with the verify-token handshake to the app's callback;
 *   /sim/...   controls for tests, never part of Haravan (routes_admin.c,
 *              admin_accounts.c): add records, tokens and apps, inject
 *              failures, fill or empty the buckets, read the counters,
 *              rotate the signing key, fire webhook deliveries
 *              (deliveries.c). JSON in, JSON out.
 *
 * Everything lives in this one struct in one process, so every request
 * sees the same buckets and data (tests/sim/README.md).
 *
 * Ownership: a sim owns its store, failure plan, counters, key, apps,
 * grants and subscriptions; sim_free() releases them.
 */
#ifndef HARAVAN_SIM_SIM_H
#define HARAVAN_SIM_SIM_H

#include <signal.h>
#include <stddef.h>

#include "apps.h"
#include "grants.h"
#include "jwt_sign.h"
#include "request.h"
#include "store.h"
#include "subscriptions.h"

#define SIM_MAX_STATUS 600

typedef struct sim_settings {
    const char *socket_path;
    unsigned socket_mode;
    const char *seed_dir;
    const char *pid_file;
    double bucket_size;      /* calls; Haravan: 80 */
    double drain_per_second; /* calls; Haravan: 4 */
    const char *base_url;    /* the issuer and every absolute URL; NULL: from Host */
    const char *samples_dir; /* where /sim/fire finds "sample" files */
} sim_settings;

/* How a refresh_token grant treats the refresh token it was given
 * (Haravan's choice is not documented: docs/HARAVAN.md section 1 [open]). */
typedef enum sim_refresh_usage {
    SIM_REFRESH_ROTATE, /* a new one is returned, the old one is spent */
    SIM_REFRESH_REUSE,  /* the same one is returned and stays valid */
    SIM_REFRESH_OMIT,   /* none is returned; the old one stays valid */
} sim_refresh_usage;

/* How id_tokens carry c_hash (front channel) or at_hash (token endpoint):
 * as a provider must, or, for one test of a connector's checks, not. */
typedef enum sim_hash_mode {
    SIM_HASH_INCLUDE, /* the right value */
    SIM_HASH_OMIT,    /* left out */
    SIM_HASH_WRONG,   /* the hash of another value */
} sim_hash_mode;

/* What POST /sim/config changes. */
typedef struct sim_config {
    long access_token_seconds; /* expires_in of issued access tokens; 3600 */
    long delivery_timeout_ms;  /* per delivery attempt and handshake; 5000 */
    long delivery_retries;     /* redeliveries after the first attempt; 3 */
    sim_refresh_usage refresh_usage;
    long subscribe_delay_ms; /* every /api/subscribe answer waits this long; 0 */
    sim_hash_mode c_hash;    /* in the id_token posted with the code */
    sim_hash_mode at_hash;   /* in the token endpoint's id_token */
} sim_config;

#define SIM_DEFAULT_ACCESS_TOKEN_SECONDS 3600
#define SIM_MAX_ACCESS_TOKEN_SECONDS     (30L * 24 * 3600)
#define SIM_DEFAULT_DELIVERY_TIMEOUT_MS  5000
#define SIM_MAX_SUBSCRIBE_DELAY_MS       20000
#define SIM_MAX_DELIVERY_TIMEOUT_MS      10000
#define SIM_DEFAULT_DELIVERY_RETRIES     3
#define SIM_MAX_DELIVERY_RETRIES         5

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
    long long subscribe_lists;    /* GET /api/subscribe answered with a list */
    long long deliveries_dropped; /* /sim/touch deliveries lost on purpose (drop_percent) */
} sim_counters;

typedef struct sim {
    sim_settings settings;
    sim_store store;
    sim_failure_plan failure;
    sim_counters counters;
    sim_key key; /* signs id_tokens; JWKS lists it alone */
    sim_apps apps;
    sim_grants grants;
    sim_subscriptions subscriptions;
    sim_config config;
    volatile sig_atomic_t *stop_requested; /* set by the signal handler */
} sim;

void sim_config_defaults(sim_config *config);

/* The Bearer token of the request when it is known and live, else NULL. */
const sim_token *sim_authenticate(const sim *s, const request *r);

/* Appends the simulator's base URL (no trailing slash): --base-url, or
 * http://{Host} when none was given. Returns 0 or -1. */
int sim_base_url(const sim *s, const request *r, buffer *out);

/* `bytes` random bytes as lowercase hex into `out` (2 * bytes + 1 chars).
 * Returns 0 or -1. */
int sim_random_hex(char *out, size_t bytes);

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
void sim_handle_oidc(sim *s, request *r);      /* /.well-known/..., /connect/... */
void sim_handle_subscribe(sim *s, request *r); /* /api/subscribe */

/* The failure /sim/failures armed, when its path_prefix covers r->path
 * (the default, "/com/", covers the REST API; "/api/subscribe" the webhook
 * service): returns 1 when it answered the request; a stall (timeout)
 * answers nothing and the call goes on, late. */
int sim_inject_failure(sim *s, request *r);

void sim_free(sim *s);

#endif
