/*
 * connect_cookie: the browser-binding cookie of the connect flow. See
 * connect_cookie.h for its attributes and why.
 */
#include "connect_cookie.h"

#include <string.h>
#include <strings.h>

#include "core/cookie.h"
#include "haravan/oauth_state.h"

static const char *cookie_name(const char *step)
{
    return strcmp(step, "login") == 0 ? "hv_oauth_login" : "hv_oauth_grant";
}

static const char *callback_path(const char *step)
{
    return strcmp(step, "login") == 0 ? CONNECT_LOGIN_PATH : CONNECT_GRANT_PATH;
}

/* The path part of HARAVAN_PUBLIC_URL ("" for https://crm.example), where
 * the callbacks live as the browser sees them. */
static const char *public_path(const char *public_url)
{
    const char *host = public_url != NULL ? strstr(public_url, "://") : NULL;
    if (host == NULL)
        return "";
    const char *path = strchr(host + 3, '/');
    return path != NULL ? path : "";
}

int connect_cookie_format(const char *public_url, const char *step, const char *value, buffer *out)
{
    int secure = public_url != NULL && strncasecmp(public_url, "https://", 8) == 0;
    return buffer_printf(out, "Set-Cookie: %s=%s; Path=%s%s; Max-Age=%d; HttpOnly; %s\r\n",
                         cookie_name(step), value != NULL ? value : "", public_path(public_url),
                         callback_path(step), value != NULL ? HV_OAUTH_STATE_SECONDS : 0,
                         secure ? "SameSite=None; Secure" : "SameSite=Lax");
}

int connect_cookie_line(const worker *w, const char *step, const char *value, buffer *out)
{
    return connect_cookie_format(w->configuration->public_url, step, value, out);
}

int connect_cookie_read(const request *r, const char *step, char *out, size_t size)
{
    out[0] = '\0';
    int found = cookie_find(request_header(r, "Cookie"), cookie_name(step), out, size);
    if (found != 1) {
        out[0] = '\0';
        return 0;
    }
    return out[0] != '\0';
}
