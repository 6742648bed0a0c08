/*
 * json: tolerant readers over cJSON. See json.h. The checked parser is in
 * json_parse.c.
 */
#include "core/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2^53: every integer up to it is a double exactly. */
#define JSON_EXACT_INTEGER 9007199254740992.0

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
        if (value <= 0 || value > JSON_EXACT_INTEGER || floor(value) != value)
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
