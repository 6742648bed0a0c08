/*
 * The simulator's accounts and webhook parts (tests/sim, docs/CONNECT.md
 * "The simulator"), over real HTTP through the stack's nginx, as the
 * connector and a browser meet them:
 *
 * - the app stack.sh registered; discovery; the JWKS key verifying the
 *   id_token's RS256 signature (checked here with OpenSSL directly from n
 *   and e, not with the simulator's code), before and after a key rotation;
 * - /connect/authorize: an unregistered redirect_uri or client is a 400
 *   page with no Location; the consent page (Đồng ý, the staff select with
 *   the owner first, values escaped); allow answers the form_post page
 *   with code, id_token, state, scope and session_state to the
 *   redirect_uri; deny answers error=access_denied; a staff member's
 *   consent comes back without the owner-only scopes;
 * - /connect/authorize's refusals go back as RFC 6749 4.1.2.1 says: a
 *   missing openid scope or nonce, an unknown scope or response_type, a
 *   repeated parameter by form_post to the app; an unknown or unplayed
 *   response_mode by a redirect with the error in the fragment (code
 *   id_token's default mode); a bad client or redirect_uri never redirects;
 * - /connect/token as strict as RFC 6749: only form bodies (the connector's
 *   old Content-Type typo is refused); client_secret_basic (id and secret
 *   form-encoded before base64) and client_secret_post, wrong credentials
 *   401 invalid_client with WWW-Authenticate, both methods at once
 *   invalid_request; code exchange; a missing or other redirect_uri and
 *   another client's code invalid_grant (and burnt); a reused code
 *   invalid_grant, after which everything it issued (access tokens, and
 *   refresh tokens through rotations) is revoked; other errors; refresh
 *   with rotation and revocation, expiry; the issued token reads
 *   /com/shop.json;
 * - /api/subscribe: 403 without wh_api; the verify-token handshake against
 *   the connector's real webhook route (wrong token: verify_failed; right
 *   token: subscribed and listed); /sim/fire of a sample lands in
 *   hv_events and is processed (not dead); redelivery on a refusal;
 *   DELETE removes; seeded tokens act for the stack's app;
 * - stack.sh sim-start registers the stack's app again.
 *
 * Tests register an app of their own (random client id) so that the
 * stack's app stays as stack.sh made it; the connector's verify token and
 * client secret are set per test with haravan-ctl.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cJSON.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "support.h"

#define SEED_ORG     "1000114691"
#define OWNER_ID     "200000244880"
#define STAFF_ID     "200000905615"
#define LOGIN_SCOPES "openid profile email org userinfo"
#define INSTALL_SCOPES                                                                             \
    "openid profile email org userinfo offline_access grant_service wh_api com.read_orders "       \
    "com.read_customers com.read_shop"
#define FIRE_SAMPLE   "order-api-create-pos-response.docs.json"
#define FIRE_TOPIC    "orders/cancelled"
#define FIRE_RESOURCE "1456389374"

static char app_id[64];
static char app_secret[64];
/* The token that subscribed, so that teardown unsubscribes even after a
 * failed assertion: a subscription left behind would receive the next
 * run's deliveries. */
static char subscribed_token[128];

/* ---- HTTP ------------------------------------------------------------- */

typedef struct sim_answer {
    long status;
    buffer body;
    char location[1024];
    char content_type[128];
    char www_authenticate[256];
} sim_answer;

static size_t collect_body(char *data, size_t size, size_t count, void *context)
{
    return buffer_append(context, data, size * count) == 0 ? size * count : 0;
}

static void copy_header(const char *line, size_t length, const char *name, char *out, size_t size)
{
    size_t name_length = strlen(name);
    if (length <= name_length || strncasecmp(line, name, name_length) != 0)
        return;
    const char *value = line + name_length;
    size_t value_length = length - name_length;
    while (value_length > 0 && *value == ' ')
        value++, value_length--;
    while (value_length > 0 && (value[value_length - 1] == '\r' || value[value_length - 1] == '\n'))
        value_length--;
    snprintf(out, size, "%.*s", (int)value_length, value);
}

static size_t collect_header(char *data, size_t size, size_t count, void *context)
{
    sim_answer *answer = context;
    copy_header(data, size * count, "Location:", answer->location, sizeof answer->location);
    copy_header(data, size * count, "Content-Type:", answer->content_type,
                sizeof answer->content_type);
    copy_header(data, size * count, "WWW-Authenticate:", answer->www_authenticate,
                sizeof answer->www_authenticate);
    return size * count;
}

/* A request to the simulator with `extra` (NULL or one header line).
 * `content_type` NULL sends no Content-Type; `bearer` NULL sends no
 * Authorization. Redirects are not followed. */
static sim_answer sim_call_with(const char *method, const char *path, const char *bearer,
                                const char *content_type, const char *body, const char *extra)
{
    sim_answer answer;
    memset(&answer, 0, sizeof answer);
    char url[4096];
    snprintf(url, sizeof url, "%s%s", it_env("HARAVAN_SIM_URL"), path);
    CURL *curl = curl_easy_init();
    assert_non_null(curl);
    struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
    char line[1024];
    if (bearer != NULL) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", bearer);
        headers = curl_slist_append(headers, line);
    }
    if (content_type != NULL) {
        snprintf(line, sizeof line, "Content-Type: %s", content_type);
        headers = curl_slist_append(headers, line);
    } else if (body != NULL) {
        headers = curl_slist_append(headers, "Content-Type:"); /* curl's default left out */
    }
    if (extra != NULL)
        headers = curl_slist_append(headers, extra);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &answer);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
    if (body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (answer.body.data == NULL)
        assert_int_equal(buffer_append(&answer.body, "", 0), 0);
    return answer;
}

static sim_answer sim_call(const char *method, const char *path, const char *bearer,
                           const char *content_type, const char *body)
{
    return sim_call_with(method, path, bearer, content_type, body, NULL);
}

static void answer_free(sim_answer *answer)
{
    buffer_free(&answer->body);
}

/* Appends name=value (form-encoded) with '&' between pairs. */
static void add_field(buffer *form, const char *name, const char *value)
{
    char *encoded = curl_easy_escape(NULL, value, 0);
    assert_non_null(encoded);
    assert_int_equal(buffer_printf(form, "%s%s=%s", form->length > 0 ? "&" : "", name, encoded), 0);
    curl_free(encoded);
}

static cJSON *parse_json(const sim_answer *answer)
{
    cJSON *document = cJSON_Parse(answer->body.data);
    if (document == NULL)
        fail_msg("HTTP %ld, not JSON: %s", answer->status, answer->body.data);
    return document;
}

static const char *json_text(const cJSON *object, const char *name)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(object, name);
    if (!cJSON_IsString(value))
        fail_msg("no string \"%s\"", name);
    return value->valuestring;
}

/* POSTs JSON to a /sim/ control and returns the parsed answer. */
static cJSON *sim_admin_json(const char *path, const char *json)
{
    sim_answer answer = sim_call("POST", path, NULL, "application/json", json);
    if (answer.status != 200)
        fail_msg("POST %s: HTTP %ld %s", path, answer.status, answer.body.data);
    cJSON *document = parse_json(&answer);
    answer_free(&answer);
    return document;
}

/* ---- the flow ----------------------------------------------------------- */

static void redirect_uri(const char *step, char *out, size_t size)
{
    snprintf(out, size, "%s/api/haravan/%s", it_env("HARAVAN_PUBLIC_URL"), step);
}

/* The authorize parameters, form-encoded. */
static void authorize_fields(buffer *form, const char *client_id, const char *redirect,
                             const char *scope, const char *state, const char *nonce)
{
    add_field(form, "client_id", client_id);
    add_field(form, "redirect_uri", redirect);
    add_field(form, "response_type", "code id_token");
    add_field(form, "response_mode", "form_post");
    add_field(form, "scope", scope);
    add_field(form, "state", state);
    add_field(form, "nonce", nonce);
}

/* The merchant's decision as the consent form POSTs it, for `client_id`. */
static sim_answer decide_for(const char *client_id, const char *redirect, const char *scope,
                             const char *user_id, const char *decision, const char *state,
                             const char *nonce)
{
    buffer form = BUFFER_INIT;
    authorize_fields(&form, client_id, redirect, scope, state, nonce);
    add_field(&form, "orgid", SEED_ORG);
    add_field(&form, "user_id", user_id);
    add_field(&form, "decision", decision);
    sim_answer answer = sim_call("POST", "/connect/authorize", NULL,
                                 "application/x-www-form-urlencoded", form.data);
    buffer_free(&form);
    return answer;
}

