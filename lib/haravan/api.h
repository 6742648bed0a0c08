/*
 * hv_api: the connector's client for Haravan's REST API (docs/HARAVAN.md
 * section 3): GET {HARAVAN_API_URL}/com/{path} with a shop's Bearer token,
 * over libcurl.
 *
 * Why it is built this way:
 * - Haravan limits each shop to a leaky bucket of 80 calls draining 4 per
 *   second, and tells the level in X-Haravan-Api-Call-Limit ("32/80") on
 *   every answer. The client remembers the last level it saw and, before
 *   the next call, waits until the bucket has drained below
 *   size - pace_headroom (70 of 80 by default): a sync then runs at the
 *   bucket's 4 calls per second instead of hitting 429s. A 429 that still
 *   happens (another process spending the same shop's bucket) is waited
 *   out with its Retry-After (fractional seconds, capped) and retried, at
 *   most max_retries times: never forever.
 * - Every failure is a value (hv_api_result) with a category the caller
 *   acts on (401: refresh the token once; 404: the record is gone; server
 *   error or network: retry later with backoff; ...) and a message fit
 *   for the event log ("users/123: HTTP 500 from Haravan"). Only 429 is
 *   retried here; every other retry is the caller's decision, since the
 *   caller knows whether the work is worth repeating.
 * - One curl easy handle per client, reused for every call, so that
 *   connections (and TLS sessions) to Haravan are kept alive. TLS peer and
 *   host verification are always on; there is no option to turn them off.
 *   Timeouts: connect 5 s, whole attempt 15 s by default.
 * - Tokens never leave this module except in the Authorization header:
 *   they are not logged (nothing here logs), not put in messages, and the
 *   header copy is wiped after each call.
 *
 * Threads and processes: a client is used by one thread at a time. The
 * only global state is libcurl's: each program calls hv_api_global_init()
 * once in main(), before it starts threads or creates a client
 * (haravan-fcgi's master before forking workers, haravan-ctl, the tests),
 * and hv_api_global_cleanup() at exit if it wants to.
 *
 * Pacing is per client: one client should serve one shop at a time. When
 * the token changes the remembered bucket level is forgotten. A client
 * that several processes' calls share a bucket with sets shared_bucket and
 * takes its slots from haravan/rate_bucket.h instead: then this client
 * neither paces nor waits out a 429 (max_retries does not apply).
 *
 * Ownership: a client owns its curl handle and copies of its options'
 * strings (hv_api_client_free). A cJSON document returned by hv_api_get()
 * belongs to the caller: cJSON_Delete() it. Results are plain values.
 */
#ifndef HARAVAN_HARAVAN_API_H
#define HARAVAN_HARAVAN_API_H

#include <stddef.h>

#include <cJSON.h>
#include <curl/curl.h>

#include "core/buffer.h"
#include "haravan/rate_bucket.h"

#define HV_API_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define HV_API_DEFAULT_TIMEOUT_MS         15000
#define HV_API_DEFAULT_MAX_RETRIES        5
#define HV_API_DEFAULT_MAX_RETRY_AFTER    10.0             /* seconds */
#define HV_API_DEFAULT_PACE_HEADROOM      HV_RATE_HEADROOM /* calls kept free in the bucket */
#define HV_API_DEFAULT_DRAIN_PER_SECOND   HV_RATE_DRAIN_PER_SECOND /* Haravan's rate */
#define HV_API_DEFAULT_MAX_BODY           (64 * 1024 * 1024)
/* What a 429 without a readable Retry-After waits. */
#define HV_API_FALLBACK_RETRY_AFTER 1.0

typedef enum hv_api_category {
    HV_API_OK = 0,
    HV_API_NOT_FOUND,    /* 404: no such record */
    HV_API_UNAUTHORIZED, /* 401: the token is invalid or expired; refresh it once */
    HV_API_FORBIDDEN,    /* 403: the token lacks a scope */
    HV_API_RATE_LIMITED, /* 429 still, after max_retries retries */
    HV_API_SERVER_ERROR, /* 5xx */
    HV_API_REFUSED,      /* 400 and any other unexpected status: our request is wrong */
    HV_API_TIMEOUT,      /* no complete answer within the timeouts */
    HV_API_NETWORK,      /* DNS, connection, TLS, reset, oversized answer */
    HV_API_BAD_JSON,     /* a 2xx whose body is not a JSON object */
    HV_API_INTERNAL,     /* bad arguments, out of memory, libcurl refused a setting */
} hv_api_category;

