/*
 * request: one FastCGI request and its reply.
 *
 * Handlers read the method, path, query, headers and body from here and
 * answer through request_reply*(), which also records the status for the
 * access log. Exactly one reply per request; a handler that forgets to
 * reply gets a 500 written for it by the worker.
 *
 * Ownership: strings come from libfcgi's parameter block and live until
 * the request is finished; the body buffer belongs to the request.
 */
#ifndef HARAVAN_FCGI_REQUEST_H
#define HARAVAN_FCGI_REQUEST_H

#include <fcgiapp.h>
#include <stddef.h>
#include <time.h>

#include "core/buffer.h"

typedef struct request {
    FCGX_Request *fcgi;
    const char *method;
    const char *path;
    const char *query;
    buffer body;
    int status; /* 0 until replied */
    struct timespec started;
    /* For the access log; set by handlers, NULL or 0 when not applicable. */
    const char *topic;
    char topic_text[104]; /* where a handler may keep the topic it checked */
    char org_id[64];
    long long event_id;
    const char *outcome; /* a short word: "stored", "duplicate", ... */
} request;

void request_begin(request *r, FCGX_Request *fcgi);
void request_end(request *r);

/* A FastCGI parameter, or NULL. */
const char *request_param(const request *r, const char *name);

/* An HTTP request header by its HTTP name (any case), or NULL. */
const char *request_header(const request *r, const char *name);

/* Every value of an HTTP request header (any case), in the order the
 * client sent them, as pointers into the parameter block: up to `max` are
 * written to `values`; returns how many there are (may exceed `max`).
 * request_header() gives only the first: nginx 1.22 passes a header line
 * that is repeated as one FastCGI parameter per line, all with the same
 * name, and libfcgi's FCGX_GetParam returns the first. (Later nginx
 * versions join them with ", " instead: callers split at commas.) */
size_t request_header_values(const request *r, const char *name, const char **values, size_t max);

enum request_body_result {
    REQUEST_BODY_OK = 0,
    REQUEST_BODY_TOO_LARGE = 1,
    REQUEST_BODY_ERROR = -1,
};

/* Reads the whole body into r->body, refusing more than `limit` bytes
 * (from CONTENT_LENGTH before reading anything, and while reading). */
enum request_body_result request_read_body(request *r, size_t limit);

/* Writes status, headers and body. `extra_headers` is "" or complete
 * "Name: value\r\n" lines. */
void request_reply(request *r, int status, const char *content_type, const char *extra_headers,
                   const char *body, size_t length);

/* {"error":"message"} with the given status. */
void request_reply_error(request *r, int status, const char *message);

/* A JSON body as given, with the given status. */
void request_reply_json(request *r, int status, const char *json);

#endif
