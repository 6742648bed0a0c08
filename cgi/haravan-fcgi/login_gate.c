/*
 * login_gate: password-check slots shared by the workers. See login_gate.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "login_gate.h"

#include <errno.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

/* A pid that no longer exists held its slot when it died. */
static int holder_gone(int pid)
{
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

static int slot_count(int workers)
{
    int slots = workers / 2;
    if (slots < 1)
        return 1;
    return slots > LOGIN_GATE_SLOTS ? LOGIN_GATE_SLOTS : slots;
}

int login_gate_enter(counters *shared, int workers)
{
    int self = (int)getpid();
    int slots = slot_count(workers);
    for (int i = 0; i < slots; i++) {
        int holder = atomic_load(&shared->login_checkers[i]);
        if (holder != 0 && holder != self && !holder_gone(holder))
            continue;
        /* Fails when another worker took the slot meanwhile: try the next. */
        if (atomic_compare_exchange_strong(&shared->login_checkers[i], &holder, self))
            return i;
    }
    return -1;
}

void login_gate_leave(counters *shared, int slot)
{
    if (slot >= 0 && slot < LOGIN_GATE_SLOTS)
        atomic_store(&shared->login_checkers[slot], 0);
}
