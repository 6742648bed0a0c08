/*
 * hv_http: plain HTTP exchanges with Haravan's accounts service (discovery,
 * keys, the token endpoint) and its webhook service (/api/subscribe), over
 * libcurl. The REST API has its own client (haravan/api.h) because of its
 * rate-limit pacing; these calls are rare and need none.
 *
 * What every exchange gets, with no option to turn it off:
 * - TLS peer and host verification;
 * - http and https only, and no redirect followed: a 3xx is an answer like
 *   any other, so a secret in a request body or header never travels to a
 *   host the configuration did not name;
 * - timeouts (connect 5 s, whole exchange 15 s by default) and a cap on the
 *   answer's size, so a slow or hostile server cannot hold a worker;
 * - no logging, and a request's Authorization header wiped after use. The
 *   answer's body may hold tokens: hv_http_response_free wipes it.
 *
 * A client is one curl handle, reused so connections are kept alive; one
 * thread at a time. curl_global_init is the program's (hv_api_global_init).
 *
 * Ownership: the client owns its handle and its copy of ca_file; a response
 * owns its body (hv_http_response_free). Request fields are borrowed for
 * the call only.
 */
#ifndef HARAVAN_HARAVAN_HTTP_H
#define HARAVAN_HARAVAN_HTTP_H

#include <stddef.h>

#include <curl/curl.h>

#include "core/buffer.h"

#define HV_HTTP_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define HV_HTTP_DEFAULT_TIMEOUT_MS         15000
#define HV_HTTP_DEFAULT_MAX_BODY           (1024 * 1024)

typedef struct hv_http_options {
    long connect_timeout_ms;
    long timeout_ms;
    size_t max_body_bytes; /* a larger answer is a failed exchange */
    const char *ca_file;   /* NULL: the system's CA certificates */
} hv_http_options;

typedef struct hv_http {
    CURL *curl;
    hv_http_options options; /* ca_file points to the copy below */
    char *ca_file;
    char curl_error[CURL_ERROR_SIZE];
} hv_http;

typedef struct hv_http_request {
    const char *method; /* "GET", "POST" or "DELETE" */
    const char *url;
    const char *bearer;       /* NULL, or a token sent as Authorization: Bearer */
    const char *content_type; /* of the body; NULL when there is none */
    const char *body;         /* NULL: no body */
    size_t body_length;
    long timeout_ms; /* 0: the client's; else a shorter bound for this exchange */
} hv_http_request;

typedef struct hv_http_response {
    long status; /* 0 until an answer arrived */
    buffer body; /* NUL-terminated; "" for an empty answer */
} hv_http_response;

/* Sets on `curl` what every exchange with Haravan carries, whichever
 * client makes it (this one, and the REST client of haravan/api.h): the
 * user agent, the timeouts, TLS peer and host verification (against
 * `ca_file`, or the system's CAs when NULL), http and https only, no
 * redirect followed, no signals, and `error_buffer` (CURL_ERROR_SIZE
 * bytes, borrowed for the handle's life) for curl's messages. */
CURLcode hv_http_set_common_options(CURL *curl, long connect_timeout_ms, long timeout_ms,
                                    const char *ca_file, char *error_buffer);

/* The defaults above. */
void hv_http_options_defaults(hv_http_options *options);

/* Prepares a client with `options` (NULL: the defaults). Returns 0, or -1
 * with `error` filled. */
int hv_http_init(hv_http *client, const hv_http_options *options, char *error, size_t error_size);

void hv_http_free(hv_http *client);

/* One exchange. Returns 0 when an answer arrived, whatever its status, in
 * `response` (which the caller frees in any case); -1 with `error` filled
 * when none did (network, TLS, timeout, an answer over the size cap).
 * `error` never holds the bearer token or the request body. */
int hv_http_send(hv_http *client, const hv_http_request *request, hv_http_response *response,
                 char *error, size_t error_size);

/* Wipes and frees the body. */
void hv_http_response_free(hv_http_response *response);

#endif
