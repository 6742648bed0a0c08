/*
 * admin: sessions, the trusted CRM header, CSRF and cross-site checks for
 * the admin routes. See admin.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "admin.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/base64.h"
#include "core/cookie.h"
#include "core/crypto.h"
#include "core/form.h"
#include "core/origin.h"

#define RANDOM_BYTES 32
#define CSRF_HEADER  "X-CSRF-Token"
#define CSRF_FIELD   "csrf"
/* Binds the crm-mode CSRF key to its one use: the master key itself
 * never signs anything a browser sees. */
#define CSRF_KEY_LABEL "haravan-crm admin csrf v1"

/* base64url without padding (RFC 4648 section 5) of `length` bytes into
 * `out`, which holds BASE64_ENCODED_SIZE(length) bytes. */
static void base64url(const unsigned char *bytes, size_t length, char *out)
{
    base64_encode(bytes, length, out);
    size_t i = 0;
    for (; out[i] != '\0' && out[i] != '='; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    out[i] = '\0';
}

_Static_assert(CRYPTO_SHA256_SIZE == RANDOM_BYTES, "crm-mode tokens are MACs of one size");

/* 32 bytes as a token: exactly ADMIN_TOKEN_SIZE - 1 characters. */
static void token_text(const unsigned char bytes[RANDOM_BYTES], char out[ADMIN_TOKEN_SIZE])
{
    char text[BASE64_ENCODED_SIZE(RANDOM_BYTES)];
    base64url(bytes, RANDOM_BYTES, text);
    memcpy(out, text, ADMIN_TOKEN_SIZE - 1);
    out[ADMIN_TOKEN_SIZE - 1] = '\0';
    crypto_wipe(text, sizeof text);
}

static int random_token(char out[ADMIN_TOKEN_SIZE])
{
    unsigned char bytes[RANDOM_BYTES];
    if (crypto_random(bytes, sizeof bytes) != 0)
        return -1;
    token_text(bytes, out);
    crypto_wipe(bytes, sizeof bytes);
    return 0;
}

/* A token we could have issued: exactly 43 base64url characters. Anything
 * else is refused before it reaches the database. */
static int token_well_formed(const char *token)
{
    size_t length = strlen(token);
    if (length != ADMIN_TOKEN_SIZE - 1)
        return 0;
    for (size_t i = 0; i < length; i++) {
        char c = token[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

int admin_crm_mode(const worker *w)
{
    return w->configuration->admin_crm;
}

/* A Referer, when a request has no Origin, must be of our origin too: an
 * old browser's form posted from another site says where it came from
 * only there. Our pages never send one (Referrer-Policy: no-referrer), so
 * a Referer that is present and not ours is another site's. */
static int referer_allowed(const worker *w, const char *referer)
{
    if (referer == NULL || referer[0] == '\0')
        return 1;
    const char *public_url = w->configuration->public_url;
    char expected[512];
    char actual[512];
    return public_url != NULL && origin_of_url(public_url, expected, sizeof expected) == 0 &&
           origin_of_url(referer, actual, sizeof actual) == 0 && strcmp(expected, actual) == 0;
}

int admin_same_origin(const worker *w, const request *r)
{
    const char *origin = request_header(r, "Origin");
    if (!origin_request_allowed(request_header(r, "Sec-Fetch-Site"), origin,
                                w->configuration->public_url))
        return 0;
    return origin != NULL || referer_allowed(w, request_header(r, "Referer"));
}

enum request_body_result admin_read_body(request *r)
{
    /* request_read_body leaves data NULL until a read succeeds; a read that
     * failed was answered by admin_require, so non-NULL here means the
     * whole body is already in hand. */
    if (r->body.data != NULL)
        return REQUEST_BODY_OK;
    return request_read_body(r, ADMIN_MAX_BODY);
}

/* ---- the CRM's sign-in -------------------------------------------------- */

/* The CSRF token of `identity` for the 12-hour window `window`. */
static int header_csrf(const worker *w, const char *identity, long long window,
                       char out[ADMIN_TOKEN_SIZE])
{
    if (!w->configuration->has_master_key)
        return -1;
    unsigned char key[CRYPTO_SHA256_SIZE];
    unsigned char mac[CRYPTO_SHA256_SIZE];
    char message[1024];
    int length = snprintf(message, sizeof message, "%lld\n%s", window, identity);
    if (length < 0 || (size_t)length >= sizeof message)
        return -1;
    int result = crypto_hmac_sha256(w->configuration->master_key, CRYPTO_KEY_SIZE, CSRF_KEY_LABEL,
                                    strlen(CSRF_KEY_LABEL), key);
    if (result == 0)
        result = crypto_hmac_sha256(key, sizeof key, message, (size_t)length, mac);
    crypto_wipe(key, sizeof key);
    if (result != 0)
        return -1;
    token_text(mac, out);
    return 0;
}

/* The identity nginx passes from the CRM's sign-in check. A FastCGI
 * parameter, not a header: nginx names every request header HTTP_*, so no
 * client can send this name, whatever the server block lets through. */
static const char *trusted_identity(const worker *w, const request *r)
{
    (void)w;
    const char *identity = request_param(r, ADMIN_IDENTITY_PARAM);
    if (identity == NULL || identity[0] == '\0' || strlen(identity) > ADMIN_IDENTITY_MAX)
        return NULL;
    return identity;
}

static long long current_window(void)
{
    return (long long)time(NULL) / ADMIN_SESSION_SECONDS;
}

/* ---- sessions ---------------------------------------------------------- */

/* SHA-256 of the request's session cookie, in hex; 0 when there is no
 * well-formed cookie. */
static int session_hash(const request *r, char hex[2 * CRYPTO_SHA256_SIZE + 1])
{
    char token[ADMIN_TOKEN_SIZE];
    if (cookie_find(request_header(r, "Cookie"), ADMIN_COOKIE, token, sizeof token) != 1 ||
        !token_well_formed(token))
        return 0;
    int result = crypto_sha256_hex(token, strlen(token), hex);
    crypto_wipe(token, sizeof token);
    return result == 0;
}

static int session_csrf(worker *w, const request *r, char csrf[ADMIN_TOKEN_SIZE])
{
    char hash[2 * CRYPTO_SHA256_SIZE + 1];
    if (!session_hash(r, hash))
        return 0;
    const char *values[] = {hash};
    PGresult *result = db_query(&w->database, DB_IDEMPOTENT,
                                "SELECT csrf FROM hv_admin_sessions"
                                " WHERE token_hash = decode($1, 'hex') AND expires_at > now()",
                                1, values, NULL, NULL);
    if (result == NULL)
        return -1;
    int found = PQntuples(result) > 0;
    if (found)
        snprintf(csrf, ADMIN_TOKEN_SIZE, "%s", PQgetvalue(result, 0, 0));
    PQclear(result);
    return found;
}

int admin_identify(worker *w, const request *r, char csrf[ADMIN_TOKEN_SIZE])
{
    csrf[0] = '\0';
    if (!admin_crm_mode(w))
        return session_csrf(w, r, csrf);
    const char *identity = trusted_identity(w, r);
    if (identity == NULL)
        return 0;
    return header_csrf(w, identity, current_window(), csrf) == 0 ? 1 : -1;
}

int admin_session_start(worker *w, char token[ADMIN_TOKEN_SIZE], char csrf[ADMIN_TOKEN_SIZE])
{
    char hash[2 * CRYPTO_SHA256_SIZE + 1];
    if (random_token(token) != 0 || random_token(csrf) != 0 ||
        crypto_sha256_hex(token, strlen(token), hash) != 0)
        return -1;
    char lifetime[32];
    snprintf(lifetime, sizeof lifetime, "%d", ADMIN_SESSION_SECONDS);
    const char *values[] = {hash, csrf, lifetime};
    PGresult *result = db_query(&w->database, DB_ONCE,
                                "INSERT INTO hv_admin_sessions (token_hash, csrf, expires_at)"
                                " VALUES (decode($1, 'hex'), $2,"
                                " now() + make_interval(secs => $3::int))",
                                3, values, NULL, NULL);
    if (result == NULL)
        return -1;
    PQclear(result);
    /* Expired rows are only clutter (lookups check the expiry); a login is
     * rare enough to be the moment to sweep them. */
    result =
        db_query(&w->database, DB_IDEMPOTENT,
                 "DELETE FROM hv_admin_sessions WHERE expires_at <= now()", 0, NULL, NULL, NULL);
    PQclear(result);
    return 0;
}

int admin_session_end(worker *w, const request *r)
{
    char hash[2 * CRYPTO_SHA256_SIZE + 1];
    if (!session_hash(r, hash))
        return 0;
    const char *values[] = {hash};
    PGresult *result =
        db_query(&w->database, DB_IDEMPOTENT,
                 "DELETE FROM hv_admin_sessions WHERE token_hash = decode($1, 'hex')", 1, values,
                 NULL, NULL);
    if (result == NULL)
        return -1;
    PQclear(result);
    return 0;
}

int admin_cookie_line(const worker *w, const char *token, buffer *out)
{
    const char *public_url = w->configuration->public_url;
    int secure = public_url != NULL && strncasecmp(public_url, "https://", 8) == 0;
    return buffer_printf(out,
                         "Set-Cookie: " ADMIN_COOKIE "=%s; Path=/; Max-Age=%d; HttpOnly;"
                         " SameSite=Strict%s\r\n",
                         token != NULL ? token : "", token != NULL ? ADMIN_SESSION_SECONDS : 0,
                         secure ? "; Secure" : "");
}

void admin_reply_unauthenticated(const worker *w, request *r)
{
    r->outcome = "not signed in";
    request_reply_json(r, 401,
                       admin_crm_mode(w) ? "{\"error\":\"not signed in\",\"login\":\"crm\"}"
                                         : "{\"error\":\"not signed in\",\"login\":\"password\"}");
}

/* ---- CSRF -------------------------------------------------------------- */

static int is_form(const request *r)
{
    const char *type = request_param(r, "CONTENT_TYPE");
    return type != NULL && strncasecmp(type, "application/x-www-form-urlencoded",
                                       strlen("application/x-www-form-urlencoded")) == 0;
}

/* The CSRF token the request carries, copied into `out`. Returns 1 when
 * found, 0 when not, or the HTTP status to answer when the form body
 * cannot be read (413, 400). */
static int given_csrf(request *r, char *out, size_t size)
{
    out[0] = '\0';
    const char *header = request_header(r, CSRF_HEADER);
    if (header != NULL && header[0] != '\0') {
        snprintf(out, size, "%s", header);
        return 1;
    }
    if (!is_form(r))
        return 0;
    enum request_body_result body = admin_read_body(r);
    if (body == REQUEST_BODY_TOO_LARGE)
        return 413;
    if (body != REQUEST_BODY_OK)
        return 400;
    form fields;
    if (form_parse(&fields, r->body.data, r->body.length) != 0)
        return 0;
    const char *value = form_get(&fields, CSRF_FIELD);
    int found = value != NULL && value[0] != '\0';
    if (found)
        snprintf(out, size, "%s", value);
    form_free(&fields);
    return found;
}

/* 1 when `given` is the CSRF token this request must carry. */
static int csrf_valid(const worker *w, const request *r, const char *expected, const char *given)
{
    if (crypto_strings_equal(given, expected))
        return 1;
    if (!admin_crm_mode(w))
        return 0;
    /* A page loaded just before the window turned still holds the previous
     * window's token. */
    char previous[ADMIN_TOKEN_SIZE];
    const char *identity = trusted_identity(w, r);
    return identity != NULL && header_csrf(w, identity, current_window() - 1, previous) == 0 &&
           crypto_strings_equal(given, previous);
}

int admin_require(worker *w, request *r, int state_changing)
{
    if (state_changing && !admin_same_origin(w, r)) {
        r->outcome = "cross-site refused";
        request_reply_error(r, 403, "cross-site request refused");
        return 0;
    }
    char expected[ADMIN_TOKEN_SIZE];
    int identified = admin_identify(w, r, expected);
    if (identified < 0) {
        r->outcome = "database unavailable";
        request_reply_error(r, 503, "cannot check the session now; please retry");
        return 0;
    }
    if (identified == 0) {
        admin_reply_unauthenticated(w, r);
        return 0;
    }
    if (!state_changing)
        return 1;
    char given[256];
    int found = given_csrf(r, given, sizeof given);
    if (found == 413 || found == 400) {
        r->outcome = found == 413 ? "too large" : "incomplete body";
        request_reply_error(r, found,
                            found == 413 ? "body larger than 64 KiB" : "incomplete request body");
        return 0;
    }
    int valid = found == 1 && csrf_valid(w, r, expected, given);
    crypto_wipe(given, sizeof given);
    crypto_wipe(expected, sizeof expected);
    if (!valid) {
        r->outcome = found == 1 ? "wrong csrf token" : "missing csrf token";
        request_reply_error(r, 403, "missing or wrong CSRF token");
        return 0;
    }
    return 1;
}
