/*
 * fuzz_signature: the X-Haravan-Hmacsha256 header, from its values to the
 * check: the split of each value into signatures (haravan/webhook.h
 * hv_webhook_signatures_add(), over core/header.h header_next_part()),
 * the check itself, the decoders under it (core/base64.h), and the
 * header-name mapping that finds the header (core/header.h).
 *
 * The input is the signature header's values, one a line, up to an empty
 * line, then the body they claim to sign (a seed is a sample and its real
 * signature from tests/data/signatures.txt, so the fuzzer starts from a
 * delivery that verifies). What is checked, besides "no crash, no
 * undefined behaviour":
 * - the split agrees with one written here another way (a differential
 *   oracle): elements between commas, trimmed of spaces and tabs, empty
 *   ones skipped, one too long kept as "", -1 at the ninth;
 * - hv_webhook_verify_any() is right against OpenSSL's HMAC called here
 *   (a second, independent computation): it returns the first secret
 *   whose HMAC of the body one of the lines decodes to, exactly 32
 *   bytes, and -1 when there is none;
 * - the decoders are strict, as base64.h says: text that decodes is the
 *   encoding of what it decodes to (padding optional for base64, absent
 *   for base64url), so two texts never name one signature;
 * - a header name maps to HTTP_ and the name upper-cased, '-' as '_'.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/base64.h"
#include "core/header.h"
#include "haravan/webhook.h"

static const char *const secrets[] = {"hv-test-secret-2026", NULL,
                                      "9ca6a90a2f50d894e6a123f5cd7ffa62"};
#define SECRETS (sizeof secrets / sizeof secrets[0])

/* The signatures in `lines`, split as webhook.h says, without its code.
 * Returns 0, or -1 when there are more than HV_WEBHOOK_MAX_SIGNATURES. */
static int reference_split(char *const *lines, size_t line_count,
                           char out[][HV_WEBHOOK_SIGNATURE_SIZE], size_t *count)
{
    *count = 0;
    for (size_t l = 0; l < line_count; l++) {
        const char *line = lines[l];
        size_t length = strlen(line);
        size_t begin = 0;
        while (begin <= length) {
            size_t end = begin;
            while (end < length && line[end] != ',')
                end++;
            size_t first = begin;
            size_t last = end;
            while (first < last && (line[first] == ' ' || line[first] == '\t'))
                first++;
            while (last > first && (line[last - 1] == ' ' || line[last - 1] == '\t'))
                last--;
            if (last > first) {
                if (*count == HV_WEBHOOK_MAX_SIGNATURES)
                    return -1;
                size_t kept = last - first < HV_WEBHOOK_SIGNATURE_SIZE ? last - first : 0;
                memcpy(out[*count], line + first, kept);
                out[*count][kept] = '\0';
                (*count)++;
            }
            begin = end + 1;
        }
    }
    return 0;
}

static void check_split(char *const *lines, size_t line_count, hv_webhook_signatures *split)
{
    char expected[HV_WEBHOOK_MAX_SIGNATURES][HV_WEBHOOK_SIGNATURE_SIZE];
    size_t expected_count = 0;
    int expected_result = reference_split(lines, line_count, expected, &expected_count);
    int result = 0;
    for (size_t l = 0; l < line_count && result == 0; l++)
        result = hv_webhook_signatures_add(split, lines[l]);
    if (result != expected_result || split->count != expected_count)
        abort();
    for (size_t i = 0; i < expected_count; i++)
        if (split->list[i] != split->text[i] || strcmp(split->list[i], expected[i]) != 0)
            abort();
}

/* The index hv_webhook_verify_any() must return, computed without it. */
static int expected_match(const char *body, size_t length, const char *const *signatures,
                          size_t count)
{
    for (size_t i = 0; i < SECRETS; i++) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_length = 0;
        if (secrets[i] == NULL ||
            HMAC(EVP_sha256(), secrets[i], (int)strlen(secrets[i]), (const unsigned char *)body,
                 length, mac, &mac_length) == NULL)
            continue;
        for (size_t s = 0; s < count; s++) {
            unsigned char decoded[64];
            long n = base64_decode(signatures[s], strlen(signatures[s]), decoded, sizeof decoded);
            if (n == (long)mac_length && memcmp(decoded, mac, mac_length) == 0)
                return (int)i;
        }
    }
    return -1;
}

static void check_base64(const char *text)
{
    size_t length = strlen(text);
    unsigned char decoded[256];
    char encoded[BASE64_ENCODED_SIZE(sizeof decoded)];
    long n = base64_decode(text, length, decoded, sizeof decoded);
    if (n >= 0) {
        base64_encode(decoded, (size_t)n, encoded);
        size_t unpadded = strcspn(encoded, "=");
        int padded = length > 0 && text[length - 1] == '=';
        if (padded ? strcmp(encoded, text) != 0
                   : length != unpadded || memcmp(encoded, text, length) != 0)
            abort();
    }
    n = base64url_decode(text, length, decoded, sizeof decoded);
    if (n >= 0) {
        base64url_encode(decoded, (size_t)n, encoded);
        if (strcmp(encoded, text) != 0)
            abort();
    }
}

static void check_header_name(const char *name)
{
    char variable[128];
    if (header_cgi_name(name, variable, sizeof variable) != 0)
        return;
    if (strncmp(variable, "HTTP_", 5) != 0 || strlen(variable) != 5 + strlen(name))
        abort();
    for (const char *c = variable + 5; *c != '\0'; c++)
        if (*c == '-' || (*c >= 'a' && *c <= 'z'))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *lines[HV_WEBHOOK_MAX_SIGNATURES];
    size_t count = 0;
    char *cursor = text;
    const char *body = text + size;
    while (count < HV_WEBHOOK_MAX_SIGNATURES && cursor < text + size) {
        char *newline = memchr(cursor, '\n', (size_t)(text + size - cursor));
        if (newline == NULL)
            break;
        *newline = '\0';
        if (newline == cursor) {
            body = newline + 1;
            break;
        }
        lines[count++] = cursor;
        cursor = newline + 1;
        body = cursor;
    }
    size_t body_length = (size_t)(text + size - body);
    hv_webhook_signatures split = {0};
    check_split(lines, count, &split);
    int matched =
        hv_webhook_verify_any(body, body_length, split.list, split.count, secrets, SECRETS);
    if (matched != expected_match(body, body_length, split.list, split.count))
        abort();
    for (size_t i = 0; i < split.count; i++)
        check_base64(split.list[i]);
    for (size_t i = 0; i < count; i++)
        check_header_name(lines[i]);
    free(text);
    return 0;
}
