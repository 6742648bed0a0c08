/*
 * processing: one of the master's HARAVAN_PROCESSORS processor processes.
 *
 * Request workers only check, store and answer; everything after the
 * inbox happens here, in processes that never answer HTTP, so that a slow
 * event (a Haravan API call with retries) never holds back an
 * acknowledgement to Haravan. Each processor:
 *
 *   - LISTENs on the inbox's channel (inbox/inbox.h: the INSERT that
 *     stores an event notifies in its own statement) and sleeps in ppoll()
 *     on its PostgreSQL socket, so a stored event is taken at once;
 *   - claims and processes what is due (crm_process_due: one version of a
 *     resource at a time, oldest first, different resources in parallel
 *     across processors and hosts), and keeps going while it finds work;
 *   - when idle, sleeps until the next retry comes due, at most
 *     PROCESSING_SWEEP_SECONDS: the sweep is only a safety net, for events
 *     stored while nobody listened (a new session also sweeps at once);
 *     while an event is due but was left because another session held its
 *     resource, it looks again every second (that session's processor goes
 *     on by itself when done, but one that died does not say so);
 *   - keeps the shops' tokens alive ahead of expiry, if it holds the
 *     refresh duty: a session advisory lock in the database that one
 *     processor at a time holds, across every host on the database; when
 *     its holder dies, another takes it within a second.
 *
 * SIGTERM is let in only while it sleeps: an event in hand is finished
 * first. A processor killed mid-work loses nothing: its event was never
 * marked and its locks die with its session, so another processor takes
 * the event (crm/processor.h).
 */
#ifndef HARAVAN_FCGI_PROCESSING_H
#define HARAVAN_FCGI_PROCESSING_H

#include "core/config.h"
#include "counters.h"

#define PROCESSING_SWEEP_SECONDS 10

/* Runs until SIGTERM. Returns the process exit status. */
int processing_run(const config *configuration, counters *shared);

#endif
