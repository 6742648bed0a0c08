/*
 * hv_oidc: discovery, cached keys, id_token verification and the token
 * endpoint. See oidc.h for why the checks and limits are what they are.
 */
#define _POSIX_C_SOURCE 200809L
#include "haravan/oidc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "core/clock.h"
#include "core/crypto.h"
#include "core/form.h"
#include "core/json.h"

#define MAX_URL_LENGTH         2000
#define MAX_DESCRIPTION_LENGTH 120

static hv_oidc_status failure(hv_oidc_status status, char *error, size_t error_size,
                              const char *format, ...) __attribute__((format(printf, 4, 5)));

static hv_oidc_status failure(hv_oidc_status status, char *error, size_t error_size,
                              const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(error, error_size, format, arguments);
    va_end(arguments);
    return status;
}

const char *hv_oidc_status_name(hv_oidc_status status)
{
    switch (status) {
    case HV_OIDC_OK:
        return "ok";
    case HV_OIDC_INVALID_TOKEN:
        return "invalid_token";
    case HV_OIDC_INVALID_GRANT:
        return "invalid_grant";
    case HV_OIDC_REFUSED:
        return "refused";
    case HV_OIDC_UNAVAILABLE:
        return "unavailable";
    case HV_OIDC_INTERNAL:
        return "internal";
    }
    return "unknown";
}

/* A copy of `text` without trailing '/', or NULL. */
static char *copy_url(const char *text)
{
    char *copy = strdup(text);
    if (copy == NULL)
        return NULL;
    size_t length = strlen(copy);
    while (length > 0 && copy[length - 1] == '/')
        copy[--length] = '\0';
    return copy;
}

int hv_oidc_init(hv_oidc *oidc, hv_http *http, const char *accounts_url, char *error,
                 size_t error_size)
{
    memset(oidc, 0, sizeof *oidc);
    if (http == NULL || accounts_url == NULL || accounts_url[0] == '\0') {
        snprintf(error, error_size, "no HARAVAN_ACCOUNTS_URL");
        return -1;
    }
    oidc->http = http;
    oidc->accounts_url = copy_url(accounts_url);
    if (oidc->accounts_url == NULL) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    return 0;
}

static void forget_discovery(hv_oidc *oidc)
{
    free(oidc->issuer);
    free(oidc->authorization_endpoint);
    free(oidc->token_endpoint);
    free(oidc->jwks_uri);
    oidc->issuer = oidc->authorization_endpoint = oidc->token_endpoint = oidc->jwks_uri = NULL;
    oidc->discovered = 0;
}

void hv_oidc_free(hv_oidc *oidc)
{
    forget_discovery(oidc);
    hv_jwks_free(&oidc->keys);
    free(oidc->accounts_url);
    memset(oidc, 0, sizeof *oidc);
}

/* ---- discovery -------------------------------------------------------------- */

/* An endpoint usable with `accounts_url`: http(s), https when it is. */
static int endpoint_acceptable(const char *url, const char *accounts_url)
{
    if (url == NULL || strlen(url) > MAX_URL_LENGTH || strpbrk(url, " \t\r\n") != NULL)
        return 0;
    int https = strncmp(url, "https://", 8) == 0 && url[8] != '\0';
    int http = strncmp(url, "http://", 7) == 0 && url[7] != '\0';
    if (strncmp(accounts_url, "https://", 8) == 0)
        return https;
    return https || http;
}

/* Issuers compare equal up to a trailing '/', which some servers add. */
static int same_issuer(const char *issuer, const char *accounts_url)
{
    size_t length = strlen(issuer);
    while (length > 0 && issuer[length - 1] == '/')
        length--;
    return length == strlen(accounts_url) && strncmp(issuer, accounts_url, length) == 0;
}

