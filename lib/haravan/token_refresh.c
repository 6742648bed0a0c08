/*
 * hv_token_refresh: refresh under the shop's row lock. See token_refresh.h
 * for the triggers, the lock and what each outcome means.
 *
 *   BEGIN                                          (db_transaction)
 *   SELECT status, tokens, remaining and lifetime ... FOR UPDATE
 *   still needed? (the rejected token is still stored / still due)
 *   POST grant_type=refresh_token                  (lock held, bounded)
 *   ok: UPDATE tokens, expiry | invalid_grant: UPDATE status needs_reconnect
 *   COMMIT                    | other failure: ROLLBACK
 *
 * Every statement runs on the connection that holds the lock: if it is
 * lost, the transaction fails (core/db.h) instead of going on without the
 * lock, where a second process could spend the same refresh token.
 */
#define _POSIX_C_SOURCE 200809L
#include "haravan/token_refresh.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/settings.h"

typedef enum trigger { TRIGGER_REJECTED, TRIGGER_DUE } trigger;

/* What the locked row says. */
typedef struct shop_row {
    int connected;
    int has_refresh;
    int has_expiry;
    double remaining; /* seconds until expires_at */
    double lifetime;  /* expires_at - token_issued_at; <= 0 unknown */
} shop_row;

const char *hv_refresh_outcome_name(hv_refresh_outcome outcome)
{
    switch (outcome) {
    case HV_REFRESH_REFRESHED:
        return "refreshed";
    case HV_REFRESH_NOT_NEEDED:
        return "not_needed";
    case HV_REFRESH_NEEDS_RECONNECT:
        return "needs_reconnect";
    case HV_REFRESH_IMPOSSIBLE:
        return "impossible";
    case HV_REFRESH_FAILED:
        return "failed";
    }
    return "unknown";
}

void hv_token_refresher_init(hv_token_refresher *refresher, hv_oidc *oidc,
                             const unsigned char *master_key, hv_refresh_report report)
{
    memset(refresher, 0, sizeof *refresher);
    refresher->oidc = oidc;
    refresher->master_key = master_key;
    refresher->report = report;
}

double hv_token_refresh_ahead(double lifetime)
{
    if (lifetime <= 0)
        return HV_TOKEN_AHEAD_SECONDS;
    double ahead = lifetime * HV_TOKEN_AHEAD_FRACTION;
    if (ahead < HV_TOKEN_AHEAD_SECONDS)
        ahead = HV_TOKEN_AHEAD_SECONDS;
    if (ahead > lifetime * HV_TOKEN_AHEAD_LIMIT)
        ahead = lifetime * HV_TOKEN_AHEAD_LIMIT;
    return ahead;
}

static int is_due(const shop_row *row)
{
    return row->has_expiry && row->remaining < hv_token_refresh_ahead(row->lifetime);
}

/* ---- database steps ------------------------------------------------------ */

static void wipe_buffer(buffer *value)
{
    if (value->data != NULL)
        crypto_wipe(value->data, value->length);
    buffer_free(value);
}

/* Reads and locks the row; opens the current access token into `access`
 * and the refresh token into `refresh` when present. Returns 1 (found), 0
 * (no such shop) or -1. */
static int lock_row(hv_token_refresher *refresher, db *database, const char *org_id, shop_row *row,
                    buffer *access, buffer *refresh, char *error, size_t error_size)
{
    const char *values[] = {org_id};
    PGresult *result = db_query(database, DB_ONCE,
                                "SELECT status = 'connected', access_token, refresh_token,"
                                " expires_at IS NOT NULL,"
                                " coalesce(extract(epoch FROM expires_at - now()), 0),"
                                " coalesce(extract(epoch FROM expires_at - token_issued_at), 0)"
                                " FROM hv_shops WHERE org_id = $1 FOR UPDATE",
                                1, values, NULL, NULL);
    if (result == NULL) {
        snprintf(error, error_size, "database: %s", database->error);
        return -1;
    }
    int found = PQntuples(result) == 1;
    int failed = 0;
    if (found) {
        memset(row, 0, sizeof *row);
        row->connected = strcmp(PQgetvalue(result, 0, 0), "t") == 0;
        row->has_refresh = !PQgetisnull(result, 0, 2);
        row->has_expiry = strcmp(PQgetvalue(result, 0, 3), "t") == 0;
        row->remaining = strtod(PQgetvalue(result, 0, 4), NULL);
        row->lifetime = strtod(PQgetvalue(result, 0, 5), NULL);
        failed = (!PQgetisnull(result, 0, 1) &&
                  hv_shop_open_token(refresher->master_key, "access_token", org_id,
                                     PQgetvalue(result, 0, 1), access, error, error_size) != 0) ||
                 (row->has_refresh &&
                  hv_shop_open_token(refresher->master_key, "refresh_token", org_id,
                                     PQgetvalue(result, 0, 2), refresh, error, error_size) != 0);
    }
    PQclear(result);
    return failed ? -1 : found;
}

