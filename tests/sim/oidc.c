/*
 * oidc: accounts.haravan.com as docs/HARAVAN.md section 1 describes it: OpenID
 * Connect discovery and JWKS, the hybrid flow (response_type "code
 * id_token") with response_mode=form_post, the token endpoint
 * (authorization_code and refresh_token grants) and userinfo.
 *
 *   GET  /.well-known/openid-configuration        discovery
 *   GET  /.well-known/openid-configuration/jwks   the one signing key
 *   GET  /connect/authorize                       the consent page
 *   POST /connect/authorize                       the merchant's decision
 *   POST /connect/token                           codes and refresh tokens
 *   GET  /connect/userinfo                        the user's claims (Bearer)
 *
 * The rules are the ones a standards-conformant provider enforces (RFC
 * 6749, OpenID Connect Core), so that a connector that works here works
 * against accounts.haravan.com: an unknown client or a redirect_uri not
 * registered for it gets an error page and never a redirect (an open
 * redirector otherwise), and every other authorize fault goes back to the
 * app in the response mode asked for when valid, else the fragment; the
 * openid scope and a nonce are required, unknown scopes and response
 * modes refused; the token endpoint takes form bodies only, authenticates
 * the client by HTTP Basic or by the body (one method), and refuses a code
 * shown with a missing or other redirect_uri or by another client; codes
 * are single use (a second use revokes what the first issued), live 5
 * minutes and are bound to client, redirect_uri, scopes, nonce and user;
 * a parameter given twice is refused; the owner-only scopes
 * (grant_service, wh_api) are granted to the account owner only, so a
 * staff member's consent comes back without them; refresh tokens come
 * with offline_access only.
 *
 * Access tokens go into the same token store as the seeded ones (store.h),
 * so /com/ and /api/subscribe accept them with the scopes granted.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/base64.h"
#include "core/crypto.h"
#include "core/form.h"
#include "pages.h"
#include "reply.h"
#include "sim.h"

#define OIDC_MAX_BODY    (64 * 1024)
#define MAX_STATE        2000
#define MAX_NONCE        500
#define MAX_SCOPE        1000
#define ID_TOKEN_SECONDS 3600
#define TOKEN_BYTES      32 /* codes, access and refresh tokens: 64 hex digits */

#define JWKS_PATH "/.well-known/openid-configuration/jwks"

static const char html_type[] = "text/html; charset=utf-8";
static const char no_store[] = "Cache-Control: no-store\r\nPragma: no-cache\r\n";

/* Only the account owner may grant these (docs/HARAVAN.md section 1). */
static const char *const owner_only_scopes[] = {"grant_service", "wh_api", NULL};

/* ---- small helpers ------------------------------------------------------ */

static void reply_page(request *r, int status, buffer *page)
{
    if (page->data == NULL) {
        sim_reply(r, 500, "", "{\"error\":\"simulator out of memory\"}");
        return;
    }
    sim_reply_typed(r, status, html_type, no_store, page->data, page->length);
}

static void reply_error_page(request *r, const char *message)
{
    buffer page = BUFFER_INIT;
    r->outcome = "refused";
    if (sim_page_error(&page, "Yêu cầu không hợp lệ", message) != 0)
        buffer_free(&page);
    reply_page(r, 400, &page);
    buffer_free(&page);
}

/* Takes ownership of `document`. */
static void reply_json(request *r, int status, const char *headers, cJSON *document)
{
    if (document == NULL) {
        sim_reply(r, 500, "", "{\"error\":\"server_error\"}");
        return;
    }
    sim_reply_document(r, status, headers, document);
    cJSON_Delete(document);
}

/* 1 when the space-separated `scopes` list `scope`. */
static int scope_in(const char *scopes, const char *scope)
{
    size_t length = strlen(scope);
    for (const char *cursor = scopes; *cursor != '\0';) {
        cursor += strspn(cursor, " ");
        size_t word = strcspn(cursor, " ");
        if (word == length && strncmp(cursor, scope, length) == 0)
            return 1;
        cursor += word;
    }
    return 0;
}

/* The name of a parameter given more than once (RFC 6749 section 3.1 and
 * 3.2: "MUST NOT be included more than once"), or NULL. */
static const char *repeated_parameter(const form *f)
{
    for (size_t i = 0; i < f->count; i++)
        for (size_t j = i + 1; j < f->count; j++)
            if (strcmp(f->fields[i].name, f->fields[j].name) == 0)
                return f->fields[i].name;
    return NULL;
}

/* The scopes this server knows (discovery's scopes_supported). */
static const char *const supported_scopes[] = {"openid",
                                               "profile",
                                               "email",
                                               "org",
                                               "userinfo",
                                               "offline_access",
                                               "grant_service",
                                               "wh_api",
                                               "com.read_orders",
                                               "com.read_customers",
                                               "com.read_shop",
                                               "com.write_orders",
                                               "com.write_customers"};
#define SUPPORTED_SCOPE_COUNT (sizeof supported_scopes / sizeof supported_scopes[0])

/* 1 when the scope of `length` characters at `scope` is supported. */
static int scope_supported(const char *scope, size_t length)
{
    for (size_t i = 0; i < SUPPORTED_SCOPE_COUNT; i++)
        if (strlen(supported_scopes[i]) == length &&
            strncmp(supported_scopes[i], scope, length) == 0)
            return 1;
    return 0;
}

/* 1 when every space-separated scope of `scopes` is supported: a provider
 * refuses what it does not know (invalid_scope) rather than drop it. */
static int scopes_supported(const char *scopes)
{
    for (const char *cursor = scopes; *cursor != '\0';) {
        cursor += strspn(cursor, " ");
        size_t word = strcspn(cursor, " ");
        if (word > 0 && !scope_supported(cursor, word))
            return 0;
        cursor += word;
    }
    return 1;
}

