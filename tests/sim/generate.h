/*
 * generate: a shop's worth of customers and orders made from a seed, so
 * that the connector's historical import and reconciliation (issue #11)
 * can be tested against thousands of records of Haravan's own shapes.
 *
 * Why it is built this way:
 * - Deterministic: the same seed, counts and store give the same records,
 *   byte for byte, so a test can compute what the CRM must hold from the
 *   simulator's own listing and a failure can be reproduced.
 * - Realistic: every record is a copy of a seeded sample (the seeded
 *   customer with the most fields, the seeded orders in turn) with its
 *   varying fields replaced: names, phones and e-mails (some missing;
 *   those present unique per customer, as Haravan keeps them), addresses,
 *   line items, source_name, financial_status (pending "pay later"
 *   included), the user_id of a seeded staff member, closed and cancelled
 *   orders, and created_at/updated_at spread over the six months before
 *   SIM_GENERATE_END. Timestamps are whole seconds, and every seventh
 *   record shares the updated_at of the one before; one run of
 *   SIM_GENERATE_SAME_INSTANT orders shares a single instant, more than a
 *   page holds, so that paging by timestamp meets equal timestamps.
 * - Customers of different shops never share a phone or an e-mail (both
 *   carry the id, and each shop's ids start in a range of their own,
 *   2000000000 + (org id mod 100) x 100000), as a CRM matches people by
 *   them across shops.
 * - Records get ids above every id the org holds, and are appended in id
 *   order (the store's order) without a search per record: 20,000 orders
 *   are made in well under a second.
 *
 * sim_generate_touch() plays merchants editing records: K existing
 * records, picked from the seed, get updated_at = now (wall clock, UTC,
 * milliseconds, as Haravan writes it) and a changed note; the touched
 * records are returned so that the caller can deliver their webhooks.
 *
 * Ownership: the records go into the org's arrays (the store owns them);
 * the list sim_generate_touch() returns holds pointers into the store
 * (valid until the records are replaced) and is the caller's to free()
 * (not the records).
 */
#ifndef HARAVAN_SIM_GENERATE_H
#define HARAVAN_SIM_GENERATE_H

#include <stddef.h>

#include <cJSON.h>

#include "store.h"

#define SIM_GENERATE_MAX_RECORDS 200000
/* The last moment generated records may carry: 2026-06-01T00:00:00Z. */
#define SIM_GENERATE_END          1780272000LL
#define SIM_GENERATE_SPAN_SECONDS (180LL * 86400)
#define SIM_GENERATE_SAME_INSTANT 120

/* A small, fast, seedable generator (splitmix64): the same seed gives the
 * same sequence on every platform. */
typedef struct sim_random {
    unsigned long long state;
} sim_random;

void sim_random_seed(sim_random *random, unsigned long long seed);
unsigned long long sim_random_next(sim_random *random);
/* A number in [0, bound). */
unsigned long long sim_random_below(sim_random *random, unsigned long long bound);

/* Adds `customers` customers and `orders` orders to `org`, made from
 * `seed` and shaped like the records of `templates` (the seeded shop; it
 * may be `org`), whose staff the orders are assigned to. Orders belong to the customers made by the
 * same call (a few to none: guest checkouts); with no customers made, to none. Returns 0, or -1
 * with a message in `error` (no templates in the org, memory). */
int sim_generate(const sim_org *templates, sim_org *org, long customers, long orders,
                 unsigned long long seed, char *error, size_t error_size);

/* Which records sim_generate_touch() picks. */
typedef enum sim_touch_kind {
    SIM_TOUCH_ORDERS,
    SIM_TOUCH_CUSTOMERS,
} sim_touch_kind;

/* Gives `count` distinct records of `kind` (chosen from `seed`) an
 * updated_at of `now_ms` (milliseconds since the epoch) and a changed
 * note. Sets *touched to a new array of the touched records (free() it)
 * and *touched_count. Returns 0, or -1 with a message in `error`. */
int sim_generate_touch(sim_org *org, sim_touch_kind kind, long count, unsigned long long seed,
                       long long now_ms, cJSON ***touched, size_t *touched_count, char *error,
                       size_t error_size);

/* Adds `count` new orders (ids above the org's), made from `seed` like
 * sim_generate()'s, of the org's own customers (a few guests), created and
 * updated at `now_ms` (milliseconds since the epoch), as a burst of
 * today's orders. Sets *made to a new array of them (free() it; the
 * orders are the store's). Returns 0, or -1 with a message in `error`. */
int sim_generate_new_orders(const sim_org *templates, sim_org *org, long count,
                            unsigned long long seed, long long now_ms, cJSON ***made,
                            size_t *made_count, char *error, size_t error_size);

/* Haravan's form of a time: "2026-05-31T23:59:59Z" (whole seconds) or,
 * with milliseconds, "2026-05-31T23:59:59.123Z". Writes into `out`. */
void sim_generate_time(long long milliseconds, int with_fraction, char *out, size_t out_size);

#endif
