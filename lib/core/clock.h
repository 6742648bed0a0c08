/*
 * clock: the one monotonic clock the connector times things by.
 *
 * Deadlines, backoffs and "how long since" must not move when an operator
 * or NTP sets the wall clock, so they use CLOCK_MONOTONIC; as seconds in a
 * double they add and compare without timespec carries. Its zero is
 * arbitrary (the boot), so a stored 0 can mean "never".
 */
#ifndef HARAVAN_CORE_CLOCK_H
#define HARAVAN_CORE_CLOCK_H

/* Seconds on CLOCK_MONOTONIC, with nanosecond resolution. */
double clock_monotonic_seconds(void);

#endif
