/*
 * grants: authorization codes and refresh tokens. See grants.h.
 *
 * A used code is kept until it expires rather than dropped at once, so
 * that its second use is told apart from a code never issued (both answer
 * invalid_grant; the simulator's log says which).
 */
#define _POSIX_C_SOURCE 200809L
#include "grants.h"

#include <stdlib.h>
#include <string.h>

static char *copy_text(const char *text)
{
    return strdup(text != NULL ? text : "");
}

static void code_free(sim_code *code)
{
    free(code->code);
    free(code->client_id);
    free(code->redirect_uri);
    free(code->scopes);
    free(code->nonce);
}

static void refresh_free(sim_refresh *refresh)
{
    free(refresh->token);
    free(refresh->client_id);
    free(refresh->scopes);
    free(refresh->family);
}

static void drop_expired_codes(sim_grants *grants, double now)
{
    size_t i = 0;
    while (i < grants->code_count) {
        if (now >= grants->codes[i].expires_at) {
            code_free(&grants->codes[i]);
            grants->codes[i] = grants->codes[--grants->code_count];
        } else {
            i++;
        }
    }
}

int sim_grants_add_code(sim_grants *grants, const sim_grant_fields *fields, double now)
{
    drop_expired_codes(grants, now);
    if (grants->code_count >= SIM_MAX_GRANTS || fields->token == NULL)
        return -1;
    sim_code record = {
        .code = copy_text(fields->token),
        .client_id = copy_text(fields->client_id),
        .redirect_uri = copy_text(fields->redirect_uri),
        .scopes = copy_text(fields->scopes),
        .nonce = copy_text(fields->nonce),
        .org_id = fields->org_id,
        .user_id = fields->user_id,
        .expires_at = now + SIM_CODE_LIFETIME_SECONDS,
    };
    sim_code *grown = realloc(grants->codes, (grants->code_count + 1) * sizeof *grown);
    if (grown != NULL)
        grants->codes = grown;
    if (grown == NULL || record.code == NULL || record.client_id == NULL ||
        record.redirect_uri == NULL || record.scopes == NULL || record.nonce == NULL) {
        code_free(&record);
        return -1;
    }
    grants->codes[grants->code_count++] = record;
    return 0;
}

enum sim_code_check sim_grants_redeem_code(sim_grants *grants, const char *code,
                                           const char *client_id, const char *redirect_uri,
                                           double now, const sim_code **out)
{
    *out = NULL;
    for (size_t i = 0; i < grants->code_count; i++) {
        sim_code *record = &grants->codes[i];
        if (strcmp(record->code, code) != 0)
            continue;
        if (record->used)
            return SIM_CODE_USED;
        if (now >= record->expires_at)
            return SIM_CODE_EXPIRED;
        record->used = 1;
        if (strcmp(record->client_id, client_id) != 0)
            return SIM_CODE_WRONG_CLIENT;
        if (strcmp(record->redirect_uri, redirect_uri) != 0)
            return SIM_CODE_WRONG_REDIRECT;
        *out = record;
        return SIM_CODE_OK;
    }
    return SIM_CODE_UNKNOWN;
}

int sim_grants_add_refresh(sim_grants *grants, const sim_grant_fields *fields)
{
    if (grants->refresh_count >= SIM_MAX_GRANTS || fields->token == NULL)
        return -1;
    sim_refresh record = {
        .token = copy_text(fields->token),
        .client_id = copy_text(fields->client_id),
        .scopes = copy_text(fields->scopes),
        .family = copy_text(fields->family),
        .org_id = fields->org_id,
        .user_id = fields->user_id,
    };
    sim_refresh *grown = realloc(grants->refreshes, (grants->refresh_count + 1) * sizeof *grown);
    if (grown != NULL)
        grants->refreshes = grown;
    if (grown == NULL || record.token == NULL || record.client_id == NULL ||
        record.scopes == NULL || record.family == NULL) {
        refresh_free(&record);
        return -1;
    }
    grants->refreshes[grants->refresh_count++] = record;
    return 0;
}

static sim_refresh *find_refresh(sim_grants *grants, const char *token)
{
    for (size_t i = 0; i < grants->refresh_count; i++)
        if (strcmp(grants->refreshes[i].token, token) == 0)
            return &grants->refreshes[i];
    return NULL;
}

sim_refresh *sim_grants_refresh(sim_grants *grants, const char *token, const char *client_id)
{
    sim_refresh *refresh = find_refresh(grants, token);
    if (refresh == NULL || refresh->revoked || strcmp(refresh->client_id, client_id) != 0)
        return NULL;
    return refresh;
}

int sim_grants_revoke_refresh(sim_grants *grants, const char *token)
{
    sim_refresh *refresh = find_refresh(grants, token);
    if (refresh == NULL)
        return 0;
    refresh->revoked = 1;
    return 1;
}

size_t sim_grants_revoke_family(sim_grants *grants, const char *family)
{
    size_t revoked = 0;
    for (size_t i = 0; family != NULL && family[0] != '\0' && i < grants->refresh_count; i++) {
        sim_refresh *refresh = &grants->refreshes[i];
        if (strcmp(refresh->family, family) == 0 && !refresh->revoked) {
            refresh->revoked = 1;
            revoked++;
        }
    }
    return revoked;
}

void sim_grants_free(sim_grants *grants)
{
    for (size_t i = 0; i < grants->code_count; i++)
        code_free(&grants->codes[i]);
    for (size_t i = 0; i < grants->refresh_count; i++)
        refresh_free(&grants->refreshes[i]);
    free(grants->codes);
    free(grants->refreshes);
    memset(grants, 0, sizeof *grants);
}
