/*
 * header: HTTP header name to CGI variable name. See header.h.
 */
#include "core/header.h"

#include <ctype.h>
#include <string.h>

int header_cgi_name(const char *name, char *out, size_t size)
{
    static const char prefix[] = "HTTP_";
    size_t length = strlen(name);
    if (sizeof prefix + length > size)
        return -1;
    memcpy(out, prefix, sizeof prefix - 1);
    char *cursor = out + sizeof prefix - 1;
    for (size_t i = 0; i < length; i++)
        *cursor++ = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
    *cursor = '\0';
    return 0;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

int header_next_part(const char **cursor, const char **start, size_t *length)
{
    const char *p = *cursor;
    if (p == NULL)
        return 0;
    while (is_blank(*p))
        p++;
    const char *comma = strchr(p, ',');
    const char *stop = comma != NULL ? comma : p + strlen(p);
    *cursor = comma != NULL ? comma + 1 : NULL;
    while (stop > p && is_blank(stop[-1]))
        stop--;
    *start = p;
    *length = (size_t)(stop - p);
    return 1;
}