hv_oidc_status hv_oidc_read_discovery(hv_oidc *oidc, const char *body, size_t length, char *error,
                                      size_t error_size)
{
    cJSON *document = cJSON_ParseWithLength(body, length);
    const char *issuer = json_string(document, "issuer");
    const char *authorization = json_string(document, "authorization_endpoint");
    const char *token = json_string(document, "token_endpoint");
    const char *jwks_uri = json_string(document, "jwks_uri");
    hv_oidc_status status = HV_OIDC_UNAVAILABLE;
    if (!cJSON_IsObject(document)) {
        failure(status, error, error_size, "the discovery document is not a JSON object");
    } else if (issuer == NULL || !same_issuer(issuer, oidc->accounts_url)) {
        failure(status, error, error_size, "the discovery document's issuer is not %.200s",
                oidc->accounts_url);
    } else if (!endpoint_acceptable(authorization, oidc->accounts_url) ||
               !endpoint_acceptable(token, oidc->accounts_url) ||
               !endpoint_acceptable(jwks_uri, oidc->accounts_url)) {
        failure(status, error, error_size,
                "the discovery document lacks an endpoint, or names one that is not %s",
                strncmp(oidc->accounts_url, "https://", 8) == 0 ? "https" : "http(s)");
    } else {
        char *copies[4] = {strdup(issuer), strdup(authorization), strdup(token), strdup(jwks_uri)};
        if (copies[0] == NULL || copies[1] == NULL || copies[2] == NULL || copies[3] == NULL) {
            for (size_t i = 0; i < 4; i++)
                free(copies[i]);
            failure(HV_OIDC_INTERNAL, error, error_size, "out of memory");
            status = HV_OIDC_INTERNAL;
        } else {
            forget_discovery(oidc);
            oidc->issuer = copies[0];
            oidc->authorization_endpoint = copies[1];
            oidc->token_endpoint = copies[2];
            oidc->jwks_uri = copies[3];
            oidc->discovered = 1;
            oidc->discovered_at = clock_monotonic_seconds();
            status = HV_OIDC_OK;
        }
    }
    cJSON_Delete(document);
    return status;
}

/* GETs `url`; 0 with a 200's body in `response`, else -1 and `error`. */
static int fetch(hv_oidc *oidc, const char *url, const char *what, hv_http_response *response,
                 char *error, size_t error_size)
{
    hv_http_request request = {.method = "GET", .url = url};
    char reason[256];
    if (hv_http_send(oidc->http, &request, response, reason, sizeof reason) != 0) {
        snprintf(error, error_size, "%s: %s", what, reason);
        return -1;
    }
    if (response->status != 200) {
        snprintf(error, error_size, "%s: HTTP %ld", what, response->status);
        return -1;
    }
    return 0;
}

hv_oidc_status hv_oidc_discover(hv_oidc *oidc, char *error, size_t error_size)
{
    if (oidc->discovered &&
        clock_monotonic_seconds() - oidc->discovered_at < HV_OIDC_DISCOVERY_SECONDS)
        return HV_OIDC_OK;
    buffer url = BUFFER_INIT;
    if (buffer_printf(&url, "%s%s", oidc->accounts_url, HV_OIDC_DISCOVERY_PATH) != 0) {
        buffer_free(&url);
        return failure(HV_OIDC_INTERNAL, error, error_size, "out of memory");
    }
    hv_http_response response;
    hv_oidc_status status = HV_OIDC_UNAVAILABLE;
    if (fetch(oidc, url.data, "discovery", &response, error, error_size) == 0)
        status = hv_oidc_read_discovery(oidc, response.body.data, response.body.length, error,
                                        error_size);
    hv_http_response_free(&response);
    buffer_free(&url);
    /* A document we hold, if stale, beats none while Haravan is down. */
    if (status != HV_OIDC_OK && oidc->discovered)
        return HV_OIDC_OK;
    return status;
}

/* ---- keys ---------------------------------------------------------------------- */

/* Replaces the cached keys with fresh ones. Returns 0, or -1 (the old keys
 * are kept). */
static int fetch_keys(hv_oidc *oidc, char *error, size_t error_size)
{
    hv_http_response response;
    hv_jwks fresh;
    memset(&fresh, 0, sizeof fresh);
    int result = fetch(oidc, oidc->jwks_uri, "key set", &response, error, error_size);
    if (result == 0)
        result = hv_jwks_parse(&fresh, response.body.data, response.body.length, error, error_size);
    hv_http_response_free(&response);
    if (result != 0)
        return -1;
    hv_jwks_free(&oidc->keys);
    oidc->keys = fresh;
    oidc->keys_fetched_at = clock_monotonic_seconds();
    return 0;
}

/* The key for `kid`, fetching the set when none is held, when it is old,
 * or (rate-limited) when it lacks the kid. Returns HV_OIDC_OK with *key
 * set, HV_OIDC_INVALID_TOKEN for an unknown kid, HV_OIDC_UNAVAILABLE when
 * no key set can be had. */
