/*
 * hv_catchup_store: the held check, then one transaction of INSERTs and
 * the checkpoint. See catchup_store.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "haravan/catchup_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "haravan/webhook.h"
#include "inbox/held.h"
#include "inbox/inbox.h"

typedef struct page {
    hv_catchup_job *job;
    char topic[48];
    char *bodies[HV_CATCHUP_PAGE * 2];
    size_t count;
    long long stored;
} page;

/* The record's "id" or "updated_at" as text, as the inbox keeps it. */
static void field_text(const cJSON *record, const char *name, char *out, size_t size)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(record, name);
    if (cJSON_IsString(value))
        snprintf(out, size, "%s", value->valuestring);
    else if (cJSON_IsNumber(value))
        snprintf(out, size, "%.0f", value->valuedouble);
    else
        out[0] = '\0';
}

static int store_one(db *database, page *p, const char *body)
{
    hv_webhook read;
    if (hv_webhook_read(&read, p->topic, p->job->org_id, body, strlen(body)) != 0) {
        hv_webhook_free(&read);
        snprintf(database->error, sizeof database->error, "a listed record is not JSON");
        return -1;
    }
    char headers[200];
    snprintf(headers, sizeof headers, "{\"X-Haravan-Topic\":\"%s\",\"X-Haravan-Org-Id\":\"%s\"}",
             p->topic, p->job->org_id);
    char notes[160];
    snprintf(notes, sizeof notes, "%s: listed by GET %s.json, not delivered as a webhook",
             p->job->reconcile ? "reconciled" : "imported", p->job->kind);
    inbox_entry entry = {
        .org_id = p->job->org_id,
        .topic = p->topic,
        .resource_id = read.resource_id,
        .updated_at = read.updated_at,
        .dedupe_key = buffer_text(&read.dedupe_key),
        .unreadable = NULL,
        .headers_json = headers,
        .notes = notes,
        .body = body,
        .body_length = strlen(body),
        .is_test = 0,
        .announce = 1,
    };
    long long id = 0;
    int result = inbox_store(database, &entry, &id);
    hv_webhook_free(&read);
    if (result == 0 && id > 0)
        p->stored++;
    return result;
}

static int page_body(db *database, void *context)
{
    page *p = context;
    p->stored = 0;
    for (size_t i = 0; i < p->count; i++)
        if (p->bodies[i] != NULL && store_one(database, p, p->bodies[i]) != 0)
            return -1;
    long long before = p->job->stored;
    p->job->stored += p->stored;
    int saved = hv_catchup_save(database, p->job);
    if (saved != 0)
        p->job->stored = before;
    return saved;
}

/* Which records the inbox lacks: their printed bodies in p->bodies (NULL
 * for the held ones). Returns 0 or -1. */
static int bodies_to_store(db *database, page *p, const cJSON *const *records, size_t count)
{
    char ids[HV_CATCHUP_PAGE * 2][HV_WEBHOOK_MAX_ID], times[HV_CATCHUP_PAGE * 2][HV_WEBHOOK_MAX_ID];
    const char *id_list[HV_CATCHUP_PAGE * 2] = {0}, *time_list[HV_CATCHUP_PAGE * 2] = {0};
    int held[HV_CATCHUP_PAGE * 2] = {0};
    for (size_t i = 0; i < count; i++) {
        field_text(records[i], "id", ids[i], sizeof ids[i]);
        field_text(records[i], "updated_at", times[i], sizeof times[i]);
        id_list[i] = ids[i];
        time_list[i] = times[i][0] != '\0' ? times[i] : NULL;
    }
    if (inbox_versions_held(database, p->job->org_id, p->job->kind, id_list, time_list, count,
                            held) != 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (held[i])
            continue;
        p->bodies[i] = cJSON_PrintUnformatted(records[i]);
        if (p->bodies[i] == NULL) {
            snprintf(database->error, sizeof database->error, "out of memory printing a record");
            return -1;
        }
    }
    return 0;
}

int hv_catchup_store_page(db *database, hv_catchup_job *job, const cJSON *const *records,
                          size_t count)
{
    page p;
    memset(&p, 0, sizeof p);
    if (count > sizeof p.bodies / sizeof p.bodies[0]) {
        snprintf(database->error, sizeof database->error, "a page of more than %d records",
                 HV_CATCHUP_PAGE * 2);
        return -1;
    }
    p.job = job;
    p.count = count;
    snprintf(p.topic, sizeof p.topic, "%s/%s", job->kind, job->reconcile ? "reconcile" : "import");
    int result = bodies_to_store(database, &p, records, count);
    if (result == 0)
        result = db_transaction(database, page_body, &p) == 0 ? 0 : -1;
    for (size_t i = 0; i < count; i++)
        cJSON_free(p.bodies[i]);
    return result;
}