static sim_answer decide(const char *redirect, const char *scope, const char *user_id,
                         const char *decision, const char *state, const char *nonce)
{
    return decide_for(app_id, redirect, scope, user_id, decision, state, nonce);
}

/* The value of the hidden input `name` of a page (values here need no
 * unescaping: codes, tokens, scopes and our own states). NULL when absent. */
static char *hidden_value(const char *html, const char *name)
{
    char marker[128];
    snprintf(marker, sizeof marker, "<input type=\"hidden\" name=\"%s\" value=\"", name);
    const char *start = strstr(html, marker);
    if (start == NULL)
        return NULL;
    start += strlen(marker);
    const char *end = strchr(start, '"');
    assert_non_null(end);
    char *value = malloc((size_t)(end - start) + 1);
    assert_non_null(value);
    memcpy(value, start, (size_t)(end - start));
    value[end - start] = '\0';
    return value;
}

/* Allows as `user_id` for `client_id` and returns the code; the page is
 * checked on the way. */
static char *allow_for_code_of(const char *client_id, const char *redirect, const char *scope,
                               const char *user_id)
{
    sim_answer page =
        decide_for(client_id, redirect, scope, user_id, "allow", "st-code", "nonce-code");
    assert_int_equal(page.status, 200);
    char *code = hidden_value(page.body.data, "code");
    if (code == NULL)
        fail_msg("no code in: %s", page.body.data);
    answer_free(&page);
    return code;
}

static char *allow_for_code(const char *redirect, const char *scope, const char *user_id)
{
    return allow_for_code_of(app_id, redirect, scope, user_id);
}

static sim_answer token_call(const char *form)
{
    return sim_call("POST", "/connect/token", NULL, "application/x-www-form-urlencoded", form);
}

static sim_answer exchange(const char *code, const char *redirect, const char *secret)
{
    buffer form = BUFFER_INIT;
    add_field(&form, "grant_type", "authorization_code");
    add_field(&form, "code", code);
    add_field(&form, "redirect_uri", redirect);
    add_field(&form, "client_id", app_id);
    add_field(&form, "client_secret", secret);
    sim_answer answer = token_call(form.data);
    buffer_free(&form);
    return answer;
}

static sim_answer refresh(const char *refresh_token)
{
    buffer form = BUFFER_INIT;
    add_field(&form, "grant_type", "refresh_token");
    add_field(&form, "refresh_token", refresh_token);
    add_field(&form, "client_id", app_id);
    add_field(&form, "client_secret", app_secret);
    sim_answer answer = token_call(form.data);
    buffer_free(&form);
    return answer;
}

/* The token endpoint refused with `status` and OAuth error `error`. */
static void expect_token_refusal(sim_answer *answer, long status, const char *error)
{
    if (answer->status != status || strstr(answer->body.data, error) == NULL)
        fail_msg("expected %ld %s, got %ld %s", status, error, answer->status, answer->body.data);
    cJSON *document = parse_json(answer);
    assert_string_equal(json_text(document, "error"), error);
    cJSON_Delete(document);
    answer_free(answer);
}

static void expect_token_error(sim_answer *answer, const char *error)
{
    expect_token_refusal(answer, 400, error);
}

/* The whole flow for `user_id`: the token endpoint's answer (JSON). */
static cJSON *tokens_for(const char *scope, const char *user_id)
{
    char redirect[512];
    redirect_uri("grandservice", redirect, sizeof redirect);
    char *code = allow_for_code(redirect, scope, user_id);
    sim_answer answer = exchange(code, redirect, app_secret);
    free(code);
    if (answer.status != 200)
        fail_msg("exchange: HTTP %ld %s", answer.status, answer.body.data);
    cJSON *document = parse_json(&answer);
    answer_free(&answer);
    return document;
}

static long shop_status(const char *access_token)
{
    sim_answer answer = sim_call("GET", "/com/shop.json", access_token, NULL, NULL);
    long status = answer.status;
    answer_free(&answer);
    return status;
}

/* ---- JWT verification, with OpenSSL only --------------------------------- */

static long decode_base64url(const char *text, size_t length, unsigned char *out, size_t capacity)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned long bits = 0;
    int bit_count = 0;
    size_t written = 0;
    for (size_t i = 0; i < length; i++) {
        const char *found = text[i] != '\0' ? strchr(alphabet, text[i]) : NULL;
        if (found == NULL)
            return -1;
        bits = (bits << 6) | (unsigned long)(found - alphabet);
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            if (written == capacity)
                return -1;
            out[written++] = (unsigned char)(bits >> bit_count);
            bits &= (1UL << bit_count) - 1;
        }
    }
    return (long)written;
}

static cJSON *token_part(const char *token, int part)
{
    const char *start = token;
    for (int i = 0; i < part; i++) {
        start = strchr(start, '.');
        assert_non_null(start);
        start++;
    }
    unsigned char json[8192];
    long length = decode_base64url(start, strcspn(start, "."), json, sizeof json - 1);
    assert_true(length > 0);
    json[length] = '\0';
    cJSON *document = cJSON_Parse((const char *)json);
    assert_non_null(document);
    return document;
}

static BIGNUM *jwk_number(const cJSON *jwk, const char *name)
{
    const char *text = json_text(jwk, name);
    unsigned char bytes[600];
    long length = decode_base64url(text, strlen(text), bytes, sizeof bytes);
    assert_true(length > 0);
    BIGNUM *number = BN_bin2bn(bytes, (int)length, NULL);
    assert_non_null(number);
    return number;
}

/* The current JWKS key as an OpenSSL public key; its kid into `kid`. */
static EVP_PKEY *jwks_key(char *kid, size_t kid_size)
{
    sim_answer discovery = sim_call("GET", "/.well-known/openid-configuration", NULL, NULL, NULL);
    cJSON *configuration = parse_json(&discovery);
    const char *jwks_uri = json_text(configuration, "jwks_uri");
    const char *base = it_env("HARAVAN_SIM_URL");
    assert_true(strncmp(jwks_uri, base, strlen(base)) == 0);
    sim_answer answer = sim_call("GET", jwks_uri + strlen(base), NULL, NULL, NULL);
    assert_int_equal(answer.status, 200);
    cJSON *jwks = parse_json(&answer);
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(jwks, "keys");
    assert_int_equal(cJSON_GetArraySize(keys), 1);
    const cJSON *jwk = cJSON_GetArrayItem(keys, 0);
    assert_string_equal(json_text(jwk, "kty"), "RSA");
    assert_string_equal(json_text(jwk, "alg"), "RS256");
    assert_string_equal(json_text(jwk, "use"), "sig");
    snprintf(kid, kid_size, "%s", json_text(jwk, "kid"));

    BIGNUM *n = jwk_number(jwk, "n");
    BIGNUM *e = jwk_number(jwk, "e");
    OSSL_PARAM_BLD *builder = OSSL_PARAM_BLD_new();
    assert_non_null(builder);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_N, n), 1);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_E, e), 1);
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(builder);
    EVP_PKEY_CTX *context = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *key = NULL;
    assert_non_null(params);
    assert_non_null(context);
    assert_int_equal(EVP_PKEY_fromdata_init(context), 1);
    assert_int_equal(EVP_PKEY_fromdata(context, &key, EVP_PKEY_PUBLIC_KEY, params), 1);
    assert_int_equal(EVP_PKEY_get_bits(key), 2048);
    EVP_PKEY_CTX_free(context);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(builder);
    BN_free(n);
    BN_free(e);
    cJSON_Delete(jwks);
    cJSON_Delete(configuration);
    answer_free(&answer);
    answer_free(&discovery);
    return key;
}

static int signature_verifies(EVP_PKEY *key, const char *token)
{
    const char *last_dot = strrchr(token, '.');
    assert_non_null(last_dot);
    unsigned char signature[512];
    long length = decode_base64url(last_dot + 1, strlen(last_dot + 1), signature, sizeof signature);
    assert_true(length > 0);
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    assert_non_null(context);
    assert_int_equal(EVP_DigestVerifyInit(context, NULL, EVP_sha256(), NULL, key), 1);
    int verified = EVP_DigestVerify(context, signature, (size_t)length,
                                    (const unsigned char *)token, (size_t)(last_dot - token));
    EVP_MD_CTX_free(context);
    return verified == 1;
}

