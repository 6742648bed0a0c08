/*
 * crm_field: field readers that tell absent from unreadable, and the report
 * that names what could not be read. See haravan_field.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "crm/haravan_field.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest integer every smaller one of which a double holds exactly. */
#define EXACT_DOUBLE_LIMIT 9007199254740992.0
/* Shown of a string value in a reason or note. */
#define QUOTED_BYTES 40

static const cJSON *item_of(const cJSON *object, const char *key)
{
    return key != NULL ? cJSON_GetObjectItemCaseSensitive(object, key) : object;
}

static int is_blank(const char *text)
{
    for (const char *c = text; *c != '\0'; c++)
        if (*c != ' ' && *c != '\t' && *c != '\n' && *c != '\r')
            return 0;
    return 1;
}

crm_field crm_field_text(const cJSON *object, const char *key, const char **out)
{
    const cJSON *item = item_of(object, key);
    *out = NULL;
    if (item == NULL || cJSON_IsNull(item))
        return CRM_FIELD_ABSENT;
    if (!cJSON_IsString(item))
        return CRM_FIELD_UNREADABLE;
    if (is_blank(item->valuestring))
        return CRM_FIELD_ABSENT;
    *out = item->valuestring;
    return CRM_FIELD_READ;
}

static int all_digits(const char *text)
{
    if (*text == '\0')
        return 0;
    for (const char *c = text; *c != '\0'; c++)
        if (*c < '0' || *c > '9')
            return 0;
    return 1;
}

static int is_id_character(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '_';
}

static crm_field id_from_string(const char *text, char *out, size_t size)
{
    if (is_blank(text))
        return CRM_FIELD_ABSENT;
    for (const char *c = text; *c != '\0'; c++)
        if (!is_id_character(*c))
            return CRM_FIELD_UNREADABLE;
    if (all_digits(text)) {
        while (text[0] == '0' && text[1] != '\0')
            text++;
        if (strcmp(text, "0") == 0)
            return CRM_FIELD_ABSENT;
    }
    if (strlen(text) >= size)
        return CRM_FIELD_UNREADABLE;
    snprintf(out, size, "%s", text);
    return CRM_FIELD_READ;
}

crm_field crm_field_id(const cJSON *object, const char *key, char *out, size_t size)
{
    const cJSON *item = item_of(object, key);
    out[0] = '\0';
    if (item == NULL || cJSON_IsNull(item))
        return CRM_FIELD_ABSENT;
    if (cJSON_IsString(item))
        return id_from_string(item->valuestring, out, size);
    if (!cJSON_IsNumber(item))
        return CRM_FIELD_UNREADABLE;
    double value = item->valuedouble;
    if (value == 0)
        return CRM_FIELD_ABSENT;
    if (!(value > 0 && value <= EXACT_DOUBLE_LIMIT) || floor(value) != value)
        return CRM_FIELD_UNREADABLE;
    int written = snprintf(out, size, "%.0f", value);
    if (written < 0 || (size_t)written >= size) {
        out[0] = '\0';
        return CRM_FIELD_UNREADABLE;
    }
    return CRM_FIELD_READ;
}

/* A plain decimal: optional '-', digits, optionally '.' and digits; at
 * least one digit. No exponent, hex, spaces or "inf". */
static int is_plain_decimal(const char *text)
{
    const char *c = text;
    int digits = 0;
    if (*c == '-')
        c++;
    for (; *c >= '0' && *c <= '9'; c++)
        digits++;
    if (*c == '.')
        for (c++; *c >= '0' && *c <= '9'; c++)
            digits++;
    return digits > 0 && *c == '\0';
}

/* A number, or a string holding a plain decimal, as a double. */
static crm_field number_of(const cJSON *item, double *out)
{
    if (item == NULL || cJSON_IsNull(item))
        return CRM_FIELD_ABSENT;
    if (cJSON_IsNumber(item)) {
        *out = item->valuedouble;
        return isfinite(*out) ? CRM_FIELD_READ : CRM_FIELD_UNREADABLE;
    }
    if (!cJSON_IsString(item))
        return CRM_FIELD_UNREADABLE;
    if (is_blank(item->valuestring))
        return CRM_FIELD_ABSENT;
    if (!is_plain_decimal(item->valuestring))
        return CRM_FIELD_UNREADABLE;
    errno = 0;
    *out = strtod(item->valuestring, NULL);
    return errno == 0 && isfinite(*out) ? CRM_FIELD_READ : CRM_FIELD_UNREADABLE;
}

