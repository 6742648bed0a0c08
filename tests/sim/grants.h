/*
 * grants: what accounts.haravan.com remembers between the steps of the
 * OpenID Connect flow: authorization codes (single use, 5 minutes, bound to
 * the client, the redirect_uri, the scopes, the nonce and the user) and
 * refresh tokens (bound to the client, revocable).
 *
 * Every refresh token remembers the code it descends from (its family,
 * through any number of rotations), so that a code redeemed a second time
 * can take back everything it issued (RFC 6749 section 4.1.2: the code may
 * have been stolen, and either party may be the thief).
 *
 * Pure bookkeeping with the clock passed in (sim_now() seconds), so that
 * the rules (a code redeemed twice, a code past its life, a code of another
 * client) are unit tested without a server. Lookups are linear: a test run
 * holds a handful of grants, and expired codes are dropped on every issue,
 * which keeps memory bounded; SIM_MAX_GRANTS caps the rest.
 *
 * Ownership: the grants own every record; sim_grants_add_* copy the
 * strings they are given. Pointers returned stay valid until the next
 * add, rotate or sim_grants_free().
 */
#ifndef HARAVAN_SIM_GRANTS_H
#define HARAVAN_SIM_GRANTS_H

#include <stddef.h>

#define SIM_CODE_LIFETIME_SECONDS 300.0
#define SIM_MAX_GRANTS            100000

typedef struct sim_code {
    char *code;
    char *client_id;
    char *redirect_uri;
    char *scopes; /* granted, space separated */
    char *nonce;
    long long org_id;
    long long user_id;
    double expires_at;
    int used;
} sim_code;

typedef struct sim_refresh {
    char *token;
    char *client_id;
    char *scopes;
    char *family; /* the code it descends from; "" when none */
    long long org_id;
    long long user_id;
    int revoked;
} sim_refresh;

typedef struct sim_grants {
    sim_code *codes;
    size_t code_count;
    sim_refresh *refreshes;
    size_t refresh_count;
} sim_grants;

/* What a new code or refresh token is issued for; the strings are
 * copied. */
typedef struct sim_grant_fields {
    const char *token; /* the code or refresh token itself */
    const char *client_id;
    const char *redirect_uri; /* codes only */
    const char *scopes;
    const char *nonce;  /* codes only */
    const char *family; /* refresh tokens only: the code they descend from */
    long long org_id;
    long long user_id;
} sim_grant_fields;

enum sim_code_check {
    SIM_CODE_OK = 0,
    SIM_CODE_UNKNOWN,      /* never issued (or dropped after expiry) */
    SIM_CODE_USED,         /* redeemed before: single use */
    SIM_CODE_EXPIRED,      /* older than SIM_CODE_LIFETIME_SECONDS */
    SIM_CODE_WRONG_CLIENT, /* issued to another client_id */
    SIM_CODE_WRONG_REDIRECT,
};

/* Records a code issued at `now`. Returns 0, or -1 (memory, or too many
 * grants). */
int sim_grants_add_code(sim_grants *grants, const sim_grant_fields *fields, double now);

/* Redeems `code` for `client_id` and `redirect_uri` at `now`. On
 * SIM_CODE_OK the code is marked used and *out points at it; a code that
 * was presented with the wrong client or redirect_uri is burnt as well
 * (it may have leaked). */
enum sim_code_check sim_grants_redeem_code(sim_grants *grants, const char *code,
                                           const char *client_id, const char *redirect_uri,
                                           double now, const sim_code **out);

/* Records a refresh token. Returns 0 or -1. */
int sim_grants_add_refresh(sim_grants *grants, const sim_grant_fields *fields);

/* The usable refresh token `token` of `client_id`, or NULL (unknown,
 * another client's, or revoked). */
sim_refresh *sim_grants_refresh(sim_grants *grants, const char *token, const char *client_id);

/* Revokes `token`. Returns 1 when it was known, else 0. */
int sim_grants_revoke_refresh(sim_grants *grants, const char *token);

/* Revokes every refresh token descending from the code `family`. Returns
 * how many were usable until now. */
size_t sim_grants_revoke_family(sim_grants *grants, const char *family);

void sim_grants_free(sim_grants *grants);

#endif
