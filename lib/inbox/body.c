/*
 * inbox_body: the one checked parse of a stored body, and the notes that
 * say what it repaired. See body.h.
 */
#include "inbox/body.h"

#include <stdio.h>
#include <string.h>

int inbox_body_parse(const char *body, size_t length, cJSON **json, json_repairs *repairs,
                     char *reason, size_t size)
{
    json_refusal refusal = JSON_ACCEPTED;
    size_t offset = 0;
    *json = json_parse_checked(body, length, INBOX_BODY_MAX_DEPTH, &refusal, &offset, repairs);
    reason[0] = '\0';
    switch (refusal) {
    case JSON_ACCEPTED:
        break;
    case JSON_NO_MEMORY:
        return -1;
    case JSON_NUL_BYTE:
        snprintf(reason, size, "body is not valid JSON: it contains a NUL byte");
        break;
    case JSON_TOO_DEEP:
        snprintf(reason, size, "body is not accepted: JSON nested deeper than %d levels",
                 INBOX_BODY_MAX_DEPTH);
        break;
    case JSON_SYNTAX:
        snprintf(reason, size, "body is not valid JSON (error near byte %zu)", offset);
        break;
    case JSON_TRAILING:
        snprintf(reason, size, "body is not valid JSON (unexpected data at byte %zu)", offset);
        break;
    }
    return 0;
}

int inbox_body_read_members(const char *body, size_t length, json_member *members, size_t count,
                            json_repairs *repairs, char *reason, size_t size)
{
    reason[0] = '\0';
    memset(repairs, 0, sizeof *repairs);
    if (json_peek_members(body, length, INBOX_BODY_MAX_DEPTH, members, count))
        return 1;
    cJSON *json = NULL;
    if (inbox_body_parse(body, length, &json, repairs, reason, size) != 0)
        return -1;
    json_members_of(json, members, count);
    int readable = json != NULL;
    cJSON_Delete(json);
    return readable;
}

void inbox_body_repairs_note(const json_repairs *repairs, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    const struct {
        size_t count;
        const char *what;
    } parts[] = {
        {repairs->invalid_utf8, "byte sequence(s) that are not UTF-8 read as U+FFFD"},
        {repairs->nul_escapes, "\\u0000 escape(s) read as U+FFFD"},
        {repairs->big_integers, "integer(s) beyond 2^53 read as exact text"},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0] && used < size; i++) {
        if (parts[i].count == 0)
            continue;
        int n = snprintf(out + used, size - used, "%sbody: %zu %s", used > 0 ? "; " : "",
                         parts[i].count, parts[i].what);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

void inbox_header_note(const char *names, char *out, size_t size)
{
    if (names == NULL || names[0] == '\0') {
        out[0] = '\0';
        return;
    }
    snprintf(out, size, "header %s: bytes that are not UTF-8 stored as U+FFFD", names);
}
