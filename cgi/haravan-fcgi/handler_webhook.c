/*
 * /api/haravan/webhook: Haravan's verify-token handshake (GET) and its
 * deliveries (POST).
 *
 * The order of checks in a delivery is the order of trust: size first
 * (before reading), then the signature over the raw bytes (before looking
 * inside), then the topic, then the inbox. Only a committed row earns a
 * 200; a database that cannot commit earns a 503, so Haravan sends again.
 *
 * Headers are read as a hostile client may send them: repeated (nginx 1.22
 * passes each copy as its own FastCGI parameter, and request_header() sees
 * only the first), so any valid signature among all copies is accepted,
 * and a topic or org that differs between copies is a 400; and with bytes
 * that are not UTF-8, which are stored as U+FFFD and noted, because
 * PostgreSQL refuses them and a refused delivery comes back forever.
 */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/crypto.h"
#include "core/form.h"
#include "core/header.h"
#include "core/log.h"
#include "core/utf8.h"
#include "haravan/webhook.h"
#include "inbox/body.h"
#include "inbox/inbox.h"
#include "handlers.h"

#define MAX_CHALLENGE 512

static void reply_text(request *r, int status, const char *text)
{
    request_reply(r, status, "text/plain; charset=utf-8", "", text, strlen(text));
}

void handle_webhook_handshake(worker *w, request *r)
{
    form query;
    if (form_parse(&query, r->query, strlen(r->query)) != 0) {
        reply_text(r, 401, "invalid handshake");
        return;
    }
    const char *mode = form_get(&query, "hub.mode");
    const char *token = form_get(&query, "hub.verify_token");
    const char *challenge = form_get(&query, "hub.challenge");
    char error[256];
    secrets_poll(&w->cache, &w->database);
    int configured = secrets_ensure(&w->cache, &w->database, w->configuration->master_key, error,
                                    sizeof error) == 0;
    int accepted = configured && w->cache.verify_token != NULL && mode != NULL &&
                   strcmp(mode, "subscribe") == 0 && token != NULL && challenge != NULL &&
                   strlen(challenge) <= MAX_CHALLENGE &&
                   crypto_strings_equal(token, w->cache.verify_token);
    if (!configured) {
        r->outcome = "unavailable";
        reply_text(r, 503, "settings unavailable");
    } else if (!accepted) {
        r->outcome = w->cache.verify_token == NULL ? "no verify token configured" : "refused";
        reply_text(r, 401, "verification failed");
    } else {
        r->outcome = "verified";
        reply_text(r, 200, challenge);
    }
    form_free(&query);
}

/* Two of Haravan's spellings differ only in case, so CGI folds them into
 * one name: 1 when spelling `i` is read already under an earlier one. */
static int folded_into_earlier(size_t i)
{
    char name[128];
    char earlier[128];
    if (header_cgi_name(hv_webhook_signature_headers[i], name, sizeof name) != 0)
        return 0;
    for (size_t e = 0; e < i; e++)
        if (header_cgi_name(hv_webhook_signature_headers[e], earlier, sizeof earlier) == 0 &&
            strcmp(name, earlier) == 0)
            return 1;
    return 0;
}

/* Every signature the delivery carries, under any of Haravan's spellings,
 * repeated or not (hv_webhook_signatures_add() splits each value).
 * Returns 0, or -1 when there are more than HV_WEBHOOK_MAX_SIGNATURES. */
static int collect_signatures(const request *r, hv_webhook_signatures *signatures)
{
    for (size_t i = 0; hv_webhook_signature_headers[i] != NULL; i++) {
        if (folded_into_earlier(i))
            continue;
        const char *values[HV_WEBHOOK_MAX_SIGNATURES + 1];
        size_t found = request_header_values(r, hv_webhook_signature_headers[i], values,
                                             HV_WEBHOOK_MAX_SIGNATURES + 1);
        if (found > HV_WEBHOOK_MAX_SIGNATURES)
            return -1;
        for (size_t v = 0; v < found; v++)
            if (hv_webhook_signatures_add(signatures, values[v]) != 0)
                return -1;
    }
    return 0;
}

