/*
 * listing: the query parameters of Haravan's list and count endpoints, and
 * the page of records they select.
 *
 * Parameters (docs/HARAVAN.md section 3): limit (default 50; above 50 means
 * 50), page (from 1), since_id (records with a greater id),
 * created_at_min|max and updated_at_min|max (inclusive, ISO 8601),
 * fields (a comma separated list of the fields to return), order
 * ("id asc" by default; "created_at" or "updated_at", "asc" or "desc"),
 * and for orders status (open by default, closed, cancelled, any: the
 * default leaves closed and cancelled orders out, as in the
 * Shopify-derived API Haravan documents, so a client that wants every
 * order must say status=any). Unknown parameters are ignored, as the real
 * service does; a known one with a bad value is a 400 naming it.
 *
 * Ownership: a sim_listing points into the form it was parsed from; keep
 * the form alive while using it. Arrays and objects returned are new and
 * belong to the caller (cJSON_Delete).
 */
#ifndef HARAVAN_SIM_LISTING_H
#define HARAVAN_SIM_LISTING_H

#include <stddef.h>

#include <cJSON.h>

#include "core/form.h"

#define SIM_LISTING_DEFAULT_LIMIT 50
#define SIM_LISTING_MAX_LIMIT     50

/* Which parameters an endpoint takes beyond the common ones. */
enum sim_listing_features {
    SIM_LISTING_STATUS = 1, /* orders: status=open|closed|cancelled|any */
    SIM_LISTING_SEARCH = 2, /* customers/search.json: query= */
};

enum sim_order_status {
    SIM_STATUS_OPEN,
    SIM_STATUS_CLOSED,
    SIM_STATUS_CANCELLED,
    SIM_STATUS_ANY,
};

typedef struct sim_time_range {
    int has_minimum;
    int has_maximum;
    long long minimum; /* microseconds since the epoch, inclusive */
    long long maximum;
} sim_time_range;

typedef struct sim_listing {
    long limit;
    long page;
    long long since_id;
    sim_time_range created;
    sim_time_range updated;
    unsigned features;
    enum sim_order_status status;
    const char *sort_field; /* "id", "created_at" or "updated_at" */
    int descending;
    const char *fields; /* NULL: every field */
    const char *search; /* NULL: no search */
} sim_listing;

/* Reads `query` for an endpoint with `features`. Returns 0, or -1 with the
 * offending parameter's name in `parameter` and what is wrong in
 * `message`. */
int sim_listing_parse(sim_listing *listing, const form *query, unsigned features, char *parameter,
                      size_t parameter_size, char *message, size_t message_size);

/* 1 when `record` passes the listing's filters (not its paging). */
int sim_listing_matches(const sim_listing *listing, const cJSON *record);

/* The records of `records` that match, in the listing's order, one page
 * of them, each reduced to `fields`. NULL when memory ran out. */
cJSON *sim_listing_page(const sim_listing *listing, const cJSON *records);

/* How many records of `records` match. */
long sim_listing_count(const sim_listing *listing, const cJSON *records);

/* A copy of `record` reduced to the comma separated `fields` (NULL: the
 * whole record). NULL when memory ran out. */
cJSON *sim_listing_project(const char *fields, const cJSON *record);

#endif
