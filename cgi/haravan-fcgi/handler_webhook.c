/*
 * /api/haravan/webhook: Haravan's verify-token handshake (GET) and its
 * deliveries (POST).
 *
 * The order of checks in a delivery is the order of trust: size first
 * (before reading), then the signature over the raw bytes (before looking
 * inside), then the topic, then the inbox. Only a committed row earns a
 * 200; a database that cannot commit earns a 503, so Haravan sends again.
 */
#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "core/form.h"
#include "core/log.h"
#include "haravan/inbox.h"
#include "haravan/webhook.h"
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

/* The signature header, whichever of Haravan's spellings carries it. */
static const char *signature_header(const request *r)
{
    for (size_t i = 0; hv_webhook_signature_headers[i] != NULL; i++) {
        const char *value = request_header(r, hv_webhook_signature_headers[i]);
        if (value != NULL && value[0] != '\0')
            return value;
    }
    return NULL;
}

/* Verifies against the cached secrets, and once more against fresh ones
 * when that fails (a rotation may have just committed), unless they were
 * read less than a second ago (secrets.h). Returns 1 when valid, 0 when
 * not, -1 when the settings cannot be read. */
static int signature_valid(worker *w, request *r, const char *signature)
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
        size_t count = secrets_signing(&w->cache, keys);
        if (hv_webhook_verify(r->body.data, r->body.length, signature, keys, count) >= 0)
            return 1;
    }
    return 0;
}

static void add_header(buffer *json, const request *r, const char *name)
{
    const char *value = request_header(r, name);
    if (value == NULL)
        return;
    buffer_printf(json, "%s\"%s\":\"", json->length > 1 ? "," : "", name);
    buffer_append_json_escaped(json, value, strlen(value));
    buffer_append_char(json, '"');
}

/* The headers worth keeping with the event. Never the signature itself. */
static int headers_json(const request *r, buffer *json)
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
    buffer_append_char(json, '{');
    for (size_t i = 0; kept[i] != NULL; i++)
        add_header(json, r, kept[i]);
    buffer_append_char(json, '}');
    return json->data != NULL && json->data[json->length - 1] == '}' ? 0 : -1;
}

static int is_test_delivery(const request *r)
{
    const char *value = request_header(r, HV_WEBHOOK_TEST_HEADER);
    return value != NULL && (strcmp(value, "true") == 0 || strcmp(value, "1") == 0);
}

static void store(worker *w, request *r, const char *topic)
{
    hv_webhook webhook;
    buffer headers = BUFFER_INIT;
    if (hv_webhook_read(&webhook, topic, request_header(r, HV_WEBHOOK_ORG_HEADER), r->body.data,
                        r->body.length) != 0 ||
        headers_json(r, &headers) != 0) {
        r->outcome = "out of memory";
        request_reply_error(r, 503, "out of memory; please retry");
        goto done;
    }
    snprintf(r->org_id, sizeof r->org_id, "%s", webhook.org_id);
    hv_inbox_entry entry = {
        .topic = topic,
        .webhook = &webhook,
        .headers_json = headers.data,
        .body = r->body.data,
        .body_length = r->body.length,
        .is_test = is_test_delivery(r),
    };
    if (hv_inbox_store(&w->database, &entry, &r->event_id) != 0) {
        counters_add(&w->shared->webhook_unavailable);
        log_message("error", "inbox insert failed: %s", w->database.error);
        r->outcome = "database unavailable";
        request_reply_error(r, 503, "cannot store the delivery now; please retry");
        goto done;
    }
    if (r->event_id == 0) {
        counters_add(&w->shared->webhook_duplicates);
        r->outcome = "duplicate";
        request_reply_json(r, 200, "{\"status\":\"duplicate\"}");
        goto done;
    }
    if (webhook.json == NULL)
        counters_add(&w->shared->webhook_unparseable);
    counters_add(&w->shared->webhook_stored);
    r->outcome = webhook.json == NULL ? "stored unparseable" : "stored";
    char reply[96];
    snprintf(reply, sizeof reply, "{\"status\":\"stored\",\"event_id\":%lld}", r->event_id);
    request_reply_json(r, 200, reply);
done:
    buffer_free(&headers);
    hv_webhook_free(&webhook);
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
    const char *signature = signature_header(r);
    int valid = signature != NULL ? signature_valid(w, r, signature) : 0;
    if (valid < 0) {
        counters_add(&w->shared->webhook_unavailable);
        r->outcome = "settings unavailable";
        request_reply_error(r, 503, "cannot check the signature now; please retry");
        return;
    }
    if (!valid) {
        counters_add(&w->shared->webhook_rejected_signature);
        r->outcome = signature == NULL                ? "missing signature"
                     : w->cache.client_secret == NULL ? "no client secret configured"
                                                      : "bad signature";
        request_reply_error(r, 401, "invalid signature");
        return;
    }
    const char *topic = request_header(r, HV_WEBHOOK_TOPIC_HEADER);
    r->topic = topic;
    if (topic == NULL || !hv_webhook_topic_valid(topic)) {
        r->outcome = "bad topic";
        request_reply_error(r, 400,
                            topic == NULL ? "missing X-Haravan-Topic header"
                                          : "invalid X-Haravan-Topic header");
        return;
    }
    store(w, r, topic);
}
