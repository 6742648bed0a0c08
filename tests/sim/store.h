/*
 * store: the simulator's shops, their data and the access tokens, in
 * memory.
 *
 * The simulator runs as one process so that this one copy is the truth
 * for every request: rate-limit buckets and data changed through /sim/
 * are seen by the next call at once. Records are Haravan's own JSON
 * objects (cJSON), kept in arrays sorted by id ascending, which is the
 * order Haravan lists them in; a listing filters and pages over them.
 *
 * Seed directory layout (tests/sim/seed/):
 *     tokens.json            {"tokens":[{"token","org_id","scopes"}]}
 *     {org id}/shop.json     {"shop":{...}}          (Haravan's wrappers, so
 *     {org id}/users.json    {"users":[...]}          each file is a real
 *     {org id}/orders.json   {"orders":[...]}         response body)
 *     {org id}/customers.json {"customers":[...]}
 * A missing file of a shop means no records of that kind.
 *
 * Ownership: the store owns every record, token and org; pointers it
 * returns stay valid until the record is replaced or the store is freed.
 * sim_store_put() takes ownership of the item it is given, in every case.
 */
#ifndef HARAVAN_SIM_STORE_H
#define HARAVAN_SIM_STORE_H

#include <stddef.h>

#include <cJSON.h>

#include "bucket.h"
#include "core/buffer.h"

#define SIM_MAX_TOKEN_LENGTH 512

typedef struct sim_org {
    long long id; /* the org id: Haravan's key for a shop */
    cJSON *shop;  /* object */
    cJSON *users; /* arrays, sorted by "id" ascending */
    cJSON *orders;
    cJSON *customers;
    sim_bucket bucket;
    sim_bucket_counts bucket_counts; /* since the last /sim/reset of the counters */
} sim_org;

typedef struct sim_token {
    char *token;
    long long org_id;
    char *scopes; /* space separated, as OAuth writes them */
    /* Set for tokens issued by /connect/token (oidc.c); seeded and
     * /sim/tokens tokens have no app, no user and never expire. */
    char *client_id;   /* NULL when not issued to an app */
    long long user_id; /* 0 when not issued to a user */
    double expires_at; /* sim_now() seconds; 0: never */
    int expired;       /* forced by /sim/tokens/expire, or its code was reused */
    char *family;      /* the authorization code it descends from; NULL: none */
} sim_token;

/* What sim_store_issue_token() records beside the token itself. */
typedef struct sim_token_grant {
    long long org_id;
    const char *scopes;
    const char *client_id;
    long long user_id;
    double expires_at;
    const char *family; /* NULL, or the code it descends from (grants.h) */
} sim_token_grant;

#define SIM_MAX_TOKENS 100000

typedef struct sim_store {
    sim_org **orgs; /* pointers, so that an org stays put when others are added */
    size_t org_count;
    sim_token *tokens;
    size_t token_count;
} sim_store;

/* Loads `seed_dir` (layout above) into an empty store. Returns 0, or -1
 * with a message in `error` (the store is then freed). */
int sim_store_load(sim_store *store, const char *seed_dir, char *error, size_t error_size);

void sim_store_free(sim_store *store);

/* The org with `id`, or NULL. */
sim_org *sim_store_org(sim_store *store, long long id);

/* The org with `id`, created (with a minimal shop record) when missing.
 * NULL when memory ran out. */
sim_org *sim_store_org_create(sim_store *store, long long id);

/* The first org loaded (the seeded shop), or NULL for an empty store. */
sim_org *sim_store_default_org(sim_store *store);

/* The token record for `token`, or NULL. */
const sim_token *sim_store_token(const sim_store *store, const char *token);

/* The token record for `token` when it may be used at `now` (sim_now()):
 * not expired, not forced to expire. NULL otherwise. */
const sim_token *sim_store_live_token(const sim_store *store, const char *token, double now);

/* Registers or replaces `token` for `org_id` (created when missing).
 * Returns 0 or -1 (memory). */
int sim_store_put_token(sim_store *store, const char *token, long long org_id, const char *scopes);

/* Registers `token` as issued to an app and a user, after dropping issued
 * tokens that expired before `now`, so that memory stays bounded. Returns
 * 0, or -1 (memory, or SIM_MAX_TOKENS reached). */
int sim_store_issue_token(sim_store *store, const char *token, const sim_token_grant *grant,
                          double now);

/* Makes `token` answer 401 from now on, as an expired token does.
 * Returns 1 when it was known, else 0. */
int sim_store_expire_token(sim_store *store, const char *token);

/* Makes every token descending from the code `family` answer 401 (the
 * code was redeemed twice: RFC 6749 section 4.1.2). Returns how many. */
size_t sim_store_expire_family(sim_store *store, const char *family);

/* Forgets `token`. Returns 1 when it was known, else 0. */
int sim_store_revoke_token(sim_store *store, const char *token);

/* 1 when the token was granted `scope`; a write scope implies its read
 * scope ("com.write_orders" grants "com.read_orders"). */
int sim_token_has_scope(const sim_token *token, const char *scope);

/* Appends scopes given as "a b" or ["a","b"] to `out` as "a b".
 * Returns 0, or -1 when `scopes` is neither (or memory ran out). */
int sim_scopes_text(const cJSON *scopes, buffer *out);

/* The "id" of a record when it is a positive whole number, else -1. */
long long sim_record_id(const cJSON *record);

/* The record of `records` with `id`, or NULL. */
cJSON *sim_record_find(const cJSON *records, long long id);

/* Adds `record` to `records` in id order, replacing one with the same id.
 * Takes ownership of `record` (it is deleted on failure). Returns 0, or -1
 * when the record has no valid id. */
int sim_record_put(cJSON *records, cJSON *record);

#endif
