/*
 * migrate: ordered, once-only, locked schema migrations. See migrate.h.
 */
#include "core/migrate.h"

#include <stdio.h>
#include <stdlib.h>

/* pg_advisory_lock key: any constant unique to this program. */
#define MIGRATION_LOCK "7368617261766e"

static int ensure_table(db *database)
{
    /* "already exists, skipping" notices are noise on every run. */
    if (db_command(database, "SET client_min_messages TO warning") != 0)
        return -1;
    return db_command(database, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                " version integer PRIMARY KEY,"
                                " name text NOT NULL,"
                                " applied_at timestamptz NOT NULL DEFAULT now())");
}

static int is_applied(db *database, int version)
{
    char text[16];
    snprintf(text, sizeof text, "%d", version);
    const char *values[] = {text};
    PGresult *result =
        db_query(database, DB_ONCE, "SELECT 1 FROM schema_migrations WHERE version = $1::int", 1,
                 values, NULL, NULL);
    if (result == NULL)
        return -1;
    int applied = PQntuples(result) > 0;
    PQclear(result);
    return applied;
}

/* One migration and its schema_migrations row, as a transaction's body. */
static int apply_body(db *database, void *context)
{
    const migration *m = context;
    /* PQexec: a migration is a script of several statements. */
    PGresult *result = PQexec(database->connection, m->sql);
    ExecStatusType status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        snprintf(database->error, sizeof database->error, "%s: %s", m->name,
                 PQresultErrorMessage(result));
        PQclear(result);
        return -1;
    }
    PQclear(result);

    char version[16];
    snprintf(version, sizeof version, "%d", m->version);
    const char *values[] = {version, m->name};
    result = db_query(database, DB_ONCE,
                      "INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)", 2,
                      values, NULL, NULL);
    if (result == NULL)
        return -1;
    PQclear(result);
    return 0;
}

static int apply_one(db *database, const migration *m)
{
    return db_transaction(database, apply_body, (void *)m) == 0 ? 0 : -1;
}

int migrate_apply(db *database, void (*report)(const migration *applied))
{
    if (db_connect(database) != 0)
        return -1;
    if (db_command(database, "SELECT pg_advisory_lock(x'" MIGRATION_LOCK "'::bigint)") != 0)
        return -1;
    int applied = ensure_table(database) == 0 ? 0 : -1;
    for (const migration *m = migrate_embedded; applied >= 0 && m->sql != NULL; m++) {
        int done = is_applied(database, m->version);
        if (done < 0 || (done == 0 && apply_one(database, m) != 0)) {
            applied = -1;
            break;
        }
        if (done == 0) {
            applied++;
            if (report != NULL)
                report(m);
        }
    }
    /* On a broken connection the lock went with the session. */
    PQclear(
        PQexec(database->connection, "SELECT pg_advisory_unlock(x'" MIGRATION_LOCK "'::bigint)"));
    return applied;
}

int migrate_current_version(db *database)
{
    PGresult *result =
        db_query(database, DB_ONCE, "SELECT coalesce(max(version), 0) FROM schema_migrations", 0,
                 NULL, NULL, NULL);
    if (result == NULL)
        return -1;
    int version = atoi(PQgetvalue(result, 0, 0));
    PQclear(result);
    return version;
}