typedef struct hv_api_options {
    const char *base_url;           /* HARAVAN_API_URL, e.g. https://apis.haravan.com */
    long connect_timeout_ms;        /* per attempt */
    long timeout_ms;                /* the whole of one attempt */
    int max_retries;                /* retries after 429, per call */
    double max_retry_after_seconds; /* a longer Retry-After is cut to this */
    int pace_headroom;              /* slow down above size - headroom calls */
    double drain_per_second;        /* the bucket's drain rate */
    size_t max_body_bytes;          /* a larger answer is a network error */
    int shared_bucket;              /* 1: the caller takes a slot of the shop's shared
                                       bucket first (haravan/rate_bucket.h): no pacing
                                       here, and a 429 is handed back, never slept on */
    const char *ca_file;            /* NULL: the system's CA certificates */
} hv_api_options;

typedef struct hv_api_client {
    CURL *curl;
    hv_api_options options; /* base_url and ca_file point to the copies below */
    char *base_url;
    char *ca_file;
    /* The shop's bucket as the last answer showed it. */
    int bucket_known;
    int bucket_used;
    int bucket_size;
    double bucket_seen_at;          /* monotonic seconds */
    unsigned long long token_print; /* a hash telling when the token changed */
    char curl_error[CURL_ERROR_SIZE];
} hv_api_client;

typedef struct hv_api_result {
    hv_api_category category;
    long http_status;      /* of the last answer; 0 when none arrived */
    int attempts;          /* HTTP requests made, retries included */
    double waited_seconds; /* spent pacing and honouring Retry-After */
    int call_limit_used;   /* X-Haravan-Api-Call-Limit of the last answer; */
    int call_limit_size;   /* -1 and -1 when it had none */
    double retry_after;    /* a 429's Retry-After in seconds; -1 when none */
    char message[400];     /* for the event log; never holds the token */
} hv_api_result;

/* curl_global_init for the whole program; see "Threads and processes".
 * Returns 0 or -1. */
int hv_api_global_init(void);
void hv_api_global_cleanup(void);

/* The defaults above, for `base_url` (not copied here). */
void hv_api_options_defaults(hv_api_options *options, const char *base_url);

/* Prepares `client` (its curl handle and settings). Returns 0, or -1 with a
 * message in `error` (bad URL, out of memory, libcurl refused an option). */
int hv_api_client_init(hv_api_client *client, const hv_api_options *options, char *error,
                       size_t error_size);

void hv_api_client_free(hv_api_client *client);

/* GET {base_url}/com/{path} (`path` like "orders.json?limit=50&page=2",
 * already %-encoded, no leading '/'). Returns the parsed JSON object (the
 * caller cJSON_Delete()s it) when result->category is HV_API_OK, else NULL.
 * `result` is always filled in. */
cJSON *hv_api_get(hv_api_client *client, const char *token, const char *path,
                  hv_api_result *result);

/* The e-mail of staff member `user_id` (GET users/{id}.json), appended to
 * `email`: how the CRM resolves an order's user_id to a CRM user.
 * Returns 0 when an address was appended; 1 when the user exists but has
 * no address (result OK, nothing appended); -1 otherwise (result says
 * why: HV_API_NOT_FOUND for an unknown user). */
int hv_api_staff_email(hv_api_client *client, const char *token, long long user_id, buffer *email,
                       hv_api_result *result);

/* "ok", "not_found", "unauthorized", ...: for logs and the event log. */
const char *hv_api_category_name(hv_api_category category);

/* ---- the pieces, exposed for unit tests ---------------------------- */

/* Reads X-Haravan-Api-Call-Limit ("32/80", spaces around allowed).
 * Returns 0, or -1 when the value is not two whole numbers with a size of
 * at least 1 (and then *used and *size are untouched). */
int hv_api_parse_call_limit(const char *value, int *used, int *size);

/* Reads Retry-After as seconds: a whole or decimal number ("2", "0.25").
 * Returns 0, or -1 for anything else (an HTTP-date, a sign, an exponent,
 * text), and then the caller waits HV_API_FALLBACK_RETRY_AFTER. */
int hv_api_parse_retry_after(const char *value, double *seconds);

/* Seconds to wait before the next call, when an answer `elapsed` seconds
 * ago showed `used` of `size` calls and the bucket drains at
 * `drain_per_second`: enough to bring it down to size - headroom. */
double hv_api_pace_delay(int used, int size, double elapsed, int headroom, double drain_per_second);

#endif
