/*
 * sql_array: PostgreSQL array literals for text[] parameters. See
 * sql_array.h.
 */
#include "core/sql_array.h"

static int append_element(buffer *out, const char *element)
{
    if (element == NULL)
        return buffer_append_string(out, "NULL");
    if (buffer_append_char(out, '"') != 0)
        return -1;
    for (const char *c = element; *c != '\0'; c++) {
        if ((*c == '"' || *c == '\\') && buffer_append_char(out, '\\') != 0)
            return -1;
        if (buffer_append_char(out, *c) != 0)
            return -1;
    }
    return buffer_append_char(out, '"');
}

int sql_text_array(buffer *out, const char *const *elements, size_t count)
{
    if (buffer_append_char(out, '{') != 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (i > 0 && buffer_append_char(out, ',') != 0)
            return -1;
        if (append_element(out, elements[i]) != 0)
            return -1;
    }
    return buffer_append_char(out, '}');
}
