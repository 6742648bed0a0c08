/*
 * reply: response heads and JSON bodies for the simulator. See reply.h.
 */
#include "reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buffer.h"

const char *sim_reason_phrase(int status)
{
    static const struct {
        int status;
        const char *phrase;
    } phrases[] = {
        /* What the simulator answers. */
        {200, "OK"},
        {201, "Created"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {413, "Payload Too Large"},
        {422, "Unprocessable Entity"},
        {429, "Too Many Requests"},
        {500, "Internal Server Error"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };
    for (size_t i = 0; i < sizeof phrases / sizeof phrases[0]; i++)
        if (phrases[i].status == status)
            return phrases[i].phrase;
    return "Status";
}

void sim_reply_typed(request *r, int status, const char *content_type, const char *extra_headers,
                     const char *body, size_t length)
{
    if (r->status != 0)
        return;
    r->status = status;
    buffer head = BUFFER_INIT;
    int formatted = buffer_printf(&head,
                                  "Status: %d %s\r\n"
                                  "Content-Type: %s\r\n"
                                  "Content-Length: %zu\r\n"
                                  "%s\r\n",
                                  status, sim_reason_phrase(status), content_type, length,
                                  extra_headers != NULL ? extra_headers : "");
    /* A client that went away makes the writes fail; the simulator has
     * nobody to tell, and the access log still shows the status. */
    if (formatted == 0) {
        FCGX_PutStr(head.data, (int)head.length, r->fcgi->out);
        if (strcmp(r->method, "HEAD") != 0)
            FCGX_PutStr(body, (int)length, r->fcgi->out);
    }
    buffer_free(&head);
}

void sim_reply(request *r, int status, const char *extra_headers, const char *body)
{
    sim_reply_typed(r, status, "application/json; charset=utf-8", extra_headers, body,
                    strlen(body));
}

void sim_reply_document(request *r, int status, const char *extra_headers, const cJSON *document)
{
    char *text = document != NULL ? cJSON_PrintUnformatted(document) : NULL;
    if (text == NULL) {
        sim_reply(r, 500, extra_headers, "{\"errors\":\"simulator out of memory\"}");
        return;
    }
    sim_reply(r, status, extra_headers, text);
    free(text);
}

void sim_reply_wrapped(request *r, const char *extra_headers, const char *wrapper, cJSON *record)
{
    cJSON *document = cJSON_CreateObject();
    if (document == NULL || record == NULL || !cJSON_AddItemToObject(document, wrapper, record)) {
        cJSON_Delete(record);
        cJSON_Delete(document);
        sim_reply(r, 500, extra_headers, "{\"errors\":\"simulator out of memory\"}");
        return;
    }
    sim_reply_document(r, 200, extra_headers, document);
    cJSON_Delete(document);
}

void sim_reply_errors(request *r, int status, const char *extra_headers, const char *message)
{
    buffer body = BUFFER_INIT;
    int built = buffer_append_string(&body, "{\"errors\":\"") == 0 &&
                buffer_append_json_escaped(&body, message, strlen(message)) == 0 &&
                buffer_append_string(&body, "\"}") == 0;
    sim_reply(r, status, extra_headers, built ? body.data : "{\"errors\":\"out of memory\"}");
    buffer_free(&body);
}