static hv_oidc_status find_key(hv_oidc *oidc, const char *kid, EVP_PKEY **key, char *error,
                               size_t error_size)
{
    double now = clock_monotonic_seconds();
    if (oidc->keys.count == 0 || now - oidc->keys_fetched_at >= HV_OIDC_JWKS_MAX_AGE_SECONDS) {
        if (fetch_keys(oidc, error, error_size) != 0 && oidc->keys.count == 0)
            return HV_OIDC_UNAVAILABLE;
    }
    *key = hv_jwks_find(&oidc->keys, kid);
    if (*key != NULL)
        return HV_OIDC_OK;
    if (oidc->keys_refetched_at == 0 ||
        now - oidc->keys_refetched_at >= HV_OIDC_JWKS_REFETCH_SECONDS) {
        oidc->keys_refetched_at = now;
        char reason[256];
        if (fetch_keys(oidc, reason, sizeof reason) == 0)
            *key = hv_jwks_find(&oidc->keys, kid);
    }
    if (*key != NULL)
        return HV_OIDC_OK;
    return failure(HV_OIDC_INVALID_TOKEN, error, error_size,
                   "no signing key with kid \"%.60s\" (keys are fetched again at most every %d s)",
                   kid != NULL ? kid : "(none)", HV_OIDC_JWKS_REFETCH_SECONDS);
}

hv_oidc_status hv_oidc_verify_id_token(hv_oidc *oidc, const char *id_token, const char *client_id,
                                       const char *nonce, hv_jwt *out, char *error,
                                       size_t error_size)
{
    memset(out, 0, sizeof *out);
    if (id_token == NULL || id_token[0] == '\0')
        return failure(HV_OIDC_INVALID_TOKEN, error, error_size, "no id_token");
    if (client_id == NULL)
        return failure(HV_OIDC_INTERNAL, error, error_size, "no client id");
    hv_oidc_status status = hv_oidc_discover(oidc, error, error_size);
    if (status != HV_OIDC_OK)
        return status;
    char reason[256];
    hv_jwt_status checked = hv_jwt_parse(out, id_token, strlen(id_token), reason, sizeof reason);
    EVP_PKEY *key = NULL;
    if (checked == HV_JWT_OK) {
        status = find_key(oidc, out->kid, &key, error, error_size);
        if (status != HV_OIDC_OK) {
            hv_jwt_free(out);
            return status;
        }
        checked = hv_jwt_verify_rs256(out, key, reason, sizeof reason);
    }
    if (checked == HV_JWT_OK) {
        hv_jwt_expect expect = {.issuer = oidc->issuer,
                                .audience = client_id,
                                .nonce = nonce,
                                .now = time(NULL),
                                .skew_seconds = HV_JWT_CLOCK_SKEW_SECONDS};
        checked = hv_jwt_check_claims(out, &expect, reason, sizeof reason);
    }
    if (checked == HV_JWT_OK)
        return HV_OIDC_OK;
    hv_jwt_free(out);
    return failure(checked == HV_JWT_INTERNAL ? HV_OIDC_INTERNAL : HV_OIDC_INVALID_TOKEN, error,
                   error_size, "id_token %s: %s", hv_jwt_status_name(checked), reason);
}

/* ---- authorize ---------------------------------------------------------------------- */

static int append_parameter(buffer *out, const char *name, const char *value)
{
    return buffer_printf(out, "&%s=", name) == 0 && form_append_encoded(out, value) == 0 ? 0 : -1;
}

hv_oidc_status hv_oidc_authorize_url(hv_oidc *oidc, const hv_oidc_authorize *params, buffer *out,
                                     char *error, size_t error_size)
{
    if (params->client_id == NULL || params->redirect_uri == NULL || params->scope == NULL ||
        params->state == NULL || params->nonce == NULL)
        return failure(HV_OIDC_INTERNAL, error, error_size, "an authorize parameter is missing");
    hv_oidc_status status = hv_oidc_discover(oidc, error, error_size);
    if (status != HV_OIDC_OK)
        return status;
    const char *endpoint = oidc->authorization_endpoint;
    int ok = buffer_append_string(out, endpoint) == 0 &&
             buffer_append_char(out, strchr(endpoint, '?') != NULL ? '&' : '?') == 0 &&
             buffer_append_string(out, "response_type=code%20id_token") == 0 &&
             append_parameter(out, "response_mode", "form_post") == 0 &&
             append_parameter(out, "client_id", params->client_id) == 0 &&
             append_parameter(out, "redirect_uri", params->redirect_uri) == 0 &&
             append_parameter(out, "scope", params->scope) == 0 &&
             append_parameter(out, "state", params->state) == 0 &&
             append_parameter(out, "nonce", params->nonce) == 0 &&
             (params->orgid == NULL || append_parameter(out, "orgid", params->orgid) == 0);
    return ok ? HV_OIDC_OK : failure(HV_OIDC_INTERNAL, error, error_size, "out of memory");
}

/* ---- the token endpoint ------------------------------------------------------------ */

