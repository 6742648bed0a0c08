/*
 * deliveries: signing, samples and the delivery loop. See deliveries.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "deliveries.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "outbound.h"

int sim_delivery_signature(const char *secret, const void *body, size_t length,
                           char out[SIM_SIGNATURE_SIZE])
{
    unsigned char digest[CRYPTO_SHA256_SIZE];
    if (crypto_hmac_sha256(secret, strlen(secret), body, length, digest) != 0)
        return -1;
    base64_encode(digest, sizeof digest, out);
    return 0;
}

int sim_sample_is_wrapped(const cJSON *document)
{
    return cJSON_IsObject(document) && cJSON_GetArraySize(document) == 1 &&
           cJSON_IsObject(document->child);
}

char *sim_sample_body(const char *text, size_t length, char *error, size_t error_size)
{
    cJSON *document = cJSON_ParseWithLength(text, length);
    if (!cJSON_IsObject(document)) {
        cJSON_Delete(document);
        snprintf(error, error_size, "the sample is not a JSON object");
        return NULL;
    }
    char *body = NULL;
    if (sim_sample_is_wrapped(document)) {
        body = cJSON_PrintUnformatted(document->child);
    } else {
        /* Bare resources go out byte for byte: a receiver must verify the
         * raw bytes, and re-printing would hide one that re-serialises. */
        body = malloc(length + 1);
        if (body != NULL) {
            memcpy(body, text, length);
            body[length] = '\0';
        }
    }
    cJSON_Delete(document);
    if (body == NULL)
        snprintf(error, error_size, "out of memory");
    return body;
}

int sim_sample_read(const char *directory, const char *name, buffer *out, char *error,
                    size_t error_size)
{
    if (name[0] == '\0' || name[0] == '.' || strchr(name, '/') != NULL || strlen(name) > 255) {
        snprintf(error, error_size, "sample: a file name in the samples directory");
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%.3800s/%s", directory, name);
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        snprintf(error, error_size, "sample %s: %s", name, strerror(errno));
        return -1;
    }
    char chunk[8192];
    int failed = 0;
    for (size_t got = fread(chunk, 1, sizeof chunk, file); got > 0 && !failed;
         got = fread(chunk, 1, sizeof chunk, file))
        failed = out->length + got > SIM_MAX_SAMPLE || buffer_append(out, chunk, got) != 0;
    failed = failed || ferror(file);
    fclose(file);
    if (failed || buffer_append(out, "", 0) != 0) {
        snprintf(error, error_size, "sample %s: unreadable or larger than 1 MiB", name);
        return -1;
    }
    return 0;
}

int sim_deliver(const sim_delivery *delivery, sim_delivery_outcome *outcome)
{
    memset(outcome, 0, sizeof *outcome);
    char signature[SIM_SIGNATURE_SIZE];
    if (sim_delivery_signature(delivery->secret, delivery->body, delivery->length, signature) !=
        0) {
        snprintf(outcome->error, sizeof outcome->error, "cannot sign the body");
        return -1;
    }
    char signature_line[128];
    char topic_line[160];
    char org_line[96];
    snprintf(signature_line, sizeof signature_line, "X-Haravan-Hmacsha256: %s", signature);
    snprintf(topic_line, sizeof topic_line, "X-Haravan-Topic: %s", delivery->topic);
    snprintf(org_line, sizeof org_line, "X-Haravan-Org-Id: %s", delivery->org_id);
    const char *const headers[] = {"Content-Type: application/json", signature_line, topic_line,
                                   org_line, NULL};
    for (long attempt = 0; attempt <= delivery->retries; attempt++) {
        sim_outbound_result result;
        int answered = sim_outbound_send("POST", delivery->callback_url, headers, delivery->body,
                                         delivery->length, delivery->timeout_ms, &result) == 0;
        outcome->attempts++;
        outcome->status = answered ? result.status : 0;
        snprintf(outcome->error, sizeof outcome->error, "%s", result.error);
        sim_outbound_result_free(&result);
        if (answered && outcome->status >= 200 && outcome->status <= 299)
            return 0;
    }
    return -1;
}
