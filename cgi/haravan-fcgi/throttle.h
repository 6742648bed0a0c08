/*
 * throttle: failed admin logins, counted per client address with a much
 * higher ceiling for all addresses together.
 *
 * An attempt is written to hv_admin_login_failures before the password is
 * checked and removed when it was right, so guesses sent all at once count
 * as much as guesses sent one by one. The check and the write run under a
 * transaction-scoped advisory lock, so every worker (and every host) sees
 * the same counts.
 *
 * Per address (nginx's $remote_addr, REMOTE_ADDR): once an address has
 * THROTTLE_MAX_FAILURES failures in the last minute, its logins, right or
 * wrong, are refused with 429 without looking at the password until its
 * oldest failure is a minute old. Another address is not affected: a
 * stranger's guesses must not lock the merchant out.
 *
 * All addresses: THROTTLE_MAX_FAILURES_GLOBAL failures a minute, whoever
 * sends them, stop every login the same way. It bounds guessing from many
 * addresses (a botnet) at 100 a minute; reaching it does lock the merchant
 * out for up to a minute, which is the price of that bound.
 *
 * The throttle does the slowing; no worker waits. Each check costs one
 * PBKDF2 derivation, and login_gate.h keeps those from taking the workers
 * that Haravan's deliveries need.
 */
#ifndef HARAVAN_FCGI_THROTTLE_H
#define HARAVAN_FCGI_THROTTLE_H

#include "core/db.h"

#define THROTTLE_MAX_FAILURES        10
#define THROTTLE_MAX_FAILURES_GLOBAL 100
#define THROTTLE_WINDOW_SECONDS      60

/* Records an attempt from `remote_addr` (NULL counts as one unknown
 * address). Returns 1 with its id in *attempt when the password may be
 * checked; 0 when throttled, with the seconds to wait in *retry_after;
 * -1 when the database failed. */
int throttle_begin(db *database, const char *remote_addr, long long *attempt, int *retry_after);

/* The password was right: the attempt is not a failure. Returns 0 or -1. */
int throttle_forget(db *database, long long attempt);

#endif