/* Reads client_id and client_secret into the buffers. Returns 1 when both
 * are set, 0 when one is missing, -1 on error. */
static int read_client(hv_token_refresher *refresher, db *database, buffer *id, buffer *secret,
                       char *error, size_t error_size)
{
    int has_id =
        settings_get(database, refresher->master_key, "client_id", id, NULL, error, error_size);
    if (has_id < 0)
        return -1;
    int has_secret = settings_get(database, refresher->master_key, "client_secret", secret, NULL,
                                  error, error_size);
    if (has_secret < 0)
        return -1;
    return has_id == 1 && has_secret == 1;
}

static int store_tokens(db *database, hv_token_refresher *refresher, const char *org_id,
                        const hv_oidc_tokens *tokens, char *error, size_t error_size)
{
    buffer access = BUFFER_INIT;
    buffer refresh = BUFFER_INIT;
    if (hv_shop_seal_token(refresher->master_key, "access_token", org_id, tokens->access_token,
                           &access) != 0 ||
        (tokens->refresh_token != NULL &&
         hv_shop_seal_token(refresher->master_key, "refresh_token", org_id, tokens->refresh_token,
                            &refresh) != 0)) {
        buffer_free(&access);
        buffer_free(&refresh);
        snprintf(error, error_size, "cannot seal the tokens");
        return -1;
    }
    char expires_in[32];
    snprintf(expires_in, sizeof expires_in, "%lld", tokens->expires_in);
    const char *values[] = {org_id, access.data,
                            tokens->refresh_token != NULL ? refresh.data : NULL, expires_in,
                            tokens->scope};
    const int lengths[] = {0, (int)access.length, (int)refresh.length, 0, 0};
    const int formats[] = {0, 1, 1, 0, 0};
    /* No refresh token in the answer: the old one stays (docs/HARAVAN.md). */
    PGresult *result = db_query(
        database, DB_ONCE,
        "UPDATE hv_shops SET access_token = $2, refresh_token = coalesce($3, refresh_token),"
        " expires_at = CASE WHEN $4::bigint > 0 THEN now() + make_interval(secs => $4::bigint) END,"
        " token_issued_at = now(), scopes = coalesce($5, scopes), status_reason = NULL,"
        " updated_at = now() WHERE org_id = $1",
        5, values, lengths, formats);
    buffer_free(&access);
    buffer_free(&refresh);
    if (result == NULL) {
        snprintf(error, error_size, "database: %s", database->error);
        return -1;
    }
    PQclear(result);
    return 0;
}

static int mark_needs_reconnect(db *database, const char *org_id, const char *reason, char *error,
                                size_t error_size)
{
    const char *values[] = {org_id, reason};
    PGresult *result = db_query(database, DB_ONCE,
                                "UPDATE hv_shops SET status = 'needs_reconnect',"
                                " status_reason = $2, updated_at = now() WHERE org_id = $1",
                                2, values, NULL, NULL);
    if (result == NULL) {
        snprintf(error, error_size, "database: %s", database->error);
        return -1;
    }
    PQclear(result);
    return 0;
}

/* ---- the procedure ------------------------------------------------------- */

/* With the row locked: is the work still needed? */
static hv_refresh_outcome still_needed(trigger why, const shop_row *row, const buffer *access,
                                       const char *rejected, char *error, size_t error_size)
{
    if (!row->connected) {
        snprintf(error, error_size, "the shop is not connected");
        return HV_REFRESH_IMPOSSIBLE;
    }
    if (why == TRIGGER_REJECTED &&
        (access->data == NULL || !crypto_strings_equal(buffer_text(access), rejected))) {
        snprintf(error, error_size, "another process has refreshed the token already");
        return HV_REFRESH_NOT_NEEDED;
    }
    if (why == TRIGGER_DUE && !is_due(row)) {
        snprintf(error, error_size, "the token is not due for refresh");
        return HV_REFRESH_NOT_NEEDED;
    }
    if (!row->has_refresh) {
        snprintf(error, error_size, "the shop has no refresh token");
        return HV_REFRESH_IMPOSSIBLE;
    }
    return HV_REFRESH_REFRESHED; /* i.e. go on */
}