static int owner_only(const char *scope, size_t length)
{
    for (size_t i = 0; owner_only_scopes[i] != NULL; i++)
        if (strlen(owner_only_scopes[i]) == length &&
            strncmp(owner_only_scopes[i], scope, length) == 0)
            return 1;
    return 0;
}

/* The scopes granted for `requested`: each once, in request order, without
 * the owner-only ones unless the user owns the shop. */
static int granted_scopes(const char *requested, int owner, buffer *out)
{
    for (const char *cursor = requested; *cursor != '\0';) {
        cursor += strspn(cursor, " ");
        size_t word = strcspn(cursor, " ");
        if (word == 0)
            break;
        char scope[MAX_SCOPE + 1];
        snprintf(scope, sizeof scope, "%.*s", (int)word, cursor);
        cursor += word;
        if ((!owner && owner_only(scope, word)) || scope_in(buffer_text(out), scope))
            continue;
        if (buffer_printf(out, "%s%s", out->length > 0 ? " " : "", scope) != 0)
            return -1;
    }
    return buffer_append(out, "", 0);
}

static int scope_text_acceptable(const char *scope)
{
    size_t length = strlen(scope);
    return length > 0 && length <= MAX_SCOPE &&
           strspn(scope, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:- ") ==
               length;
}

static int user_is_owner(const cJSON *user)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(user, "account_owner"));
}

static const char *object_text(const cJSON *object, const char *name)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(object, name);
    return cJSON_IsString(value) ? value->valuestring : "";
}

/* "https://shop.myharavan.com" -> "shop": the orgsub claim. */
static void org_subdomain(const sim_org *org, char *out, size_t size)
{
    const char *domain = object_text(org->shop, "myharavan_domain");
    const char *host = strstr(domain, "://");
    host = host != NULL ? host + 3 : domain;
    snprintf(out, size, "%.*s", (int)strcspn(host, "."), host);
}

/* A whole number of at most 15 digits, no sign. */
static int parse_id(const char *text, long long *out)
{
    size_t length = text != NULL ? strlen(text) : 0;
    if (length == 0 || length > 15 || strspn(text, "0123456789") != length)
        return -1;
    *out = strtoll(text, NULL, 10);
    return *out > 0 ? 0 : -1;
}

/* ---- claims and id_tokens ----------------------------------------------- */

/* The user's claims, as in the id_token and at userinfo. */
static cJSON *user_claims(const sim_org *org, const cJSON *user)
{
    char sub[32];
    char orgid[32];
    char orgsub[128];
    char name[512];
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(user, "id");
    snprintf(sub, sizeof sub, "%.0f", cJSON_IsNumber(id) ? id->valuedouble : 0.0);
    snprintf(orgid, sizeof orgid, "%lld", org->id);
    org_subdomain(org, orgsub, sizeof orgsub);
    snprintf(name, sizeof name, "%.250s %.250s", object_text(user, "first_name"),
             object_text(user, "last_name"));
    cJSON *claims = cJSON_CreateObject();
    cJSON *role = NULL;
    if (user_is_owner(user)) {
        const char *const admin[] = {"admin"};
        role = cJSON_CreateStringArray(admin, 1);
    } else {
        role = cJSON_CreateString("staff");
    }
    if (claims == NULL || role == NULL || cJSON_AddStringToObject(claims, "sub", sub) == NULL ||
        cJSON_AddStringToObject(claims, "orgid", orgid) == NULL ||
        cJSON_AddStringToObject(claims, "orgname", object_text(org->shop, "name")) == NULL ||
        cJSON_AddStringToObject(claims, "orgsub", orgsub) == NULL ||
        !cJSON_AddItemToObject(claims, "role", role)) {
        cJSON_Delete(role);
        cJSON_Delete(claims);
        return NULL;
    }
    if (cJSON_AddStringToObject(claims, "email", object_text(user, "email")) == NULL ||
        cJSON_AddStringToObject(claims, "name", name) == NULL ||
        cJSON_AddStringToObject(claims, "locale", "vi") == NULL) {
        cJSON_Delete(claims);
        return NULL;
    }
    return claims;
}

typedef struct id_token_request {
    const char *issuer;
    const char *client_id;
    const char *nonce;     /* NULL: left out (refresh) */
    const char *hash_name; /* "c_hash", "at_hash" or NULL */
    const char *hashed;    /* the code or access token it covers */
    sim_hash_mode hash_mode;
    const sim_org *org;
    const cJSON *user;
} id_token_request;

/* The signed id_token; the caller frees it. NULL on failure. */
static char *make_id_token(const sim *s, const id_token_request *request_fields)
{
    cJSON *claims = user_claims(request_fields->org, request_fields->user);
    time_t now = time(NULL);
    char hash[SIM_HASH_HALF_SIZE];
    int built = claims != NULL &&
                cJSON_AddStringToObject(claims, "iss", request_fields->issuer) != NULL &&
                cJSON_AddStringToObject(claims, "aud", request_fields->client_id) != NULL &&
                cJSON_AddNumberToObject(claims, "iat", (double)now) != NULL &&
                cJSON_AddNumberToObject(claims, "nbf", (double)now) != NULL &&
                cJSON_AddNumberToObject(claims, "exp", (double)(now + ID_TOKEN_SECONDS)) != NULL &&
                cJSON_AddNumberToObject(claims, "auth_time", (double)now) != NULL;
    if (built && request_fields->nonce != NULL)
        built = cJSON_AddStringToObject(claims, "nonce", request_fields->nonce) != NULL;
    /* A wrong hash is that of the value with one more character. */
    buffer hashed = BUFFER_INIT;
    if (built && request_fields->hash_name != NULL && request_fields->hash_mode != SIM_HASH_OMIT)
        built = buffer_printf(&hashed, "%s%s", request_fields->hashed,
                              request_fields->hash_mode == SIM_HASH_WRONG ? "x" : "") == 0 &&
                sim_hash_half(hashed.data, hash) == 0 &&
                cJSON_AddStringToObject(claims, request_fields->hash_name, hash) != NULL;
    buffer_free(&hashed);
    char *token = built ? sim_jwt_sign(&s->key, claims) : NULL;
    cJSON_Delete(claims);
    return token;
}

