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

static int hash_secret(const char *state, unsigned char digest[CRYPTO_SHA256_SIZE])
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
                          char nonce[HV_OAUTH_STATE_TEXT], char browser[HV_OAUTH_STATE_TEXT],
                          char *error, size_t error_size)
{
    unsigned char digest[CRYPTO_SHA256_SIZE];
    unsigned char browser_digest[CRYPTO_SHA256_SIZE];
    if (!valid_step(step) || random_text(state) != 0 || random_text(nonce) != 0 ||
        random_text(browser) != 0 || hash_secret(state, digest) != 0 ||
        hash_secret(browser, browser_digest) != 0) {
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
    const char *values[] = {(const char *)digest, nonce, step, (const char *)browser_digest};
    const int lengths[] = {CRYPTO_SHA256_SIZE, 0, 0, CRYPTO_SHA256_SIZE};
    const int formats[] = {1, 0, 0, 1};
    result = db_query(database, DB_IDEMPOTENT,
                      "INSERT INTO hv_oauth_states (state_hash, nonce, step, browser_hash)"
                      " VALUES ($1, $2, $3, $4)",
                      4, values, lengths, formats);
    if (result == NULL) {
        snprintf(error, error_size, "database: %s", database->error);
        return -1;
    }
    PQclear(result);
    return 0;
}

/* Whether `digest` names a state of `step` that is still unused and young:
 * told apart only to say why a callback is refused; the UPDATE decided. */
static hv_oauth_state_result unspent_elsewhere(db *database, const unsigned char *digest,
                                               const char *step, char *error, size_t error_size)
{
    const char *values[] = {(const char *)digest, step};
    const int lengths[] = {CRYPTO_SHA256_SIZE, 0};
    const int formats[] = {1, 0};
    PGresult *result = db_query(database, DB_IDEMPOTENT,
                                "SELECT 1 FROM hv_oauth_states"
                                " WHERE state_hash = $1 AND step = $2 AND consumed_at IS NULL"
                                " AND created_at > now() - interval '" STATE_LIFETIME " seconds'",
                                2, values, lengths, formats);
    if (result == NULL) {
        snprintf(error, error_size, "database: %s", database->error);
        return HV_OAUTH_STATE_ERROR;
    }
    int found = PQntuples(result) == 1;
    PQclear(result);
    return found ? HV_OAUTH_STATE_OTHER_BROWSER : HV_OAUTH_STATE_UNKNOWN;
}

/* The decisive statement: spends the state if its browser matches. */
static hv_oauth_state_result spend(db *database, const unsigned char *digest, const char *step,
                                   const unsigned char *browser_digest,
                                   char nonce[HV_OAUTH_STATE_TEXT], char *error, size_t error_size)
{
    const char *values[] = {(const char *)digest, step, (const char *)browser_digest};
    const int lengths[] = {CRYPTO_SHA256_SIZE, 0, CRYPTO_SHA256_SIZE};
    const int formats[] = {1, 0, 1};
    /* One statement decides: not DB_IDEMPOTENT, since a second run after a
     * lost answer would find the state consumed and refuse a good one. */
    PGresult *result = db_query(database, DB_ONCE,
                                "UPDATE hv_oauth_states SET consumed_at = now()"
                                " WHERE state_hash = $1 AND step = $2 AND browser_hash = $3"
                                " AND consumed_at IS NULL"
                                " AND created_at > now() - interval '" STATE_LIFETIME " seconds'"
                                " RETURNING nonce",
                                3, values, lengths, formats);
    if (result == NULL) {
        snprintf(error, error_size, "database: %s", database->error);
        return HV_OAUTH_STATE_ERROR;
    }
    int found = PQntuples(result) == 1 && strlen(PQgetvalue(result, 0, 0)) < HV_OAUTH_STATE_TEXT;
    if (found)
        snprintf(nonce, HV_OAUTH_STATE_TEXT, "%s", PQgetvalue(result, 0, 0));
    PQclear(result);
    return found ? HV_OAUTH_STATE_OK : HV_OAUTH_STATE_UNKNOWN;
}

static int usable_text(const char *text)
{
    return text != NULL && text[0] != '\0' && strlen(text) <= HV_OAUTH_STATE_MAX_LENGTH;
}

hv_oauth_state_result hv_oauth_state_consume(db *database, const char *step, const char *state,
                                             const char *browser, char nonce[HV_OAUTH_STATE_TEXT],
                                             char *error, size_t error_size)
{
    nonce[0] = '\0';
    unsigned char digest[CRYPTO_SHA256_SIZE];
    unsigned char browser_digest[CRYPTO_SHA256_SIZE];
    if (!valid_step(step) || !usable_text(state))
        return HV_OAUTH_STATE_UNKNOWN;
    if (hash_secret(state, digest) != 0 ||
        (usable_text(browser) && hash_secret(browser, browser_digest) != 0)) {
        snprintf(error, error_size, "cannot hash the OAuth state");
        return HV_OAUTH_STATE_ERROR;
    }
    hv_oauth_state_result spent = HV_OAUTH_STATE_UNKNOWN;
    if (usable_text(browser))
        spent = spend(database, digest, step, browser_digest, nonce, error, error_size);
    if (spent != HV_OAUTH_STATE_UNKNOWN)
        return spent;
    return unspent_elsewhere(database, digest, step, error, error_size);
}
