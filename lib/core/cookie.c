/*
 * cookie: finding one cookie in a Cookie header. See cookie.h.
 */
#include "core/cookie.h"

#include <string.h>

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

int cookie_find(const char *header, const char *name, char *out, size_t size)
{
    if (size > 0)
        out[0] = '\0';
    if (header == NULL)
        return 0;
    size_t name_length = strlen(name);
    const char *cursor = header;
    while (*cursor != '\0') {
        while (is_space(*cursor) || *cursor == ';')
            cursor++;
        const char *end = strchr(cursor, ';');
        size_t length = end != NULL ? (size_t)(end - cursor) : strlen(cursor);
        const char *equals = memchr(cursor, '=', length);
        if (equals != NULL) {
            size_t this_name = (size_t)(equals - cursor);
            while (this_name > 0 && is_space(cursor[this_name - 1]))
                this_name--;
            if (this_name == name_length && memcmp(cursor, name, name_length) == 0) {
                const char *value = equals + 1;
                size_t value_length = length - (size_t)(value - cursor);
                while (value_length > 0 && is_space(*value))
                    value++, value_length--;
                while (value_length > 0 && is_space(value[value_length - 1]))
                    value_length--;
                if (value_length + 1 > size)
                    return -1;
                memcpy(out, value, value_length);
                out[value_length] = '\0';
                return 1;
            }
        }
        cursor += length;
    }
    return 0;
}