/* ---- discovery and JWKS -------------------------------------------------- */

static int add_strings(cJSON *object, const char *name, const char *const *values, int count)
{
    cJSON *array = cJSON_CreateStringArray(values, count);
    if (array == NULL || !cJSON_AddItemToObject(object, name, array)) {
        cJSON_Delete(array);
        return -1;
    }
    return 0;
}

static int add_url(cJSON *object, const char *name, const char *base, const char *path)
{
    buffer url = BUFFER_INIT;
    int result = buffer_printf(&url, "%s%s", base, path) == 0 &&
                         cJSON_AddStringToObject(object, name, url.data) != NULL
                     ? 0
                     : -1;
    buffer_free(&url);
    return result;
}

static void serve_discovery(sim *s, request *r)
{
    static const char *const claims[] = {"sub",   "iss",   "aud",     "exp",    "iat",
                                         "nonce", "orgid", "orgname", "orgsub", "role",
                                         "email", "name",  "locale"};
    static const char *const response_types[] = {"code id_token"};
    static const char *const response_modes[] = {"form_post"};
    static const char *const grant_types[] = {"authorization_code", "refresh_token"};
    static const char *const subject_types[] = {"public"};
    static const char *const algorithms[] = {"RS256"};
    static const char *const auth_methods[] = {"client_secret_post", "client_secret_basic"};
    buffer base = BUFFER_INIT;
    cJSON *document = cJSON_CreateObject();
    int built =
        sim_base_url(s, r, &base) == 0 && document != NULL &&
        cJSON_AddStringToObject(document, "issuer", base.data) != NULL &&
        add_url(document, "authorization_endpoint", base.data, "/connect/authorize") == 0 &&
        add_url(document, "token_endpoint", base.data, "/connect/token") == 0 &&
        add_url(document, "userinfo_endpoint", base.data, "/connect/userinfo") == 0 &&
        add_url(document, "jwks_uri", base.data, JWKS_PATH) == 0 &&
        add_strings(document, "scopes_supported", supported_scopes, (int)SUPPORTED_SCOPE_COUNT) ==
            0 &&
        add_strings(document, "claims_supported", claims, 13) == 0 &&
        add_strings(document, "response_types_supported", response_types, 1) == 0 &&
        add_strings(document, "response_modes_supported", response_modes, 1) == 0 &&
        add_strings(document, "grant_types_supported", grant_types, 2) == 0 &&
        add_strings(document, "subject_types_supported", subject_types, 1) == 0 &&
        add_strings(document, "id_token_signing_alg_values_supported", algorithms, 1) == 0 &&
        add_strings(document, "token_endpoint_auth_methods_supported", auth_methods, 2) == 0;
    buffer_free(&base);
    if (!built) {
        cJSON_Delete(document);
        document = NULL;
    }
    reply_json(r, 200, "", document);
}

static void serve_jwks(sim *s, request *r)
{
    cJSON *document = cJSON_CreateObject();
    cJSON *keys = cJSON_AddArrayToObject(document, "keys");
    cJSON *jwk = sim_key_jwk(&s->key);
    if (keys == NULL || jwk == NULL || !cJSON_AddItemToArray(keys, jwk)) {
        cJSON_Delete(jwk);
        cJSON_Delete(document);
        document = NULL;
    }
    reply_json(r, 200, "", document);
}

/* ---- authorize ----------------------------------------------------------- */

/* How an authorize answer goes back to the app. */
typedef enum response_mode {
    MODE_FORM_POST = 0, /* the only one the simulator plays, as the connector asks */
    MODE_FRAGMENT,      /* only for errors, when no valid mode was asked for */
    MODE_QUERY,
} response_mode;

typedef struct authorize_request {
    const char *client_id;
    const char *redirect_uri;
    const char *response_type;
    const char *response_mode;
    const char *scope;
    const char *state;
    const char *nonce;
    const char *orgid;
    const char *repeated; /* a parameter given twice, or NULL */
    response_mode mode;   /* for errors: see error_mode() */
    const cJSON *app;
    sim_org *org;
} authorize_request;

static void read_authorize(const form *f, authorize_request *a)
{
    memset(a, 0, sizeof *a);
    a->client_id = form_get(f, "client_id");
    a->redirect_uri = form_get(f, "redirect_uri");
    a->response_type = form_get(f, "response_type");
    a->response_mode = form_get(f, "response_mode");
    a->scope = form_get(f, "scope");
    a->state = form_get(f, "state");
    a->nonce = form_get(f, "nonce");
    a->orgid = form_get(f, "orgid");
    a->repeated = repeated_parameter(f);
}

/* The mode an error goes back in: the one asked for when it is valid
 * (form_post), else the response type's default (OAuth 2.0 Multiple
 * Response Type Encoding Practices, section 5: fragment for any type that
 * issues a token in the front channel, query for "code" alone). */
static response_mode error_mode(const authorize_request *a)
{
    if (a->response_mode != NULL && strcmp(a->response_mode, "form_post") == 0)
        return MODE_FORM_POST;
    const char *type = a->response_type != NULL ? a->response_type : "";
    return strstr(type, "token") != NULL ? MODE_FRAGMENT : MODE_QUERY;
}

/* An error sent back by a 302 to the redirect_uri with the fields in its
 * fragment or query. */