/* Calls Haravan and records the answer, inside the transaction; sets
 * *called once the refresh token has been sent. */
static hv_refresh_outcome call_and_record(hv_token_refresher *refresher, db *database,
                                          const char *org_id, const buffer *refresh, int *called,
                                          char *error, size_t error_size)
{
    buffer client_id = BUFFER_INIT;
    buffer client_secret = BUFFER_INIT;
    hv_oidc_tokens tokens;
    memset(&tokens, 0, sizeof tokens);
    hv_refresh_outcome outcome = HV_REFRESH_FAILED;
    int client = read_client(refresher, database, &client_id, &client_secret, error, error_size);
    if (client == 0) {
        snprintf(error, error_size, "no client_id or client_secret configured");
        outcome = HV_REFRESH_IMPOSSIBLE;
    } else if (client == 1) {
        hv_oidc_client credentials = {buffer_text(&client_id), buffer_text(&client_secret)};
        *called = 1;
        hv_oidc_status status = hv_oidc_refresh(refresher->oidc, &credentials, buffer_text(refresh),
                                                &tokens, error, error_size);
        if (status == HV_OIDC_OK) {
            outcome = store_tokens(database, refresher, org_id, &tokens, error, error_size) == 0
                          ? HV_REFRESH_REFRESHED
                          : HV_REFRESH_FAILED;
        } else if (status == HV_OIDC_INVALID_GRANT) {
            char reason[300];
            snprintf(reason, sizeof reason, "Haravan refused the refresh token: %.250s", error);
            outcome = mark_needs_reconnect(database, org_id, reason, error, error_size) == 0
                          ? HV_REFRESH_NEEDS_RECONNECT
                          : HV_REFRESH_FAILED;
            if (outcome == HV_REFRESH_NEEDS_RECONNECT)
                snprintf(error, error_size, "%s", reason);
        }
    }
    hv_oidc_tokens_free(&tokens);
    wipe_buffer(&client_secret);
    buffer_free(&client_id);
    return outcome;
}

/* One refresh, as a transaction's body (db_transaction). */
typedef struct refresh_run {
    hv_token_refresher *refresher;
    const char *org_id;
    trigger why;
    const char *rejected;
    char *error;
    size_t error_size;
    hv_refresh_outcome outcome;
    int called; /* the refresh token went to Haravan: it may be spent */
} refresh_run;

/* Commits what is recorded (new tokens, needs_reconnect); rolls back the
 * rest: 1 when nothing failed, -1 when something did. */
static int refresh_body(db *database, void *context)
{
    refresh_run *run = context;
    buffer access = BUFFER_INIT;
    buffer refresh = BUFFER_INIT;
    shop_row row;
    run->outcome = HV_REFRESH_FAILED;
    int found = lock_row(run->refresher, database, run->org_id, &row, &access, &refresh, run->error,
                         run->error_size);
    if (found == 0) {
        snprintf(run->error, run->error_size, "no shop %s", run->org_id);
        run->outcome = HV_REFRESH_IMPOSSIBLE;
    } else if (found == 1) {
        run->outcome =
            still_needed(run->why, &row, &access, run->rejected, run->error, run->error_size);
        if (run->outcome == HV_REFRESH_REFRESHED)
            run->outcome = call_and_record(run->refresher, database, run->org_id, &refresh,
                                           &run->called, run->error, run->error_size);
    }
    wipe_buffer(&access);
    wipe_buffer(&refresh);
    if (run->outcome == HV_REFRESH_REFRESHED || run->outcome == HV_REFRESH_NEEDS_RECONNECT)
        return 0;
    return run->outcome == HV_REFRESH_FAILED ? -1 : 1;
}

/* The refresh under the shop's row lock. A transaction that lost its
 * connection before the refresh token was sent is run again whole (the
 * lock went with the connection, so the row is read and checked again);
 * after it was sent, never: the token may be spent. */