crm_field crm_field_amount(const cJSON *object, const char *key, char *out, size_t size)
{
    double value = 0;
    out[0] = '\0';
    crm_field state = number_of(item_of(object, key), &value);
    if (state != CRM_FIELD_READ)
        return state;
    if (fabs(value) >= 1e15)
        return CRM_FIELD_UNREADABLE;
    snprintf(out, size, "%.2f", value);
    return CRM_FIELD_READ;
}

crm_field crm_field_count(const cJSON *object, const char *key, long long *out)
{
    double value = 0;
    crm_field state = number_of(item_of(object, key), &value);
    if (state != CRM_FIELD_READ)
        return state;
    if (floor(value) != value || fabs(value) >= 9e15)
        return CRM_FIELD_UNREADABLE;
    *out = (long long)value;
    return CRM_FIELD_READ;
}

crm_field crm_field_object(const cJSON *object, const char *key, const cJSON **out)
{
    const cJSON *item = item_of(object, key);
    *out = NULL;
    if (item == NULL || cJSON_IsNull(item))
        return CRM_FIELD_ABSENT;
    if (!cJSON_IsObject(item))
        return CRM_FIELD_UNREADABLE;
    *out = item;
    return CRM_FIELD_READ;
}

crm_field crm_field_array(const cJSON *object, const char *key, const cJSON **out)
{
    const cJSON *item = item_of(object, key);
    *out = NULL;
    if (item == NULL || cJSON_IsNull(item))
        return CRM_FIELD_ABSENT;
    if (!cJSON_IsArray(item))
        return CRM_FIELD_UNREADABLE;
    *out = item;
    return CRM_FIELD_READ;
}

/* ---- the report ---- */