static void reply_error_redirect(request *r, const authorize_request *a, const char *error,
                                 const char *description)
{
    buffer headers = BUFFER_INIT;
    char separator = a->mode == MODE_FRAGMENT ? '#' : strchr(a->redirect_uri, '?') ? '&' : '?';
    int built =
        buffer_printf(&headers, "Location: %s%cerror=%s&error_description=", a->redirect_uri,
                      separator, error) == 0 &&
        form_append_encoded(&headers, description) == 0;
    if (built && a->state != NULL)
        built = buffer_append_string(&headers, "&state=") == 0 &&
                form_append_encoded(&headers, a->state) == 0;
    if (built)
        built = buffer_printf(&headers, "\r\n%s", no_store) == 0;
    r->outcome = error;
    if (built)
        sim_reply_typed(r, 302, html_type, headers.data, "", 0);
    else
        sim_reply(r, 500, "", "{\"error\":\"server_error\"}");
    buffer_free(&headers);
}

/* Answers an error to the app (OAuth 2.0 section 4.1.2.1), only once the
 * client and its redirect_uri are known good: by form_post when that mode
 * was asked for, else by redirect (error_mode()). */
static void reply_error_post(request *r, const authorize_request *a, const char *error,
                             const char *description)
{
    if (a->mode != MODE_FORM_POST) {
        reply_error_redirect(r, a, error, description);
        return;
    }
    const sim_field fields[] = {
        {"error", error},
        {"error_description", description},
        {"state", a->state},
    };
    buffer page = BUFFER_INIT;
    r->outcome = error;
    if (sim_page_form_post(&page, a->redirect_uri, fields, 3) != 0)
        buffer_free(&page);
    reply_page(r, 200, &page);
    buffer_free(&page);
}

static int response_type_is_hybrid(const char *type)
{
    return type != NULL &&
           (strcmp(type, "code id_token") == 0 || strcmp(type, "id_token code") == 0);
}

/* The shop the request names (orgid), or the seeded one. */
static int find_org(sim *s, request *r, authorize_request *a)
{
    long long org_id = 0;
    if (a->orgid != NULL && a->orgid[0] != '\0') {
        a->org = parse_id(a->orgid, &org_id) == 0 ? sim_store_org(&s->store, org_id) : NULL;
        if (a->org == NULL) {
            reply_error_post(r, a, "invalid_request", "orgid names no shop");
            return -1;
        }
    } else {
        a->org = sim_store_default_org(&s->store);
    }
    if (a->org == NULL) {
        reply_error_page(r, "The simulator has no shop.");
        return -1;
    }
    return 0;
}

/* The checks after the client and redirect_uri: each fault goes back to
 * the app (reply_error_post). 0 to go on, else -1 (answered). */
static int check_authorize_parameters(sim *s, request *r, authorize_request *a)
{
    if (a->response_mode == NULL || strcmp(a->response_mode, "form_post") != 0) {
        reply_error_post(r, a, "invalid_request",
                         "response_mode must be form_post (the only mode this server plays)");
        return -1;
    }
    if (a->repeated != NULL) {
        reply_error_post(r, a, "invalid_request", "a parameter is given more than once");
        return -1;
    }
    if (!response_type_is_hybrid(a->response_type)) {
        reply_error_post(r, a, "unsupported_response_type", "response_type must be code id_token");
        return -1;
    }
    /* OpenID Connect Core 3.3.2.1: a response_type with id_token is an
     * OpenID request, which needs the openid scope. */
    if (a->scope == NULL || !scope_in(a->scope, "openid")) {
        reply_error_post(r, a, "invalid_request", "scope must include openid");
        return -1;
    }
    if (!scope_text_acceptable(a->scope) || !scopes_supported(a->scope)) {
        reply_error_post(r, a, "invalid_scope", "a requested scope is not supported");
        return -1;
    }
    /* Core 3.3.2.11: nonce is required when an id_token comes back from
     * the authorization endpoint. */
    if (a->nonce == NULL || a->nonce[0] == '\0' || strlen(a->nonce) > MAX_NONCE) {
        reply_error_post(r, a, "invalid_request", "nonce is required (at most 500 characters)");
        return -1;
    }
    if (a->state != NULL && strlen(a->state) > MAX_STATE) {
        reply_error_post(r, a, "invalid_request", "state is too long");
        return -1;
    }
    return find_org(s, r, a);
}

/* Checks an authorize request (RFC 6749 section 4.1.2.1): an unknown client
 * or a redirect_uri not registered for it gets an error page and never a
 * redirect (an open redirector otherwise); every other fault goes back to
 * the app. Returns 0 when it may go on; otherwise it has answered and
 * returns -1. */
static int check_authorize(sim *s, request *r, authorize_request *a)
{
    a->app = a->client_id != NULL ? sim_apps_find(&s->apps, a->client_id) : NULL;
    if (a->app == NULL) {
        reply_error_page(r, "Ứng dụng không tồn tại (unknown client_id).");
        return -1;
    }
    if (a->redirect_uri == NULL || !sim_app_redirect_registered(a->app, a->redirect_uri)) {
        reply_error_page(r, "Địa chỉ chuyển hướng chưa được đăng ký cho ứng dụng này "
                            "(redirect_uri is not registered for this client).");
        return -1;
    }
    if (a->repeated != NULL &&
        (strcmp(a->repeated, "client_id") == 0 || strcmp(a->repeated, "redirect_uri") == 0)) {
        reply_error_page(r, "client_id or redirect_uri is given more than once.");
        return -1;
    }
    a->mode = error_mode(a);
    return check_authorize_parameters(s, r, a);
}

