/*
 * hv_http: verified, bounded, redirect-free HTTP over libcurl. See http.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "haravan/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"

#define USER_AGENT "haravan-crm (Haravan connector) libcurl/" LIBCURL_VERSION

typedef struct receiving {
    buffer *body;
    size_t max_body;
    int too_large;
} receiving;

static size_t on_body(char *data, size_t size, size_t count, void *context)
{
    receiving *current = context;
    size_t length = size * count;
    if (current->body->length + length > current->max_body) {
        current->too_large = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    return buffer_append(current->body, data, length) == 0 ? length : 0;
}

void hv_http_options_defaults(hv_http_options *options)
{
    memset(options, 0, sizeof *options);
    options->connect_timeout_ms = HV_HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
    options->timeout_ms = HV_HTTP_DEFAULT_TIMEOUT_MS;
    options->max_body_bytes = HV_HTTP_DEFAULT_MAX_BODY;
}

int hv_http_init(hv_http *client, const hv_http_options *options, char *error, size_t error_size)
{
    memset(client, 0, sizeof *client);
    hv_http_options defaults;
    if (options == NULL) {
        hv_http_options_defaults(&defaults);
        options = &defaults;
    }
    if (options->connect_timeout_ms <= 0 || options->timeout_ms <= 0 ||
        options->max_body_bytes == 0) {
        snprintf(error, error_size, "HTTP timeouts and the body cap must be positive");
        return -1;
    }
    client->options = *options;
    client->curl = curl_easy_init();
    client->ca_file = options->ca_file != NULL ? strdup(options->ca_file) : NULL;
    if (client->curl == NULL || (options->ca_file != NULL && client->ca_file == NULL)) {
        snprintf(error, error_size, "cannot create an HTTP client: out of memory");
        hv_http_free(client);
        return -1;
    }
    client->options.ca_file = client->ca_file;
    return 0;
}

void hv_http_free(hv_http *client)
{
    if (client->curl != NULL)
        curl_easy_cleanup(client->curl);
    free(client->ca_file);
    memset(client, 0, sizeof *client);
}

static void wipe_headers(struct curl_slist *headers)
{
    for (struct curl_slist *node = headers; node != NULL; node = node->next)
        crypto_wipe(node->data, strlen(node->data));
    curl_slist_free_all(headers);
}

/* Appends `line` to *list; returns 0 or -1 (and *list is then freed). */
static int add_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *more = curl_slist_append(*list, line);
    if (more == NULL) {
        wipe_headers(*list);
        *list = NULL;
        return -1;
    }
    *list = more;
    return 0;
}

static struct curl_slist *request_headers(const hv_http_request *request)
{
    struct curl_slist *list = NULL;
    /* No "Expect: 100-continue" round trip for small bodies. */
    if (add_header(&list, "Expect:") != 0 || add_header(&list, "Accept: application/json") != 0)
        return NULL;
    if (request->content_type != NULL) {
        char line[160];
        snprintf(line, sizeof line, "Content-Type: %s", request->content_type);
        if (add_header(&list, line) != 0)
            return NULL;
    }
    if (request->bearer != NULL) {
        buffer line = BUFFER_INIT;
        int failed = buffer_printf(&line, "Authorization: Bearer %s", request->bearer) != 0 ||
                     add_header(&list, line.data) != 0;
        if (line.data != NULL)
            crypto_wipe(line.data, line.length);
        buffer_free(&line);
        if (failed)
            return NULL;
    }
    return list;
}

CURLcode hv_http_set_common_options(CURL *curl, long connect_timeout_ms, long timeout_ms,
                                    const char *ca_file, char *error_buffer)
{
    CURLcode code = curl_easy_setopt(curl, CURLOPT_USERAGENT, USER_AGENT);
    if (code == CURLE_OK)
        code = curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
    if (code == CURLE_OK)
        code = curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (code == CURLE_OK)
        code = curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (code == CURLE_OK)
        code = curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    if (code == CURLE_OK)
        code = curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (code == CURLE_OK && ca_file != NULL)
        code = curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file);
    if (code == CURLE_OK)
        code = curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    if (code == CURLE_OK)
        code = curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    if (code == CURLE_OK)
        code = curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
    return code;
}

