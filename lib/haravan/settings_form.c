/*
 * settings_form: reading and checking the settings page's submission.
 * See settings_form.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "haravan/settings_form.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/form.h"
#include "core/json.h"

#define MAX_CLIENT_ID     200
#define MAX_CLIENT_SECRET 512
#define MIN_VERIFY_TOKEN  8
#define MAX_VERIFY_TOKEN  200
#define MAX_EMAIL         320
#define MAX_CHANNEL       100
#define MAX_SOURCE_NAME   200

#define SOURCE_PREFIX "source."

#define MESSAGE_CLIENT_ID "Client ID gồm chữ, số và dấu, không có khoảng trắng, tối đa 200 ký tự"
#define MESSAGE_CLIENT_SECRET                                                                      \
    "Client Secret không có khoảng trắng hay ký tự điều khiển, tối đa 512 byte"
#define MESSAGE_VERIFY_TOKEN                                                                       \
    "Verify token có từ 8 đến 200 ký tự: chữ, số và dấu, không có khoảng trắng"
#define MESSAGE_EMAIL      "Email không hợp lệ"
#define MESSAGE_STRING     "Phải là chuỗi ký tự"
#define MESSAGE_UNKNOWN    "Trường không được hỗ trợ"
#define MESSAGE_TWICE      "Trường này được gửi hai lần"
#define MESSAGE_CHANNEL    "Kênh Haravan phải có từ 1 đến 100 ký tự, không có ký tự điều khiển"
#define MESSAGE_NAME       "Tên nguồn đơn phải có từ 1 đến 200 ký tự, không có ký tự điều khiển"
#define MESSAGE_SOURCES    "Phải là danh sách các mục {\"haravan_channel\", \"name\"}"
#define MESSAGE_TOO_MANY   "Tối đa 64 nguồn đơn mỗi lần lưu"
#define MESSAGE_DUPLICATES "Kênh này có hai tên"
#define MESSAGE_YES_NO     "Phải là true hoặc false"

int settings_form_fail(settings_form *f, const char *field, const char *message)
{
    if (f->errors == NULL) {
        f->errors = cJSON_CreateObject();
        if (f->errors == NULL)
            return -1;
    }
    if (cJSON_GetObjectItemCaseSensitive(f->errors, field) != NULL)
        return 0;
    return cJSON_AddStringToObject(f->errors, field, message) != NULL ? 0 : -1;
}

static void wipe_free(char *text)
{
    if (text != NULL) {
        crypto_wipe(text, strlen(text));
        free(text);
    }
}

void settings_form_free(settings_form *f)
{
    free(f->client_id);
    wipe_free(f->client_secret);
    wipe_free(f->verify_token);
    free(f->default_owner);
    for (size_t i = 0; i < f->source_count; i++) {
        free(f->sources[i].channel);
        free(f->sources[i].name);
    }
    cJSON_Delete(f->errors);
    memset(f, 0, sizeof *f);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A trimmed copy of `text`, or NULL when out of memory. */
static char *trimmed(const char *text)
{
    while (is_space(*text))
        text++;
    size_t length = strlen(text);
    while (length > 0 && is_space(text[length - 1]))
        length--;
    char *copy = malloc(length + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, text, length);
    copy[length] = '\0';
    return copy;
}

/* Visible ASCII only: what Haravan's ids, secrets and tokens are made of. */
static int visible_ascii(const char *text, size_t minimum, size_t maximum)
{
    size_t length = strlen(text);
    if (length < minimum || length > maximum)
        return 0;
    for (size_t i = 0; i < length; i++)
        if ((unsigned char)text[i] < 0x21 || (unsigned char)text[i] > 0x7e)
            return 0;
    return 1;
}

/* The length of the UTF-8 sequence at `bytes` (at most `available`
 * bytes), or 0 when it is not well-formed (overlong, a surrogate, beyond
 * U+10FFFF, cut short). */
static size_t utf8_sequence(const unsigned char *bytes, size_t available)
{
    unsigned char c = bytes[0];
    size_t length = 0;
    unsigned long point = 0;
    unsigned long minimum = 0;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        length = 2;
        point = c & 0x1f;
        minimum = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        length = 3;
        point = c & 0x0f;
        minimum = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        length = 4;
        point = c & 0x07;
        minimum = 0x10000;
    } else {
        return 0;
    }
    if (length > available)
        return 0;
    for (size_t k = 1; k < length; k++) {
        if ((bytes[k] & 0xc0) != 0x80)
            return 0;
        point = point << 6 | (bytes[k] & 0x3f);
    }
    if (point < minimum || point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff))
        return 0;
    return length;
}