void hv_oidc_tokens_free(hv_oidc_tokens *tokens)
{
    char **fields[] = {&tokens->access_token, &tokens->refresh_token, &tokens->id_token,
                       &tokens->scope};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (*fields[i] != NULL) {
            crypto_wipe(*fields[i], strlen(*fields[i]));
            free(*fields[i]);
            *fields[i] = NULL;
        }
    }
    tokens->expires_in = 0;
}

/* Copies string field `name` into *slot. Returns 0 (also when absent), or
 * -1 when present but not a usable string. */
static int take_string(const cJSON *document, const char *name, char **slot)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(document, name);
    if (value == NULL || cJSON_IsNull(value))
        return 0;
    if (!cJSON_IsString(value) || value->valuestring[0] == '\0' ||
        strlen(value->valuestring) > HV_OIDC_MAX_TOKEN_FIELD)
        return -1;
    *slot = strdup(value->valuestring);
    return *slot != NULL ? 0 : -1;
}

/* expires_in as a number or a string of digits ([open] in docs/HARAVAN.md). */
static int take_expires_in(const cJSON *document, long long *out)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(document, "expires_in");
    if (value == NULL || cJSON_IsNull(value))
        return 0;
    long long seconds = -1;
    if (cJSON_IsNumber(value) && isfinite(value->valuedouble) && value->valuedouble >= 0 &&
        value->valuedouble < 1e10) {
        seconds = (long long)value->valuedouble;
    } else if (cJSON_IsString(value) && value->valuestring[0] != '\0' &&
               strlen(value->valuestring) <= 10 &&
               strspn(value->valuestring, "0123456789") == strlen(value->valuestring)) {
        seconds = strtoll(value->valuestring, NULL, 10);
    }
    if (seconds < 0)
        return -1;
    *out = seconds;
    return 0;
}

/* 1 when `text` holds any of `secrets`. */
static int mentions(const char *text, const char *const *secrets)
{
    for (size_t i = 0; secrets != NULL && secrets[i] != NULL; i++)
        if (secrets[i][0] != '\0' && strstr(text, secrets[i]) != NULL)
            return 1;
    return 0;
}

/* The parsed answer holds copies of the tokens too: its top-level strings
 * (where tokens are) are wiped before it is freed. */
static void wipe_and_delete(cJSON *document)
{
    const cJSON *item = NULL;
    cJSON_ArrayForEach(item, document)
    {
        if (cJSON_IsString(item))
            crypto_wipe(item->valuestring, strlen(item->valuestring));
    }
    cJSON_Delete(document);
}

/* An OAuth error answer (RFC 6749 section 5.2). */
static hv_oidc_status read_error(long status, const cJSON *document, const char *const *secrets,
                                 char *error, size_t error_size)
{
    const char *code = json_string(document, "error");
    const char *description = json_string(document, "error_description");
    if (code == NULL || strlen(code) > 64 ||
        strspn(code, "abcdefghijklmnopqrstuvwxyz_") != strlen(code))
        return failure(HV_OIDC_UNAVAILABLE, error, error_size,
                       "the token endpoint answered HTTP %ld without an OAuth error", status);
    char detail[MAX_DESCRIPTION_LENGTH + 4] = "";
    if (description != NULL && !mentions(description, secrets))
        snprintf(detail, sizeof detail, "%.*s", MAX_DESCRIPTION_LENGTH, description);
    hv_oidc_status result = strcmp(code, "invalid_grant") == 0 ? HV_OIDC_INVALID_GRANT
                            : status >= 500                    ? HV_OIDC_UNAVAILABLE
                                                               : HV_OIDC_REFUSED;
    return failure(result, error, error_size, "the token endpoint answered %s%s%s%s", code,
                   detail[0] != '\0' ? " (" : "", detail, detail[0] != '\0' ? ")" : "");
}

hv_oidc_status hv_oidc_read_token_answer(long status, const char *body, size_t length,
                                         const char *const *secrets, hv_oidc_tokens *out,
                                         char *error, size_t error_size)
{
    memset(out, 0, sizeof *out);
    cJSON *document = cJSON_ParseWithLength(body, length);
    hv_oidc_status result;
    if (status != 200 && cJSON_IsObject(document)) {
        result = read_error(status, document, secrets, error, error_size);
    } else if (status != 200) {
        result = failure(HV_OIDC_UNAVAILABLE, error, error_size,
                         "the token endpoint answered HTTP %ld", status);
    } else if (!cJSON_IsObject(document)) {
        result = failure(HV_OIDC_UNAVAILABLE, error, error_size,
                         "the token endpoint's answer is not a JSON object");
    } else if (take_string(document, "access_token", &out->access_token) != 0 ||
               out->access_token == NULL ||
               take_string(document, "refresh_token", &out->refresh_token) != 0 ||
               take_string(document, "id_token", &out->id_token) != 0 ||
               take_string(document, "scope", &out->scope) != 0 ||
               take_expires_in(document, &out->expires_in) != 0) {
        result = failure(HV_OIDC_UNAVAILABLE, error, error_size,
                         "the token endpoint's answer lacks an access_token or has a field of the "
                         "wrong type");
    } else {
        result = HV_OIDC_OK;
    }
    wipe_and_delete(document);
    if (result != HV_OIDC_OK)
        hv_oidc_tokens_free(out);
    return result;
}