static void serve_consent(sim *s, request *r, authorize_request *a)
{
    char orgid[32];
    snprintf(orgid, sizeof orgid, "%lld", a->org->id);
    const sim_field hidden[] = {
        {"client_id", a->client_id},
        {"redirect_uri", a->redirect_uri},
        {"response_type", a->response_type},
        {"response_mode", a->response_mode},
        {"scope", a->scope},
        {"state", a->state},
        {"nonce", a->nonce},
        {"orgid", orgid},
    };
    sim_consent consent = {
        .app_name = sim_app_text(a->app, "name"),
        .shop_name = object_text(a->org->shop, "name"),
        .scopes = a->scope,
        .users = a->org->users,
        .hidden = hidden,
        .hidden_count = sizeof hidden / sizeof hidden[0],
    };
    buffer page = BUFFER_INIT;
    if (sim_page_consent(&page, &consent) != 0)
        buffer_free(&page);
    r->outcome = "consent";
    reply_page(r, 200, &page);
    buffer_free(&page);
}

/* OpenID Connect Session Management's session_state: a hash of the
 * client, the redirect_uri's origin and a browser session, salted. The
 * simulator has no browser session, so a random one stands in. */
static int session_state(const char *client_id, const char *redirect_uri, buffer *out)
{
    char salt[33];
    char session[33];
    char hash[2 * CRYPTO_SHA256_SIZE + 1];
    const char *host = strstr(redirect_uri, "://");
    size_t origin_length = host != NULL
                               ? (size_t)(host + 3 - redirect_uri) + strcspn(host + 3, "/?#")
                               : strlen(redirect_uri);
    buffer input = BUFFER_INIT;
    int result = sim_random_hex(salt, 16) == 0 && sim_random_hex(session, 16) == 0 &&
                         buffer_printf(&input, "%s %.*s %s %s", client_id, (int)origin_length,
                                       redirect_uri, session, salt) == 0 &&
                         crypto_sha256_hex(input.data, input.length, hash) == 0 &&
                         buffer_printf(out, "%s.%s", hash, salt) == 0
                     ? 0
                     : -1;
    buffer_free(&input);
    return result;
}

/* The allow branch: a code and an id_token, form_posted to the app. */
static void grant(sim *s, request *r, const authorize_request *a, const cJSON *user)
{
    char code[2 * TOKEN_BYTES + 1];
    buffer scopes = BUFFER_INIT;
    buffer base = BUFFER_INIT;
    buffer state = BUFFER_INIT;
    buffer page = BUFFER_INIT;
    char *id_token = NULL;
    if (sim_random_hex(code, TOKEN_BYTES) != 0 ||
        granted_scopes(a->scope, user_is_owner(user), &scopes) != 0 ||
        sim_base_url(s, r, &base) != 0 || session_state(a->client_id, a->redirect_uri, &state) != 0)
        goto failed;
    sim_grant_fields fields = {
        .token = code,
        .client_id = a->client_id,
        .redirect_uri = a->redirect_uri,
        .scopes = scopes.data,
        .nonce = a->nonce,
        .org_id = a->org->id,
        .user_id = sim_record_id(user),
    };
    if (sim_grants_add_code(&s->grants, &fields, sim_now()) != 0)
        goto failed;
    id_token_request token_fields = {.issuer = base.data,
                                     .client_id = a->client_id,
                                     .nonce = a->nonce,
                                     .hash_name = "c_hash",
                                     .hashed = code,
                                     .hash_mode = s->config.c_hash,
                                     .org = a->org,
                                     .user = user};
    id_token = make_id_token(s, &token_fields);
    if (id_token == NULL)
        goto failed;
    const sim_field answer[] = {
        {"code", code},         {"id_token", id_token},        {"state", a->state},
        {"scope", scopes.data}, {"session_state", state.data},
    };
    if (sim_page_form_post(&page, a->redirect_uri, answer, 5) != 0)
        goto failed;
    snprintf(r->org_id, sizeof r->org_id, "%lld", a->org->id);
    r->outcome = "granted";
    reply_page(r, 200, &page);
    goto done;
failed:
    sim_reply(r, 500, "", "{\"error\":\"server_error\"}");
done:
    free(id_token);
    buffer_free(&scopes);
    buffer_free(&base);
    buffer_free(&state);
    buffer_free(&page);
}

static void serve_decision(sim *s, request *r, authorize_request *a, const form *f)
{
    long long user_id = 0;
    const char *decision = form_get(f, "decision");
    const cJSON *user = parse_id(form_get(f, "user_id"), &user_id) == 0
                            ? sim_record_find(a->org->users, user_id)
                            : NULL;
    if (decision != NULL && strcmp(decision, "deny") == 0) {
        reply_error_post(r, a, "access_denied", "the merchant refused");
        return;
    }
    if (decision == NULL || strcmp(decision, "allow") != 0) {
        reply_error_page(r, "decision must be allow or deny.");
        return;
    }
    if (user == NULL) {
        reply_error_page(r, "user_id names no staff member of this shop.");
        return;
    }
    grant(s, r, a, user);
}

static void serve_authorize(sim *s, request *r)
{
    int is_post = strcmp(r->method, "POST") == 0;
    if (!is_post && strcmp(r->method, "GET") != 0) {
        sim_reply(r, 405, "Allow: GET, POST\r\n", "{\"error\":\"method not allowed\"}");
        return;
    }
    const char *text = r->query;
    size_t length = strlen(r->query);
    if (is_post) {
        enum request_body_result read = request_read_body(r, OIDC_MAX_BODY);
        if (read != REQUEST_BODY_OK) {
            reply_error_page(r, "The form cannot be read.");
            return;
        }
        text = r->body.data;
        length = r->body.length;
    }
    form f;
    if (form_parse(&f, text, length) != 0) {
        reply_error_page(r, "The parameters cannot be read.");
        return;
    }
    authorize_request a;
    read_authorize(&f, &a);
    if (check_authorize(s, r, &a) == 0) {
        if (is_post)
            serve_decision(s, r, &a, &f);
        else
            serve_consent(s, r, &a);
    }
    form_free(&f);
}