/* Verifies against the cached secrets, and once more against fresh ones
 * when that fails (a rotation may have just committed), unless they were
 * read less than a second ago (secrets.h). Returns 1 when any signature
 * is valid, 0 when none is, -1 when the settings cannot be read. */
static int signature_valid(worker *w, request *r, const char *const *signatures, size_t count)
{
    char error[256];
    for (int attempt = 0; attempt < 2; attempt++) {
        if (attempt == 1 && !secrets_recheck(&w->cache))
            break; /* read less than a second ago: the same answer */
        if (secrets_ensure(&w->cache, &w->database, w->configuration->master_key, error,
                           sizeof error) != 0) {
            log_message("error", "cannot load webhook settings: %s", error);
            return -1;
        }
        const char *keys[2];
        size_t key_count = secrets_signing(&w->cache, keys);
        if (hv_webhook_verify_any(r->body.data, r->body.length, signatures, count, keys,
                                  key_count) >= 0)
            return 1;
    }
    return 0;
}

/* The value of a header that may be repeated, as long as every copy says
 * the same: 1 with *start and *length (not NUL-terminated), 0 when absent or
 * empty, -1 when two copies differ (ambiguous). */
static int single_value(const request *r, const char *name, const char **start, size_t *length)
{
    const char *values[HV_WEBHOOK_MAX_REPEATS];
    size_t found = request_header_values(r, name, values, HV_WEBHOOK_MAX_REPEATS);
    if (found > HV_WEBHOOK_MAX_REPEATS)
        return -1;
    int seen = 0;
    for (size_t v = 0; v < found; v++) {
        const char *cursor = values[v];
        const char *part = NULL;
        size_t part_length = 0;
        while (header_next_part(&cursor, &part, &part_length)) {
            if (part_length == 0)
                continue;
            if (seen && (part_length != *length || memcmp(part, *start, part_length) != 0))
                return -1;
            *start = part;
            *length = part_length;
            seen = 1;
        }
    }
    return seen;
}

/* Adds one kept header to the JSON object, its bytes that are not UTF-8
 * replaced (jsonb would refuse them, and Haravan would send the delivery
 * forever); the header's name goes to `repaired` when that happened. */
static int add_header(buffer *json, const request *r, const char *name, buffer *repaired)
{
    const char *value = request_header(r, name);
    if (value == NULL)
        return 0;
    buffer text = BUFFER_INIT;
    size_t replaced = 0;
    int result = utf8_append_repaired(&text, value, strlen(value), &replaced);
    if (result == 0)
        result = buffer_printf(json, "%s\"%s\":\"", json->length > 1 ? "," : "", name);
    if (result == 0)
        result = buffer_append_json_escaped(json, buffer_text(&text), text.length);
    if (result == 0)
        result = buffer_append_char(json, '"');
    if (result == 0 && replaced > 0)
        result = buffer_printf(repaired, "%s%s", repaired->length > 0 ? ", " : "", name);
    buffer_free(&text);
    return result;
}

/* The headers worth keeping with the event. Never the signature itself.
 * When a value had to be repaired, "_not_utf8" lists which, and `note`
 * says so for the event's notes. */
static int headers_json(const request *r, buffer *json, buffer *note)
{
    static const char *const kept[] = {
        "Content-Type",
        HV_WEBHOOK_TOPIC_HEADER,
        HV_WEBHOOK_ORG_HEADER,
        HV_WEBHOOK_TEST_HEADER,
        "X-Haravan-Subscription-Id",
        "User-Agent",
        NULL,
    };
    buffer repaired = BUFFER_INIT;
    int result = buffer_append_char(json, '{');
    for (size_t i = 0; kept[i] != NULL && result == 0; i++)
        result = add_header(json, r, kept[i], &repaired);
    if (result == 0 && repaired.length > 0)
        result = buffer_printf(json, ",\"" INBOX_NOT_UTF8_KEY "\":\"%s\"", buffer_text(&repaired));
    if (result == 0)
        result = buffer_append_char(json, '}');
    if (result == 0 && repaired.length > 0) {
        char text[512];
        inbox_header_note(buffer_text(&repaired), text, sizeof text);
        result = buffer_printf(note, "%s", text);
    }
    buffer_free(&repaired);
    return result;
}