/* ---- setup ---------------------------------------------------------------- */

static void register_app(const char *verify_token)
{
    char login[512];
    char grant[512];
    char callback[512];
    redirect_uri("login", login, sizeof login);
    redirect_uri("grandservice", grant, sizeof grant);
    redirect_uri("webhook", callback, sizeof callback);
    char json[4096];
    snprintf(json, sizeof json,
             "{\"client_id\":\"%s\",\"client_secret\":\"%s\",\"name\":\"CRM <it>\","
             "\"redirect_uris\":[\"%s\",\"%s\"],\"webhook\":{\"callback_url\":\"%s\","
             "\"verify_token\":\"%s\",\"topics\":[\"orders/create\",\"" FIRE_TOPIC "\"]}}",
             app_id, app_secret, login, grant, callback, verify_token);
    cJSON_Delete(sim_admin_json("/sim/apps", json));
}

static int setup(void **state)
{
    (void)state;
    unsigned char random_bytes[8];
    FILE *urandom = fopen("/dev/urandom", "rb");
    assert_non_null(urandom);
    assert_int_equal(fread(random_bytes, 1, sizeof random_bytes, urandom), sizeof random_bytes);
    fclose(urandom);
    snprintf(app_id, sizeof app_id, "it-app-%02x%02x%02x%02x", random_bytes[0], random_bytes[1],
             random_bytes[2], random_bytes[3]);
    snprintf(app_secret, sizeof app_secret, "it-secret-%02x%02x%02x%02x", random_bytes[4],
             random_bytes[5], random_bytes[6], random_bytes[7]);
    register_app("");
    cJSON_Delete(sim_admin_json("/sim/config", "{\"access_token_seconds\":3600,"
                                               "\"delivery_timeout_ms\":5000,"
                                               "\"delivery_retries\":3,"
                                               "\"refresh_token_usage\":\"rotate\"}"));
    return 0;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_stack_registered_its_app(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "/sim/apps/%s", it_env("HARAVAN_SIM_CLIENT_ID"));
    sim_answer answer = sim_call("GET", path, NULL, NULL, NULL);
    assert_int_equal(answer.status, 200);
    cJSON *app = parse_json(&answer);
    assert_string_equal(json_text(app, "client_secret"), it_env("HARAVAN_SIM_CLIENT_SECRET"));
    char expected[512];
    const cJSON *uris = cJSON_GetObjectItemCaseSensitive(app, "redirect_uris");
    assert_int_equal(cJSON_GetArraySize(uris), 2);
    redirect_uri("login", expected, sizeof expected);
    assert_string_equal(cJSON_GetArrayItem(uris, 0)->valuestring, expected);
    redirect_uri("grandservice", expected, sizeof expected);
    assert_string_equal(cJSON_GetArrayItem(uris, 1)->valuestring, expected);
    const cJSON *webhook = cJSON_GetObjectItemCaseSensitive(app, "webhook");
    redirect_uri("webhook", expected, sizeof expected);
    assert_string_equal(json_text(webhook, "callback_url"), expected);
    assert_string_equal(json_text(webhook, "verify_token"), "");
    /* The six the CRM uses, and app/uninstalled (a shop's life, issue #11). */
    const cJSON *topics = cJSON_GetObjectItemCaseSensitive(webhook, "topics");
    assert_int_equal(cJSON_GetArraySize(topics), 7);
    assert_string_equal(cJSON_GetArrayItem(topics, 6)->valuestring, "app/uninstalled");
    cJSON_Delete(app);
    answer_free(&answer);
    /* The connector is pointed at the simulator for all three hosts. */
    assert_string_equal(it_env("HARAVAN_ACCOUNTS_URL"), it_env("HARAVAN_SIM_URL"));
    assert_string_equal(it_env("HARAVAN_WEBHOOK_URL"), it_env("HARAVAN_SIM_URL"));
}

static void test_discovery(void **state)
{
    (void)state;
    sim_answer answer = sim_call("GET", "/.well-known/openid-configuration", NULL, NULL, NULL);
    assert_int_equal(answer.status, 200);
    cJSON *document = parse_json(&answer);
    const char *base = it_env("HARAVAN_SIM_URL");
    static const struct {
        const char *name;
        const char *path;
    } urls[] = {
        {"issuer", ""},
        {"authorization_endpoint", "/connect/authorize"},
        {"token_endpoint", "/connect/token"},
        {"userinfo_endpoint", "/connect/userinfo"},
        {"jwks_uri", "/.well-known/openid-configuration/jwks"},
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        char expected[512];
        snprintf(expected, sizeof expected, "%s%s", base, urls[i].path);
        assert_string_equal(json_text(document, urls[i].name), expected);
    }
    const cJSON *algorithms =
        cJSON_GetObjectItemCaseSensitive(document, "id_token_signing_alg_values_supported");
    assert_int_equal(cJSON_GetArraySize(algorithms), 1);
    assert_string_equal(cJSON_GetArrayItem(algorithms, 0)->valuestring, "RS256");
    const cJSON *modes = cJSON_GetObjectItemCaseSensitive(document, "response_modes_supported");
    assert_string_equal(cJSON_GetArrayItem(modes, 0)->valuestring, "form_post");
    cJSON_Delete(document);
    answer_free(&answer);
}

static void expect_refused_page(const char *client_id, const char *redirect)
{
    buffer query = BUFFER_INIT;
    assert_int_equal(buffer_append_string(&query, "/connect/authorize?"), 0);
    buffer fields = BUFFER_INIT;
    authorize_fields(&fields, client_id, redirect, LOGIN_SCOPES, "st", "n");
    assert_int_equal(buffer_append_string(&query, fields.data), 0);
    sim_answer answer = sim_call("GET", query.data, NULL, NULL, NULL);
    assert_int_equal(answer.status, 400);
    assert_string_equal(answer.location, "");
    assert_non_null(strstr(answer.content_type, "text/html"));
    /* Nothing in the page sends the browser on either. */
    assert_null(strstr(answer.body.data, "<form"));
    assert_null(strstr(answer.body.data, redirect));
    answer_free(&answer);
    buffer_free(&fields);
    buffer_free(&query);
}

static void test_unregistered_redirect_refused(void **state)
{
    (void)state;
    char evil[512];
    snprintf(evil, sizeof evil, "%s/api/haravan/login", "http://evil.example");
    expect_refused_page(app_id, evil);
    redirect_uri("login/", evil, sizeof evil); /* a near miss is a miss */
    expect_refused_page(app_id, evil);
    redirect_uri("login", evil, sizeof evil);
    expect_refused_page("no-such-client", evil);
}

/* The developer portal as a page: what a person uses to paste the CRM's
 * webhook Callback URL and Verify Token, as on Haravan's partner site. */
static void test_portal_page_sets_the_webhook(void **state)
{
    (void)state;
    sim_answer shown = sim_call("GET", "/sim/portal", NULL, NULL, NULL);
    assert_int_equal(shown.status, 200);
    assert_non_null(strstr(shown.content_type, "text/html"));
    assert_non_null(strstr(shown.body.data, app_id));
    assert_non_null(strstr(shown.body.data, "CRM &lt;it&gt;")); /* names are escaped */
    assert_null(strstr(shown.body.data, "CRM <it>"));
    answer_free(&shown);

    char callback[512];
    redirect_uri("webhook", callback, sizeof callback);
    buffer form = BUFFER_INIT;
    add_field(&form, "client_id", app_id);
    add_field(&form, "callback_url", callback);
    add_field(&form, "verify_token", "pasted-verify-token");
    sim_answer saved =
        sim_call("POST", "/sim/portal", NULL, "application/x-www-form-urlencoded", form.data);
    assert_int_equal(saved.status, 200);
    assert_non_null(strstr(saved.body.data, "Đã lưu."));
    answer_free(&saved);
    char path[128];
    snprintf(path, sizeof path, "/sim/apps/%s", app_id);
    sim_answer app = sim_call("GET", path, NULL, NULL, NULL);
    cJSON *document = parse_json(&app);
    const cJSON *webhook = cJSON_GetObjectItemCaseSensitive(document, "webhook");
    assert_string_equal(
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(webhook, "verify_token")),
        "pasted-verify-token");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(webhook, "topics")), 2);
    cJSON_Delete(document);
    answer_free(&app);

    /* Refusals change nothing and say why. */
    buffer_clear(&form);
    add_field(&form, "client_id", app_id);
    add_field(&form, "callback_url", "ftp://not-a-web-url");
    add_field(&form, "verify_token", "another");
    sim_answer refused =
        sim_call("POST", "/sim/portal", NULL, "application/x-www-form-urlencoded", form.data);
    assert_int_equal(refused.status, 400);
    assert_non_null(strstr(refused.body.data, "Không lưu được"));
    answer_free(&refused);
    buffer_clear(&form);
    add_field(&form, "client_id", "no-such-app");
    add_field(&form, "callback_url", callback);
    add_field(&form, "verify_token", "another");
    refused = sim_call("POST", "/sim/portal", NULL, "application/x-www-form-urlencoded", form.data);
    assert_int_equal(refused.status, 400);
    assert_non_null(strstr(refused.body.data, "no such app"));
    answer_free(&refused);
    app = sim_call("GET", path, NULL, NULL, NULL);
    assert_non_null(strstr(app.body.data, "pasted-verify-token"));
    answer_free(&app);
    buffer_free(&form);
    register_app(""); /* as the tests after this one expect */
}