static hv_refresh_outcome refresh_locked(hv_token_refresher *refresher, db *database,
                                         const char *org_id, trigger why, const char *rejected,
                                         char *error, size_t error_size)
{
    if (refresher->master_key == NULL || refresher->oidc == NULL) {
        snprintf(error, error_size, "no HARAVAN_MASTER_KEY to open the shop's tokens");
        return HV_REFRESH_IMPOSSIBLE;
    }
    refresh_run run = {refresher, org_id, why, rejected, error, error_size, HV_REFRESH_FAILED, 0};
    for (int attempt = 0; attempt < HV_TOKEN_TRANSACTION_ATTEMPTS; attempt++) {
        error[0] = '\0';
        int result = db_transaction(database, refresh_body, &run);
        if (result >= 0)
            return run.outcome;
        if (error[0] == '\0' || run.outcome != HV_REFRESH_FAILED)
            snprintf(error, error_size, "database: %s", database->error);
        if (run.called || !db_retryable(database))
            break;
    }
    return HV_REFRESH_FAILED;
}

static hv_refresh_outcome refresh_and_report(hv_token_refresher *refresher, db *database,
                                             const char *org_id, trigger why, const char *rejected,
                                             char *error, size_t error_size)
{
    error[0] = '\0';
    hv_refresh_outcome outcome =
        refresh_locked(refresher, database, org_id, why, rejected, error, error_size);
    if (refresher->report != NULL)
        refresher->report(org_id, why == TRIGGER_REJECTED ? "401" : "ahead", outcome, error);
    return outcome;
}

hv_refresh_outcome hv_token_refresh_rejected(hv_token_refresher *refresher, db *database,
                                             const char *org_id, const char *rejected, char *error,
                                             size_t error_size)
{
    if (rejected == NULL) {
        snprintf(error, error_size, "no rejected token given");
        return HV_REFRESH_IMPOSSIBLE;
    }
    return refresh_and_report(refresher, database, org_id, TRIGGER_REJECTED, rejected, error,
                              error_size);
}

hv_refresh_outcome hv_token_refresh_if_due(hv_token_refresher *refresher, db *database,
                                           const char *org_id, char *error, size_t error_size)
{
    return refresh_and_report(refresher, database, org_id, TRIGGER_DUE, NULL, error, error_size);
}

/* ---- the refresh duty's pass ------------------------------------------------- */

static hv_retry_pause *pause_of(hv_token_refresher *refresher, const char *org_id)
{
    for (size_t i = 0; i < HV_TOKEN_MAX_SHOPS; i++)
        if (strcmp(refresher->paused[i].org_id, org_id) == 0)
            return &refresher->paused[i];
    return NULL;
}

static void pause_shop(hv_token_refresher *refresher, const char *org_id, double until)
{
    hv_retry_pause *slot = pause_of(refresher, org_id);
    for (size_t i = 0; slot == NULL && i < HV_TOKEN_MAX_SHOPS; i++)
        if (refresher->paused[i].org_id[0] == '\0' ||
            refresher->paused[i].until < clock_monotonic_seconds())
            slot = &refresher->paused[i];
    if (slot == NULL)
        slot = &refresher->paused[0]; /* more failing shops than slots: forget one */
    snprintf(slot->org_id, sizeof slot->org_id, "%s", org_id);
    slot->until = until;
}

int hv_token_refresh_due_shops(hv_token_refresher *refresher, db *database)
{
    PGresult *result = db_query(database, DB_IDEMPOTENT,
                                "SELECT org_id, extract(epoch FROM expires_at - now()),"
                                " coalesce(extract(epoch FROM expires_at - token_issued_at), 0)"
                                " FROM hv_shops WHERE status = 'connected'"
                                " AND refresh_token IS NOT NULL AND expires_at IS NOT NULL",
                                0, NULL, NULL, NULL);
    if (result == NULL)
        return -1;
    int attempts = 0;
    for (int i = 0; i < PQntuples(result); i++) {
        const char *org_id = PQgetvalue(result, i, 0);
        shop_row row = {.connected = 1,
                        .has_refresh = 1,
                        .has_expiry = 1,
                        .remaining = strtod(PQgetvalue(result, i, 1), NULL),
                        .lifetime = strtod(PQgetvalue(result, i, 2), NULL)};
        const hv_retry_pause *paused = pause_of(refresher, org_id);
        if (strlen(org_id) >= HV_SHOP_ORG_ID_SIZE || !is_due(&row) ||
            (paused != NULL && paused->until > clock_monotonic_seconds()))
            continue;
        char error[512] = "";
        hv_refresh_outcome outcome =
            hv_token_refresh_if_due(refresher, database, org_id, error, sizeof error);
        attempts++;
        if (outcome == HV_REFRESH_FAILED || outcome == HV_REFRESH_IMPOSSIBLE)
            pause_shop(refresher, org_id, clock_monotonic_seconds() + HV_TOKEN_RETRY_SECONDS);
    }
    PQclear(result);
    return attempts;
}
