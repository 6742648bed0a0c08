/*
 * bucket: leaky-bucket arithmetic. See bucket.h.
 */
#include "bucket.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void drain(sim_bucket *bucket, double now, double drain_per_second)
{
    if (bucket->updated_at > 0 && now > bucket->updated_at) {
        bucket->level -= (now - bucket->updated_at) * drain_per_second;
        if (bucket->level < 0)
            bucket->level = 0;
    }
    bucket->updated_at = now;
}

int sim_bucket_take(sim_bucket *bucket, double now, double capacity, double drain_per_second,
                    double *retry_after)
{
    drain(bucket, now, drain_per_second);
    /* A small tolerance: 80 calls made at once must all fit, even though
     * the float arithmetic of draining may leave 80.0000000001. */
    if (bucket->level + 1 > capacity + 1e-9) {
        *retry_after = (bucket->level + 1 - capacity) / drain_per_second;
        return 0;
    }
    bucket->level += 1;
    *retry_after = 0;
    return 1;
}

int sim_bucket_shown(sim_bucket *bucket, double now, double drain_per_second)
{
    drain(bucket, now, drain_per_second);
    return (int)ceil(bucket->level - 1e-9);
}

void sim_bucket_set(sim_bucket *bucket, double now, double level)
{
    bucket->level = level < 0 ? 0 : level;
    bucket->updated_at = now;
}

void sim_bucket_format_seconds(double seconds, char *out, size_t size)
{
    double hundredths = ceil(seconds * 100 - 1e-9);
    if (hundredths < 1)
        hundredths = 1;
    snprintf(out, size, "%.2f", hundredths / 100);
    size_t length = strlen(out);
    while (length > 0 && out[length - 1] == '0')
        out[--length] = '\0';
    if (length > 0 && out[length - 1] == '.')
        out[--length] = '\0';
}

void sim_bucket_count(sim_bucket_counts *counts, double now, int admitted, double level)
{
    if (!admitted) {
        counts->refused++;
        return;
    }
    if (level > counts->max_level)
        counts->max_level = level;
    if (counts->admitted == 0)
        counts->first_admitted_at = now;
    counts->admitted++;
    counts->per_second[sim_bucket_seconds_used(counts, now) - 1]++;
}

int sim_bucket_seconds_used(const sim_bucket_counts *counts, double now)
{
    if (counts->admitted == 0)
        return 0;
    double elapsed = now - counts->first_admitted_at;
    long second = elapsed > 0 ? (long)floor(elapsed) : 0;
    return second >= SIM_BUCKET_SECONDS ? SIM_BUCKET_SECONDS : (int)second + 1;
}
