/*
 * hv_shop: sealed shop tokens. See shop.h.
 */
#include "haravan/shop.h"

#include <stdio.h>
#include <string.h>

static void token_label(const char *kind, const char *org_id, char *label, size_t size)
{
    snprintf(label, size, "%s:%s", kind, org_id);
}

int hv_shop_seal_token(const unsigned char master_key[CRYPTO_KEY_SIZE], const char *kind,
                       const char *org_id, const char *token, buffer *out)
{
    char label[128];
    token_label(kind, org_id, label, sizeof label);
    return crypto_seal(master_key, label, token, strlen(token), out);
}

int hv_shop_open_token(const unsigned char master_key[CRYPTO_KEY_SIZE], const char *kind,
                       const char *org_id, const char *sealed_text, buffer *out, char *error,
                       size_t error_size)
{
    size_t length = 0;
    unsigned char *sealed = PQunescapeBytea((const unsigned char *)sealed_text, &length);
    char label[128];
    token_label(kind, org_id, label, sizeof label);
    int result =
        sealed != NULL && crypto_open(master_key, label, sealed, length, out) == 0 ? 0 : -1;
    if (result != 0)
        snprintf(error, error_size, "the %s of shop %s cannot be opened: wrong HARAVAN_MASTER_KEY?",
                 kind, org_id);
    PQfreemem(sealed);
    return result;
}

static int query_failed(db *database, char *error, size_t error_size)
{
    snprintf(error, error_size, "database: %s", database->error);
    return -1;
}

int hv_shop_store_connection(db *database, const unsigned char master_key[CRYPTO_KEY_SIZE],
                             const hv_shop_connection *c, char *error, size_t error_size)
{
    buffer access = BUFFER_INIT;
    buffer refresh = BUFFER_INIT;
    if (c->org_id == NULL || c->access_token == NULL ||
        hv_shop_seal_token(master_key, "access_token", c->org_id, c->access_token, &access) != 0 ||
        (c->refresh_token != NULL && hv_shop_seal_token(master_key, "refresh_token", c->org_id,
                                                        c->refresh_token, &refresh) != 0)) {
        snprintf(error, error_size, "cannot seal the tokens");
        buffer_free(&access);
        buffer_free(&refresh);
        return -1;
    }
    char expires_in[32];
    snprintf(expires_in, sizeof expires_in, "%lld", c->expires_in);
    const char *values[] = {c->org_id,
                            c->name != NULL ? c->name : "",
                            c->scopes != NULL ? c->scopes : "",
                            access.data,
                            c->refresh_token != NULL ? refresh.data : NULL,
                            expires_in,
                            c->connected_by};
    const int lengths[] = {0, 0, 0, (int)access.length, (int)refresh.length, 0, 0};
    const int formats[] = {0, 0, 0, 1, 1, 0, 0};
    PGresult *result = db_query(
        database, DB_IDEMPOTENT,
        "INSERT INTO hv_shops (org_id, name, scopes, access_token, refresh_token, expires_at,"
        " token_issued_at, status, status_reason, connected_by, connected_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5,"
        " CASE WHEN $6::bigint > 0 THEN now() + make_interval(secs => $6::bigint) END,"
        " now(), 'connected', NULL, $7, now(), now())"
        " ON CONFLICT (org_id) DO UPDATE SET name = EXCLUDED.name, scopes = EXCLUDED.scopes,"
        " access_token = EXCLUDED.access_token, refresh_token = EXCLUDED.refresh_token,"
        " expires_at = EXCLUDED.expires_at, token_issued_at = EXCLUDED.token_issued_at,"
        " status = 'connected', status_reason = NULL, connected_by = EXCLUDED.connected_by,"
        " connected_at = now(), updated_at = now()",
        7, values, lengths, formats);
    buffer_free(&access);
    buffer_free(&refresh);
    if (result == NULL)
        return query_failed(database, error, error_size);
    PQclear(result);
    return 0;
}

