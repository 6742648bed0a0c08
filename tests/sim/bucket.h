/*
 * bucket: Haravan's rate limit, a leaky bucket per shop (docs/HARAVAN.md
 * section 3): it holds 80 calls and drains 4 per second; a call that would
 * overflow it is refused with 429 and a Retry-After, and is not counted.
 *
 * The level is kept as a fraction so that draining between calls is exact;
 * what a response shows in X-Haravan-Api-Call-Limit is the level rounded
 * up to whole calls. Time is passed in (monotonic seconds) so that the
 * arithmetic can be tested without waiting.
 *
 * A bucket is a plain value inside its shop's record; nothing allocated.
 */
#ifndef HARAVAN_SIM_BUCKET_H
#define HARAVAN_SIM_BUCKET_H

#include <stddef.h>

typedef struct sim_bucket {
    double level;      /* calls in the bucket at `updated_at` */
    double updated_at; /* monotonic seconds; 0 for a bucket never used */
} sim_bucket;

/* Takes one call at time `now`. Returns 1 when it fits (and is counted);
 * 0 when it would overflow `capacity`, with *retry_after set to the
 * seconds after which one call fits again (not counted). */
int sim_bucket_take(sim_bucket *bucket, double now, double capacity, double drain_per_second,
                    double *retry_after);

/* The level at `now` in whole calls, rounded up, as the header shows it. */
int sim_bucket_shown(sim_bucket *bucket, double now, double drain_per_second);

/* Sets the level at `now` (tests of a nearly full bucket). */
void sim_bucket_set(sim_bucket *bucket, double now, double level);

/* What a shop's bucket let through and refused since the last
 * /sim/reset, second by second, so that a test can check a client's pace
 * from the server's side: "never more than 4 calls in a second". */
#define SIM_BUCKET_SECONDS 600 /* seconds kept; later calls count in the last */
/* The last calls a bucket let through, in order: which resource each was
 * for and the level it left, so a test can tell whose call went first
 * (an import's page, or a live staff lookup) and at what level. */
#define SIM_BUCKET_RECENT 256
typedef struct sim_bucket_call {
    char path[64];
    int used; /* the level after it, as X-Haravan-Api-Call-Limit showed it */
} sim_bucket_call;

typedef struct sim_bucket_counts {
    sim_bucket_call recent[SIM_BUCKET_RECENT]; /* a ring; admitted % SIM_BUCKET_RECENT is next */
    long long admitted;
    long long refused;
    double first_admitted_at;           /* monotonic seconds; 0 before the first */
    double max_level;                   /* the highest level an admitted call left */
    int per_second[SIM_BUCKET_SECONDS]; /* admitted in each whole second after the first */
} sim_bucket_counts;

/* Counts one call at `now`, admitted (with the bucket's `level` after it)
 * or refused (a 429 of the bucket). */
void sim_bucket_count(sim_bucket_counts *counts, double now, int admitted, double level);

/* How many seconds of per_second are in use (0 before the first call). */
int sim_bucket_seconds_used(const sim_bucket_counts *counts, double now);

/* Writes seconds as Retry-After shows them: rounded up to hundredths,
 * at least 0.01, without trailing zeros ("0.25", "1", "2.5"). */
void sim_bucket_format_seconds(double seconds, char *out, size_t size);

#endif
