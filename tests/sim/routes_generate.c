/*
 * routes_generate: the controls that make a shop's history and its
 * merchants' edits (tests/sim/README.md, "Controls for tests").
 *
 *   POST /sim/generate  {"org_id"?,"customers":N,"orders":M,"seed":S}
 *       -> {"customers":N,"orders":M,"total_customers":..,"total_orders":..}
 *   POST /sim/touch     {"org_id"?,"kind":"orders"|"customers","count":K,
 *                        "new"?:N,"seed":S,"fire"?:false,"drop_percent"?:0}
 *       -> {"touched":K,"created":N,"delivered":D,"dropped":X,"ids":[...],
 *           "new_ids":[...]}
 *
 * The records are made by generate.c from the seeded shop's samples. A
 * touched record's webhook ("orders/updated" or "customers/update"; for
 * the N new orders, "orders/create") is
 * delivered as /sim/fire delivers, unless the delivery is dropped: a roll
 * of its own sequence (seed, then one number per delivery) under
 * drop_percent loses it on purpose, as Haravan sometimes does, and counts
 * it in /sim/counters' deliveries_dropped.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "generate.h"
#include "sim.h"

/* `name` of `body` as a whole number within [0, maximum]; `fallback` when
 * absent. Returns 0, or -1 after answering 400. */
static int read_count(request *r, const cJSON *body, const char *name, long long maximum,
                      long long fallback, long long *out)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(body, name);
    *out = fallback;
    if (value == NULL)
        return 0;
    if (sim_whole_number(value, out) == 0 && *out <= maximum)
        return 0;
    char message[128];
    snprintf(message, sizeof message, "\"%s\": a whole number from 0 to %lld", name, maximum);
    sim_admin_error(r, 400, message);
    return -1;
}

void sim_admin_generate(sim *s, request *r, const cJSON *body)
{
    sim_org *org = sim_target_org(s, r, body);
    const sim_org *templates = sim_store_default_org(&s->store);
    long long customers = 0, orders = 0, seed = 0;
    if (org == NULL ||
        read_count(r, body, "customers", SIM_GENERATE_MAX_RECORDS, 0, &customers) != 0 ||
        read_count(r, body, "orders", SIM_GENERATE_MAX_RECORDS, 0, &orders) != 0 ||
        read_count(r, body, "seed", 999999999999999LL, 1, &seed) != 0)
        return;
    char error[200];
    if (sim_generate(templates, org, (long)customers, (long)orders, (unsigned long long)seed, error,
                     sizeof error) != 0) {
        sim_admin_error(r, 400, error);
        return;
    }
    cJSON *document = cJSON_CreateObject();
    if (cJSON_AddNumberToObject(document, "customers", (double)customers) == NULL ||
        cJSON_AddNumberToObject(document, "orders", (double)orders) == NULL ||
        cJSON_AddNumberToObject(document, "total_customers", cJSON_GetArraySize(org->customers)) ==
            NULL ||
        cJSON_AddNumberToObject(document, "total_orders", cJSON_GetArraySize(org->orders)) ==
            NULL) {
        cJSON_Delete(document);
        document = NULL;
    }
    r->outcome = "generated";
    sim_admin_reply_object(r, 200, document);
}

static long long wall_clock_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

typedef struct touch_tally {
    long delivered;
    long dropped;
} touch_tally;

/* Delivers each touched record's webhook, or drops it (drop_percent). */
static int fire_touched(sim *s, const sim_org *org, const char *topic, cJSON **records,
                        size_t count, long long drop_percent, sim_random *roll, touch_tally *tally)
{
    for (size_t i = 0; i < count; i++) {
        if ((long long)sim_random_below(roll, 100) < drop_percent) {
            tally->dropped++;
            s->counters.deliveries_dropped++;
            continue;
        }
        char *payload = cJSON_PrintUnformatted(records[i]);
        if (payload == NULL)
            return -1;
        int fired = sim_fire_to_subscribers(s, org, topic, payload, NULL);
        free(payload);
        if (fired != 0)
            return -1;
        tally->delivered++;
    }
    return 0;
}