/* 1 to `maximum` bytes of well-formed UTF-8 without control characters:
 * PostgreSQL would refuse the rest, and that must be the merchant's
 * message, not a failed transaction. */
static int clean_text(const char *text, size_t maximum)
{
    const unsigned char *bytes = (const unsigned char *)text;
    size_t length = strlen(text);
    if (length == 0 || length > maximum)
        return 0;
    for (size_t i = 0; i < length;) {
        if (bytes[i] < 0x20 || bytes[i] == 0x7f)
            return 0;
        size_t sequence = utf8_sequence(bytes + i, length - i);
        if (sequence == 0)
            return 0;
        i += sequence;
    }
    return 1;
}

/* Stores a scalar field's trimmed value in *slot (NULL when empty), after
 * checking it. Returns 0, or -1 when out of memory. */
static int take_scalar(settings_form *f, const char *field, const char *value, char **slot)
{
    if (*slot != NULL)
        return settings_form_fail(f, field, MESSAGE_TWICE);
    char *copy = trimmed(value);
    if (copy == NULL)
        return -1;
    if (copy[0] == '\0') {
        free(copy);
        return 0;
    }
    *slot = copy;
    const char *message = NULL;
    if (strcmp(field, "client_id") == 0 && !visible_ascii(copy, 1, MAX_CLIENT_ID))
        message = MESSAGE_CLIENT_ID;
    else if (strcmp(field, "client_secret") == 0 &&
             (!clean_text(copy, MAX_CLIENT_SECRET) || strchr(copy, ' ') != NULL))
        message = MESSAGE_CLIENT_SECRET;
    else if (strcmp(field, "verify_token") == 0 &&
             !visible_ascii(copy, MIN_VERIFY_TOKEN, MAX_VERIFY_TOKEN))
        message = MESSAGE_VERIFY_TOKEN;
    else if (strcmp(field, "default_owner") == 0 &&
             (!visible_ascii(copy, 3, MAX_EMAIL) || strchr(copy, '@') == NULL))
        message = MESSAGE_EMAIL;
    return message != NULL ? settings_form_fail(f, field, message) : 0;
}

static char **scalar_slot(settings_form *f, const char *name)
{
    if (strcmp(name, "client_id") == 0)
        return &f->client_id;
    if (strcmp(name, "client_secret") == 0)
        return &f->client_secret;
    if (strcmp(name, "verify_token") == 0)
        return &f->verify_token;
    if (strcmp(name, "default_owner") == 0)
        return &f->default_owner;
    return NULL;
}

/* Adds one channel's name; `field` names it in messages. Returns 0 or -1. */
static int take_source(settings_form *f, const char *field, const char *channel, const char *name)
{
    if (f->source_count == SETTINGS_FORM_MAX_SOURCES)
        return settings_form_fail(f, "sources", MESSAGE_TOO_MANY);
    settings_source *source = &f->sources[f->source_count];
    source->channel = trimmed(channel);
    source->name = trimmed(name);
    f->source_count++;
    if (source->channel == NULL || source->name == NULL)
        return -1;
    /* "" is the source of the orders that name no channel: the processor
     * files them under it (crm/processor.c, source_for), and the page
     * sends it back with the others, renamed or not. */
    if (source->channel[0] != '\0' && !clean_text(source->channel, MAX_CHANNEL))
        return settings_form_fail(f, field, MESSAGE_CHANNEL);
    if (!clean_text(source->name, MAX_SOURCE_NAME))
        return settings_form_fail(f, field, MESSAGE_NAME);
    for (size_t i = 0; i + 1 < f->source_count; i++)
        if (strcmp(f->sources[i].channel, source->channel) == 0)
            return settings_form_fail(f, field, MESSAGE_DUPLICATES);
    return 0;
}

/* end_rotation as a form field: "1" or "true" ends it; "", "0", "false"
 * leave it. */
static int take_end_rotation(settings_form *f, const char *value)
{
    if (strcmp(value, "1") == 0 || strcmp(value, "true") == 0)
        f->end_rotation = 1;
    else if (strcmp(value, "") != 0 && strcmp(value, "0") != 0 && strcmp(value, "false") != 0)
        return settings_form_fail(f, "end_rotation", MESSAGE_YES_NO);
    return 0;
}

