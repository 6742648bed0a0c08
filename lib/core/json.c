/*
 * json: tolerant readers over cJSON. See json.h.
 */
#include "core/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *json_string(const cJSON *object, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

const char *json_text(const cJSON *object, const char *key)
{
    const char *value = json_string(object, key);
    if (value == NULL)
        return NULL;
    for (const char *c = value; *c != '\0'; c++)
        if (*c != ' ' && *c != '\t' && *c != '\n' && *c != '\r')
            return value;
    return NULL;
}

const cJSON *json_object(const cJSON *object, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    return cJSON_IsObject(item) ? item : NULL;
}

const cJSON *json_array(const cJSON *object, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    return cJSON_IsArray(item) ? item : NULL;
}

int json_id(const cJSON *object, const char *key, char *out, size_t size)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    out[0] = '\0';
    if (cJSON_IsNumber(item)) {
        double value = item->valuedouble;
        if (value <= 0 || value >= 9e15 || floor(value) != value)
            return 0;
        snprintf(out, size, "%.0f", value);
        return 1;
    }
    if (cJSON_IsString(item) && item->valuestring[0] != '\0' && strlen(item->valuestring) < size &&
        strcmp(item->valuestring, "0") != 0) {
        snprintf(out, size, "%s", item->valuestring);
        return 1;
    }
    return 0;
}

static int number_of(const cJSON *item, double *out)
{
    if (cJSON_IsNumber(item)) {
        *out = item->valuedouble;
        return isfinite(*out);
    }
    if (!cJSON_IsString(item) || item->valuestring[0] == '\0')
        return 0;
    char *end = NULL;
    errno = 0;
    double value = strtod(item->valuestring, &end);
    if (errno != 0 || *end != '\0' || !isfinite(value))
        return 0;
    *out = value;
    return 1;
}

int json_amount(const cJSON *object, const char *key, char *out, size_t size)
{
    double value = 0;
    out[0] = '\0';
    if (!number_of(cJSON_GetObjectItemCaseSensitive(object, key), &value) || fabs(value) >= 1e15)
        return 0;
    snprintf(out, size, "%.2f", value);
    return 1;
}

int json_integer(const cJSON *object, const char *key, long long *out)
{
    double value = 0;
    if (!number_of(cJSON_GetObjectItemCaseSensitive(object, key), &value) ||
        floor(value) != value || fabs(value) >= 9e15)
        return 0;
    *out = (long long)value;
    return 1;
}

/* Brackets outside strings, counted before cJSON sees the text: its parser
 * recurses once per level. */
static int nesting_within(const char *text, size_t length, int max_depth)
{
    int depth = 0;
    int in_string = 0;
    for (size_t i = 0; i < length; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max_depth)
                return 0;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 1;
}

static cJSON *refuse(json_refusal why, size_t where, json_refusal *refusal, size_t *offset)
{
    if (refusal != NULL)
        *refusal = why;
    if (offset != NULL)
        *offset = where;
    return NULL;
}

cJSON *json_parse_checked(const char *text, size_t length, int max_depth, json_refusal *refusal,
                          size_t *offset)
{
    if (text == NULL)
        return refuse(JSON_SYNTAX, 0, refusal, offset);
    if (memchr(text, '\0', length) != NULL)
        return refuse(JSON_NUL_BYTE, 0, refusal, offset);
    if (!nesting_within(text, length, max_depth))
        return refuse(JSON_TOO_DEEP, 0, refusal, offset);
    const char *end = NULL;
    cJSON *document = cJSON_ParseWithLengthOpts(text, length, &end, 0);
    if (document == NULL)
        return refuse(JSON_SYNTAX, end != NULL && end >= text ? (size_t)(end - text) : 0, refusal,
                      offset);
    while (end != NULL && (size_t)(end - text) < length &&
           (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
        end++;
    if (end == NULL || (size_t)(end - text) != length) {
        cJSON_Delete(document);
        return refuse(JSON_TRAILING, end != NULL ? (size_t)(end - text) : 0, refusal, offset);
    }
    if (refusal != NULL)
        *refusal = JSON_ACCEPTED;
    return document;
}

cJSON *json_parse_bounded(const char *text, size_t length, int max_depth)
{
    return json_parse_checked(text, length, max_depth, NULL, NULL);
}
