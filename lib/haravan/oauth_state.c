/*
 * hv_oauth_state: hashed, single-use, short-lived OAuth states. See
 * oauth_state.h.
 */
#include "haravan/oauth_state.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/crypto.h"

/* Interval text for SQL, from the one constant. */
#define STRINGIFY(x)   #x
#define AS_TEXT(x)     STRINGIFY(x)
#define STATE_LIFETIME AS_TEXT(HV_OAUTH_STATE_SECONDS)

static int random_text(char out[HV_OAUTH_STATE_TEXT])
{
    unsigned char bytes[HV_OAUTH_STATE_BYTES];
    if (crypto_random(bytes, sizeof bytes) != 0)
        return -1;
    base64url_encode(bytes, sizeof bytes, out);
    crypto_wipe(bytes, sizeof bytes);
    return 0;
}

static int hash_state(const char *state, unsigned char digest[CRYPTO_SHA256_SIZE])
{
    unsigned int length = 0;
    return EVP_Digest(state, strlen(state), digest, &length, EVP_sha256(), NULL) == 1 &&
                   length == CRYPTO_SHA256_SIZE
               ? 0
               : -1;
}

static int valid_step(const char *step)
{
    return step != NULL && (strcmp(step, "login") == 0 || strcmp(step, "grant") == 0);
}

int hv_oauth_state_create(db *database, const char *step, char state[HV_OAUTH_STATE_TEXT],
                          char nonce[HV_OAUTH_STATE_TEXT], char *error, size_t error_size)
{
    unsigned char digest[CRYPTO_SHA256_SIZE];
    if (!valid_step(step) || random_text(state) != 0 || random_text(nonce) != 0 ||
        hash_state(state, digest) != 0) {
        snprintf(error, error_size, "cannot make an OAuth state");
        return -1;
    }
    /* Housekeeping first: a table anyone can add to by opening the connect
     * link must not grow without end. */
    PGresult *result = db_query(database, DB_IDEMPOTENT,
                                "DELETE FROM hv_oauth_states WHERE created_at < now() - interval "
                                "'1 day'",
                                0, NULL, NULL, NULL);
    if (result == NULL) {
        snprintf(error, error_size, "database: %s", database->error);
        return -1;
    }
    PQclear(result);
    const char *values[] = {(const char *)digest, nonce, step};
    const int lengths[] = {CRYPTO_SHA256_SIZE, 0, 0};
    const int formats[] = {1, 0, 0};
    result = db_query(database, DB_IDEMPOTENT,
                      "INSERT INTO hv_oauth_states (state_hash, nonce, step) VALUES ($1, $2, $3)",
                      3, values, lengths, formats);
    if (result == NULL) {
        snprintf(error, error_size, "database: %s", database->error);
        return -1;
    }
    PQclear(result);
    return 0;
}

int hv_oauth_state_consume(db *database, const char *step, const char *state,
                           char nonce[HV_OAUTH_STATE_TEXT], char *error, size_t error_size)
{
    nonce[0] = '\0';
    unsigned char digest[CRYPTO_SHA256_SIZE];
    if (!valid_step(step) || state == NULL || state[0] == '\0' ||
        strlen(state) > HV_OAUTH_STATE_MAX_LENGTH)
        return 0;
    if (hash_state(state, digest) != 0) {
        snprintf(error, error_size, "cannot hash the OAuth state");
        return -1;
    }
    const char *values[] = {(const char *)digest, step};
    const int lengths[] = {CRYPTO_SHA256_SIZE, 0};
    const int formats[] = {1, 0};
    /* One statement decides: not DB_IDEMPOTENT, since a second run after a
     * lost answer would find the state consumed and refuse a good one. */
    PGresult *result = db_query(database, DB_ONCE,
                                "UPDATE hv_oauth_states SET consumed_at = now()"
                                " WHERE state_hash = $1 AND step = $2 AND consumed_at IS NULL"
                                " AND created_at > now() - interval '" STATE_LIFETIME " seconds'"
                                " RETURNING nonce",
                                2, values, lengths, formats);
    if (result == NULL) {
        snprintf(error, error_size, "database: %s", database->error);
        return -1;
    }
    int found = PQntuples(result) == 1 && strlen(PQgetvalue(result, 0, 0)) < HV_OAUTH_STATE_TEXT;
    if (found)
        snprintf(nonce, HV_OAUTH_STATE_TEXT, "%s", PQgetvalue(result, 0, 0));
    PQclear(result);
    return found;
}
