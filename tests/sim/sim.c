/*
 * sim: the shared pieces of the simulator's state (clock, stalls,
 * counters, release). See sim.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "sim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
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

void sim_free(sim *s)
{
    sim_store_free(&s->store);
    sim_counters_clear(&s->counters);
}
