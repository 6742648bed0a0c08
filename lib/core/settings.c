/*
 * settings: a closed list of named values, secrets sealed. See settings.h.
 */
#include "core/settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct setting {
    const char *name;
    int secret;     /* sealed at rest */
    int write_only; /* never shown again once saved */
} setting;

static const setting known[] = {
    {"client_id", 0, 0},
    {"client_secret", 1, 1},
    {"client_secret_previous", 1, 1},
    /* Sealed, but the merchant must be able to read it to paste it into
     * Haravan's partner dashboard. */
    {"verify_token", 1, 0},
    /* The email of the CRM user who owns what has no other owner. */
    {"default_owner", 0, 0},
    /* The settings page's password (lib/core/password.h), written only by
     * `haravan-ctl admin password`. Sealed although it is a hash: a copy of
     * the database alone then allows no offline guessing. */
    {"admin_password_hash", 1, 1},
};

static const char *const names[] = {
    "client_id",    "client_secret", "client_secret_previous",
    "verify_token", "default_owner", "admin_password_hash",
    NULL,
};

int settings_known(const char *name, int *secret)
{
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(known[i].name, name) == 0) {
            if (secret != NULL)
                *secret = known[i].secret;
            return 1;
        }
    }
    return 0;
}

int settings_write_only(const char *name)
{
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(known[i].name, name) == 0)
            return known[i].write_only;
    return 0;
}

const char *const *settings_names(void)
{
    return names;
}

static int run(db *database, const char *sql, int count, const char *const *values,
               const int *lengths, const int *formats, char *error, size_t error_size)
{
    PGresult *result = db_query(database, DB_ONCE, sql, count, values, lengths, formats);
    if (result == NULL) {
        snprintf(error, error_size, "database: %s", database->error);
        return -1;
    }
    PQclear(result);
    return 0;
}

/* The previous secret was sealed under the label "client_secret"; it is
 * re-sealed under its own name so that labels always match names. */
static int reseal_previous(db *database, const unsigned char *master_key, char *error,
                           size_t error_size)
{
    buffer plain = BUFFER_INIT;
    int found =
        settings_get(database, master_key, "client_secret", &plain, NULL, error, error_size);
    if (found <= 0) {
        buffer_free(&plain);
        return found;
    }
    buffer sealed = BUFFER_INIT;
    int result =
        crypto_seal(master_key, "client_secret_previous", plain.data, plain.length, &sealed);
    crypto_wipe(plain.data, plain.length);
    buffer_free(&plain);
    if (result != 0) {
        snprintf(error, error_size, "cannot seal client_secret_previous");
        buffer_free(&sealed);
        return -1;
    }
    const char *values[] = {sealed.data};
    const int lengths[] = {(int)sealed.length};
    const int formats[] = {1};
    result = run(database,
                 "INSERT INTO hv_settings (name, sealed) VALUES ('client_secret_previous', $1)"
                 " ON CONFLICT (name) DO UPDATE SET value = NULL, sealed = EXCLUDED.sealed,"
                 " updated_at = now()",
                 1, values, lengths, formats, error, error_size);
    buffer_free(&sealed);
    return result;
}

static int store(db *database, const unsigned char *master_key, const char *name, const char *value,
                 int secret, char *error, size_t error_size)
{
    if (!secret) {
        const char *values[] = {name, value};
        return run(database,
                   "INSERT INTO hv_settings (name, value) VALUES ($1, $2)"
                   " ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, sealed = NULL,"
                   " updated_at = now()",
                   2, values, NULL, NULL, error, error_size);
    }
    buffer sealed = BUFFER_INIT;
    if (crypto_seal(master_key, name, value, strlen(value), &sealed) != 0) {
        snprintf(error, error_size, "cannot seal %s", name);
        buffer_free(&sealed);
        return -1;
    }
    const char *values[] = {name, sealed.data};
    const int lengths[] = {0, (int)sealed.length};
    const int formats[] = {0, 1};
    int result = run(database,
                     "INSERT INTO hv_settings (name, sealed) VALUES ($1, $2)"
                     " ON CONFLICT (name) DO UPDATE SET value = NULL, sealed = EXCLUDED.sealed,"
                     " updated_at = now()",
                     2, values, lengths, formats, error, error_size);
    buffer_free(&sealed);
    return result;
}

