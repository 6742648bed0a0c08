/*
 * Unit tests for the parts of lib/haravan/oidc and token_refresh that need
 * no server: reading token endpoint answers (success, invalid_grant told
 * apart from other OAuth errors, 5xx, junk, secrets kept out of messages),
 * checking discovery documents (issuer, https endpoints), building the
 * authorize URL, and when a token is due for refresh.
 *
 * The exchanges themselves run against the simulator in
 * tests/integration/test_connect.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/form.h"
#include "haravan/oidc.h"
#include "haravan/token_refresh.h"

static hv_oidc_status read_answer(long status, const char *body, hv_oidc_tokens *tokens,
                                  char *error, size_t error_size)
{
    static const char *const secrets[] = {"the-refresh-token", "the-client-secret", NULL};
    return hv_oidc_read_token_answer(status, body, strlen(body), secrets, tokens, error,
                                     error_size);
}

static void test_token_answer_success(void **state)
{
    (void)state;
    hv_oidc_tokens tokens;
    char error[256];
    assert_int_equal(read_answer(200,
                                 "{\"access_token\":\"at-1\",\"token_type\":\"Bearer\","
                                 "\"expires_in\":3600,\"refresh_token\":\"rt-1\","
                                 "\"id_token\":\"a.b.c\",\"scope\":\"openid wh_api\"}",
                                 &tokens, error, sizeof error),
                     HV_OIDC_OK);
    assert_string_equal(tokens.access_token, "at-1");
    assert_string_equal(tokens.refresh_token, "rt-1");
    assert_string_equal(tokens.id_token, "a.b.c");
    assert_string_equal(tokens.scope, "openid wh_api");
    assert_int_equal(tokens.expires_in, 3600);
    hv_oidc_tokens_free(&tokens);
    assert_null(tokens.access_token);
    hv_oidc_tokens_free(&tokens); /* twice is safe */

    /* No refresh token, expires_in as a string, no scope: all [open]. */
    assert_int_equal(read_answer(200, "{\"access_token\":\"at-2\",\"expires_in\":\"7200\"}",
                                 &tokens, error, sizeof error),
                     HV_OIDC_OK);
    assert_null(tokens.refresh_token);
    assert_null(tokens.scope);
    assert_int_equal(tokens.expires_in, 7200);
    hv_oidc_tokens_free(&tokens);
    assert_int_equal(read_answer(200, "{\"access_token\":\"at-3\"}", &tokens, error, sizeof error),
                     HV_OIDC_OK);
    assert_int_equal(tokens.expires_in, 0);
    hv_oidc_tokens_free(&tokens);
}

static void test_token_answer_errors(void **state)
{
    (void)state;
    hv_oidc_tokens tokens;
    char error[256];
    assert_int_equal(read_answer(400,
                                 "{\"error\":\"invalid_grant\",\"error_description\":"
                                 "\"unknown, revoked or spent refresh token\"}",
                                 &tokens, error, sizeof error),
                     HV_OIDC_INVALID_GRANT);
    assert_non_null(strstr(error, "invalid_grant"));
    assert_non_null(strstr(error, "revoked"));
    assert_null(tokens.access_token);
    assert_int_equal(
        read_answer(400, "{\"error\":\"invalid_client\"}", &tokens, error, sizeof error),
        HV_OIDC_REFUSED);
    assert_int_equal(
        read_answer(401, "{\"error\":\"unauthorized_client\"}", &tokens, error, sizeof error),
        HV_OIDC_REFUSED);
    assert_int_equal(
        read_answer(400, "{\"error\":\"unsupported_grant_type\"}", &tokens, error, sizeof error),
        HV_OIDC_REFUSED);
    /* A description that repeats a secret is left out of the message. */
    assert_int_equal(read_answer(400,
                                 "{\"error\":\"invalid_grant\",\"error_description\":"
                                 "\"token the-refresh-token is revoked\"}",
                                 &tokens, error, sizeof error),
                     HV_OIDC_INVALID_GRANT);
    assert_null(strstr(error, "the-refresh-token"));
    /* Not OAuth: the service is down or something in between answered. */
    assert_int_equal(read_answer(500, "{\"error\":\"server_error\"}", &tokens, error, sizeof error),
                     HV_OIDC_UNAVAILABLE);
    assert_int_equal(read_answer(502, "<html>Bad gateway</html>", &tokens, error, sizeof error),
                     HV_OIDC_UNAVAILABLE);
    assert_int_equal(read_answer(400, "{\"message\":\"no\"}", &tokens, error, sizeof error),
                     HV_OIDC_UNAVAILABLE);
    assert_int_equal(
        read_answer(400, "{\"error\":\"Invalid Grant!\"}", &tokens, error, sizeof error),
        HV_OIDC_UNAVAILABLE);
    assert_int_equal(read_answer(200, "not json", &tokens, error, sizeof error),
                     HV_OIDC_UNAVAILABLE);
    assert_int_equal(read_answer(200, "{\"token_type\":\"Bearer\"}", &tokens, error, sizeof error),
                     HV_OIDC_UNAVAILABLE);
    assert_int_equal(read_answer(200, "{\"access_token\":7}", &tokens, error, sizeof error),
                     HV_OIDC_UNAVAILABLE);
    assert_int_equal(read_answer(200, "{\"access_token\":\"a\",\"expires_in\":-5}", &tokens, error,
                                 sizeof error),
                     HV_OIDC_UNAVAILABLE);
    assert_int_equal(read_answer(200, "{\"access_token\":\"a\",\"expires_in\":\"1h\"}", &tokens,
                                 error, sizeof error),
                     HV_OIDC_UNAVAILABLE);
    assert_null(tokens.access_token);
}