static void test_consent_page(void **state)
{
    (void)state;
    char redirect[512];
    redirect_uri("login", redirect, sizeof redirect);
    buffer fields = BUFFER_INIT;
    buffer query = BUFFER_INIT;
    authorize_fields(&fields, app_id, redirect, LOGIN_SCOPES, "<script>x</script>", "n-1");
    assert_int_equal(buffer_printf(&query, "/connect/authorize?%s", fields.data), 0);
    sim_answer answer = sim_call("GET", query.data, NULL, NULL, NULL);
    assert_int_equal(answer.status, 200);
    assert_non_null(strstr(answer.content_type, "text/html"));
    const char *html = answer.body.data;
    assert_non_null(strstr(html, "<button name=\"decision\" value=\"allow\">Đồng ý</button>"));
    assert_non_null(strstr(html, "<button name=\"decision\" value=\"deny\">Từ chối</button>"));
    assert_non_null(strstr(html, "<select name=\"user_id\">"));
    const char *first_option = strstr(html, "<option ");
    assert_non_null(first_option);
    assert_true(strncmp(first_option, "<option value=\"" OWNER_ID "\" selected>",
                        strlen("<option value=\"" OWNER_ID "\" selected>")) == 0);
    assert_non_null(strstr(html, "<option value=\"" STAFF_ID "\">"));
    assert_null(strstr(html, "<script>"));
    assert_non_null(strstr(html, "&lt;script&gt;x&lt;/script&gt;"));
    assert_non_null(strstr(html, "CRM &lt;it&gt;"));
    answer_free(&answer);
    buffer_free(&fields);
    buffer_free(&query);
}

static void test_allow_posts_back_a_verifiable_id_token(void **state)
{
    (void)state;
    char redirect[512];
    redirect_uri("login", redirect, sizeof redirect);
    sim_answer page = decide(redirect, LOGIN_SCOPES, OWNER_ID, "allow", "st-allow", "nonce-allow");
    assert_int_equal(page.status, 200);
    const char *html = page.body.data;
    char form[700];
    snprintf(form, sizeof form, "<form method=\"post\" action=\"%s\">", redirect);
    assert_non_null(strstr(html, form));
    assert_non_null(strstr(html, "<body onload=\"document.forms[0].submit()\">"));
    assert_non_null(strstr(html, "<noscript>"));
    static const char *const names[] = {"code", "id_token", "state", "scope", "session_state"};
    char *values[5];
    for (size_t i = 0; i < 5; i++) {
        values[i] = hidden_value(html, names[i]);
        if (values[i] == NULL || values[i][0] == '\0')
            fail_msg("no %s in the form_post page", names[i]);
    }
    assert_string_equal(values[2], "st-allow");
    assert_string_equal(values[3], LOGIN_SCOPES);

    char kid[128];
    EVP_PKEY *key = jwks_key(kid, sizeof kid);
    const char *id_token = values[1];
    assert_true(signature_verifies(key, id_token));
    cJSON *header = token_part(id_token, 0);
    assert_string_equal(json_text(header, "alg"), "RS256");
    assert_string_equal(json_text(header, "kid"), kid);
    cJSON *claims = token_part(id_token, 1);
    assert_string_equal(json_text(claims, "iss"), it_env("HARAVAN_SIM_URL"));
    assert_string_equal(json_text(claims, "aud"), app_id);
    assert_string_equal(json_text(claims, "nonce"), "nonce-allow");
    assert_string_equal(json_text(claims, "sub"), OWNER_ID);
    assert_string_equal(json_text(claims, "orgid"), SEED_ORG);
    assert_string_equal(json_text(claims, "email"), "shop@gmail.com");
    json_text(claims, "orgname");
    json_text(claims, "name");
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(claims, "role");
    assert_true(cJSON_IsArray(role));
    assert_string_equal(cJSON_GetArrayItem(role, 0)->valuestring, "admin");
    double now = (double)time(NULL);
    double exp = cJSON_GetObjectItemCaseSensitive(claims, "exp")->valuedouble;
    double iat = cJSON_GetObjectItemCaseSensitive(claims, "iat")->valuedouble;
    assert_true(exp - iat == 3600 && iat <= now + 5 && iat >= now - 60);

    /* A byte changed in the payload: the signature no longer holds. */
    char *tampered = strdup(id_token);
    char *payload = strchr(tampered, '.') + 1;
    payload[5] = payload[5] == 'A' ? 'B' : 'A';
    assert_false(signature_verifies(key, tampered));

    free(tampered);
    for (size_t i = 0; i < 5; i++)
        free(values[i]);
    cJSON_Delete(header);
    cJSON_Delete(claims);
    EVP_PKEY_free(key);
    answer_free(&page);
}

static void test_deny_posts_back_access_denied(void **state)
{
    (void)state;
    char redirect[512];
    redirect_uri("login", redirect, sizeof redirect);
    sim_answer page = decide(redirect, LOGIN_SCOPES, OWNER_ID, "deny", "st-deny", "n");
    assert_int_equal(page.status, 200);
    char *error = hidden_value(page.body.data, "error");
    char *state_value = hidden_value(page.body.data, "state");
    assert_non_null(error);
    assert_non_null(state_value);
    assert_string_equal(error, "access_denied");
    assert_string_equal(state_value, "st-deny");
    assert_null(hidden_value(page.body.data, "code"));
    assert_null(hidden_value(page.body.data, "id_token"));
    free(error);
    free(state_value);
    answer_free(&page);
}

static void test_code_exchange(void **state)
{
    (void)state;
    char redirect[512];
    redirect_uri("grandservice", redirect, sizeof redirect);
    char *code = allow_for_code(redirect, INSTALL_SCOPES, OWNER_ID);

    /* A wrong secret: invalid_client (a 401 that names Basic, RFC 6749
     * 5.2), and the code is not spent by it. */
    sim_answer answer = exchange(code, redirect, "not-the-secret");
    assert_non_null(strstr(answer.www_authenticate, "Basic"));
    expect_token_refusal(&answer, 401, "invalid_client");
    answer = exchange(code, redirect, app_secret);
    assert_int_equal(answer.status, 200);
    cJSON *tokens = parse_json(&answer);
    answer_free(&answer);
    const char *access_token = json_text(tokens, "access_token");
    assert_string_equal(json_text(tokens, "token_type"), "Bearer");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(tokens, "expires_in")->valuedouble, 3600);
    assert_string_equal(json_text(tokens, "scope"), INSTALL_SCOPES);
    json_text(tokens, "refresh_token");
    char kid[128];
    EVP_PKEY *key = jwks_key(kid, sizeof kid);
    assert_true(signature_verifies(key, json_text(tokens, "id_token")));
    EVP_PKEY_free(key);

    /* The issued token reads the REST API and userinfo. */
    assert_int_equal(shop_status(access_token), 200);
    answer = sim_call("GET", "/connect/userinfo", access_token, NULL, NULL);
    assert_int_equal(answer.status, 200);
    cJSON *user = parse_json(&answer);
    assert_string_equal(json_text(user, "sub"), OWNER_ID);
    assert_string_equal(json_text(user, "orgid"), SEED_ORG);
    cJSON_Delete(user);
    answer_free(&answer);

    /* The same code again: refused, and (RFC 6749 4.1.2) what it issued is
     * revoked, since one of the two redeemers stole it. */
    answer = exchange(code, redirect, app_secret);
    expect_token_error(&answer, "invalid_grant");
    free(code);
    assert_int_equal(shop_status(access_token), 401);
    answer = sim_call("GET", "/connect/userinfo", access_token, NULL, NULL);
    assert_int_equal(answer.status, 401);
    answer_free(&answer);
    answer = refresh(json_text(tokens, "refresh_token"));
    expect_token_error(&answer, "invalid_grant");

    /* A redirect_uri other than the authorize request's. */
    char other[512];
    redirect_uri("login", other, sizeof other);
    code = allow_for_code(redirect, INSTALL_SCOPES, OWNER_ID);
    answer = exchange(code, other, app_secret);
    expect_token_error(&answer, "invalid_grant");
    free(code);

    /* Other refusals of the token endpoint. */
    buffer form = BUFFER_INIT;
    add_field(&form, "grant_type", "password");
    add_field(&form, "client_id", app_id);
    add_field(&form, "client_secret", app_secret);
    answer = token_call(form.data);
    expect_token_error(&answer, "unsupported_grant_type");
    buffer_clear(&form);
    add_field(&form, "grant_type", "authorization_code");
    add_field(&form, "client_id", app_id);
    add_field(&form, "client_secret", app_secret);
    answer = token_call(form.data);
    expect_token_error(&answer, "invalid_request");
    buffer_free(&form);
    cJSON_Delete(tokens);
}