static long exchange_timeout(const hv_http *client, const hv_http_request *request)
{
    long timeout = client->options.timeout_ms;
    return request->timeout_ms > 0 && request->timeout_ms < timeout ? request->timeout_ms : timeout;
}

/* The options of one exchange. The handle is reset first, so nothing of
 * the previous exchange (a method, a body) carries over; connections and
 * TLS sessions survive a reset. */
static CURLcode set_options(hv_http *client, const hv_http_request *request,
                            struct curl_slist *headers, receiving *current)
{
    CURL *curl = client->curl;
    curl_easy_reset(curl);
    client->curl_error[0] = '\0';
    CURLcode code = curl_easy_setopt(curl, CURLOPT_URL, request->url);
    if (code == CURLE_OK)
        code = hv_http_set_common_options(curl, client->options.connect_timeout_ms,
                                          exchange_timeout(client, request), client->ca_file,
                                          client->curl_error);
    if (code == CURLE_OK)
        code = curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (code == CURLE_OK)
        code = curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    if (code == CURLE_OK)
        code = curl_easy_setopt(curl, CURLOPT_WRITEDATA, current);
    if (code != CURLE_OK)
        return code;
    if (strcmp(request->method, "POST") == 0) {
        /* POSTFIELDS borrows the body (no copy to wipe): it lives until
         * the exchange is over. */
        code =
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request->body != NULL ? request->body : "");
        if (code == CURLE_OK)
            code = curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                                    (curl_off_t)(request->body != NULL ? request->body_length : 0));
    } else if (strcmp(request->method, "DELETE") == 0) {
        code = curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
        code = curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    }
    return code;
}

static int valid_request(const hv_http_request *request)
{
    return request->url != NULL && request->method != NULL &&
           (strcmp(request->method, "GET") == 0 || strcmp(request->method, "POST") == 0 ||
            strcmp(request->method, "DELETE") == 0) &&
           (request->body == NULL || strcmp(request->method, "POST") == 0);
}

int hv_http_send(hv_http *client, const hv_http_request *request, hv_http_response *response,
                 char *error, size_t error_size)
{
    memset(response, 0, sizeof *response);
    if (client->curl == NULL || !valid_request(request)) {
        snprintf(error, error_size, "invalid HTTP request");
        return -1;
    }
    struct curl_slist *headers = request_headers(request);
    if (headers == NULL) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    receiving current = {&response->body, client->options.max_body_bytes, 0};
    CURLcode code = set_options(client, request, headers, &current);
    if (code == CURLE_OK)
        code = curl_easy_perform(client->curl);
    if (code == CURLE_OK)
        code = curl_easy_getinfo(client->curl, CURLINFO_RESPONSE_CODE, &response->status);
    /* The list is freed below: the handle must not keep pointing at it,
     * nor at the caller's body. Unsetting pointers cannot fail. */
    (void)curl_easy_setopt(client->curl, CURLOPT_HTTPHEADER, NULL);
    (void)curl_easy_setopt(client->curl, CURLOPT_POSTFIELDS, NULL);
    wipe_headers(headers);
    if (code == CURLE_OK && response->body.data == NULL &&
        buffer_append(&response->body, "", 0) != 0)
        code = CURLE_OUT_OF_MEMORY;
    if (code == CURLE_OK)
        return 0;
    response->status = 0;
    if (code == CURLE_OPERATION_TIMEDOUT)
        snprintf(error, error_size, "no answer within %ld ms", exchange_timeout(client, request));
    else if (current.too_large)
        snprintf(error, error_size, "the answer is larger than %zu bytes",
                 client->options.max_body_bytes);
    else
        snprintf(error, error_size, "%.200s",
                 client->curl_error[0] != '\0' ? client->curl_error : curl_easy_strerror(code));
    return -1;
}

void hv_http_response_free(hv_http_response *response)
{
    if (response->body.data != NULL)
        crypto_wipe(response->body.data, response->body.capacity);
    buffer_free(&response->body);
    response->status = 0;
}