/* POSTs the form `body` (wiped by the caller) to the token endpoint. */
static hv_oidc_status post_token(hv_oidc *oidc, const buffer *body, const char *const *secrets,
                                 hv_oidc_tokens *out, char *error, size_t error_size)
{
    memset(out, 0, sizeof *out);
    hv_oidc_status status = hv_oidc_discover(oidc, error, error_size);
    if (status != HV_OIDC_OK)
        return status;
    hv_http_request request = {.method = "POST",
                               .url = oidc->token_endpoint,
                               .content_type = "application/x-www-form-urlencoded",
                               .body = body->data,
                               .body_length = body->length};
    hv_http_response response;
    char reason[256];
    if (hv_http_send(oidc->http, &request, &response, reason, sizeof reason) != 0) {
        hv_http_response_free(&response);
        return failure(HV_OIDC_UNAVAILABLE, error, error_size, "token endpoint: %s", reason);
    }
    status = hv_oidc_read_token_answer(response.status, response.body.data, response.body.length,
                                       secrets, out, error, error_size);
    hv_http_response_free(&response);
    return status;
}

static int append_field(buffer *body, const char *name, const char *value)
{
    return buffer_printf(body, "%s%s=", body->length > 0 ? "&" : "", name) == 0 &&
                   form_append_encoded(body, value) == 0
               ? 0
               : -1;
}

static void wipe_form(buffer *body)
{
    if (body->data != NULL)
        crypto_wipe(body->data, body->capacity);
    buffer_free(body);
}

static int client_valid(const hv_oidc_client *client)
{
    return client != NULL && client->client_id != NULL && client->client_id[0] != '\0' &&
           client->client_secret != NULL && client->client_secret[0] != '\0';
}

hv_oidc_status hv_oidc_exchange_code(hv_oidc *oidc, const hv_oidc_client *client, const char *code,
                                     const char *redirect_uri, hv_oidc_tokens *out, char *error,
                                     size_t error_size)
{
    memset(out, 0, sizeof *out);
    if (!client_valid(client) || code == NULL || code[0] == '\0' || redirect_uri == NULL)
        return failure(HV_OIDC_INTERNAL, error, error_size,
                       "a client id and secret, a code and a redirect_uri are required");
    buffer body = BUFFER_INIT;
    hv_oidc_status status;
    if (append_field(&body, "grant_type", "authorization_code") != 0 ||
        append_field(&body, "code", code) != 0 ||
        append_field(&body, "redirect_uri", redirect_uri) != 0 ||
        append_field(&body, "client_id", client->client_id) != 0 ||
        append_field(&body, "client_secret", client->client_secret) != 0) {
        status = failure(HV_OIDC_INTERNAL, error, error_size, "out of memory");
    } else {
        const char *secrets[] = {code, client->client_secret, NULL};
        status = post_token(oidc, &body, secrets, out, error, error_size);
    }
    wipe_form(&body);
    return status;
}

hv_oidc_status hv_oidc_refresh(hv_oidc *oidc, const hv_oidc_client *client,
                               const char *refresh_token, hv_oidc_tokens *out, char *error,
                               size_t error_size)
{
    memset(out, 0, sizeof *out);
    if (!client_valid(client) || refresh_token == NULL || refresh_token[0] == '\0')
        return failure(HV_OIDC_INTERNAL, error, error_size,
                       "a client id and secret and a refresh token are required");
    buffer body = BUFFER_INIT;
    hv_oidc_status status;
    if (append_field(&body, "grant_type", "refresh_token") != 0 ||
        append_field(&body, "refresh_token", refresh_token) != 0 ||
        append_field(&body, "client_id", client->client_id) != 0 ||
        append_field(&body, "client_secret", client->client_secret) != 0) {
        status = failure(HV_OIDC_INTERNAL, error, error_size, "out of memory");
    } else {
        const char *secrets[] = {refresh_token, client->client_secret, NULL};
        status = post_token(oidc, &body, secrets, out, error, error_size);
    }
    wipe_form(&body);
    return status;
}