static void test_refresh_rotation_revocation_expiry(void **state)
{
    (void)state;
    cJSON *tokens = tokens_for(INSTALL_SCOPES, OWNER_ID);
    const char *first_refresh = json_text(tokens, "refresh_token");
    sim_answer answer = refresh(first_refresh);
    assert_int_equal(answer.status, 200);
    cJSON *renewed = parse_json(&answer);
    answer_free(&answer);
    assert_int_equal(shop_status(json_text(renewed, "access_token")), 200);
    const char *second_refresh = json_text(renewed, "refresh_token");
    assert_string_not_equal(second_refresh, first_refresh);
    /* Rotation (the default): the spent one is refused. */
    answer = refresh(first_refresh);
    expect_token_error(&answer, "invalid_grant");

    /* A revoked refresh token: invalid_grant. */
    char json[256];
    snprintf(json, sizeof json, "{\"refresh_token\":\"%s\"}", second_refresh);
    cJSON *revoked = sim_admin_json("/sim/refresh/revoke", json);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(revoked, "revoked")));
    cJSON_Delete(revoked);
    answer = refresh(second_refresh);
    expect_token_error(&answer, "invalid_grant");

    /* A token made to expire answers 401. */
    snprintf(json, sizeof json, "{\"token\":\"%s\"}", json_text(renewed, "access_token"));
    cJSON_Delete(sim_admin_json("/sim/tokens/expire", json));
    assert_int_equal(shop_status(json_text(renewed, "access_token")), 401);

    /* A short lifetime: expires_in says it, and the token dies with it. */
    cJSON_Delete(sim_admin_json("/sim/config", "{\"access_token_seconds\":1}"));
    cJSON *short_lived = tokens_for(LOGIN_SCOPES " com.read_shop", OWNER_ID);
    cJSON_Delete(sim_admin_json("/sim/config", "{\"access_token_seconds\":3600}"));
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(short_lived, "expires_in")->valuedouble, 1);
    /* No offline_access: no refresh token. */
    assert_null(cJSON_GetObjectItemCaseSensitive(short_lived, "refresh_token"));
    struct timespec pause = {1, 300 * 1000 * 1000};
    nanosleep(&pause, NULL);
    assert_int_equal(shop_status(json_text(short_lived, "access_token")), 401);

    cJSON_Delete(short_lived);
    cJSON_Delete(renewed);
    cJSON_Delete(tokens);
}

/* ---- the token endpoint's refusals (RFC 6749 sections 2.3, 3.2, 4.1.3, 5.2) ---- */

/* A second app whose secret needs form-encoding (RFC 6749 2.3.1), with the
 * same redirect URLs as the test's app. */
#define BASIC_SECRET "s3:cr+t%41&=/"

static char basic_app_id[80];

static void register_basic_app(void)
{
    char login[512];
    char grant[512];
    redirect_uri("login", login, sizeof login);
    redirect_uri("grandservice", grant, sizeof grant);
    snprintf(basic_app_id, sizeof basic_app_id, "%s:basic", app_id);
    char json[2048];
    snprintf(json, sizeof json,
             "{\"client_id\":\"%s\",\"client_secret\":\"%s\",\"name\":\"Basic\","
             "\"redirect_uris\":[\"%s\",\"%s\"]}",
             basic_app_id, BASIC_SECRET, login, grant);
    cJSON_Delete(sim_admin_json("/sim/apps", json));
}

/* "Authorization: Basic ..." for `id` and `secret`, each form-encoded
 * first when `encode` (as RFC 6749 2.3.1 says), with OpenSSL's base64. */
static void basic_header(const char *id, const char *secret, int encode, char *out, size_t size)
{
    buffer pair = BUFFER_INIT;
    if (encode) {
        char *encoded_id = curl_easy_escape(NULL, id, 0);
        char *encoded_secret = curl_easy_escape(NULL, secret, 0);
        assert_int_equal(buffer_printf(&pair, "%s:%s", encoded_id, encoded_secret), 0);
        curl_free(encoded_id);
        curl_free(encoded_secret);
    } else {
        assert_int_equal(buffer_printf(&pair, "%s:%s", id, secret), 0);
    }
    unsigned char encoded[512];
    assert_true(pair.length * 4 / 3 + 4 < sizeof encoded);
    EVP_EncodeBlock(encoded, (const unsigned char *)pair.data, (int)pair.length);
    snprintf(out, size, "Authorization: Basic %s", (const char *)encoded);
    buffer_free(&pair);
}

/* The exchange form of `code` without client authentication. */
static void code_form(buffer *form, const char *code, const char *redirect)
{
    add_field(form, "grant_type", "authorization_code");
    add_field(form, "code", code);
    if (redirect != NULL)
        add_field(form, "redirect_uri", redirect);
}

static sim_answer token_call_typed(const char *content_type, const char *form, const char *extra)
{
    return sim_call_with("POST", "/connect/token", NULL, content_type, form, extra);
}

/* The body must be application/x-www-form-urlencoded (RFC 6749 3.2), as
 * accounts.haravan.com requires; parameters such as charset are allowed. */
static void test_token_endpoint_takes_form_bodies_only(void **state)
{
    (void)state;
    char redirect[512];
    redirect_uri("grandservice", redirect, sizeof redirect);
    char *code = allow_for_code(redirect, INSTALL_SCOPES, OWNER_ID);
    buffer form = BUFFER_INIT;
    code_form(&form, code, redirect);
    add_field(&form, "client_id", app_id);
    add_field(&form, "client_secret", app_secret);
    static const char *const refused[] = {
        "application/x-www-body-urlencoded", /* the connector's old typo */
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencodedx",
        NULL};
    for (size_t i = 0; refused[i] != NULL; i++) {
        sim_answer answer = token_call_typed(refused[i], form.data, NULL);
        if (answer.status != 400 || strstr(answer.body.data, "x-www-form-urlencoded") == NULL)
            fail_msg("%s: expected 400, got %ld %s", refused[i], answer.status, answer.body.data);
        expect_token_error(&answer, "invalid_request");
    }
    sim_answer answer = token_call_typed(NULL, form.data, NULL); /* no Content-Type */
    expect_token_error(&answer, "invalid_request");
    /* None of that spent the code; a form with a charset is taken. */
    answer = token_call_typed("Application/X-WWW-Form-Urlencoded ; charset=UTF-8", form.data, NULL);
    if (answer.status != 200)
        fail_msg("with charset: %ld %s", answer.status, answer.body.data);
    answer_free(&answer);
    buffer_free(&form);
    free(code);
}

/* client_secret_basic and client_secret_post both work; wrong credentials
 * are a 401 invalid_client with WWW-Authenticate; two methods at once are
 * invalid_request (RFC 6749 2.3). */