static const char discovery[] =
    "{\"issuer\":\"https://accounts.haravan.com\","
    "\"authorization_endpoint\":\"https://accounts.haravan.com/connect/authorize\","
    "\"token_endpoint\":\"https://accounts.haravan.com/connect/token\","
    "\"jwks_uri\":\"https://accounts.haravan.com/.well-known/openid-configuration/jwks\"}";

static void test_discovery_checks(void **state)
{
    (void)state;
    hv_http http;
    hv_oidc oidc;
    char error[256];
    assert_int_equal(hv_http_init(&http, NULL, error, sizeof error), 0);
    assert_int_equal(
        hv_oidc_init(&oidc, &http, "https://accounts.haravan.com/", error, sizeof error), 0);
    assert_string_equal(oidc.accounts_url, "https://accounts.haravan.com");
    assert_int_equal(
        hv_oidc_read_discovery(&oidc, discovery, strlen(discovery), error, sizeof error),
        HV_OIDC_OK);
    assert_string_equal(oidc.token_endpoint, "https://accounts.haravan.com/connect/token");

    static const char *const refused[] = {
        "[]",
        "{\"issuer\":\"https://evil.test\",\"authorization_endpoint\":\"https://a/x\","
        "\"token_endpoint\":\"https://a/t\",\"jwks_uri\":\"https://a/j\"}",
        "{\"issuer\":\"https://accounts.haravan.com\",\"authorization_endpoint\":\"https://a/x\","
        "\"token_endpoint\":\"http://a/t\",\"jwks_uri\":\"https://a/j\"}",
        "{\"issuer\":\"https://accounts.haravan.com\",\"authorization_endpoint\":\"https://a/x\","
        "\"jwks_uri\":\"https://a/j\"}",
        "{\"issuer\":\"https://accounts.haravan.com\",\"authorization_endpoint\":\"https://a/x\","
        "\"token_endpoint\":\"javascript:alert(1)\",\"jwks_uri\":\"https://a/j\"}",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        if (hv_oidc_read_discovery(&oidc, refused[i], strlen(refused[i]), error, sizeof error) ==
            HV_OIDC_OK)
            fail_msg("discovery document %zu accepted", i);
        /* The good document stays. */
        assert_string_equal(oidc.token_endpoint, "https://accounts.haravan.com/connect/token");
    }
    /* A trailing slash on the issuer is the same issuer. */
    static const char slash[] =
        "{\"issuer\":\"https://accounts.haravan.com/\","
        "\"authorization_endpoint\":\"https://accounts.haravan.com/connect/authorize\","
        "\"token_endpoint\":\"https://accounts.haravan.com/connect/token\","
        "\"jwks_uri\":\"https://accounts.haravan.com/jwks\"}";
    assert_int_equal(hv_oidc_read_discovery(&oidc, slash, strlen(slash), error, sizeof error),
                     HV_OIDC_OK);
    hv_oidc_free(&oidc);

    /* Over http (the simulator), http endpoints are fine. */
    assert_int_equal(hv_oidc_init(&oidc, &http, "http://127.0.0.1:9", error, sizeof error), 0);
    static const char plain[] =
        "{\"issuer\":\"http://127.0.0.1:9\","
        "\"authorization_endpoint\":\"http://127.0.0.1:9/connect/authorize\","
        "\"token_endpoint\":\"http://127.0.0.1:9/connect/token\","
        "\"jwks_uri\":\"http://127.0.0.1:9/jwks\"}";
    assert_int_equal(hv_oidc_read_discovery(&oidc, plain, strlen(plain), error, sizeof error),
                     HV_OIDC_OK);
    hv_oidc_free(&oidc);
    hv_http_free(&http);
}

