/*
 * sim: the shared pieces of the simulator's state (clock, stalls,
 * counters, release). See sim.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "sim.h"

#include "core/crypto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

double sim_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

void sim_sleep_ms(const sim *s, long milliseconds)
{
    struct timespec remaining = {milliseconds / 1000, (milliseconds % 1000) * 1000000L};
    while (!*s->stop_requested && nanosleep(&remaining, &remaining) != 0 && errno == EINTR)
        continue;
}

const sim_token *sim_authenticate(const sim *s, const request *r)
{
    const char *header = request_header(r, "Authorization");
    if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
        return NULL;
    const char *token = header + 7;
    token += strspn(token, " ");
    return sim_store_live_token(&s->store, token, sim_now());
}

static sim_path_count *find_path(sim_counters *counters, const char *path)
{
    for (size_t i = 0; i < counters->count; i++)
        if (strcmp(counters->paths[i].path, path) == 0)
            return &counters->paths[i];
    return NULL;
}

static sim_path_count *add_path(sim_counters *counters, const char *path)
{
    if (counters->count == counters->capacity) {
        size_t capacity = counters->capacity > 0 ? counters->capacity * 2 : 16;
        sim_path_count *grown = realloc(counters->paths, capacity * sizeof *grown);
        if (grown == NULL)
            return NULL;
        counters->paths = grown;
        counters->capacity = capacity;
    }
    char *copy = strdup(path);
    if (copy == NULL)
        return NULL;
    sim_path_count *entry = &counters->paths[counters->count++];
    *entry = (sim_path_count){copy, 0};
    return entry;
}

int sim_counters_record(sim_counters *counters, const char *path, int status)
{
    counters->total++;
    if (status >= 0 && status < SIM_MAX_STATUS)
        counters->by_status[status]++;
    sim_path_count *entry = find_path(counters, path);
    if (entry == NULL)
        entry = add_path(counters, path);
    if (entry == NULL)
        return -1;
    entry->calls++;
    return 0;
}

void sim_counters_clear(sim_counters *counters)
{
    for (size_t i = 0; i < counters->count; i++)
        free(counters->paths[i].path);
    free(counters->paths);
    memset(counters, 0, sizeof *counters);
}

void sim_config_defaults(sim_config *config)
{
    config->access_token_seconds = SIM_DEFAULT_ACCESS_TOKEN_SECONDS;
    config->delivery_timeout_ms = SIM_DEFAULT_DELIVERY_TIMEOUT_MS;
    config->delivery_retries = SIM_DEFAULT_DELIVERY_RETRIES;
    config->refresh_usage = SIM_REFRESH_ROTATE;
    config->c_hash = SIM_HASH_INCLUDE;
    config->at_hash = SIM_HASH_INCLUDE;
}

int sim_base_url(const sim *s, const request *r, buffer *out)
{
    if (s->settings.base_url != NULL && s->settings.base_url[0] != '\0')
        return buffer_append_string(out, s->settings.base_url);
    const char *host = request_header(r, "Host");
    if (host == NULL || host[0] == '\0' || strlen(host) > 255 || strpbrk(host, "\"'<>/ ") != NULL)
        host = "127.0.0.1";
    return buffer_printf(out, "http://%s", host);
}

int sim_random_hex(char *out, size_t bytes)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char random_bytes[64];
    if (bytes > sizeof random_bytes || crypto_random(random_bytes, bytes) != 0)
        return -1;
    for (size_t i = 0; i < bytes; i++) {
        out[2 * i] = digits[random_bytes[i] >> 4];
        out[2 * i + 1] = digits[random_bytes[i] & 15];
    }
    out[2 * bytes] = '\0';
    return 0;
}

void sim_free(sim *s)
{
    sim_store_free(&s->store);
    sim_counters_clear(&s->counters);
    sim_key_free(&s->key);
    sim_apps_free(&s->apps);
    sim_grants_free(&s->grants);
    sim_subscriptions_free(&s->subscriptions);
}
