/*
 * counters: a shared anonymous mapping of atomic counters. See counters.h.
 */
#define _DEFAULT_SOURCE
#include "counters.h"

#include <string.h>
#include <sys/mman.h>

counters *counters_create(void)
{
    void *memory =
        mmap(NULL, sizeof(counters), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED)
        return NULL;
    counters *shared = memory;
    atomic_init(&shared->requests, 0);
    atomic_init(&shared->webhook_stored, 0);
    atomic_init(&shared->webhook_duplicates, 0);
    atomic_init(&shared->webhook_unparseable, 0);
    atomic_init(&shared->webhook_rejected_signature, 0);
    atomic_init(&shared->webhook_unavailable, 0);
    atomic_init(&shared->workers_restarted, 0);
    atomic_init(&shared->settings_loads, 0);
    for (int i = 0; i < LOGIN_GATE_SLOTS; i++)
        atomic_init(&shared->login_checkers[i], 0);
    return shared;
}
