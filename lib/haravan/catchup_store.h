/*
 * hv_catchup_store: a page of Haravan records into the inbox, and the
 * job's checkpoint after it, in one transaction (haravan/catchup.h: why
 * this makes an interrupted import end with the rows of an uninterrupted
 * one).
 *
 * Each record becomes an event of topic "{kind}/import" or
 * "{kind}/reconcile" whose body is the record as Haravan listed it, with
 * the dedupe key a webhook of that topic would have
 * (v1:{org}:{topic}:{id}:{updated_at}), so the same version listed twice
 * is one event. A version the inbox already holds under any topic (a
 * webhook brought it, or an earlier run: inbox/held.h) is not stored.
 *
 * Ownership: the records stay the caller's.
 */
#ifndef HARAVAN_HARAVAN_CATCHUP_STORE_H
#define HARAVAN_HARAVAN_CATCHUP_STORE_H

#include <stddef.h>

#include <cJSON.h>

#include "haravan/catchup.h"

/* Stores those of `records` (`count`) that the inbox does not hold, adds
 * them to job->stored, and saves `job` (its checkpoint already advanced
 * by the caller), all in one transaction. Returns 0, or -1 with
 * database->error (nothing of it happened). */
int hv_catchup_store_page(db *database, hv_catchup_job *job, const cJSON *const *records,
                          size_t count);

#endif