static int is_test_delivery(const request *r)
{
    const char *value = request_header(r, HV_WEBHOOK_TEST_HEADER);
    return value != NULL && (strcmp(value, "true") == 0 || strcmp(value, "1") == 0);
}

/* The org header as it will be stored: its bytes that are not UTF-8
 * replaced. Returns 0 (absent: out stays empty), 1 when present, -1 when
 * ambiguous or too long (a 400: never an event without its org), -2 when
 * memory ran out. */
static int org_header(request *r, buffer *out, size_t *replaced)
{
    const char *start = NULL;
    size_t length = 0;
    *replaced = 0;
    int present = single_value(r, HV_WEBHOOK_ORG_HEADER, &start, &length);
    if (present < 0) {
        r->outcome = "ambiguous org";
        request_reply_error(r, 400, "several different X-Haravan-Org-Id headers");
        return -1;
    }
    if (present == 0)
        return 0;
    if (utf8_append_repaired(out, start, length, replaced) != 0)
        return -2;
    if (out->length >= HV_WEBHOOK_MAX_ID) {
        r->outcome = "org too long";
        request_reply_error(r, 400, "X-Haravan-Org-Id header longer than 63 bytes");
        return -1;
    }
    return 1;
}

/* Whether this delivery's INSERT should notify the processors: when the
 * last one that did was sent INBOX_WAKE_MS ago or more (inbox/inbox.h
 * says why not every time). Sets *sent_at to now. */
static int time_to_announce(const worker *w, double *sent_at)
{
    *sent_at = clock_monotonic_seconds();
    return w->announced_at == 0 || *sent_at - w->announced_at >= INBOX_WAKE_MS / 1000.0;
}

static void store(worker *w, request *r, const char *topic)
{
    hv_webhook webhook;
    memset(&webhook, 0, sizeof webhook);
    buffer org = BUFFER_INIT;
    buffer headers = BUFFER_INIT;
    buffer notes = BUFFER_INIT;
    size_t org_replaced = 0;
    int org_present = org_header(r, &org, &org_replaced);
    if (org_present == -1)
        goto done;
    if (org_present < -1 ||
        hv_webhook_read(&webhook, topic, org_present ? buffer_text(&org) : NULL, r->body.data,
                        r->body.length) != 0 ||
        headers_json(r, &headers, &notes) != 0) {
        r->outcome = "out of memory";
        request_reply_error(r, 503, "out of memory; please retry");
        goto done;
    }
    if (webhook.org_unreadable) {
        /* Never an event without its org, silently: the shop would be
         * unknown to everything that reads it. */
        r->outcome = "org too long";
        request_reply_error(r, 400,
                            "no X-Haravan-Org-Id header, and the body's org_id is longer than"
                            " 63 bytes");
        goto done;
    }
    snprintf(r->org_id, sizeof r->org_id, "%s", webhook.org_id);
    inbox_entry entry = {
        .org_id = webhook.org_id,
        .topic = topic,
        .resource_id = webhook.resource_id,
        .updated_at = webhook.updated_at,
        .dedupe_key = buffer_text(&webhook.dedupe_key),
        .unreadable = webhook.readable ? NULL : webhook.parse_error,
        .headers_json = headers.data,
        .notes = notes.length > 0 ? buffer_text(&notes) : NULL,
        .body = r->body.data,
        .body_length = r->body.length,
        .is_test = is_test_delivery(r),
    };
    double sent_at = 0;
    entry.announce = time_to_announce(w, &sent_at);
    if (inbox_store(&w->database, &entry, &r->event_id) != 0) {
        counters_add(&w->shared->webhook_unavailable);
        log_message("error", "inbox insert failed: %s", w->database.error);
        r->outcome = "database unavailable";
        request_reply_error(r, 503, "cannot store the delivery now; please retry");
        goto done;
    }
    if (entry.announce && r->event_id > 0)
        w->announced_at = sent_at; /* a duplicate inserted nothing and notified nobody */
    if (r->event_id == 0) {
        counters_add(&w->shared->webhook_duplicates);
        r->outcome = "duplicate";
        request_reply_json(r, 200, "{\"status\":\"duplicate\"}");
        goto done;
    }
    if (!webhook.readable)
        counters_add(&w->shared->webhook_unparseable);
    counters_add(&w->shared->webhook_stored);
    r->outcome = webhook.readable ? "stored" : "stored unparseable";
    char reply[96];
    snprintf(reply, sizeof reply, "{\"status\":\"stored\",\"event_id\":%lld}", r->event_id);
    request_reply_json(r, 200, reply);
done:
    buffer_free(&org);
    buffer_free(&headers);
    buffer_free(&notes);
    hv_webhook_free(&webhook);
}

