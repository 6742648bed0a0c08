/*
 * hv_webhook: signature, topic and dedupe key of a delivery. See webhook.h.
 */
#include "haravan/webhook.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/base64.h"
#include "core/crypto.h"
#include "core/header.h"
#include "core/json.h"
#include "inbox/body.h"

const char *const hv_webhook_signature_headers[] = {
    "X-Haravan-Hmacsha256",
    "X-Haravan-HmacSha256",
    "X-Haravan-Hmac-Sha256",
    NULL,
};

/* 1 when `signature` (base64) is `expected`, in constant time. */
static int signature_matches(const unsigned char *expected, const char *signature)
{
    unsigned char received[CRYPTO_SHA256_SIZE + 1] = {0};
    long received_length = base64_decode(signature, strlen(signature), received, sizeof received);
    int equal = crypto_bytes_equal(expected, received, CRYPTO_SHA256_SIZE);
    return equal && received_length == CRYPTO_SHA256_SIZE;
}

int hv_webhook_verify_any(const void *body, size_t length, const char *const *signatures,
                          size_t signature_count, const char *const *secrets, size_t count)
{
    int matched = -1;
    for (size_t i = 0; i < count; i++) {
        unsigned char expected[CRYPTO_SHA256_SIZE];
        if (secrets[i] == NULL || secrets[i][0] == '\0')
            continue;
        if (crypto_hmac_sha256(secrets[i], strlen(secrets[i]), body, length, expected) != 0)
            continue;
        for (size_t s = 0; s < signature_count; s++)
            if (signature_matches(expected, signatures[s]) && matched < 0)
                matched = (int)i;
    }
    return matched;
}

int hv_webhook_verify(const void *body, size_t length, const char *signature,
                      const char *const *secrets, size_t count)
{
    return hv_webhook_verify_any(body, length, &signature, 1, secrets, count);
}

int hv_webhook_signatures_add(hv_webhook_signatures *signatures, const char *value)
{
    const char *cursor = value;
    const char *start = NULL;
    size_t length = 0;
    while (header_next_part(&cursor, &start, &length)) {
        if (length == 0)
            continue;
        if (signatures->count == HV_WEBHOOK_MAX_SIGNATURES)
            return -1;
        char *copy = signatures->text[signatures->count];
        if (length >= HV_WEBHOOK_SIGNATURE_SIZE)
            length = 0;
        memcpy(copy, start, length);
        copy[length] = '\0';
        signatures->list[signatures->count] = copy;
        signatures->count++;
    }
    return 0;
}

int hv_webhook_topic_valid(const char *topic)
{
    size_t length = strlen(topic);
    if (length == 0 || length > HV_WEBHOOK_MAX_TOPIC)
        return 0;
    for (size_t i = 0; i < length; i++) {
        char c = topic[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '/' ||
              c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

/* 2^53: above it a double is not the integer that was written; the
 * checked parser turns such integer literals into strings. */
#define HV_EXACT_INTEGER 9007199254740992.0

/* Copies a JSON id (number or string) as text; "" when absent or odd. A
 * number and the string of its digits give the same text. */
static void copy_id(const json_member *member, char *out, size_t size)
{
    out[0] = '\0';
    if (member->kind == JSON_MEMBER_STRING && member->length < size &&
        member->length < JSON_MEMBER_TEXT_MAX) {
        memcpy(out, member->text, member->length + 1);
    } else if (member->kind == JSON_MEMBER_NUMBER && member->number >= 0 &&
               member->number <= HV_EXACT_INTEGER && floor(member->number) == member->number) {
        snprintf(out, size, "%.0f", member->number);
    }
}

static int is_key_safe(const char *text)
{
    return strchr(text, ':') == NULL;
}

static int make_key(hv_webhook *webhook, const char *topic, const char *body, size_t length)
{
    if (webhook->resource_id[0] != '\0' && webhook->updated_at[0] != '\0' &&
        is_key_safe(webhook->resource_id) && is_key_safe(webhook->org_id))
        return buffer_printf(&webhook->dedupe_key, "v1:%s:%s:%s:%s", webhook->org_id, topic,
                             webhook->resource_id, webhook->updated_at);
    char digest[2 * CRYPTO_SHA256_SIZE + 1];
    if (crypto_sha256_hex(body, length, digest) != 0)
        return -1;
    return buffer_printf(&webhook->dedupe_key, "sha256:%s:%s:%s", webhook->org_id, topic, digest);
}

enum { MEMBER_ID, MEMBER_UPDATED_AT, MEMBER_ORG_ID, MEMBER_COUNT };

int hv_webhook_read(hv_webhook *webhook, const char *topic, const char *org_header,
                    const char *body, size_t length)
{
    memset(webhook, 0, sizeof *webhook);
    json_member members[MEMBER_COUNT] = {
        [MEMBER_ID] = {.name = "id"},
        [MEMBER_UPDATED_AT] = {.name = "updated_at"},
        [MEMBER_ORG_ID] = {.name = "org_id"},
    };
    int readable = inbox_body_read_members(body, length, members, MEMBER_COUNT, &webhook->repairs,
                                           webhook->parse_error, sizeof webhook->parse_error);
    if (readable < 0)
        return -1;
    webhook->readable = readable;
    copy_id(&members[MEMBER_ID], webhook->resource_id, sizeof webhook->resource_id);
    copy_id(&members[MEMBER_UPDATED_AT], webhook->updated_at, sizeof webhook->updated_at);
    copy_id(&members[MEMBER_ORG_ID], webhook->org_id, sizeof webhook->org_id);
    /* The header is how Haravan names the shop; the body's org_id is the
     * fallback for when a proxy dropped the header. */
    if (org_header != NULL && org_header[0] != '\0' && strlen(org_header) < HV_WEBHOOK_MAX_ID)
        snprintf(webhook->org_id, sizeof webhook->org_id, "%s", org_header);
    else if (webhook->org_id[0] == '\0') /* copy_id left it out: a string too long to keep */
        webhook->org_unreadable =
            members[MEMBER_ORG_ID].kind == JSON_MEMBER_STRING && members[MEMBER_ORG_ID].length > 0;
    return make_key(webhook, topic, body, length);
}

void hv_webhook_free(hv_webhook *webhook)
{
    buffer_free(&webhook->dedupe_key);
}
