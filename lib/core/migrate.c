/*
 * migrate: two ordered, once-only, locked migration sets, the old single
 * set's rows recognised, and the check of a CRM's own tables. See migrate.h.
 */
#include "core/migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pg_advisory_lock key: any constant unique to this program. */
#define MIGRATION_LOCK "7368617261766e"

static const char create_sql[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                 " migration_set text NOT NULL,"
                                 " version integer NOT NULL,"
                                 " name text NOT NULL,"
                                 " applied_at timestamptz NOT NULL DEFAULT now(),"
                                 " PRIMARY KEY (migration_set, version))";

/* The old single set's rows as the two sets' (migrate.h): old N is
 * connector N under its new file name, old 002 also crm 001 and old 005
 * also crm 002, each keeping the time it was applied. */
static const char legacy_sql[] =
    "ALTER TABLE schema_migrations ADD COLUMN migration_set text;"
    "UPDATE schema_migrations SET migration_set = 'connector';"
    "UPDATE schema_migrations SET name = '002_staff_shops.sql' WHERE version = 2;"
    "ALTER TABLE schema_migrations DROP CONSTRAINT schema_migrations_pkey;"
    "INSERT INTO schema_migrations (migration_set, version, name, applied_at)"
    " SELECT 'crm', 1, '001_tables.sql', applied_at FROM schema_migrations WHERE version = 2"
    " UNION ALL"
    " SELECT 'crm', 2, '002_finite_timestamps.sql', applied_at FROM schema_migrations"
    "  WHERE version = 5 AND migration_set = 'connector';"
    "ALTER TABLE schema_migrations ALTER COLUMN migration_set SET NOT NULL;"
    "ALTER TABLE schema_migrations ADD PRIMARY KEY (migration_set, version);";

/* 1 when schema_migrations exists without migration_set (the old single
 * set's table), 0 when not, -1 on error. */
static int is_legacy(db *database)
{
    PGresult *result = db_query(database, DB_ONCE,
                                "SELECT to_regclass('schema_migrations') IS NOT NULL"
                                " AND NOT EXISTS (SELECT 1 FROM pg_attribute"
                                "  WHERE attrelid = to_regclass('schema_migrations')"
                                "  AND attname = 'migration_set' AND NOT attisdropped)",
                                0, NULL, NULL, NULL);
    if (result == NULL)
        return -1;
    int legacy = strcmp(PQgetvalue(result, 0, 0), "t") == 0;
    PQclear(result);
    return legacy;
}

static int script_body(db *database, void *context)
{
    PGresult *result = PQexec(database->connection, context);
    int ok = PQresultStatus(result) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(database->error, sizeof database->error, "schema_migrations: %s",
                 PQresultErrorMessage(result));
    PQclear(result);
    return ok ? 0 : -1;
}

static int ensure_table(db *database)
{
    /* "already exists, skipping" notices are noise on every run. */
    if (db_command(database, "SET client_min_messages TO warning") != 0)
        return -1;
    int legacy = is_legacy(database);
    if (legacy < 0)
        return -1;
    if (legacy)
        return db_transaction(database, script_body, (void *)legacy_sql) == 0 ? 0 : -1;
    return db_command(database, create_sql);
}

static int is_applied(db *database, const migration *m)
{
    char text[16];
    snprintf(text, sizeof text, "%d", m->version);
    const char *values[] = {m->set, text};
    PGresult *result = db_query(database, DB_ONCE,
                                "SELECT 1 FROM schema_migrations"
                                " WHERE migration_set = $1 AND version = $2::int",
                                2, values, NULL, NULL);
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
        snprintf(database->error, sizeof database->error, "%s %s: %s", m->set, m->name,
                 PQresultErrorMessage(result));
        PQclear(result);
        return -1;
    }
    PQclear(result);

    char version[16];
    snprintf(version, sizeof version, "%d", m->version);
    const char *values[] = {m->set, version, m->name};
    result = db_query(database, DB_ONCE,
                      "INSERT INTO schema_migrations (migration_set, version, name)"
                      " VALUES ($1, $2::int, $3)",
                      3, values, NULL, NULL);
    if (result == NULL)
        return -1;
    PQclear(result);
    return 0;
}

