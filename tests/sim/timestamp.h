/*
 * timestamp: the ISO 8601 date-times of Haravan's data and query strings,
 * as microseconds since the epoch, so that the simulator can compare
 * created_at and updated_at with the _min/_max parameters of a listing.
 *
 * Accepted (what Haravan writes, and what a client may send):
 *     2021-11-03T03:33:02.313Z          fractions of any length (7 digits
 *     2021-08-18T06:18:27.4880706Z      occur in the docs' samples)
 *     2024-01-01T00:00:00+07:00         explicit offsets, with or without ':'
 *     2024-01-01T00:00:00               no offset: the shop's zone, +07:00
 *     2024-01-01                        midnight in the shop's zone
 * Anything else is refused, including an offset whose '+' arrived as a
 * space because the client did not %-encode it: the simulator must show
 * that client bug instead of guessing.
 *
 * No state; nothing allocated.
 */
#ifndef HARAVAN_SIM_TIMESTAMP_H
#define HARAVAN_SIM_TIMESTAMP_H

/* Haravan's shops keep Vietnamese time (docs/HARAVAN.md section 3). */
#define SIM_SHOP_UTC_OFFSET_SECONDS (7 * 3600)

/* Returns 0 and sets *microseconds, or -1 when `text` is not a date-time
 * of the forms above (or names an impossible date). */
int sim_timestamp_parse(const char *text, long long *microseconds);

#endif