/* Checks every signature the delivery carries. Returns 1 when one is
 * valid; otherwise the reply is written and it returns 0. */
static int authenticated(worker *w, request *r)
{
    hv_webhook_signatures signatures = {0};
    if (collect_signatures(r, &signatures) != 0) {
        counters_add(&w->shared->webhook_rejected_signature);
        r->outcome = "too many signatures";
        request_reply_error(r, 400, "more signature headers than a delivery carries");
        return 0;
    }
    size_t count = signatures.count;
    int valid = count > 0 ? signature_valid(w, r, signatures.list, count) : 0;
    if (valid < 0) {
        counters_add(&w->shared->webhook_unavailable);
        r->outcome = "settings unavailable";
        request_reply_error(r, 503, "cannot check the signature now; please retry");
        return 0;
    }
    if (!valid) {
        counters_add(&w->shared->webhook_rejected_signature);
        r->outcome = count == 0                       ? "missing signature"
                     : w->cache.client_secret == NULL ? "no client secret configured"
                                                      : "bad signature";
        request_reply_error(r, 401, "invalid signature");
        return 0;
    }
    return 1;
}

/* The topic header: present, unambiguous and well-formed, copied into
 * r->topic_text (r->topic points there for the access log). Returns 0, or
 * -1 with the 400 written. */
static int read_topic(request *r)
{
    const char *start = NULL;
    size_t length = 0;
    int present = single_value(r, HV_WEBHOOK_TOPIC_HEADER, &start, &length);
    const char *refusal = NULL;
    if (present < 0)
        refusal = "several different X-Haravan-Topic headers";
    else if (present == 0)
        refusal = "missing X-Haravan-Topic header";
    else if (length >= sizeof r->topic_text)
        refusal = "invalid X-Haravan-Topic header";
    if (refusal == NULL) {
        memcpy(r->topic_text, start, length);
        r->topic_text[length] = '\0';
        r->topic = r->topic_text;
        if (!hv_webhook_topic_valid(r->topic_text))
            refusal = "invalid X-Haravan-Topic header";
    }
    if (refusal != NULL) {
        r->outcome = present < 0 ? "ambiguous topic" : "bad topic";
        request_reply_error(r, 400, refusal);
        return -1;
    }
    return 0;
}

void handle_webhook_delivery(worker *w, request *r)
{
    enum request_body_result body = request_read_body(r, HV_WEBHOOK_MAX_BODY);
    if (body == REQUEST_BODY_TOO_LARGE) {
        r->outcome = "too large";
        request_reply_error(r, 413, "body larger than 1 MiB");
        return;
    }
    if (body != REQUEST_BODY_OK) {
        r->outcome = "incomplete body";
        request_reply_error(r, 400, "incomplete request body");
        return;
    }
    secrets_poll(&w->cache, &w->database);
    if (!authenticated(w, r) || read_topic(r) != 0)
        return;
    store(w, r, r->topic_text);
}