/* `name`: the ids of `records`. Returns 0 or -1. */
static int add_ids(cJSON *document, const char *name, cJSON **records, size_t count)
{
    cJSON *ids = cJSON_AddArrayToObject(document, name);
    int ok = ids != NULL;
    for (size_t i = 0; ok && i < count; i++) {
        cJSON *id = cJSON_CreateNumber((double)sim_record_id(records[i]));
        ok = id != NULL && cJSON_AddItemToArray(ids, id);
        if (!ok)
            cJSON_Delete(id);
    }
    return ok ? 0 : -1;
}

static cJSON *touch_document(cJSON **records, size_t count, cJSON **made, size_t made_count,
                             const touch_tally *tally)
{
    cJSON *document = cJSON_CreateObject();
    int ok = add_ids(document, "ids", records, count) == 0 &&
             add_ids(document, "new_ids", made, made_count) == 0 &&
             cJSON_AddNumberToObject(document, "touched", (double)count) != NULL &&
             cJSON_AddNumberToObject(document, "created", (double)made_count) != NULL &&
             cJSON_AddNumberToObject(document, "delivered", (double)tally->delivered) != NULL &&
             cJSON_AddNumberToObject(document, "dropped", (double)tally->dropped) != NULL;
    if (!ok) {
        cJSON_Delete(document);
        return NULL;
    }
    return document;
}

/* The records /sim/touch changes: `count` existing ones, and `new_count`
 * new orders. Returns 0, or -1 after answering. */
static int change_records(sim *s, request *r, sim_org *org, int orders, long long count,
                          long long new_count, unsigned long long seed, cJSON ***records,
                          size_t *touched, cJSON ***made, size_t *made_count)
{
    char error[200];
    long long now = wall_clock_ms();
    *made = NULL;
    *made_count = 0;
    if (sim_generate_touch(org, orders ? SIM_TOUCH_ORDERS : SIM_TOUCH_CUSTOMERS, (long)count, seed,
                           now, records, touched, error, sizeof error) != 0 ||
        (new_count > 0 &&
         sim_generate_new_orders(sim_store_default_org(&s->store), org, (long)new_count, seed, now,
                                 made, made_count, error, sizeof error) != 0)) {
        free(*records);
        *records = NULL;
        sim_admin_error(r, 400, error);
        return -1;
    }
    return 0;
}

void sim_admin_touch(sim *s, request *r, const cJSON *body)
{
    sim_org *org = sim_target_org(s, r, body);
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(body, "kind");
    long long count = 0, seed = 0, drop = 0, new_count = 0;
    if (org == NULL || read_count(r, body, "count", SIM_GENERATE_MAX_RECORDS, 1, &count) != 0 ||
        read_count(r, body, "new", SIM_GENERATE_MAX_RECORDS, 0, &new_count) != 0 ||
        read_count(r, body, "seed", 999999999999999LL, 1, &seed) != 0 ||
        read_count(r, body, "drop_percent", 100, 0, &drop) != 0)
        return;
    int orders = cJSON_IsString(kind) && strcmp(kind->valuestring, "orders") == 0;
    if ((!orders && !(cJSON_IsString(kind) && strcmp(kind->valuestring, "customers") == 0)) ||
        (!orders && new_count > 0)) {
        sim_admin_error(r, 400, "\"kind\": \"orders\" or \"customers\" (\"new\": orders only)");
        return;
    }
    cJSON **records = NULL, **made = NULL;
    size_t touched = 0, made_count = 0;
    if (change_records(s, r, org, orders, count, new_count, (unsigned long long)seed, &records,
                       &touched, &made, &made_count) != 0)
        return;
    touch_tally tally = {0, 0};
    int fire = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "fire"));
    snprintf(r->org_id, sizeof r->org_id, "%lld", org->id);
    sim_random roll;
    sim_random_seed(&roll, (unsigned long long)seed ^ 0x5eedULL);
    if (fire &&
        (fire_touched(s, org, orders ? "orders/updated" : "customers/update", records, touched,
                      drop, &roll, &tally) != 0 ||
         fire_touched(s, org, "orders/create", made, made_count, drop, &roll, &tally) != 0)) {
        free(records);
        free(made);
        sim_admin_error(r, 500, "out of memory");
        return;
    }
    cJSON *document = touch_document(records, touched, made, made_count, &tally);
    free(records);
    free(made);
    r->outcome = fire ? "touched and fired" : "touched";
    sim_admin_reply_object(r, 200, document);
}