/* What the connector reads and writes in the CRM's tables (lib/crm,
 * cgi/haravan-fcgi/handler_settings.c, cgi/haravan-ctl/crm_commands.c),
 * table by table: "table", then its columns, then NULL. */
static const char *const crm_columns[][22] = {
    {"crm_users", "id", "email", "name", "active", NULL},
    {"customers",
     "id",
     "name",
     "phone",
     "email",
     "gender",
     "birthday",
     "description",
     "address",
     "province",
     "district",
     "ward",
     "owner_id",
     "source",
     "haravan_org_id",
     "haravan_customer_id",
     "phone_raw",
     "email_raw",
     "haravan_updated_at",
     "updated_at",
     NULL},
    {"order_sources", "id", "name", "haravan_channel", NULL},
    {"orders", "id", "haravan_org_id", "haravan_order_id", "code", "customer_id", "executor_id",
     "source_id", "channel", "payment_status", "status", "total", "currency", "shipping_address",
     "note", "ordered_at", "haravan_updated_at", "updated_at", NULL},
    {"order_items", "id", "order_id", "product_id", "variant_id", "sku", "name", "quantity",
     "price", "discount", "haravan_line_item_id", NULL},
    {"payments", "id", "order_id", "amount", "method", "paid_at", "haravan_transaction_id", NULL},
    {"crm_events", "id", "type", "entity_id", "payload", "created_at", NULL},
};

/* The unique indexes the connector relies on, as "table", "its keys in
 * index order" (as pg_get_indexdef prints them), and whether a partial one
 * does: an INSERT ... ON CONFLICT names the first two and infers only a
 * plain index; the others make two processors that create the same customer
 * or order at once collide, so that the loser retries and finds the
 * winner's row (lib/crm/processor.c) instead of making a duplicate. A view
 * cannot carry an index: the check looks at tables only, and a view's base
 * table must have them (docs/CONTRACT.md). */
static const struct {
    const char *table, *keys;
    int partial_ok;
} crm_unique[] = {
    {"payments", "order_id, haravan_transaction_id", 0},
    {"order_sources", "haravan_channel", 0},
    {"orders", "haravan_org_id, haravan_order_id", 1},
    {"customers", "phone", 1},
    {"customers", "email", 1},
    {"customers", "haravan_org_id, haravan_customer_id", 1},
};

static void report_missing(const migrate_options *options, const char *what)
{
    if (options->missing != NULL)
        options->missing(what);
}

/* 1 when `sql` over `values` returns a row, 0 when not, -1 on error. */
static int exists(db *database, const char *sql, int count, const char *const *values)
{
    PGresult *result = db_query(database, DB_ONCE, sql, count, values, NULL, NULL);
    if (result == NULL)
        return -1;
    int found = PQntuples(result) > 0;
    PQclear(result);
    return found;
}

/* Counts (and reports) the missing columns of one table; -1 on error. */
static int check_table(db *database, const char *const *columns, const migrate_options *options)
{
    const char *table = columns[0];
    int found = exists(database, "SELECT 1 WHERE to_regclass($1) IS NOT NULL", 1, &table);
    if (found <= 0) {
        if (found == 0)
            report_missing(options, table);
        return found < 0 ? -1 : 1;
    }
    int missing = 0;
    for (const char *const *column = columns + 1; *column != NULL; column++) {
        const char *values[] = {table, *column};
        found = exists(database,
                       "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1)"
                       " AND attname = $2 AND attnum > 0 AND NOT attisdropped",
                       2, values);
        if (found < 0)
            return -1;
        if (found == 0) {
            char what[128];
            snprintf(what, sizeof what, "%s.%s", table, *column);
            report_missing(options, what);
            missing++;
        }
    }
    return missing;
}