/* ---- token --------------------------------------------------------------- */

/* An OAuth error answer (RFC 6749 section 5.2) with `status` and
 * `headers` ("" or complete lines besides the no-store ones). */
static void reply_token_failure(request *r, int status, const char *headers, const char *error,
                                const char *description)
{
    cJSON *document = cJSON_CreateObject();
    buffer all = BUFFER_INIT;
    if (cJSON_AddStringToObject(document, "error", error) == NULL ||
        cJSON_AddStringToObject(document, "error_description", description) == NULL ||
        buffer_printf(&all, "%s%s", no_store, headers) != 0) {
        cJSON_Delete(document);
        document = NULL;
    }
    r->outcome = error;
    reply_json(r, status, buffer_text(&all), document);
    buffer_free(&all);
}

static void reply_token_error(request *r, const char *error, const char *description)
{
    reply_token_failure(r, 400, "", error, description);
}

/* invalid_client is a 401, and a 401 names the scheme the client may use
 * (RFC 6749 section 5.2, RFC 9110 section 15.5.2). */
static void reply_invalid_client(request *r, const char *description)
{
    reply_token_failure(r, 401, "WWW-Authenticate: Basic realm=\"haravan-sim\"\r\n",
                        "invalid_client", description);
}

typedef struct client_credentials {
    char id[256];
    char secret[256];
} client_credentials;

/* Reads HTTP Basic client authentication (RFC 6749 section 2.3.1: the id
 * and secret are form-encoded, then joined by ':' and base64-encoded).
 * Returns 1 when read, 0 when absent, -1 when malformed. */
static int basic_credentials(const request *r, client_credentials *credentials)
{
    const char *header = request_header(r, "Authorization");
    if (header == NULL || strncasecmp(header, "Basic ", 6) != 0)
        return 0;
    const char *encoded = header + 6;
    unsigned char decoded[600];
    long length = base64_decode(encoded, strlen(encoded), decoded, sizeof decoded - 1);
    if (length < 0)
        return -1;
    decoded[length] = '\0';
    char *colon = strchr((char *)decoded, ':');
    if (colon == NULL)
        return -1;
    *colon = '\0';
    buffer pair = BUFFER_INIT;
    form f;
    int result = -1;
    if (buffer_printf(&pair, "i=%s&s=%s", (char *)decoded, colon + 1) == 0 &&
        form_parse(&f, pair.data, pair.length) == 0) {
        const char *id = form_get(&f, "i");
        const char *secret = form_get(&f, "s");
        if (id != NULL && secret != NULL && strlen(id) < sizeof credentials->id &&
            strlen(secret) < sizeof credentials->secret) {
            snprintf(credentials->id, sizeof credentials->id, "%s", id);
            snprintf(credentials->secret, sizeof credentials->secret, "%s", secret);
            result = 1;
        }
        form_free(&f);
    }
    buffer_free(&pair);
    crypto_wipe(decoded, sizeof decoded);
    return result;
}

/* Authenticates the client by client_secret_basic or client_secret_post
 * (RFC 6749 section 2.3.1), never both at once (section 2.3: "MUST NOT use
 * more than one authentication method in each request"). Returns the app,
 * or NULL after answering invalid_request (two methods, or a client_id in
 * the body that is not Basic's) or invalid_client (none, malformed, an
 * unknown client, a wrong secret). */
static const cJSON *authenticate_client(sim *s, request *r, const form *f)
{
    client_credentials credentials;
    memset(&credentials, 0, sizeof credentials);
    int basic = basic_credentials(r, &credentials);
    const char *form_id = form_get(f, "client_id");
    const char *form_secret = form_get(f, "client_secret");
    if (basic != 0 && form_secret != NULL) {
        reply_token_error(r, "invalid_request",
                          "use one client authentication method: HTTP Basic or client_secret in "
                          "the body, not both");
        return NULL;
    }
    if (basic == 1 && form_id != NULL && strcmp(form_id, credentials.id) != 0) {
        reply_token_error(r, "invalid_request", "client_id differs from HTTP Basic's");
        return NULL;
    }
    if (basic == 0 && form_id != NULL && form_secret != NULL && strlen(form_id) < 256 &&
        strlen(form_secret) < 256) {
        snprintf(credentials.id, sizeof credentials.id, "%s", form_id);
        snprintf(credentials.secret, sizeof credentials.secret, "%s", form_secret);
    }
    const cJSON *app = credentials.id[0] != '\0' ? sim_apps_find(&s->apps, credentials.id) : NULL;
    int valid = app != NULL && credentials.secret[0] != '\0' &&
                crypto_strings_equal(credentials.secret, sim_app_text(app, "client_secret"));
    crypto_wipe(credentials.secret, sizeof credentials.secret);
    if (!valid) {
        reply_invalid_client(r, basic < 0 ? "the HTTP Basic credentials are malformed"
                                          : "no client authentication, an unknown client or a "
                                            "wrong client secret");
        return NULL;
    }
    return app;
}

typedef struct issue_request {
    const char *client_id;
    const char *scopes;
    const char *nonce; /* NULL on refresh */
    long long org_id;
    long long user_id;
    const char *refresh_token; /* to return as is; NULL: make one when offline_access */
    int omit_refresh;
    const char *family; /* the code everything issued here descends from */
} issue_request;

/* Appends the tokens just issued, one a line, to $HARAVAN_SIM_ISSUED_FILE
 * when it is set: the secret scan at the end of `make test`
 * (tests/no-secrets.sh) looks for each of them in every log and reply.
 * Returns 0, or -1 when the file cannot be written (the issue fails: a
 * scan that misses tokens would pass for the wrong reason). */