static void test_client_authentication_methods(void **state)
{
    (void)state;
    register_basic_app();
    char redirect[512];
    redirect_uri("grandservice", redirect, sizeof redirect);
    char header[1024];
    buffer form = BUFFER_INIT;
    char *code = allow_for_code_of(basic_app_id, redirect, INSTALL_SCOPES, OWNER_ID);
    code_form(&form, code, redirect);

    /* Basic with the secret not form-encoded first: "%41" decodes to "A",
     * so that is a wrong secret. */
    basic_header(basic_app_id, BASIC_SECRET, 0, header, sizeof header);
    sim_answer answer = token_call_typed("application/x-www-form-urlencoded", form.data, header);
    assert_non_null(strstr(answer.www_authenticate, "Basic"));
    expect_token_refusal(&answer, 401, "invalid_client");
    basic_header(basic_app_id, "wrong", 1, header, sizeof header);
    answer = token_call_typed("application/x-www-form-urlencoded", form.data, header);
    assert_non_null(strstr(answer.www_authenticate, "Basic"));
    expect_token_refusal(&answer, 401, "invalid_client");
    answer = token_call_typed("application/x-www-form-urlencoded", form.data,
                              "Authorization: Basic !!not-base64!!");
    expect_token_refusal(&answer, 401, "invalid_client");
    /* No client authentication at all; an unknown client. */
    answer = token_call(form.data);
    expect_token_refusal(&answer, 401, "invalid_client");
    basic_header("no-such-client", BASIC_SECRET, 1, header, sizeof header);
    answer = token_call_typed("application/x-www-form-urlencoded", form.data, header);
    expect_token_refusal(&answer, 401, "invalid_client");

    /* Both methods at once, even both right. */
    buffer both = BUFFER_INIT;
    code_form(&both, code, redirect);
    add_field(&both, "client_id", basic_app_id);
    add_field(&both, "client_secret", BASIC_SECRET);
    basic_header(basic_app_id, BASIC_SECRET, 1, header, sizeof header);
    answer = token_call_typed("application/x-www-form-urlencoded", both.data, header);
    expect_token_error(&answer, "invalid_request");

    /* None of those spent the code: Basic, done right, redeems it (with a
     * client_id in the body that agrees, which RFC 6749 4.1.3 allows). */
    add_field(&form, "client_id", basic_app_id);
    answer = token_call_typed("application/x-www-form-urlencoded", form.data, header);
    if (answer.status != 200)
        fail_msg("Basic: %ld %s", answer.status, answer.body.data);
    answer_free(&answer);
    free(code);

    /* client_secret_post with the same secret, sent form-encoded. */
    code = allow_for_code_of(basic_app_id, redirect, INSTALL_SCOPES, OWNER_ID);
    buffer_clear(&form);
    code_form(&form, code, redirect);
    add_field(&form, "client_id", basic_app_id);
    add_field(&form, "client_secret", BASIC_SECRET);
    answer = token_call(form.data);
    if (answer.status != 200)
        fail_msg("post: %ld %s", answer.status, answer.body.data);
    answer_free(&answer);
    free(code);
    buffer_free(&both);
    buffer_free(&form);
}

/* A code is bound to its client and redirect_uri (RFC 6749 4.1.3): a
 * missing or other redirect_uri, another client's code, are invalid_grant
 * and burn the code; a parameter given twice is invalid_request. */
static void test_code_is_bound_to_client_and_redirect_uri(void **state)
{
    (void)state;
    register_basic_app();
    char redirect[512];
    redirect_uri("grandservice", redirect, sizeof redirect);
    char header[1024];
    basic_header(basic_app_id, BASIC_SECRET, 1, header, sizeof header);

    /* No redirect_uri: invalid_grant, and the code is gone. */
    char *code = allow_for_code(redirect, INSTALL_SCOPES, OWNER_ID);
    buffer form = BUFFER_INIT;
    code_form(&form, code, NULL);
    add_field(&form, "client_id", app_id);
    add_field(&form, "client_secret", app_secret);
    sim_answer answer = token_call(form.data);
    expect_token_error(&answer, "invalid_grant");
    answer = exchange(code, redirect, app_secret);
    expect_token_error(&answer, "invalid_grant");
    free(code);

    /* The test app's code at the Basic app, properly authenticated. */
    code = allow_for_code(redirect, INSTALL_SCOPES, OWNER_ID);
    buffer_clear(&form);
    code_form(&form, code, redirect);
    answer = token_call_typed("application/x-www-form-urlencoded", form.data, header);
    expect_token_error(&answer, "invalid_grant");
    answer = exchange(code, redirect, app_secret); /* burnt for its own client too */
    expect_token_error(&answer, "invalid_grant");
    free(code);

    /* A parameter twice: which one counts would be a guess. */
    code = allow_for_code(redirect, INSTALL_SCOPES, OWNER_ID);
    buffer_clear(&form);
    code_form(&form, code, redirect);
    add_field(&form, "redirect_uri", redirect);
    add_field(&form, "client_id", app_id);
    add_field(&form, "client_secret", app_secret);
    answer = token_call(form.data);
    expect_token_error(&answer, "invalid_request");
    free(code);
    buffer_free(&form);
}

/* A code redeemed twice revokes everything it led to, rotated refresh
 * tokens and their access tokens included (RFC 6749 4.1.2, 10.5). */
static void test_reused_code_revokes_its_descendants(void **state)
{
    (void)state;
    char redirect[512];
    redirect_uri("grandservice", redirect, sizeof redirect);
    char *code = allow_for_code(redirect, INSTALL_SCOPES, OWNER_ID);
    sim_answer answer = exchange(code, redirect, app_secret);
    assert_int_equal(answer.status, 200);
    cJSON *first = parse_json(&answer);
    answer_free(&answer);
    answer = refresh(json_text(first, "refresh_token"));
    assert_int_equal(answer.status, 200);
    cJSON *second = parse_json(&answer);
    answer_free(&answer);
    const char *access = json_text(second, "access_token");
    assert_int_equal(shop_status(access), 200);
    /* An unrelated grant, which must survive. */
    cJSON *other = tokens_for(INSTALL_SCOPES, OWNER_ID);

    answer = exchange(code, redirect, app_secret);
    expect_token_error(&answer, "invalid_grant");
    assert_int_equal(shop_status(json_text(first, "access_token")), 401);
    assert_int_equal(shop_status(access), 401);
    answer = refresh(json_text(second, "refresh_token"));
    expect_token_error(&answer, "invalid_grant");
    assert_int_equal(shop_status(json_text(other, "access_token")), 200);
    answer = refresh(json_text(other, "refresh_token"));
    assert_int_equal(answer.status, 200);
    answer_free(&answer);
    cJSON_Delete(other);
    cJSON_Delete(second);
    cJSON_Delete(first);
    free(code);
}

/* ---- authorize's refusals (RFC 6749 4.1.2.1, OpenID Connect Core 3.3.2.6) ---- */

/* GET /connect/authorize with `query`. */
static sim_answer authorize_get(const char *query)
{
    buffer path = BUFFER_INIT;
    assert_int_equal(buffer_printf(&path, "/connect/authorize?%s", query), 0);
    sim_answer answer = sim_call("GET", path.data, NULL, NULL, NULL);
    buffer_free(&path);
    return answer;
}

/* The error came back to the app by form_post, with the state. */
static void expect_error_post(const char *query, const char *error, const char *state_value)
{
    char redirect[512];
    redirect_uri("login", redirect, sizeof redirect);
    sim_answer answer = authorize_get(query);
    if (answer.status != 200)
        fail_msg("expected the form_post page, got %ld %s", answer.status, answer.body.data);
    char action[700];
    snprintf(action, sizeof action, "<form method=\"post\" action=\"%s\">", redirect);
    assert_non_null(strstr(answer.body.data, action));
    char *given = hidden_value(answer.body.data, "error");
    char *given_state = hidden_value(answer.body.data, "state");
    if (given == NULL || strcmp(given, error) != 0)
        fail_msg("expected error=%s in: %s", error, answer.body.data);
    assert_non_null(given_state);
    assert_string_equal(given_state, state_value);
    assert_null(hidden_value(answer.body.data, "code"));
    assert_null(hidden_value(answer.body.data, "id_token"));
    free(given);
    free(given_state);
    answer_free(&answer);
}

