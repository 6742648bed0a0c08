/*
 * origin: same-origin checks for state-changing requests. See origin.h.
 */
#include "core/origin.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int origin_of_url(const char *url, char *out, size_t size)
{
    const char *scheme = NULL;
    const char *default_port = NULL;
    size_t prefix = 0;
    if (strncasecmp(url, "https://", 8) == 0) {
        scheme = "https://";
        default_port = "443";
        prefix = 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        scheme = "http://";
        default_port = "80";
        prefix = 7;
    } else {
        return -1;
    }
    const char *authority = url + prefix;
    size_t length = strcspn(authority, "/?#");
    if (length == 0 || memchr(authority, '@', length) != NULL)
        return -1;
    /* host[:port]; an IPv6 literal keeps its brackets. */
    const char *port = NULL;
    const char *bracket = memchr(authority, ']', length);
    const char *search = bracket != NULL ? bracket : authority;
    const char *colon = memchr(search, ':', length - (size_t)(search - authority));
    size_t host_length = colon != NULL ? (size_t)(colon - authority) : length;
    if (colon != NULL)
        port = colon + 1;
    size_t port_length = colon != NULL ? length - host_length - 1 : 0;
    if (host_length == 0)
        return -1;
    for (size_t i = 0; i < port_length; i++)
        if (port[i] < '0' || port[i] > '9')
            return -1;
    int keep_port = port_length > 0 && !(port_length == strlen(default_port) &&
                                         memcmp(port, default_port, port_length) == 0);
    size_t needed = strlen(scheme) + host_length + (keep_port ? 1 + port_length : 0) + 1;
    if (needed > size)
        return -1;
    size_t written = (size_t)snprintf(out, size, "%s", scheme);
    for (size_t i = 0; i < host_length; i++)
        out[written++] = lower(authority[i]);
    if (keep_port) {
        out[written++] = ':';
        memcpy(out + written, port, port_length);
        written += port_length;
    }
    out[written] = '\0';
    return 0;
}

int origin_request_allowed(const char *sec_fetch_site, const char *origin, const char *public_url)
{
    if (sec_fetch_site != NULL && strcmp(sec_fetch_site, "same-origin") != 0)
        return 0;
    if (origin == NULL)
        return 1;
    char expected[512];
    char actual[512];
    if (public_url == NULL || origin_of_url(public_url, expected, sizeof expected) != 0)
        return 0;
    /* "null" (a sandboxed or privacy-sensitive context) is not ours, and an
     * Origin is scheme://host[:port] and nothing more. */
    if (origin_of_url(origin, actual, sizeof actual) != 0 ||
        strpbrk(strstr(origin, "://") + 3, "/?#") != NULL)
        return 0;
    return strcmp(expected, actual) == 0;
}