/* 1 when the table has a unique index on exactly `keys` (partial when
 * `partial_ok`), or is a view (see crm_unique); 0 when not, -1 on error. */
static int has_unique(db *database, const char *table, const char *keys, int partial_ok)
{
    const char *values[] = {table, keys, partial_ok ? "t" : "f"};
    return exists(database,
                  "SELECT 1 FROM pg_class c WHERE c.oid = to_regclass($1) AND (c.relkind = 'v'"
                  " OR EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid"
                  "  AND i.indisunique AND (i.indpred IS NULL OR $3::boolean)"
                  "  AND (SELECT string_agg(pg_get_indexdef(i.indexrelid, k, true), ', '"
                  "       ORDER BY k) FROM generate_series(1, i.indnkeyatts) k) = $2))",
                  3, values);
}

/* HARAVAN_CRM_SCHEMA=own: counts (and reports) what the CRM's tables lack;
 * -1 on error. */
static int check_crm_tables(db *database, const migrate_options *options)
{
    int missing = 0;
    size_t tables = sizeof crm_columns / sizeof crm_columns[0];
    for (size_t i = 0; i < tables; i++) {
        int lacking = check_table(database, crm_columns[i], options);
        if (lacking < 0)
            return -1;
        missing += lacking;
    }
    for (size_t i = 0; i < sizeof crm_unique / sizeof crm_unique[0]; i++) {
        int found =
            has_unique(database, crm_unique[i].table, crm_unique[i].keys, crm_unique[i].partial_ok);
        if (found < 0)
            return -1;
        if (found == 0) {
            char what[160];
            snprintf(what, sizeof what, "a unique index on %s (%s)", crm_unique[i].table,
                     crm_unique[i].keys);
            report_missing(options, what);
            missing++;
        }
    }
    return missing;
}

/* Applies the missing files of the sets `options` asks for; the count, or
 * -1. */
static int apply_sets(db *database, const migrate_options *options)
{
    int applied = 0;
    for (const migration *m = migrate_embedded; m->sql != NULL; m++) {
        if (options->crm_own && strcmp(m->set, MIGRATE_SET_CRM) == 0)
            continue;
        int done = is_applied(database, m);
        if (done < 0)
            return -1;
        if (done)
            continue;
        if (db_transaction(database, apply_body, (void *)m) != 0)
            return -1;
        applied++;
        if (options->applied != NULL)
            options->applied(m);
    }
    return applied;
}

/* Under the lock: the table, the CRM's tables when they are its own, then
 * the files. */
static int apply_locked(db *database, const migrate_options *options)
{
    if (ensure_table(database) != 0)
        return -1;
    if (options->crm_own) {
        int missing = check_crm_tables(database, options);
        if (missing < 0)
            return -1;
        if (missing > 0) {
            snprintf(database->error, sizeof database->error,
                     "HARAVAN_CRM_SCHEMA=own: the CRM's tables lack %d thing(s) the connector"
                     " writes (listed above; docs/CONTRACT.md, \"A CRM with its own tables\");"
                     " nothing was applied",
                     missing);
            return -1;
        }
    }
    return apply_sets(database, options);
}

int migrate_apply(db *database, const migrate_options *options)
{
    if (db_connect(database) != 0)
        return -1;
    if (db_command(database, "SELECT pg_advisory_lock(x'" MIGRATION_LOCK "'::bigint)") != 0)
        return -1;
    int applied = apply_locked(database, options);
    /* On a broken connection the lock went with the session. */
    PQclear(
        PQexec(database->connection, "SELECT pg_advisory_unlock(x'" MIGRATION_LOCK "'::bigint)"));
    return applied;
}

int migrate_current_version(db *database, const char *set)
{
    const char *values[] = {set};
    PGresult *result = db_query(database, DB_ONCE,
                                "SELECT coalesce(max(version), 0) FROM schema_migrations"
                                " WHERE migration_set = $1",
                                1, values, NULL, NULL);
    if (result == NULL)
        return -1;
    int version = atoi(PQgetvalue(result, 0, 0));
    PQclear(result);
    return version;
}