/* The error came back by a redirect with the fields in the fragment. */
static void expect_error_fragment(const char *query, const char *error, const char *state_value)
{
    char redirect[512];
    redirect_uri("login", redirect, sizeof redirect);
    sim_answer answer = authorize_get(query);
    if (answer.status != 302)
        fail_msg("expected a 302, got %ld %s", answer.status, answer.body.data);
    char expected[800];
    snprintf(expected, sizeof expected, "%s#error=%s&error_description=", redirect, error);
    if (strncmp(answer.location, expected, strlen(expected)) != 0)
        fail_msg("Location %s does not start %s", answer.location, expected);
    char state_part[200];
    snprintf(state_part, sizeof state_part, "&state=%s", state_value);
    assert_non_null(strstr(answer.location, state_part));
    assert_null(strstr(answer.location, "code="));
    assert_null(strstr(answer.body.data, "<form"));
    answer_free(&answer);
}

/* The login request's fields, with `name` left out (value NULL) or set. */
static void authorize_query(buffer *out, const char *name, const char *value)
{
    char redirect[512];
    redirect_uri("login", redirect, sizeof redirect);
    const char *fields[][2] = {{"client_id", app_id},
                               {"redirect_uri", redirect},
                               {"response_type", "code id_token"},
                               {"response_mode", "form_post"},
                               {"scope", LOGIN_SCOPES},
                               {"state", "st-refused"},
                               {"nonce", "n-refused"}};
    buffer_clear(out);
    int replaced = 0;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *given = fields[i][1];
        if (name != NULL && strcmp(fields[i][0], name) == 0) {
            given = value;
            replaced = 1;
        }
        if (given != NULL)
            add_field(out, fields[i][0], given);
    }
    if (name != NULL && !replaced && value != NULL)
        add_field(out, name, value);
}

static void test_authorize_refusals_go_back_as_the_standard_says(void **state)
{
    (void)state;
    buffer query = BUFFER_INIT;
    /* An OpenID request needs the openid scope. */
    authorize_query(&query, "scope", "profile email org");
    expect_error_post(query.data, "invalid_request", "st-refused");
    /* code id_token needs a nonce. */
    authorize_query(&query, "nonce", NULL);
    expect_error_post(query.data, "invalid_request", "st-refused");
    authorize_query(&query, "nonce", "");
    expect_error_post(query.data, "invalid_request", "st-refused");
    /* A scope the server does not know. */
    authorize_query(&query, "scope", LOGIN_SCOPES " admin.everything");
    expect_error_post(query.data, "invalid_scope", "st-refused");
    /* A response_type it does not play. */
    authorize_query(&query, "response_type", "code");
    expect_error_post(query.data, "unsupported_response_type", "st-refused");
    /* A parameter twice. */
    authorize_query(&query, NULL, NULL);
    add_field(&query, "state", "another");
    expect_error_post(query.data, "invalid_request", "st-refused");
    /* A shop that does not exist; a state beyond 2000 characters. */
    authorize_query(&query, "orgid", "999999999");
    expect_error_post(query.data, "invalid_request", "st-refused");
    char long_state[2100];
    memset(long_state, 's', sizeof long_state - 1);
    long_state[sizeof long_state - 1] = '\0';
    authorize_query(&query, "state", long_state);
    sim_answer too_long = authorize_get(query.data);
    assert_int_equal(too_long.status, 200);
    char *refusal = hidden_value(too_long.body.data, "error");
    assert_non_null(refusal);
    assert_string_equal(refusal, "invalid_request");
    free(refusal);
    answer_free(&too_long);
    /* An unknown or unplayed response_mode: no valid mode was asked for, so
     * the error goes back in code id_token's default, the fragment (query
     * is never used with a front-channel token). */
    static const char *const modes[] = {"bogus", "query", "fragment", "FORM_POST", NULL};
    for (size_t i = 0; modes[i] != NULL; i++) {
        authorize_query(&query, "response_mode", modes[i]);
        expect_error_fragment(query.data, "invalid_request", "st-refused");
    }
    authorize_query(&query, "response_mode", NULL);
    expect_error_fragment(query.data, "invalid_request", "st-refused");
    /* But a bad client or redirect_uri never gets a redirect, whatever else:
     * an unregistered redirect_uri, none, no client, a client_id twice. */
    static const char *const untrusted[][2] = {
        {"redirect_uri", "http://evil.example/api/haravan/login"},
        {"redirect_uri", NULL},
        {"client_id", NULL},
        {"client_id", "no-such-client"},
    };
    sim_answer answer;
    for (size_t i = 0; i < 5; i++) {
        if (i < 4) {
            authorize_query(&query, untrusted[i][0], untrusted[i][1]);
        } else {
            authorize_query(&query, NULL, NULL);
            add_field(&query, "client_id", app_id);
        }
        add_field(&query, "response_mode", "bogus");
        answer = authorize_get(query.data);
        if (answer.status != 400 || answer.location[0] != '\0')
            fail_msg("case %zu: %ld Location %s", i, answer.status, answer.location);
        assert_null(strstr(answer.body.data, "<form"));
        answer_free(&answer);
    }
    /* The request as the connector sends it is fine. */
    authorize_query(&query, NULL, NULL);
    answer = authorize_get(query.data);
    assert_int_equal(answer.status, 200);
    assert_non_null(strstr(answer.body.data, "Đồng ý"));
    answer_free(&answer);
    buffer_free(&query);
}

static void test_key_rotation(void **state)
{
    (void)state;
    char redirect[512];
    redirect_uri("login", redirect, sizeof redirect);
    sim_answer page = decide(redirect, LOGIN_SCOPES, OWNER_ID, "allow", "s", "n");
    char *old_token = hidden_value(page.body.data, "id_token");
    assert_non_null(old_token);
    answer_free(&page);
    char old_kid[128];
    EVP_PKEY *old_key = jwks_key(old_kid, sizeof old_kid);

    cJSON *rotated = sim_admin_json("/sim/keys/rotate", "{}");
    char new_kid[128];
    EVP_PKEY *new_key = jwks_key(new_kid, sizeof new_kid);
    assert_string_equal(json_text(rotated, "kid"), new_kid);
    assert_string_not_equal(new_kid, old_kid);
    assert_false(signature_verifies(new_key, old_token));

    page = decide(redirect, LOGIN_SCOPES, OWNER_ID, "allow", "s", "n");
    char *new_token = hidden_value(page.body.data, "id_token");
    assert_non_null(new_token);
    assert_true(signature_verifies(new_key, new_token));
    cJSON *header = token_part(new_token, 0);
    assert_string_equal(json_text(header, "kid"), new_kid);

    cJSON_Delete(header);
    cJSON_Delete(rotated);
    free(old_token);
    free(new_token);
    answer_free(&page);
    EVP_PKEY_free(old_key);
    EVP_PKEY_free(new_key);
}

static long subscribe_call(const char *method, const char *access_token, cJSON **document)
{
    sim_answer answer = sim_call(method, "/api/subscribe", access_token, NULL, NULL);
    long status = answer.status;
    *document = parse_json(&answer);
    answer_free(&answer);
    return status;
}

static void test_staff_gets_no_webhook_scopes(void **state)
{
    (void)state;
    cJSON *tokens = tokens_for(INSTALL_SCOPES, STAFF_ID);
    const char *scope = json_text(tokens, "scope");
    assert_null(strstr(scope, "wh_api"));
    assert_null(strstr(scope, "grant_service"));
    assert_non_null(strstr(scope, "com.read_orders"));
    cJSON *claims = token_part(json_text(tokens, "id_token"), 1);
    assert_string_equal(json_text(claims, "role"), "staff");
    cJSON *document = NULL;
    assert_int_equal(subscribe_call("POST", json_text(tokens, "access_token"), &document), 403);
    assert_string_equal(json_text(document, "error"), "forbidden");
    cJSON_Delete(document);
    assert_int_equal(subscribe_call("GET", "not-a-token", &document), 401);
    cJSON_Delete(document);
    cJSON_Delete(claims);
    cJSON_Delete(tokens);
}

/* Seeded tokens were issued to no app: they act for the first app
 * registered, the stack's, whose verify token is empty, which the
 * connector never accepts. */
static void test_seeded_tokens_at_subscribe(void **state)
{
    (void)state;
    cJSON *document = NULL;
    assert_int_equal(subscribe_call("POST", "sim-token-1000114691-orders-only", &document), 403);
    assert_string_equal(json_text(document, "error"), "forbidden");
    cJSON_Delete(document);
    assert_int_equal(subscribe_call("POST", it_env("HARAVAN_SIM_TOKEN"), &document), 400);
    assert_string_equal(json_text(document, "error"), "verify_failed");
    cJSON_Delete(document);
    assert_int_equal(subscribe_call("GET", it_env("HARAVAN_SIM_TOKEN"), &document), 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(document, "data")), 0);
    cJSON_Delete(document);
}

