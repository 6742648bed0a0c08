/*
 * clock: CLOCK_MONOTONIC as seconds. See clock.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "core/clock.h"

#include <time.h>

double clock_monotonic_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}
