/*
 * throttle: at most THROTTLE_MAX_FAILURES failed admin logins a minute.
 *
 * An attempt is written to hv_admin_login_failures before the password is
 * checked and removed when it was right, so guesses sent all at once count
 * as much as guesses sent one by one. The check and the write run under a
 * transaction-scoped advisory lock, so every worker (and every host) sees
 * the same count. Once the minute holds THROTTLE_MAX_FAILURES failures,
 * every login, right or wrong, is refused with 429 without looking at the
 * password, until the oldest failure is a minute old.
 */
#ifndef HARAVAN_FCGI_THROTTLE_H
#define HARAVAN_FCGI_THROTTLE_H

#include "core/db.h"

#define THROTTLE_MAX_FAILURES   10
#define THROTTLE_WINDOW_SECONDS 60

/* Records an attempt. Returns 1 with its id in *attempt when the password
 * may be checked; 0 when throttled, with the seconds to wait in
 * *retry_after; -1 when the database failed. `remote_addr` may be NULL. */
int throttle_begin(db *database, const char *remote_addr, long long *attempt, int *retry_after);

/* The password was right: the attempt is not a failure. Returns 0 or -1. */
int throttle_forget(db *database, long long attempt);

#endif
