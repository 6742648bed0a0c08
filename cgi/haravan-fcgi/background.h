/*
 * background: the one child of the master that is not a FastCGI worker.
 *
 * Workers process the event they stored right after answering Haravan.
 * Whatever they could not finish (a crash, PostgreSQL down, a failure to
 * retry later) is still `pending` in the inbox; this process finds what is
 * due and processes it, once a second or sooner when there is a backlog.
 * It claims nothing for itself: crm_process_event() locks each event with
 * SKIP LOCKED, so it and the workers (and other hosts) never collide.
 *
 * It also keeps the shops' access tokens alive: before each pass it
 * refreshes the tokens that are close to expiry (haravan/token_refresh.h),
 * so that workers and processing rarely meet an expired one.
 */
#ifndef HARAVAN_FCGI_BACKGROUND_H
#define HARAVAN_FCGI_BACKGROUND_H

#include "core/config.h"
#include "counters.h"

/* Runs until SIGTERM. Returns the process exit status. */
int background_run(const config *configuration, counters *shared);

#endif
