/*
 * listing: parameter checks, filters, order and paging. See listing.h.
 *
 * Records are compared by keys computed once per request (an id, or a
 * time and the id as tie-break); descending order negates the keys, so
 * one ascending comparison serves every order without global state.
 */
#define _POSIX_C_SOURCE 200809L
#include "listing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store.h"
#include "timestamp.h"

typedef struct refusal {
    char *parameter;
    size_t parameter_size;
    char *message;
    size_t message_size;
} refusal;

static int refuse(refusal *why, const char *parameter, const char *message)
{
    snprintf(why->parameter, why->parameter_size, "%s", parameter);
    snprintf(why->message, why->message_size, "%s", message);
    return -1;
}

/* Digits only, at most 18 of them, within [minimum, maximum]. */
static int parse_whole_number(const char *text, long long minimum, long long *out)
{
    size_t length = strlen(text);
    if (length == 0 || length > 18 || strspn(text, "0123456789") != length)
        return -1;
    long long value = strtoll(text, NULL, 10);
    if (value < minimum)
        return -1;
    *out = value;
    return 0;
}

static int parse_paging(sim_listing *listing, const form *query, refusal *why)
{
    long long number = 0;
    const char *limit = form_get(query, "limit");
    if (limit != NULL) {
        if (parse_whole_number(limit, 1, &number) != 0)
            return refuse(why, "limit", "must be a whole number of 1 or more");
        listing->limit = number > SIM_LISTING_MAX_LIMIT ? SIM_LISTING_MAX_LIMIT : (long)number;
    }
    const char *page = form_get(query, "page");
    if (page != NULL) {
        if (parse_whole_number(page, 1, &number) != 0 || number > 1000000)
            return refuse(why, "page", "must be a whole number from 1 to 1000000");
        listing->page = (long)number;
    }
    const char *since_id = form_get(query, "since_id");
    if (since_id != NULL && parse_whole_number(since_id, 0, &listing->since_id) != 0)
        return refuse(why, "since_id", "must be a whole number");
    return 0;
}

static int parse_time(const form *query, const char *name, int *has, long long *value, refusal *why)
{
    const char *text = form_get(query, name);
    if (text == NULL)
        return 0;
    if (sim_timestamp_parse(text, value) != 0)
        return refuse(why, name,
                      "must be an ISO 8601 date-time such as 2024-01-31T23:59:59+07:00 "
                      "(send '+' as %2B)");
    *has = 1;
    return 0;
}

static int parse_times(sim_listing *listing, const form *query, refusal *why)
{
    sim_time_range *created = &listing->created;
    sim_time_range *updated = &listing->updated;
    if (parse_time(query, "created_at_min", &created->has_minimum, &created->minimum, why) != 0 ||
        parse_time(query, "created_at_max", &created->has_maximum, &created->maximum, why) != 0 ||
        parse_time(query, "updated_at_min", &updated->has_minimum, &updated->minimum, why) != 0 ||
        parse_time(query, "updated_at_max", &updated->has_maximum, &updated->maximum, why) != 0)
        return -1;
    return 0;
}

static int parse_status(sim_listing *listing, const form *query, refusal *why)
{
    static const char *const names[] = {"open", "closed", "cancelled", "any"};
    const char *status = form_get(query, "status");
    if (status == NULL || !(listing->features & SIM_LISTING_STATUS))
        return 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(status, names[i]) == 0) {
            listing->status = (enum sim_order_status)i;
            return 0;
        }
    }
    return refuse(why, "status", "must be open, closed, cancelled or any");
}

/* "field", "field asc" or "field desc" (a '+' in the query is a space). */
static int parse_order(sim_listing *listing, const form *query, refusal *why)
{
    static const char *const fields[] = {"id", "created_at", "updated_at"};
    const char *order = form_get(query, "order");
    if (order == NULL)
        return 0;
    size_t field_length = strcspn(order, " ");
    const char *direction = order + field_length;
    while (*direction == ' ')
        direction++;
    int known_direction = direction[0] == '\0' || strcasecmp(direction, "asc") == 0 ||
                          strcasecmp(direction, "desc") == 0;
    for (size_t i = 0; known_direction && i < sizeof fields / sizeof fields[0]; i++) {
        if (strlen(fields[i]) == field_length && strncmp(order, fields[i], field_length) == 0) {
            listing->sort_field = fields[i];
            listing->descending = strcasecmp(direction, "desc") == 0;
            return 0;
        }
    }
    return refuse(why, "order", "must be id, created_at or updated_at, then asc or desc");
}

int sim_listing_parse(sim_listing *listing, const form *query, unsigned features, char *parameter,
                      size_t parameter_size, char *message, size_t message_size)
{
    memset(listing, 0, sizeof *listing);
    listing->limit = SIM_LISTING_DEFAULT_LIMIT;
    listing->page = 1;
    listing->features = features;
    listing->status = SIM_STATUS_OPEN;
    listing->sort_field = "id";
    refusal why = {parameter, parameter_size, message, message_size};
    if (parse_paging(listing, query, &why) != 0 || parse_times(listing, query, &why) != 0 ||
        parse_status(listing, query, &why) != 0 || parse_order(listing, query, &why) != 0)
        return -1;
    listing->fields = form_get(query, "fields");
    if (features & SIM_LISTING_SEARCH)
        listing->search = form_get(query, "query");
    return 0;
}

/* ---- filters ---------------------------------------------------------- */