int hv_shop_store_token(db *database, const unsigned char master_key[CRYPTO_KEY_SIZE],
                        const char *org_id, const char *name, const char *token, const char *scopes,
                        char *error, size_t error_size)
{
    buffer sealed = BUFFER_INIT;
    if (hv_shop_seal_token(master_key, "access_token", org_id, token, &sealed) != 0) {
        snprintf(error, error_size, "cannot seal the token");
        buffer_free(&sealed);
        return -1;
    }
    const char *values[] = {org_id, name, scopes, sealed.data};
    const int lengths[] = {0, 0, 0, (int)sealed.length};
    const int formats[] = {0, 0, 0, 1};
    PGresult *result = db_query(
        database, DB_IDEMPOTENT,
        "INSERT INTO hv_shops (org_id, name, scopes, access_token, status)"
        " VALUES ($1, $2, $3, $4, 'connected')"
        " ON CONFLICT (org_id) DO UPDATE SET name = EXCLUDED.name, scopes = EXCLUDED.scopes,"
        " access_token = EXCLUDED.access_token, refresh_token = NULL, expires_at = NULL,"
        " token_issued_at = NULL, status = 'connected', status_reason = NULL, connected_at = now(),"
        " updated_at = now()",
        4, values, lengths, formats);
    buffer_free(&sealed);
    if (result == NULL)
        return query_failed(database, error, error_size);
    PQclear(result);
    return 0;
}

int hv_shop_token(db *database, const unsigned char master_key[CRYPTO_KEY_SIZE], const char *org_id,
                  buffer *token, char *error, size_t error_size)
{
    const char *values[] = {org_id};
    PGresult *result = db_query(database, DB_IDEMPOTENT,
                                "SELECT access_token FROM hv_shops WHERE org_id = $1"
                                " AND status = 'connected' AND access_token IS NOT NULL",
                                1, values, NULL, NULL);
    if (result == NULL)
        return query_failed(database, error, error_size);
    int found = PQntuples(result) > 0;
    if (found && hv_shop_open_token(master_key, "access_token", org_id, PQgetvalue(result, 0, 0),
                                    token, error, error_size) != 0)
        found = -1;
    PQclear(result);
    return found;
}

int hv_shop_pick(db *database, const char *requested, char org_id[HV_SHOP_ORG_ID_SIZE], char *error,
                 size_t error_size)
{
    const char *values[] = {requested};
    PGresult *result =
        db_query(database, DB_IDEMPOTENT,
                 "SELECT org_id FROM hv_shops WHERE status = 'connected'"
                 " AND access_token IS NOT NULL AND ($1::text IS NULL OR org_id = $1)"
                 " ORDER BY updated_at DESC, org_id LIMIT 1",
                 1, values, NULL, NULL);
    if (result == NULL)
        return query_failed(database, error, error_size);
    int found = PQntuples(result) > 0 && strlen(PQgetvalue(result, 0, 0)) < HV_SHOP_ORG_ID_SIZE;
    if (found)
        snprintf(org_id, HV_SHOP_ORG_ID_SIZE, "%s", PQgetvalue(result, 0, 0));
    PQclear(result);
    return found;
}

int hv_shop_disconnect(db *database, const char *org_id, const char *reason,
                       const char *unless_connected_after, char *error, size_t error_size)
{
    const char *values[] = {org_id, reason, unless_connected_after};
    PGresult *result = db_query(
        database, DB_ONCE,
        "UPDATE hv_shops SET status = 'disconnected', status_reason = $2, access_token = NULL,"
        " refresh_token = NULL, expires_at = NULL, token_issued_at = NULL,"
        " disconnected_at = now(), updated_at = now()"
        " WHERE org_id = $1 AND status <> 'disconnected'"
        " AND ($3::timestamptz IS NULL OR connected_at <= $3::timestamptz)",
        3, values, NULL, NULL);
    if (result == NULL)
        return query_failed(database, error, error_size);
    int changed = strcmp(PQcmdTuples(result), "0") != 0;
    PQclear(result);
    return changed;
}
