/*
 * fuzz_jwks: the documents the accounts service sends back
 * (haravan/jwks.h, haravan/oidc.h): a JSON Web Key Set, the discovery
 * document and a token endpoint's answer. They come over TLS from
 * Haravan, but a bug there must not become a crash in every worker.
 *
 * Besides "no crash, no leak, no undefined behaviour":
 * - a key set that parses has 1 to HV_JWKS_MAX_KEYS keys, each with a kid
 *   that hv_jwks_find() finds, and a kid-less lookup answers only for a
 *   set of one key;
 * - a discovery document is accepted only when its issuer is the
 *   configured https URL (up to trailing '/') and every endpoint is https,
 *   as oidc.h promises ("a tampered document cannot send codes or secrets
 *   elsewhere");
 * - a token answer that is accepted holds an access token, and an error
 *   message never holds the grant or the client secret, whatever the
 *   answer says.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "haravan/http.h"
#include "haravan/jwks.h"
#include "haravan/oidc.h"

#define ACCOUNTS_URL "https://accounts.haravan.com"

static hv_http http;
static const char *const secrets[] = {"SplxlOBeZQQYbYS6WxSbIA", "crm-client-secret-9f1c", NULL};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char error[256];
    if (hv_http_init(&http, NULL, error, sizeof error) != 0) {
        fprintf(stderr, "fuzz_jwks: %s\n", error);
        exit(1);
    }
    return 0;
}

static void check_key_set(const char *text, size_t length)
{
    hv_jwks set;
    char error[256];
    if (hv_jwks_parse(&set, text, length, error, sizeof error) != 0) {
        if (set.count != 0)
            abort();
        return;
    }
    if (set.count == 0 || set.count > HV_JWKS_MAX_KEYS)
        abort();
    for (size_t i = 0; i < set.count; i++)
        if (set.keys[i].key == NULL || hv_jwks_find(&set, set.keys[i].kid) == NULL)
            abort();
    if ((hv_jwks_find(&set, NULL) != NULL) != (set.count == 1))
        abort();
    hv_jwks_free(&set);
}

static int https_endpoint(const char *url)
{
    return url != NULL && strncmp(url, "https://", 8) == 0 && url[8] != '\0';
}

static void check_discovery(const char *text, size_t length)
{
    hv_oidc oidc;
    char error[256];
    if (hv_oidc_init(&oidc, &http, ACCOUNTS_URL, error, sizeof error) != 0)
        abort();
    if (hv_oidc_read_discovery(&oidc, text, length, error, sizeof error) == HV_OIDC_OK) {
        size_t issuer = strlen(oidc.issuer);
        while (issuer > 0 && oidc.issuer[issuer - 1] == '/')
            issuer--;
        if (issuer != strlen(ACCOUNTS_URL) || strncmp(oidc.issuer, ACCOUNTS_URL, issuer) != 0 ||
            !https_endpoint(oidc.authorization_endpoint) || !https_endpoint(oidc.token_endpoint) ||
            !https_endpoint(oidc.jwks_uri))
            abort();
    }
    hv_oidc_free(&oidc);
}

static void check_token_answer(long status, const char *text, size_t length)
{
    hv_oidc_tokens tokens;
    char error[512] = "";
    hv_oidc_status result =
        hv_oidc_read_token_answer(status, text, length, secrets, &tokens, error, sizeof error);
    if (result == HV_OIDC_OK && tokens.access_token == NULL)
        abort();
    if (result != HV_OIDC_OK)
        for (size_t i = 0; secrets[i] != NULL; i++)
            if (strstr(error, secrets[i]) != NULL)
                abort();
    hv_oidc_tokens_free(&tokens);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size > 0 ? size : 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    check_key_set(text, size);
    check_discovery(text, size);
    check_token_answer(200, text, size);
    check_token_answer(400, text, size);
    check_token_answer(503, text, size);
    free(text);
    return 0;
}
