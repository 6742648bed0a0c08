/*
 * hv_rate: each shop's Haravan API rate limit, as one bucket in
 * PostgreSQL (hv_rate_buckets, sql/connector/009_rate_buckets.sql) that every
 * process on every host spends together.
 *
 * What Haravan does (docs/ARCHITECTURE.md, "Rate limit"): each shop has a
 * leaky bucket of HV_RATE_BUCKET_SIZE calls that drains
 * HV_RATE_DRAIN_PER_SECOND calls a second. A call that would overflow it
 * is refused with 429 and a Retry-After (seconds); every answer tells the
 * level in X-Haravan-Api-Call-Limit ("32/80").
 *
 * Why the bucket is kept in the database: a bucket remembered inside one
 * process (what hv_api_client does on its own) cannot know what the other
 * processes and hosts spent, so with several of them a shop gets 429s.
 * PostgreSQL is what all of them already share.
 *
 * How to use it, for every call the connector makes for a shop:
 *
 *   1. hv_rate_take(): one statement takes a slot if the level, drained
 *      to now, stays at or under size - headroom after the call (and no
 *      429 is being waited out); otherwise it takes nothing and says how
 *      many milliseconds to wait. A caller that cannot get a slot does not
 *      sleep while it holds something others need (a processor: see
 *      crm/processor.h): it comes back later.
 *   2. the call, with an hv_api_client whose options have shared_bucket
 *      set (no pacing of its own, a 429 handed back, not slept on).
 *   3. hv_rate_observe() with the answer's X-Haravan-Api-Call-Limit, or
 *      hv_rate_refused() after a 429.
 *
 * Correcting the level (hv_rate_observe): Haravan's count wins, raised by
 * the slots granted after this call's own slot (the ticket), since those
 * calls may not have reached Haravan when it counted. The level may go
 * down (slots taken for calls that never reached Haravan) or up (calls we
 * did not count); it never forgets a slot granted since. A slot counted
 * twice (a later call that reached Haravan first) makes the bucket err on
 * the side of waiting. A 429 sets the level full and keeps every slot
 * closed until its Retry-After has passed.
 *
 * Headroom: the slots kept free under the size absorb what the bucket
 * cannot see (another app of the shop, clocks of hosts, calls in flight).
 * Time is PostgreSQL's clock (clock_timestamp()), the same for every host.
 *
 * Errors are values: -1 with the message in database->error. Nothing
 * returned here needs freeing.
 */
#ifndef HARAVAN_HARAVAN_RATE_BUCKET_H
#define HARAVAN_HARAVAN_RATE_BUCKET_H

#include "core/db.h"

/* Haravan's numbers, in one place (haravan/api.h's pacing uses them too). */
#define HV_RATE_BUCKET_SIZE      80  /* calls a shop's bucket holds */
#define HV_RATE_DRAIN_PER_SECOND 4.0 /* calls it drains a second */
#define HV_RATE_HEADROOM         10  /* calls kept free: take up to 70 of 80 */
/* The shortest wait hv_rate_take() answers, so that callers never spin. */
#define HV_RATE_MIN_WAIT_MS 20

typedef struct hv_rate_limits {
    int size;
    double drain_per_second;
    int headroom;
} hv_rate_limits;

/* Haravan's: HV_RATE_BUCKET_SIZE, HV_RATE_DRAIN_PER_SECOND, HV_RATE_HEADROOM. */
void hv_rate_limits_defaults(hv_rate_limits *limits);

/* Takes a slot of shop `org_id`'s bucket. Returns 1 with *ticket set (the
 * slot's number, for hv_rate_observe), 0 with *wait_ms (at least
 * HV_RATE_MIN_WAIT_MS) when there is no room yet, -1 on a database error.
 * Never waits itself. */
int hv_rate_take(db *database, const char *org_id, const hv_rate_limits *limits, long long *ticket,
                 long *wait_ms);

/* Corrects the level from an answer's X-Haravan-Api-Call-Limit `used`
 * (of any size: the level is kept at most limits->size), for the call
 * made with slot `ticket`. Returns 0 or -1. */
int hv_rate_observe(db *database, const char *org_id, const hv_rate_limits *limits,
                    long long ticket, int used);

/* A 429: the bucket is full and no slot opens for `retry_after_seconds`
 * (negative: none was given; then until it drains under the headroom).
 * Returns 0 or -1. */
int hv_rate_refused(db *database, const char *org_id, const hv_rate_limits *limits,
                    double retry_after_seconds);

#endif
