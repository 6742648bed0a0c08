/*
 * counters: intake counters shared by the master and all its workers.
 *
 * Rejected signatures must be countable without writing anything to the
 * database (an attacker must not be able to fill it), so the counts live
 * in one anonymous shared mapping made by the master before it forks and
 * updated with atomic adds. They are process metrics: they start at zero
 * when haravan-fcgi starts and survive worker restarts and SIGHUP.
 *
 * This is the one piece of mutable state shared across processes besides
 * configuration. The counts only ever grow; two more members live in the
 * same mapping because they too must be seen by every worker without the
 * database: settings_loads (how often a worker read the webhook settings,
 * secrets.h) and the pids of the workers checking an admin password
 * (login_gate.h).
 */
#ifndef HARAVAN_FCGI_COUNTERS_H
#define HARAVAN_FCGI_COUNTERS_H

#include <stdatomic.h>

/* The most password checks login_gate.h lets run at once. */
#define LOGIN_GATE_SLOTS 16

typedef struct counters {
    atomic_llong requests;
    atomic_llong webhook_stored;
    atomic_llong webhook_duplicates;
    atomic_llong webhook_unparseable;
    atomic_llong webhook_rejected_signature;
    atomic_llong webhook_unavailable;
    atomic_llong workers_restarted;
    atomic_llong settings_loads;                 /* webhook settings read from the database */
    atomic_int login_checkers[LOGIN_GATE_SLOTS]; /* pid or 0; login_gate.c */
} counters;

/* Maps zeroed counters shared with future children; NULL on failure. */
counters *counters_create(void);

static inline void counters_add(atomic_llong *counter)
{
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

static inline long long counters_read(atomic_llong *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

#endif
