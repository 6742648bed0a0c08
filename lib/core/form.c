/*
 * form: urlencoded parsing and encoding. See form.h.
 */
#include "core/form.h"

#include <stdlib.h>
#include <string.h>

#include "core/buffer.h"

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes text[0..length) into a new string; NULL on a bad escape. */
static char *decode(const char *text, size_t length)
{
    char *out = malloc(length + 1);
    if (out == NULL)
        return NULL;
    size_t written = 0;
    for (size_t i = 0; i < length; i++) {
        if (text[i] == '+') {
            out[written++] = ' ';
        } else if (text[i] == '%') {
            int high = i + 1 < length ? hex_digit(text[i + 1]) : -1;
            int low = i + 2 < length ? hex_digit(text[i + 2]) : -1;
            if (high < 0 || low < 0) {
                free(out);
                return NULL;
            }
            out[written++] = (char)(high << 4 | low);
            i += 2;
        } else {
            out[written++] = text[i];
        }
    }
    out[written] = '\0';
    return out;
}

static int add_field(form *out, const char *pair, size_t length)
{
    if (length == 0)
        return 0;
    if (out->count == FORM_MAX_FIELDS)
        return -1;
    const char *equals = memchr(pair, '=', length);
    size_t name_length = equals != NULL ? (size_t)(equals - pair) : length;
    const char *value = equals != NULL ? equals + 1 : pair + length;
    size_t value_length = length - name_length - (equals != NULL ? 1 : 0);

    form_field *field = &out->fields[out->count];
    field->name = decode(pair, name_length);
    field->value = decode(value, value_length);
    if (field->name == NULL || field->value == NULL) {
        free(field->name);
        free(field->value);
        field->name = field->value = NULL;
        return -1;
    }
    out->count++;
    return 0;
}

int form_parse(form *out, const char *text, size_t length)
{
    memset(out, 0, sizeof *out);
    size_t start = 0;
    for (size_t i = 0; i <= length; i++) {
        if (i == length || text[i] == '&') {
            if (add_field(out, text + start, i - start) != 0) {
                form_free(out);
                return -1;
            }
            start = i + 1;
        }
    }
    return 0;
}

const char *form_get(const form *f, const char *name)
{
    for (size_t i = 0; i < f->count; i++)
        if (strcmp(f->fields[i].name, name) == 0)
            return f->fields[i].value;
    return NULL;
}

void form_free(form *f)
{
    for (size_t i = 0; i < f->count; i++) {
        free(f->fields[i].name);
        free(f->fields[i].value);
    }
    f->count = 0;
}

int form_append_encoded(buffer *out, const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)text; *c != '\0'; c++) {
        int result;
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '.' || *c == '_' || *c == '~') {
            result = buffer_append_char(out, (char)*c);
        } else {
            char escape[3] = {'%', hex[*c >> 4], hex[*c & 15]};
            result = buffer_append(out, escape, 3);
        }
        if (result != 0)
            return -1;
    }
    return 0;
}