/* The checks settings_set and settings_set_in share. */
static int check_value(const unsigned char *master_key, const char *name, const char *value,
                       int *secret, char *error, size_t error_size)
{
    if (!settings_known(name, secret)) {
        snprintf(error, error_size, "unknown setting '%s'", name);
        return -1;
    }
    if (value[0] == '\0') {
        snprintf(error, error_size, "%s must not be empty (use unset to remove it)", name);
        return -1;
    }
    if (*secret && master_key == NULL) {
        snprintf(error, error_size, "%s is a secret: set HARAVAN_MASTER_KEY first", name);
        return -1;
    }
    return 0;
}

int settings_set_in(db *database, const unsigned char *master_key, const char *name,
                    const char *value, char *error, size_t error_size)
{
    int secret = 0;
    if (check_value(master_key, name, value, &secret, error, error_size) != 0)
        return -1;
    int result = 0;
    if (strcmp(name, "client_secret") == 0)
        result = reseal_previous(database, master_key, error, error_size);
    if (result == 0)
        result = store(database, master_key, name, value, secret, error, error_size);
    return result;
}

/* One change and its NOTIFY, as one transaction (db_transaction). */
typedef struct change {
    const unsigned char *master_key;
    const char *name;
    const char *value; /* NULL: unset */
    char *error;
    size_t error_size;
} change;

static int change_body(db *database, void *context)
{
    change *c = context;
    int result = c->value != NULL ? settings_set_in(database, c->master_key, c->name, c->value,
                                                    c->error, c->error_size)
                                  : settings_unset_in(database, c->name, c->error, c->error_size);
    if (result == 0)
        result =
            run(database, "NOTIFY " SETTINGS_CHANNEL, 0, NULL, NULL, NULL, c->error, c->error_size);
    return result;
}

/* Runs the change, again when only a lost connection or a race stopped it. */
static int apply_change(db *database, change *c)
{
    int result = -1;
    for (int attempt = 0; attempt < 2 && result < 0; attempt++) {
        c->error[0] = '\0';
        result = db_transaction(database, change_body, c);
        if (result < 0 && c->error[0] == '\0')
            snprintf(c->error, c->error_size, "database: %s", database->error);
        if (result < 0 && !db_retryable(database))
            break;
    }
    return result == 0 ? 0 : -1;
}

int settings_set(db *database, const unsigned char *master_key, const char *name, const char *value,
                 char *error, size_t error_size)
{
    int secret = 0;
    if (check_value(master_key, name, value, &secret, error, error_size) != 0)
        return -1;
    change c = {master_key, name, value, error, error_size};
    return apply_change(database, &c);
}

int settings_unset_in(db *database, const char *name, char *error, size_t error_size)
{
    if (!settings_known(name, NULL)) {
        snprintf(error, error_size, "unknown setting '%s'", name);
        return -1;
    }
    const char *values[] = {name};
    return run(database, "DELETE FROM hv_settings WHERE name = $1", 1, values, NULL, NULL, error,
               error_size);
}

int settings_unset(db *database, const char *name, char *error, size_t error_size)
{
    if (!settings_known(name, NULL)) {
        snprintf(error, error_size, "unknown setting '%s'", name);
        return -1;
    }
    change c = {NULL, name, NULL, error, error_size};
    return apply_change(database, &c);
}

int settings_get(db *database, const unsigned char *master_key, const char *name, buffer *out,
                 time_t *updated_at, char *error, size_t error_size)
{
    const char *values[] = {name};
    PGresult *result = db_query(database, DB_IDEMPOTENT,
                                "SELECT value, sealed, extract(epoch FROM updated_at)::bigint"
                                " FROM hv_settings WHERE name = $1",
                                1, values, NULL, NULL);
    if (result == NULL) {
        snprintf(error, error_size, "database: %s", database->error);
        return -1;
    }
    int found = PQntuples(result) > 0;
    int status = found;
    if (found && updated_at != NULL)
        *updated_at = (time_t)strtoll(PQgetvalue(result, 0, 2), NULL, 10);
    if (found && !PQgetisnull(result, 0, 0)) {
        if (buffer_append_string(out, PQgetvalue(result, 0, 0)) != 0)
            status = -1;
    } else if (found) {
        size_t sealed_length = 0;
        unsigned char *sealed =
            PQunescapeBytea((const unsigned char *)PQgetvalue(result, 0, 1), &sealed_length);
        if (master_key != NULL && sealed != NULL &&
            crypto_open(master_key, name, sealed, sealed_length, out) == 0) {
            status = 1;
        } else {
            status = -1;
            snprintf(error, error_size, "%s cannot be opened: wrong HARAVAN_MASTER_KEY?", name);
        }
        PQfreemem(sealed);
    }
    PQclear(result);
    return status;
}
