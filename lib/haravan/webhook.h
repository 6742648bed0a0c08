/*
 * hv_webhook: what a Haravan webhook delivery is, before any CRM meaning.
 *
 * docs/HARAVAN.md section 2 is the source: the signature is
 * base64(HMAC-SHA256(client secret, raw body)) in a header with three known
 * spellings; the topic and shop come in headers; the body is the bare
 * resource. This module verifies the signature over the raw bytes (never a
 * re-serialised copy), in constant time, and derives the facts the inbox
 * stores: the org id, the resource id and version, and the dedupe key.
 *
 * Dedupe key: Haravan delivers at least once and out of order, so a
 * delivery is identified by what it says, not by when it came:
 *     "v1:{org}:{topic}:{resource id}:{resource updated_at}"
 * when the body has an id and an updated_at, else
 *     "sha256:{org}:{topic}:{SHA-256 of the body}".
 *
 * Ownership: an hv_webhook owns its parsed JSON and key; free it with
 * hv_webhook_free().
 */
#ifndef HARAVAN_HARAVAN_WEBHOOK_H
#define HARAVAN_HARAVAN_WEBHOOK_H

#include <stddef.h>

#include <cJSON.h>

#include "core/buffer.h"
#include "core/json.h"

/* Largest body accepted, as in the nginx snippet's client_max_body_size. */
#define HV_WEBHOOK_MAX_BODY  (1024 * 1024)
#define HV_WEBHOOK_MAX_TOPIC 100
#define HV_WEBHOOK_MAX_ID    64
/* Signatures one delivery may carry (its headers repeated, or under
 * several spellings); each costs a comparison, never another HMAC. */
#define HV_WEBHOOK_MAX_SIGNATURES 8
/* Room for one signature as text; base64 of SHA-256 is 44 characters. */
#define HV_WEBHOOK_SIGNATURE_SIZE 96
/* Copies of the topic or org header one delivery may repeat. */
#define HV_WEBHOOK_MAX_REPEATS 8

/* The header spellings Haravan has used for the signature, NULL-terminated. */
extern const char *const hv_webhook_signature_headers[];
#define HV_WEBHOOK_TOPIC_HEADER "X-Haravan-Topic"
#define HV_WEBHOOK_ORG_HEADER   "X-Haravan-Org-Id"
#define HV_WEBHOOK_TEST_HEADER  "X-Haravan-Test"

/* Checks `signature` (base64) against the body signed with each of the
 * `count` secrets (NULL entries are skipped). Every secret is tried, so the
 * time taken does not say which one matched. Returns the index of the
 * matching secret, or -1. */
int hv_webhook_verify(const void *body, size_t length, const char *signature,
                      const char *const *secrets, size_t count);

/* hv_webhook_verify() for a delivery that carries several signatures:
 * valid when any of the `signature_count` signatures matches any secret.
 * The HMAC is computed once per secret and every signature is compared
 * with every secret, so the time taken says neither which matched nor
 * where. Returns the index of the matching secret, or -1. */
int hv_webhook_verify_any(const void *body, size_t length, const char *const *signatures,
                          size_t signature_count, const char *const *secrets, size_t count);

/* The signatures one delivery carries, from its signature headers'
 * values. A value may hold several, comma-separated (a repeated header
 * joined by nginx, or sent so): each element (header_next_part()) is one
 * signature. Empty elements are skipped; one too long to be a signature
 * is kept as "" (it cannot match, and still counts toward the limit, so
 * a flood of junk is refused like a flood of signatures). Zero it before
 * the first hv_webhook_signatures_add(); it owns nothing on the heap. */
typedef struct hv_webhook_signatures {
    size_t count;
    char text[HV_WEBHOOK_MAX_SIGNATURES][HV_WEBHOOK_SIGNATURE_SIZE];
    const char *list[HV_WEBHOOK_MAX_SIGNATURES]; /* text[i], for hv_webhook_verify_any() */
} hv_webhook_signatures;

/* Adds the signatures of one header value. Returns 0, or -1 when the
 * delivery carries more than HV_WEBHOOK_MAX_SIGNATURES (refuse it). */
int hv_webhook_signatures_add(hv_webhook_signatures *signatures, const char *value);

/* 1 when `topic` looks like a Haravan topic ("orders/create"). */
int hv_webhook_topic_valid(const char *topic);

typedef struct hv_webhook {
    char org_id[HV_WEBHOOK_MAX_ID];      /* "" when unknown */
    char resource_id[HV_WEBHOOK_MAX_ID]; /* "" when the body has none */
    char updated_at[HV_WEBHOOK_MAX_ID];  /* "" when the body has none */
    int readable;                        /* 0 when the body is not JSON */
    json_repairs repairs;                /* what reading the body repaired */
    char parse_error[160];               /* why it is not readable */
    int org_unreadable; /* no org header, and the body's org_id is too long to keep */
    buffer dedupe_key;
} hv_webhook;

/* Reads what the inbox needs from a verified delivery, with the verdict
 * the processors will reach (inbox_body_read_members(): no tree is built
 * for a plain body). `org_header` may be NULL (then the body's org_id is
 * used). An unparseable body is not an error: readable is 0 and
 * parse_error says why. Returns 0, or -1 when memory ran out. */
int hv_webhook_read(hv_webhook *webhook, const char *topic, const char *org_header,
                    const char *body, size_t length);

void hv_webhook_free(hv_webhook *webhook);

#endif
