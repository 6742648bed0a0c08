/*
 * buffer: a growable byte string. See buffer.h.
 */
#include "core/buffer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int buffer_reserve(buffer *b, size_t extra)
{
    if (extra > (size_t)-1 - b->length - 1)
        return -1;
    size_t needed = b->length + extra + 1;
    if (needed <= b->capacity)
        return 0;
    size_t capacity = b->capacity ? b->capacity : 64;
    while (capacity < needed) {
        if (capacity > (size_t)-1 / 2) {
            capacity = needed;
            break;
        }
        capacity *= 2;
    }
    char *data = realloc(b->data, capacity);
    if (data == NULL)
        return -1;
    b->data = data;
    b->capacity = capacity;
    return 0;
}

int buffer_append(buffer *b, const void *bytes, size_t length)
{
    if (buffer_reserve(b, length) != 0)
        return -1;
    if (length > 0)
        memcpy(b->data + b->length, bytes, length);
    b->length += length;
    b->data[b->length] = '\0';
    return 0;
}

int buffer_append_string(buffer *b, const char *text)
{
    return buffer_append(b, text, strlen(text));
}

int buffer_append_char(buffer *b, char c)
{
    return buffer_append(b, &c, 1);
}

int buffer_vprintf(buffer *b, const char *format, va_list args)
{
    va_list copy;
    va_copy(copy, args);
    int needed = vsnprintf(NULL, 0, format, copy);
    va_end(copy);
    if (needed < 0)
        return -1;
    if (buffer_reserve(b, (size_t)needed) != 0)
        return -1;
    vsnprintf(b->data + b->length, (size_t)needed + 1, format, args);
    b->length += (size_t)needed;
    return 0;
}

int buffer_printf(buffer *b, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int result = buffer_vprintf(b, format, args);
    va_end(args);
    return result;
}

int buffer_append_json_escaped(buffer *b, const char *text, size_t length)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        int result;
        if (c == '"' || c == '\\') {
            char pair[2] = {'\\', (char)c};
            result = buffer_append(b, pair, 2);
        } else if (c == '\n') {
            result = buffer_append(b, "\\n", 2);
        } else if (c < 0x20 || c == 0x7f) {
            char escape[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            result = buffer_append(b, escape, 6);
        } else {
            result = buffer_append_char(b, (char)c);
        }
        if (result != 0)
            return -1;
    }
    return 0;
}

void buffer_clear(buffer *b)
{
    b->length = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

const char *buffer_text(const buffer *b)
{
    return b->data != NULL ? b->data : "";
}

char *buffer_detach(buffer *b)
{
    char *data = b->data;
    b->data = NULL;
    b->length = 0;
    b->capacity = 0;
    return data;
}

void buffer_free(buffer *b)
{
    free(b->data);
    b->data = NULL;
    b->length = 0;
    b->capacity = 0;
}