static int utf8_continuation(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

int crm_copy_utf8(char *out, size_t size, const char *text)
{
    size_t length = strlen(text);
    if (length < size) {
        memcpy(out, text, length + 1);
        return 0;
    }
    size_t cut = size - 1;
    while (cut > 0 && utf8_continuation((unsigned char)text[cut]))
        cut--;
    memcpy(out, text, cut);
    out[cut] = '\0';
    return 1;
}

/* The value as a person reads it in a reason: strings quoted and cut,
 * numbers as written, containers by their kind. */
static void describe(const cJSON *item, char *out, size_t size)
{
    if (item == NULL || cJSON_IsNull(item)) {
        snprintf(out, size, "null");
    } else if (cJSON_IsString(item)) {
        char shown[QUOTED_BYTES + 1];
        int cut = crm_copy_utf8(shown, sizeof shown, item->valuestring);
        snprintf(out, size, "\"%s%s\"", shown, cut ? "..." : "");
    } else if (cJSON_IsNumber(item)) {
        double number = item->valuedouble;
        if (floor(number) == number && fabs(number) < 1e17)
            snprintf(out, size, "%.0f", number);
        else
            snprintf(out, size, "%.15g", number);
    } else if (cJSON_IsBool(item)) {
        snprintf(out, size, "%s", cJSON_IsTrue(item) ? "true" : "false");
    } else if (cJSON_IsArray(item)) {
        snprintf(out, size, "an array");
    } else {
        snprintf(out, size, "an object");
    }
}

static void field_path(const char *path, const char *key, char *out, size_t size)
{
    int has_path = path != NULL && path[0] != '\0';
    if (key == NULL)
        snprintf(out, size, "%s", has_path ? path : "body");
    else
        snprintf(out, size, "%s%s%s", has_path ? path : "", has_path ? "." : "", key);
}

static void append(char *text, size_t size, const char *separator, const char *part)
{
    size_t used = strlen(text);
    if (used + 1 >= size)
        return;
    char joined[2 * CRM_REPORT_NOTES_SIZE];
    snprintf(joined, sizeof joined, "%s%s", used > 0 ? separator : "", part);
    crm_copy_utf8(text + used, size - used, joined);
}

void crm_report_fail(crm_report *report, const char *subject, const char *path, const cJSON *object,
                     const char *key, const char *expected)
{
    if (report->reason[0] != '\0')
        return;
    char where[192], value[QUOTED_BYTES + 48];
    field_path(path, key, where, sizeof where);
    const cJSON *item = item_of(object, key);
    int has_subject = subject != NULL && subject[0] != '\0';
    char text[2 * CRM_REPORT_REASON_SIZE]; /* cut to size below, at a character */
    if (item == NULL || cJSON_IsNull(item)) {
        snprintf(text, sizeof text, "%s%s%s: missing", has_subject ? subject : "",
                 has_subject ? ": " : "", where);
    } else {
        describe(item, value, sizeof value);
        snprintf(text, sizeof text, "%s%s%s: %s is not %s", has_subject ? subject : "",
                 has_subject ? ": " : "", where, value, expected);
    }
    crm_copy_utf8(report->reason, sizeof report->reason, text);
}

void crm_report_note(crm_report *report, const char *path, const cJSON *object, const char *key,
                     const char *expected, const char *consequence)
{
    char where[192], value[QUOTED_BYTES + 48], note[1024];
    field_path(path, key, where, sizeof where);
    describe(item_of(object, key), value, sizeof value);
    snprintf(note, sizeof note, "%s: %s is not %s; %s", where, value, expected, consequence);
    crm_report_add(report, note);
}

void crm_report_add(crm_report *report, const char *note)
{
    /* One field may be read twice (an order's address, then as its
     * customer's fallback): one note is enough. */
    if (note != NULL && note[0] != '\0' && strstr(report->notes, note) == NULL)
        append(report->notes, sizeof report->notes, "; ", note);
}

void crm_report_reason(crm_report *report, const char *format, ...)
{
    if (report->reason[0] != '\0')
        return;
    char text[2 * CRM_REPORT_REASON_SIZE]; /* cut to size below, at a character */
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    crm_copy_utf8(report->reason, sizeof report->reason, text);
}

/* ---- where U+FFFD is ---- */

#define REPLACEMENT_CHARACTER "\xEF\xBF\xBD"
#define MAX_LISTED_PATHS      8

typedef struct replacements {
    char list[CRM_REPORT_NOTES_SIZE / 2];
    int listed;
    int more;
} replacements;

static void list_path(replacements *found, const char *path)
{
    if (found->listed == MAX_LISTED_PATHS) {
        found->more = 1;
        return;
    }
    append(found->list, sizeof found->list, ", ", path[0] != '\0' ? path : "body");
    found->listed++;
}

/* Drops a character that a cut left incomplete at the end of `text`. */
static void drop_partial_character(char *text)
{
    size_t length = strlen(text);
    size_t start = length;
    while (start > 0 && length - start < 4 && utf8_continuation((unsigned char)text[start - 1]))
        start--;
    if (start == 0)
        return;
    unsigned char lead = (unsigned char)text[start - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (length - (start - 1) < need)
        text[start - 1] = '\0';
}

static void find_replacements(const cJSON *item, const char *path, replacements *found)
{
    if (cJSON_IsString(item) && strstr(item->valuestring, REPLACEMENT_CHARACTER) != NULL)
        list_path(found, path);
    size_t index = 0;
    for (const cJSON *child = item->child; child != NULL; child = child->next, index++) {
        char child_path[256];
        if (cJSON_IsArray(item))
            snprintf(child_path, sizeof child_path, "%s[%zu]", path, index);
        else
            snprintf(child_path, sizeof child_path, "%s%s%s", path, path[0] != '\0' ? "." : "",
                     child->string);
        drop_partial_character(child_path);
        if (child->string != NULL && strstr(child->string, REPLACEMENT_CHARACTER) != NULL)
            list_path(found, path);
        find_replacements(child, child_path, found);
    }
}

void crm_report_replacements(crm_report *report, const cJSON *tree)
{
    replacements found = {.list = "", .listed = 0, .more = 0};
    if (tree == NULL)
        return;
    find_replacements(tree, "", &found);
    if (found.listed == 0)
        return;
    char note[sizeof found.list + 32];
    snprintf(note, sizeof note, "U+FFFD in: %s%s", found.list, found.more ? ", ..." : "");
    crm_report_add(report, note);
}
