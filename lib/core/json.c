/*
 * json: tolerant readers over cJSON. See json.h. The checked parser is in
 * json_parse.c.
 */
#include "core/json.h"

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

const cJSON *json_array(const cJSON *object, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    return cJSON_IsArray(item) ? item : NULL;
}