static void test_authorize_url(void **state)
{
    (void)state;
    hv_http http;
    hv_oidc oidc;
    char error[256];
    assert_int_equal(hv_http_init(&http, NULL, error, sizeof error), 0);
    assert_int_equal(
        hv_oidc_init(&oidc, &http, "https://accounts.haravan.com", error, sizeof error), 0);
    assert_int_equal(
        hv_oidc_read_discovery(&oidc, discovery, strlen(discovery), error, sizeof error),
        HV_OIDC_OK);
    hv_oidc_authorize params = {.client_id = "crm app",
                                .redirect_uri = "https://crm.example.vn/api/haravan/login",
                                .scope = "openid profile email org userinfo",
                                .state = "s-1_x",
                                .nonce = "n~2",
                                .orgid = "1000114691"};
    buffer url = BUFFER_INIT;
    assert_int_equal(hv_oidc_authorize_url(&oidc, &params, &url, error, sizeof error), HV_OIDC_OK);
    assert_string_equal(url.data,
                        "https://accounts.haravan.com/connect/authorize?"
                        "response_type=code%20id_token&response_mode=form_post"
                        "&client_id=crm%20app"
                        "&redirect_uri=https%3A%2F%2Fcrm.example.vn%2Fapi%2Fharavan%2Flogin"
                        "&scope=openid%20profile%20email%20org%20userinfo"
                        "&state=s-1_x&nonce=n~2&orgid=1000114691");
    /* It reads back as the same parameters. */
    form query;
    const char *start = strchr(url.data, '?') + 1;
    assert_int_equal(form_parse(&query, start, strlen(start)), 0);
    assert_string_equal(form_get(&query, "response_type"), "code id_token");
    assert_string_equal(form_get(&query, "redirect_uri"), params.redirect_uri);
    form_free(&query);
    buffer_free(&url);
    params.nonce = NULL;
    assert_int_equal(hv_oidc_authorize_url(&oidc, &params, &url, error, sizeof error),
                     HV_OIDC_INTERNAL);
    buffer_free(&url);
    hv_oidc_free(&oidc);
    hv_http_free(&http);
}

static void test_refresh_ahead(void **state)
{
    (void)state;
    /* An hour: 10 minutes ahead. A day: 10 % (2.4 h). Unknown: 10 min. */
    assert_true(hv_token_refresh_ahead(3600) == 600);
    assert_true(hv_token_refresh_ahead(86400) == 8640);
    assert_true(hv_token_refresh_ahead(0) == 600);
    assert_true(hv_token_refresh_ahead(-1) == 600);
    /* Short tokens: never before half the lifetime, else a token would be
     * due again the moment it was issued. */
    assert_true(hv_token_refresh_ahead(60) == 30);
    assert_true(hv_token_refresh_ahead(1000) == 500);
    assert_true(hv_token_refresh_ahead(1200) == 600);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_answer_success), cmocka_unit_test(test_token_answer_errors),
        cmocka_unit_test(test_discovery_checks),     cmocka_unit_test(test_authorize_url),
        cmocka_unit_test(test_refresh_ahead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
