/*
 * hv_shop: sealed shop tokens. See shop.h.
 */
#include "haravan/shop.h"

#include <stdio.h>
#include <string.h>

static void token_label(const char *org_id, char *label, size_t size)
{
    snprintf(label, size, "access_token:%s", org_id);
}

int hv_shop_store_token(db *database, const unsigned char master_key[CRYPTO_KEY_SIZE],
                        const char *org_id, const char *name, const char *token,
                        const char *scopes, char *error, size_t error_size)
{
    char label[128];
    token_label(org_id, label, sizeof label);
    buffer sealed = BUFFER_INIT;
    if (crypto_seal(master_key, label, token, strlen(token), &sealed) != 0) {
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
        " access_token = EXCLUDED.access_token, status = 'connected', updated_at = now()",
        4, values, lengths, formats);
    buffer_free(&sealed);
    if (result == NULL) {
        snprintf(error, error_size, "database: %s", database->error);
        return -1;
    }
    PQclear(result);
    return 0;
}

int hv_shop_token(db *database, const unsigned char master_key[CRYPTO_KEY_SIZE],
                  const char *org_id, buffer *token, char *error, size_t error_size)
{
    const char *values[] = {org_id};
    PGresult *result = db_query(database, DB_IDEMPOTENT,
                                "SELECT access_token FROM hv_shops WHERE org_id = $1"
                                " AND status = 'connected' AND access_token IS NOT NULL",
                                1, values, NULL, NULL);
    if (result == NULL) {
        snprintf(error, error_size, "database: %s", database->error);
        return -1;
    }
    int found = PQntuples(result) > 0;
    if (found) {
        size_t length = 0;
        unsigned char *sealed =
            PQunescapeBytea((const unsigned char *)PQgetvalue(result, 0, 0), &length);
        char label[128];
        token_label(org_id, label, sizeof label);
        if (sealed == NULL || crypto_open(master_key, label, sealed, length, token) != 0) {
            snprintf(error, error_size, "the token of shop %s cannot be opened: wrong "
                                        "HARAVAN_MASTER_KEY?", org_id);
            found = -1;
        }
        PQfreemem(sealed);
    }
    PQclear(result);
    return found;
}