static cJSON *fire(const char *extra)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"topic\":\"" FIRE_TOPIC "\",\"org_id\":" SEED_ORG ",\"sample\":\"" FIRE_SAMPLE
             "\"%s}",
             extra);
    return sim_admin_json("/sim/fire", json);
}

static void test_subscribe_handshake_fire_unsubscribe(void **state)
{
    (void)state;
    const char *events_sql =
        "SELECT count(*) FROM hv_events WHERE org_id = $1 AND topic = '" FIRE_TOPIC
        "' AND resource_id = '" FIRE_RESOURCE "'";
    assert_int_equal(it_ctl("settings set verify_token it-verify-right > /dev/null"), 0);
    register_app("it-verify-wrong");
    cJSON *tokens = tokens_for(INSTALL_SCOPES, OWNER_ID);
    const char *access_token = json_text(tokens, "access_token");
    snprintf(subscribed_token, sizeof subscribed_token, "%s", access_token);

    /* The connector answers 401 to the wrong verify token. */
    cJSON *document = NULL;
    assert_int_equal(subscribe_call("POST", access_token, &document), 400);
    assert_string_equal(json_text(document, "error"), "verify_failed");
    assert_non_null(strstr(json_text(document, "message"), "401"));
    cJSON_Delete(document);
    assert_int_equal(subscribe_call("GET", access_token, &document), 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(document, "data")), 0);
    cJSON_Delete(document);

    /* The right one: subscribed and listed. */
    register_app("it-verify-right");
    assert_int_equal(subscribe_call("POST", access_token, &document), 200);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(document, "data");
    char callback[512];
    redirect_uri("webhook", callback, sizeof callback);
    assert_string_equal(json_text(data, "callback_url"), callback);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(data, "org_id")->valuedouble, 1000114691);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(data, "topics")), 2);
    json_text(data, "created_at");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(document, "error")));
    cJSON_Delete(document);
    assert_int_equal(subscribe_call("GET", access_token, &document), 200);
    data = cJSON_GetObjectItemCaseSensitive(document, "data");
    assert_int_equal(cJSON_GetArraySize(data), 1);
    assert_string_equal(json_text(cJSON_GetArrayItem(data, 0), "callback_url"), callback);
    cJSON_Delete(document);

    /* A delivery the connector takes: signed with the app's secret. */
    char command[256];
    snprintf(command, sizeof command, "settings set client_secret '%s' > /dev/null", app_secret);
    assert_int_equal(it_ctl(command), 0);
    long long before = it_scalar(events_sql, SEED_ORG);
    cJSON *fired = fire("");
    const cJSON *deliveries = cJSON_GetObjectItemCaseSensitive(fired, "deliveries");
    assert_int_equal(cJSON_GetArraySize(deliveries), 1);
    const cJSON *delivery = cJSON_GetArrayItem(deliveries, 0);
    assert_string_equal(json_text(delivery, "callback_url"), callback);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(delivery, "status")->valuedouble, 200);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(delivery, "attempts")->valuedouble, 1);
    cJSON_Delete(fired);
    /* On a fresh stack it is a new row; a re-run on the same stack meets
     * the connector's dedupe, and the row is the earlier one. */
    if (before == 0)
        assert_int_equal(it_scalar(events_sql, SEED_ORG), 1);
    const char *newest =
        it_text("SELECT id FROM hv_events WHERE org_id = $1 AND topic = '" FIRE_TOPIC
                "' AND resource_id = '" FIRE_RESOURCE "' ORDER BY id DESC LIMIT 1",
                SEED_ORG, NULL);
    assert_non_null(newest);
    char id[32];
    snprintf(id, sizeof id, "%s", newest); /* it_text's buffer is reused below */
    const char *status = it_wait_processed(strtoll(id, NULL, 10));
    assert_string_not_equal(status, "dead");
    const char *topic_header = it_text(
        "SELECT headers->>'X-Haravan-Topic' FROM hv_events WHERE id = $1::bigint", id, NULL);
    assert_non_null(topic_header);
    assert_string_equal(topic_header, FIRE_TOPIC);

    /* Refused (another secret at the connector): redelivered, then given up. */
    cJSON_Delete(sim_admin_json("/sim/config", "{\"delivery_retries\":2}"));
    assert_int_equal(it_ctl("settings set client_secret it-other-secret > /dev/null"), 0);
    /* Setting a secret keeps the old one as the previous (rotation). */
    assert_int_equal(it_ctl("settings unset client_secret_previous > /dev/null"), 0);
    fired = fire("");
    delivery = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(fired, "deliveries"), 0);
    assert_non_null(delivery);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(delivery, "attempts")->valuedouble, 3);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(delivery, "status")->valuedouble, 401);
    cJSON_Delete(fired);
    cJSON_Delete(sim_admin_json("/sim/config", "{\"delivery_retries\":3}"));

    /* Unsubscribed: nothing listed, nothing delivered. */
    assert_int_equal(subscribe_call("DELETE", access_token, &document), 200);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(document, "data")));
    cJSON_Delete(document);
    assert_int_equal(subscribe_call("GET", access_token, &document), 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(document, "data")), 0);
    cJSON_Delete(document);
    fired = fire("");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(fired, "deliveries")), 0);
    cJSON_Delete(fired);
    cJSON_Delete(tokens);
    register_app("");
}

/* A restart forgets everything but the seed: stack.sh sim-start registers
 * the stack's app again, with the same id and secret. Last, since it also
 * forgets this file's app. */
static void test_restart_registers_the_app_again(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "/sim/apps/%s", it_env("HARAVAN_SIM_CLIENT_ID"));
    char kid_before[128];
    EVP_PKEY *key = jwks_key(kid_before, sizeof kid_before);
    EVP_PKEY_free(key);
    assert_int_equal(it_stack("sim-stop"), 0);
    assert_int_equal(it_stack("sim-start"), 0);
    sim_answer answer = sim_call("GET", path, NULL, NULL, NULL);
    assert_int_equal(answer.status, 200);
    cJSON *app = parse_json(&answer);
    assert_string_equal(json_text(app, "client_secret"), it_env("HARAVAN_SIM_CLIENT_SECRET"));
    cJSON_Delete(app);
    answer_free(&answer);
    snprintf(path, sizeof path, "/sim/apps/%s", app_id);
    answer = sim_call("GET", path, NULL, NULL, NULL);
    assert_int_equal(answer.status, 404);
    answer_free(&answer);
    char kid_after[128];
    key = jwks_key(kid_after, sizeof kid_after);
    EVP_PKEY_free(key);
    assert_string_not_equal(kid_after, kid_before);
    subscribed_token[0] = '\0'; /* the restart forgot the subscription */
}

static int teardown(void **state)
{
    (void)state;
    if (subscribed_token[0] != '\0') {
        sim_answer answer = sim_call("DELETE", "/api/subscribe", subscribed_token, NULL, NULL);
        answer_free(&answer);
    }
    return 0;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stack_registered_its_app),
        cmocka_unit_test(test_discovery),
        cmocka_unit_test(test_unregistered_redirect_refused),
        cmocka_unit_test(test_portal_page_sets_the_webhook),
        cmocka_unit_test(test_consent_page),
        cmocka_unit_test(test_allow_posts_back_a_verifiable_id_token),
        cmocka_unit_test(test_deny_posts_back_access_denied),
        cmocka_unit_test(test_code_exchange),
        cmocka_unit_test(test_refresh_rotation_revocation_expiry),
        cmocka_unit_test(test_token_endpoint_takes_form_bodies_only),
        cmocka_unit_test(test_client_authentication_methods),
        cmocka_unit_test(test_code_is_bound_to_client_and_redirect_uri),
        cmocka_unit_test(test_reused_code_revokes_its_descendants),
        cmocka_unit_test(test_authorize_refusals_go_back_as_the_standard_says),
        cmocka_unit_test(test_key_rotation),
        cmocka_unit_test(test_staff_gets_no_webhook_scopes),
        cmocka_unit_test(test_seeded_tokens_at_subscribe),
        cmocka_unit_test(test_subscribe_handshake_fire_unsubscribe),
        cmocka_unit_test(test_restart_registers_the_app_again),
    };
    int failures = cmocka_run_group_tests_name("sim_accounts", tests, setup, teardown);
    curl_global_cleanup();
    return failures;
}
