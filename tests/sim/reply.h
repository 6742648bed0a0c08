/*
 * reply: how the simulator answers, in Haravan's manner.
 *
 * haravan-fcgi's request_reply() writes the CRM's own headers and knows
 * the reason phrases of the CRM's statuses only; the simulator writes its
 * heads itself so that a 429 reads "429 Too Many Requests" and bodies are
 * "application/json; charset=utf-8" as Haravan sends them. Each function
 * sets r->status, so the access log and the "one reply per request" rule
 * of request.h hold as for any handler.
 *
 * Ownership: nothing is kept; `document` stays the caller's, and
 * sim_reply_wrapped() consumes its record.
 */
#ifndef HARAVAN_SIM_REPLY_H
#define HARAVAN_SIM_REPLY_H

#include <stddef.h>

#include <cJSON.h>

#include "request.h"

/* Any content type (the accounts pages are HTML): status, type,
 * `extra_headers`, and `length` bytes of body. */
void sim_reply_typed(request *r, int status, const char *content_type, const char *extra_headers,
                     const char *body, size_t length);

/* Status, `extra_headers` ("" or complete "Name: value\r\n" lines), body. */
void sim_reply(request *r, int status, const char *extra_headers, const char *body);

/* `document` printed as the body. */
void sim_reply_document(request *r, int status, const char *extra_headers, const cJSON *document);

/* {"wrapper": record}: the shape of every Haravan answer. Takes ownership
 * of `record` (NULL answers 500, for a copy that could not be made). */
void sim_reply_wrapped(request *r, const char *extra_headers, const char *wrapper, cJSON *record);

/* "Too Many Requests" for 429; "Status" for what it does not know. */
const char *sim_reason_phrase(int status);

/* Haravan's error shape: {"errors":"message"}. */
void sim_reply_errors(request *r, int status, const char *extra_headers, const char *message);

#endif