static int read_form_field(settings_form *f, const form_field *field)
{
    if (strcmp(field->name, "end_rotation") == 0)
        return take_end_rotation(f, field->value);
    char **slot = scalar_slot(f, field->name);
    if (slot != NULL)
        return take_scalar(f, field->name, field->value, slot);
    if (strncmp(field->name, SOURCE_PREFIX, strlen(SOURCE_PREFIX)) == 0)
        return take_source(f, field->name, field->name + strlen(SOURCE_PREFIX), field->value);
    if (strcmp(field->name, "csrf") == 0)
        return 0;
    return settings_form_fail(f, field->name, MESSAGE_UNKNOWN);
}

static enum settings_form_result read_form(settings_form *out, const char *body, size_t length)
{
    form fields;
    if (form_parse(&fields, body, length) != 0)
        return SETTINGS_FORM_MALFORMED;
    int result = 0;
    for (size_t i = 0; i < fields.count && result == 0; i++)
        result = read_form_field(out, &fields.fields[i]);
    for (size_t i = 0; i < fields.count; i++)
        crypto_wipe(fields.fields[i].value, strlen(fields.fields[i].value));
    form_free(&fields);
    return result == 0 ? SETTINGS_FORM_READ : SETTINGS_FORM_NO_MEMORY;
}

/* The field name a source entry's messages go under. */
static void source_field(const cJSON *entry, size_t index, char *out, size_t size)
{
    const char *channel = json_string(entry, "haravan_channel");
    if (channel != NULL && strlen(channel) <= MAX_CHANNEL)
        snprintf(out, size, SOURCE_PREFIX "%s", channel);
    else
        snprintf(out, size, "sources[%zu]", index);
}

static int read_json_sources(settings_form *f, const cJSON *sources)
{
    if (!cJSON_IsArray(sources))
        return settings_form_fail(f, "sources", MESSAGE_SOURCES);
    size_t index = 0;
    const cJSON *entry = NULL;
    cJSON_ArrayForEach(entry, sources)
    {
        char field[160];
        source_field(entry, index++, field, sizeof field);
        const char *channel = json_string(entry, "haravan_channel");
        const char *name = json_string(entry, "name");
        int result = !cJSON_IsObject(entry) || channel == NULL || name == NULL
                         ? settings_form_fail(f, field, MESSAGE_SOURCES)
                         : take_source(f, field, channel, name);
        if (result != 0)
            return result;
    }
    return 0;
}

static int read_json_member(settings_form *f, const cJSON *member)
{
    const char *name = member->string;
    char **slot = scalar_slot(f, name);
    if (slot != NULL) {
        if (cJSON_IsNull(member))
            return 0;
        if (!cJSON_IsString(member))
            return settings_form_fail(f, name, MESSAGE_STRING);
        return take_scalar(f, name, member->valuestring, slot);
    }
    if (strcmp(name, "sources") == 0)
        return read_json_sources(f, member);
    if (strcmp(name, "end_rotation") == 0) {
        if (!cJSON_IsBool(member) && !cJSON_IsNull(member))
            return settings_form_fail(f, name, MESSAGE_YES_NO);
        f->end_rotation = cJSON_IsTrue(member);
        return 0;
    }
    if (strcmp(name, "csrf") == 0)
        return 0;
    return settings_form_fail(f, name, MESSAGE_UNKNOWN);
}

static enum settings_form_result read_json(settings_form *out, const char *body, size_t length)
{
    cJSON *document = json_parse_bounded(body, length, SETTINGS_FORM_JSON_DEPTH);
    if (!cJSON_IsObject(document)) {
        cJSON_Delete(document);
        return SETTINGS_FORM_MALFORMED;
    }
    int result = 0;
    const cJSON *member = NULL;
    cJSON_ArrayForEach(member, document)
    {
        if (result == 0)
            result = read_json_member(out, member);
    }
    const cJSON *secret = cJSON_GetObjectItemCaseSensitive(document, "client_secret");
    if (cJSON_IsString(secret))
        crypto_wipe(secret->valuestring, strlen(secret->valuestring));
    cJSON_Delete(document);
    return result == 0 ? SETTINGS_FORM_READ : SETTINGS_FORM_NO_MEMORY;
}

enum settings_form_result settings_form_read(settings_form *out, const char *body, size_t length,
                                             int is_json)
{
    memset(out, 0, sizeof *out);
    enum settings_form_result result =
        is_json ? read_json(out, body, length) : read_form(out, body, length);
    if (result != SETTINGS_FORM_READ)
        settings_form_free(out);
    return result;
}