static int record_issued(const char *access_token, const char *refresh_token)
{
    const char *path = getenv("HARAVAN_SIM_ISSUED_FILE");
    if (path == NULL || path[0] == '\0')
        return 0;
    FILE *file = fopen(path, "a");
    if (file == NULL)
        return -1;
    int failed = fprintf(file, "%s\n", access_token) < 0 ||
                 (refresh_token != NULL && fprintf(file, "%s\n", refresh_token) < 0);
    return fclose(file) != 0 || failed ? -1 : 0;
}

/* Issues an access token (and id_token, refresh token) and answers. */
static void issue_tokens(sim *s, request *r, const issue_request *issue)
{
    sim_org *org = sim_store_org(&s->store, issue->org_id);
    const cJSON *user = org != NULL ? sim_record_find(org->users, issue->user_id) : NULL;
    if (user == NULL) {
        reply_token_error(r, "invalid_grant", "the user no longer belongs to the shop");
        return;
    }
    char access_token[2 * TOKEN_BYTES + 1];
    char refresh_token[2 * TOKEN_BYTES + 1];
    buffer base = BUFFER_INIT;
    char *id_token = NULL;
    cJSON *document = NULL;
    double now = sim_now();
    sim_token_grant token_grant = {issue->org_id,
                                   issue->scopes,
                                   issue->client_id,
                                   issue->user_id,
                                   now + (double)s->config.access_token_seconds,
                                   issue->family};
    if (sim_random_hex(access_token, TOKEN_BYTES) != 0 ||
        sim_store_issue_token(&s->store, access_token, &token_grant, now) != 0 ||
        sim_base_url(s, r, &base) != 0)
        goto failed;
    int wants_refresh = scope_in(issue->scopes, "offline_access") && !issue->omit_refresh;
    if (wants_refresh && issue->refresh_token != NULL) {
        snprintf(refresh_token, sizeof refresh_token, "%s", issue->refresh_token);
    } else if (wants_refresh) {
        sim_grant_fields fields = {.token = refresh_token,
                                   .client_id = issue->client_id,
                                   .scopes = issue->scopes,
                                   .family = issue->family,
                                   .org_id = issue->org_id,
                                   .user_id = issue->user_id};
        if (sim_random_hex(refresh_token, TOKEN_BYTES) != 0 ||
            sim_grants_add_refresh(&s->grants, &fields) != 0)
            goto failed;
    }
    if (scope_in(issue->scopes, "openid")) {
        id_token_request fields = {.issuer = base.data,
                                   .client_id = issue->client_id,
                                   .nonce = issue->nonce,
                                   .hash_name = "at_hash",
                                   .hashed = access_token,
                                   .hash_mode = s->config.at_hash,
                                   .org = org,
                                   .user = user};
        id_token = make_id_token(s, &fields);
        if (id_token == NULL)
            goto failed;
    }
    document = cJSON_CreateObject();
    if (cJSON_AddStringToObject(document, "access_token", access_token) == NULL ||
        cJSON_AddStringToObject(document, "token_type", "Bearer") == NULL ||
        cJSON_AddNumberToObject(document, "expires_in", (double)s->config.access_token_seconds) ==
            NULL ||
        (wants_refresh &&
         cJSON_AddStringToObject(document, "refresh_token", refresh_token) == NULL) ||
        (id_token != NULL && cJSON_AddStringToObject(document, "id_token", id_token) == NULL) ||
        cJSON_AddStringToObject(document, "scope", issue->scopes) == NULL ||
        record_issued(access_token, wants_refresh ? refresh_token : NULL) != 0)
        goto failed;
    snprintf(r->org_id, sizeof r->org_id, "%lld", issue->org_id);
    r->outcome = "issued";
    reply_json(r, 200, no_store, document);
    document = NULL;
    goto done;
failed:
    sim_reply(r, 500, no_store, "{\"error\":\"server_error\"}");
done:
    cJSON_Delete(document);
    free(id_token);
    buffer_free(&base);
}

static const char *code_problem(enum sim_code_check check)
{
    switch (check) {
    case SIM_CODE_USED:
        return "the code was already used";
    case SIM_CODE_EXPIRED:
        return "the code expired";
    case SIM_CODE_WRONG_CLIENT:
        return "the code was issued to another client";
    case SIM_CODE_WRONG_REDIRECT:
        return "redirect_uri differs from the authorize request's";
    default:
        return "unknown code";
    }
}

/* A code and the redirect_uri of its authorize request (RFC 6749 section
 * 4.1.3: required, and equal). A missing or different redirect_uri is
 * invalid_grant, as is a code of another client; either burns the code. A
 * code redeemed before is refused and what it issued is revoked: its
 * access tokens answer 401, its refresh tokens invalid_grant (4.1.2). */
static void grant_authorization_code(sim *s, request *r, const form *f, const cJSON *app)
{
    const char *code = form_get(f, "code");
    const char *redirect_uri = form_get(f, "redirect_uri");
    if (code == NULL || code[0] == '\0') {
        reply_token_error(r, "invalid_request", "code is required");
        return;
    }
    const sim_code *record = NULL;
    enum sim_code_check check =
        sim_grants_redeem_code(&s->grants, code, sim_app_text(app, "client_id"),
                               redirect_uri != NULL ? redirect_uri : "", sim_now(), &record);
    if (check == SIM_CODE_USED) {
        sim_store_expire_family(&s->store, code);
        sim_grants_revoke_family(&s->grants, code);
        reply_token_error(r, "invalid_grant",
                          "the code was already used; the tokens it issued are revoked");
        return;
    }
    if (check != SIM_CODE_OK) {
        reply_token_error(r, "invalid_grant",
                          redirect_uri == NULL ? "redirect_uri is required with this code"
                                               : code_problem(check));
        return;
    }
    issue_request issue = {record->client_id,
                           record->scopes,
                           record->nonce,
                           record->org_id,
                           record->user_id,
                           NULL,
                           0,
                           code};
    issue_tokens(s, r, &issue);
}

