/*
 * login_gate: at most half of the workers check an admin password at once.
 *
 * A password check is one PBKDF2 derivation (600,000 iterations, a few
 * hundred milliseconds of CPU) in the worker that took the request. Ten
 * wrong logins sent at once would otherwise occupy every worker, and
 * Haravan's deliveries, which share them, would wait. A login that finds
 * the gate full is answered 429 with Retry-After: 1 at once, without
 * looking at the password and without counting as a failure: the
 * merchant's browser simply tries again a second later.
 *
 * The slots are pids in the master's shared mapping (counters.h), taken
 * with compare-and-swap. A worker killed while it held one leaves its pid
 * behind; the next taker finds that pid gone and takes the slot over, so
 * a crash never closes the gate for good.
 */
#ifndef HARAVAN_FCGI_LOGIN_GATE_H
#define HARAVAN_FCGI_LOGIN_GATE_H

#include "counters.h"

/* Takes a slot of the max(1, workers / 2) there are (at most
 * LOGIN_GATE_SLOTS). Returns its index, or -1 when all are held. */
int login_gate_enter(counters *shared, int workers);

/* Gives back the slot login_gate_enter returned. */
void login_gate_leave(counters *shared, int slot);

#endif