/* The record's time field in microseconds; -1 when absent or unreadable. */
static int record_time(const cJSON *record, const char *field, long long *microseconds)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(record, field);
    if (!cJSON_IsString(value))
        return -1;
    return sim_timestamp_parse(value->valuestring, microseconds);
}

static int in_range(const cJSON *record, const char *field, const sim_time_range *range)
{
    if (!range->has_minimum && !range->has_maximum)
        return 1;
    long long time = 0;
    if (record_time(record, field, &time) != 0)
        return 0;
    if (range->has_minimum && time < range->minimum)
        return 0;
    return !(range->has_maximum && time > range->maximum);
}

static int is_set(const cJSON *record, const char *field)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(record, field);
    return value != NULL && !cJSON_IsNull(value);
}

static int status_matches(const sim_listing *listing, const cJSON *record)
{
    if (!(listing->features & SIM_LISTING_STATUS))
        return 1;
    switch (listing->status) {
    case SIM_STATUS_OPEN:
        return !is_set(record, "closed_at") && !is_set(record, "cancelled_at");
    case SIM_STATUS_CLOSED:
        return is_set(record, "closed_at");
    case SIM_STATUS_CANCELLED:
        return is_set(record, "cancelled_at");
    case SIM_STATUS_ANY:
        return 1;
    }
    return 1;
}

/* Case-insensitive (ASCII) substring, so UTF-8 text compares byte-wise. */
static int contains_folded(const char *text, const char *needle)
{
    size_t length = strlen(needle);
    for (const char *start = text; *start != '\0'; start++)
        if (strncasecmp(start, needle, length) == 0)
            return 1;
    return length == 0;
}

static int search_matches(const sim_listing *listing, const cJSON *record)
{
    static const char *const fields[] = {"email", "phone", "first_name", "last_name"};
    if (listing->search == NULL || listing->search[0] == '\0')
        return 1;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(record, fields[i]);
        if (cJSON_IsString(value) && contains_folded(value->valuestring, listing->search))
            return 1;
    }
    return 0;
}

int sim_listing_matches(const sim_listing *listing, const cJSON *record)
{
    return sim_record_id(record) > listing->since_id &&
           in_range(record, "created_at", &listing->created) &&
           in_range(record, "updated_at", &listing->updated) && status_matches(listing, record) &&
           search_matches(listing, record);
}

long sim_listing_count(const sim_listing *listing, const cJSON *records)
{
    long count = 0;
    const cJSON *record = NULL;
    cJSON_ArrayForEach(record, records)
    {
        if (sim_listing_matches(listing, record))
            count++;
    }
    return count;
}

/* ---- order, page, fields ---------------------------------------------- */

typedef struct sort_entry {
    const cJSON *record;
    long long key;
    long long id;
} sort_entry;

static int compare_entries(const void *left, const void *right)
{
    const sort_entry *a = left;
    const sort_entry *b = right;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

static sort_entry make_entry(const sim_listing *listing, const cJSON *record)
{
    long long id = sim_record_id(record);
    long long key = id;
    if (strcmp(listing->sort_field, "id") != 0 &&
        record_time(record, listing->sort_field, &key) != 0)
        key = 0; /* records without the time sort first */
    int sign = listing->descending ? -1 : 1;
    return (sort_entry){record, sign * key, sign * id};
}

cJSON *sim_listing_project(const char *fields, const cJSON *record)
{
    if (fields == NULL || fields[0] == '\0')
        return cJSON_Duplicate(record, 1);
    cJSON *projected = cJSON_CreateObject();
    for (const char *cursor = fields; projected != NULL && *cursor != '\0';) {
        cursor += strspn(cursor, " ");
        size_t length = strcspn(cursor, ", ");
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)length, cursor);
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(record, name);
        cJSON *copy = value != NULL ? cJSON_Duplicate(value, 1) : NULL;
        if (value != NULL && (copy == NULL || !cJSON_AddItemToObject(projected, name, copy))) {
            cJSON_Delete(copy);
            cJSON_Delete(projected);
            return NULL;
        }
        cursor += length;
        cursor += strspn(cursor, " ");
        if (*cursor == ',')
            cursor++;
    }
    return projected;
}

static cJSON *page_of(const sim_listing *listing, const sort_entry *entries, size_t count)
{
    cJSON *page = cJSON_CreateArray();
    size_t first = (size_t)(listing->page - 1) * (size_t)listing->limit;
    for (size_t i = first; page != NULL && i < count && i < first + (size_t)listing->limit; i++) {
        cJSON *copy = sim_listing_project(listing->fields, entries[i].record);
        if (copy == NULL || !cJSON_AddItemToArray(page, copy)) {
            cJSON_Delete(copy);
            cJSON_Delete(page);
            return NULL;
        }
    }
    return page;
}

cJSON *sim_listing_page(const sim_listing *listing, const cJSON *records)
{
    size_t total = (size_t)cJSON_GetArraySize(records);
    sort_entry *entries = malloc((total > 0 ? total : 1) * sizeof *entries);
    if (entries == NULL)
        return NULL;
    size_t count = 0;
    const cJSON *record = NULL;
    cJSON_ArrayForEach(record, records)
    {
        if (sim_listing_matches(listing, record))
            entries[count++] = make_entry(listing, record);
    }
    qsort(entries, count, sizeof *entries, compare_entries);
    cJSON *page = page_of(listing, entries, count);
    free(entries);
    return page;
}