static void grant_refresh_token(sim *s, request *r, const form *f, const cJSON *app)
{
    const char *token = form_get(f, "refresh_token");
    if (token == NULL || token[0] == '\0') {
        reply_token_error(r, "invalid_request", "refresh_token is required");
        return;
    }
    sim_refresh *refresh = sim_grants_refresh(&s->grants, token, sim_app_text(app, "client_id"));
    if (refresh == NULL) {
        reply_token_error(r, "invalid_grant", "unknown, revoked or spent refresh token");
        return;
    }
    /* Copies: issuing may add a refresh token and move the array. */
    char *scopes = strdup(refresh->scopes);
    char *family = strdup(refresh->family);
    long long org_id = refresh->org_id;
    long long user_id = refresh->user_id;
    if (scopes == NULL || family == NULL) {
        free(scopes);
        free(family);
        sim_reply(r, 500, no_store, "{\"error\":\"server_error\"}");
        return;
    }
    sim_refresh_usage usage = s->config.refresh_usage;
    if (usage == SIM_REFRESH_ROTATE)
        refresh->revoked = 1;
    issue_request issue = {sim_app_text(app, "client_id"),
                           scopes,
                           NULL,
                           org_id,
                           user_id,
                           usage == SIM_REFRESH_REUSE ? token : NULL,
                           usage == SIM_REFRESH_OMIT,
                           family};
    issue_tokens(s, r, &issue);
    free(scopes);
    free(family);
}

/* 1 when the request's media type is application/x-www-form-urlencoded
 * (RFC 6749 section 3.2; parameters such as "; charset=UTF-8" allowed,
 * the type itself compared without regard to case, RFC 9110 8.3.1). */
static int is_form_body(const request *r)
{
    static const char form_type[] = "application/x-www-form-urlencoded";
    const char *type = request_param(r, "CONTENT_TYPE");
    if (type == NULL)
        return 0;
    type += strspn(type, " \t");
    size_t length = strcspn(type, ";");
    while (length > 0 && (type[length - 1] == ' ' || type[length - 1] == '\t'))
        length--;
    return length == strlen(form_type) && strncasecmp(type, form_type, length) == 0;
}

static void serve_token(sim *s, request *r)
{
    if (strcmp(r->method, "POST") != 0) {
        sim_reply(r, 405, "Allow: POST\r\n", "{\"error\":\"invalid_request\"}");
        return;
    }
    if (!is_form_body(r)) {
        reply_token_error(r, "invalid_request",
                          "only application/x-www-form-urlencoded bodies are supported on POST "
                          "/connect/token");
        return;
    }
    enum request_body_result read = request_read_body(r, OIDC_MAX_BODY);
    form f;
    if (read != REQUEST_BODY_OK || form_parse(&f, r->body.data, r->body.length) != 0) {
        reply_token_error(r, "invalid_request", "the body must be a form of at most 64 KiB");
        return;
    }
    const char *repeated = repeated_parameter(&f);
    if (repeated != NULL) {
        char description[160];
        snprintf(description, sizeof description, "%.64s is given more than once", repeated);
        reply_token_error(r, "invalid_request", description);
        form_free(&f);
        return;
    }
    const cJSON *app = authenticate_client(s, r, &f);
    const char *grant_type = form_get(&f, "grant_type");
    if (app == NULL) {
        /* answered */
    } else if (grant_type == NULL || grant_type[0] == '\0') {
        reply_token_error(r, "invalid_request", "grant_type is required");
    } else if (strcmp(grant_type, "authorization_code") == 0) {
        grant_authorization_code(s, r, &f, app);
    } else if (strcmp(grant_type, "refresh_token") == 0) {
        grant_refresh_token(s, r, &f, app);
    } else {
        reply_token_error(r, "unsupported_grant_type",
                          "grant_type must be authorization_code or refresh_token");
    }
    form_free(&f);
}

/* ---- userinfo ------------------------------------------------------------ */

static void serve_userinfo(sim *s, request *r)
{
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "POST") != 0) {
        sim_reply(r, 405, "Allow: GET, POST\r\n", "{\"error\":\"invalid_request\"}");
        return;
    }
    const sim_token *token = sim_authenticate(s, r);
    if (token == NULL) {
        r->outcome = "unauthorized";
        sim_reply(r, 401, "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n",
                  "{\"error\":\"invalid_token\"}");
        return;
    }
    sim_org *org = sim_store_org(&s->store, token->org_id);
    const cJSON *user =
        org != NULL && token->user_id > 0 ? sim_record_find(org->users, token->user_id) : NULL;
    if (user == NULL || !sim_token_has_scope(token, "openid")) {
        r->outcome = "insufficient_scope";
        sim_reply(r, 403, "WWW-Authenticate: Bearer error=\"insufficient_scope\"\r\n",
                  "{\"error\":\"insufficient_scope\"}");
        return;
    }
    snprintf(r->org_id, sizeof r->org_id, "%lld", org->id);
    reply_json(r, 200, no_store, user_claims(org, user));
}

/* ---- dispatch ------------------------------------------------------------ */

void sim_handle_oidc(sim *s, request *r)
{
    int read_only = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    if (strcmp(r->path, "/.well-known/openid-configuration") == 0 && read_only)
        serve_discovery(s, r);
    else if (strcmp(r->path, JWKS_PATH) == 0 && read_only)
        serve_jwks(s, r);
    else if (strcmp(r->path, "/connect/authorize") == 0)
        serve_authorize(s, r);
    else if (strcmp(r->path, "/connect/token") == 0)
        serve_token(s, r);
    else if (strcmp(r->path, "/connect/userinfo") == 0)
        serve_userinfo(s, r);
    else
        sim_reply(r, 404, "", "{\"error\":\"not_found\"}");
}
