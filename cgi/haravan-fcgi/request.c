/*
 * request: reading a FastCGI request and writing its reply. See request.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/header.h"

void request_begin(request *r, FCGX_Request *fcgi)
{
    memset(r, 0, sizeof *r);
    r->fcgi = fcgi;
    clock_gettime(CLOCK_MONOTONIC, &r->started);
    r->method = request_param(r, "REQUEST_METHOD");
    r->path = request_param(r, "DOCUMENT_URI");
    r->query = request_param(r, "QUERY_STRING");
    if (r->method == NULL)
        r->method = "";
    if (r->path == NULL)
        r->path = "";
    if (r->query == NULL)
        r->query = "";
}

void request_end(request *r)
{
    buffer_free(&r->body);
}

const char *request_param(const request *r, const char *name)
{
    return FCGX_GetParam(name, r->fcgi->envp);
}

const char *request_header(const request *r, const char *name)
{
    char variable[128];
    if (header_cgi_name(name, variable, sizeof variable) != 0)
        return NULL;
    return request_param(r, variable);
}

size_t request_header_values(const request *r, const char *name, const char **values, size_t max)
{
    char variable[128];
    if (header_cgi_name(name, variable, sizeof variable) != 0)
        return 0;
    size_t length = strlen(variable);
    size_t count = 0;
    for (char **entry = r->fcgi->envp; entry != NULL && *entry != NULL; entry++) {
        if (strncmp(*entry, variable, length) != 0 || (*entry)[length] != '=')
            continue;
        if (count < max)
            values[count] = *entry + length + 1;
        count++;
    }
    return count;
}

static int content_length(const request *r, size_t *length)
{
    const char *text = request_param(r, "CONTENT_LENGTH");
    if (text == NULL || text[0] == '\0')
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || text[0] == '-')
        return -1;
    *length = (size_t)value;
    return 1;
}

enum request_body_result request_read_body(request *r, size_t limit)
{
    size_t declared = 0;
    int has_length = content_length(r, &declared);
    if (has_length < 0)
        return REQUEST_BODY_ERROR;
    if (has_length && declared > limit)
        return REQUEST_BODY_TOO_LARGE;
    if (has_length && buffer_reserve(&r->body, declared) != 0)
        return REQUEST_BODY_ERROR;

    char chunk[16384];
    for (;;) {
        int got = FCGX_GetStr(chunk, sizeof chunk, r->fcgi->in);
        if (got <= 0)
            break;
        if (r->body.length + (size_t)got > limit)
            return REQUEST_BODY_TOO_LARGE;
        if (buffer_append(&r->body, chunk, (size_t)got) != 0)
            return REQUEST_BODY_ERROR;
    }
    if (FCGX_GetError(r->fcgi->in) != 0)
        return REQUEST_BODY_ERROR;
    /* A body shorter than announced means the client went away. */
    if (has_length && r->body.length != declared)
        return REQUEST_BODY_ERROR;
    if (r->body.data == NULL && buffer_append(&r->body, "", 0) != 0)
        return REQUEST_BODY_ERROR;
    return REQUEST_BODY_OK;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 302:
        return "Found";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

void request_reply(request *r, int status, const char *content_type, const char *extra_headers,
                   const char *body, size_t length)
{
    if (r->status != 0)
        return; /* one reply per request */
    r->status = status;
    /* libfcgi's own printf knows no %zu; the head is formatted here. */
    buffer head = BUFFER_INIT;
    int formatted = buffer_printf(&head,
                                  "Status: %d %s\r\n"
                                  "Content-Type: %s\r\n"
                                  "Content-Length: %zu\r\n"
                                  "Cache-Control: no-store\r\n"
                                  "X-Content-Type-Options: nosniff\r\n"
                                  "%s\r\n",
                                  status, reason_phrase(status), content_type, length,
                                  extra_headers != NULL ? extra_headers : "");
    if (formatted != 0) {
        buffer_free(&head);
        return; /* no memory: the connection closes and nginx answers 502 */
    }
    FCGX_PutStr(head.data, (int)head.length, r->fcgi->out);
    buffer_free(&head);
    if (length > 0 && strcmp(r->method, "HEAD") != 0)
        FCGX_PutStr(body, (int)length, r->fcgi->out);
}

void request_reply_json(request *r, int status, const char *json)
{
    request_reply(r, status, "application/json", "", json, strlen(json));
}

void request_reply_error(request *r, int status, const char *message)
{
    buffer json = BUFFER_INIT;
    int ok = buffer_append_string(&json, "{\"error\":\"") == 0 &&
             buffer_append_json_escaped(&json, message, strlen(message)) == 0 &&
             buffer_append_string(&json, "\"}") == 0;
    request_reply_json(r, status, ok ? json.data : "{\"error\":\"out of memory\"}");
    buffer_free(&json);
}
