/*
 * outbound: bounded libcurl calls. See outbound.h.
 */
#include "outbound.h"

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

static size_t collect(char *data, size_t size, size_t count, void *context)
{
    buffer *body = context;
    size_t length = size * count;
    /* Returning less than given makes libcurl stop with an error. */
    if (body->length + length > SIM_OUTBOUND_MAX_BODY || buffer_append(body, data, length) != 0)
        return 0;
    return length;
}

int sim_outbound_send(const char *method, const char *url, const char *const *headers,
                      const char *body, size_t length, long timeout_ms, sim_outbound_result *result)
{
    memset(result, 0, sizeof *result);
    CURL *curl = curl_easy_init();
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    for (size_t i = 0; list != NULL && headers != NULL && headers[i] != NULL; i++) {
        struct curl_slist *grown = curl_slist_append(list, headers[i]);
        if (grown == NULL) {
            curl_slist_free_all(list);
            list = NULL;
        } else {
            list = grown;
        }
    }
    if (curl == NULL || list == NULL) {
        snprintf(result->error, sizeof result->error, "out of memory");
        curl_slist_free_all(list);
        curl_easy_cleanup(curl);
        buffer_append(&result->body, "", 0);
        return -1;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "haravan-sim");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result->body);
    if (body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)length);
    }
    CURLcode code = curl_easy_perform(curl);
    if (code == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result->status);
    else
        snprintf(result->error, sizeof result->error, "%s", curl_easy_strerror(code));
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    if (result->body.data == NULL && buffer_append(&result->body, "", 0) != 0)
        return -1;
    return code == CURLE_OK ? 0 : -1;
}

void sim_outbound_result_free(sim_outbound_result *result)
{
    buffer_free(&result->body);
}
