/*
 * The two migration sets (issue #10, lib/core/migrate.h): a new database,
 * one at the old single set's version 9 (and one stopped at its 004), and
 * a CRM with its own tables (HARAVAN_CRM_SCHEMA=own), each run through the
 * real `haravan-ctl migrate` against the stack's PostgreSQL.
 *
 * Each case lives in its own schema of the stack's database (search_path
 * in the conninfo), so cases cannot see each other or the stack's tables
 * and the role needs no right to create databases. The old set is
 * tests/data/legacy-sql, the files of sql/ as they were before the split,
 * applied the way the old migrate did (one transaction per file with its
 * row in the old schema_migrations). An upgraded schema must equal a new
 * one: columns, constraints, indexes and functions are compared as
 * PostgreSQL prints them.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "core/buffer.h"
#include "support.h"

/* A fresh, empty schema `name` (dropped first if a run left one). */
static void fresh_schema(const char *name)
{
    char sql[256];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", name);
    it_exec(sql);
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", name);
    it_exec(sql);
}

static void conninfo_for(const char *schema, char *out, size_t size)
{
    snprintf(out, size, "%s options='-c search_path=%s'", it_env("HARAVAN_DB"), schema);
}

/* A connection whose search_path is `schema`. */
static PGconn *connect_to(const char *schema)
{
    char conninfo[1024];
    conninfo_for(schema, conninfo, sizeof conninfo);
    PGconn *connection = PQconnectdb(conninfo);
    if (PQstatus(connection) != CONNECTION_OK)
        fail_msg("connect %s: %s", schema, PQerrorMessage(connection));
    return connection;
}

static void run_sql(PGconn *connection, const char *sql)
{
    PGresult *result = PQexec(connection, sql);
    ExecStatusType status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        fail_msg("%s\n%s", PQresultErrorMessage(result), sql);
    PQclear(result);
}

/* `haravan-ctl COMMAND` on `schema` (with HARAVAN_CRM_SCHEMA=`crm_schema`
 * when not NULL): its exit status, stdout and stderr together in `out`. */
static int ctl_on(const char *schema, const char *crm_schema, const char *command_name, buffer *out)
{
    char conninfo[1024], command[2048];
    conninfo_for(schema, conninfo, sizeof conninfo);
    snprintf(command, sizeof command, "HARAVAN_DB=\"%s\" %s%s '%s' %s 2>&1", conninfo,
             crm_schema != NULL ? "HARAVAN_CRM_SCHEMA=" : "", crm_schema != NULL ? crm_schema : "",
             it_env("HARAVAN_CTL"), command_name);
    FILE *pipe = popen(command, "r");
    assert_non_null(pipe);
    char chunk[4096];
    for (size_t got = fread(chunk, 1, sizeof chunk, pipe); got > 0;
         got = fread(chunk, 1, sizeof chunk, pipe))
        assert_int_equal(buffer_append(out, chunk, got), 0);
    assert_int_equal(buffer_append(out, "", 1), 0);
    int status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int migrate(const char *schema, const char *crm_schema, buffer *out)
{
    return ctl_on(schema, crm_schema, "migrate", out);
}

static void assert_contains(const buffer *text, const char *needle)
{
    if (strstr(text->data, needle) == NULL)
        fail_msg("expected \"%s\" in:\n%s", needle, text->data);
}

static void assert_lacks(const buffer *text, const char *needle)
{
    if (strstr(text->data, needle) != NULL)
        fail_msg("did not expect \"%s\" in:\n%s", needle, text->data);
}

/* The old single set up to `last`, as the old migrate applied it. */
static void apply_legacy(const char *schema, int last)
{
    static const char *const files[] = {
        "001_intake.sql",
        "002_crm.sql",
        "003_admin.sql",
        "004_connect.sql",
        "005_db_timestamps.sql",
        "006_oauth_browser.sql",
        "007_intake_body_identity.sql",
        "008_pipeline.sql",
        "009_rate_buckets.sql",
    };
    PGconn *connection = connect_to(schema);
    run_sql(connection, "CREATE TABLE schema_migrations (version integer PRIMARY KEY,"
                        " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
    for (int i = 0; i < last; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/legacy-sql/%s", HARAVAN_TEST_DATA_DIR, files[i]);
        buffer sql = BUFFER_INIT;
        it_read_file(path, &sql);
        assert_int_equal(buffer_append(&sql, "", 1), 0);
        char row[256];
        snprintf(row, sizeof row, "INSERT INTO schema_migrations (version, name) VALUES (%d, '%s')",
                 i + 1, files[i]);
        run_sql(connection, "BEGIN");
        run_sql(connection, sql.data);
        run_sql(connection, row);
        run_sql(connection, "COMMIT");
        buffer_free(&sql);
    }
    PQfinish(connection);
}

/* The schema as PostgreSQL prints it, its own name replaced by "S". */
static void describe(const char *schema, buffer *out)
{
    static const char sql[] =
        "SELECT string_agg(line, E'\\n' ORDER BY line) FROM ("
        " SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' '"
        "  || is_nullable || ' ' || coalesce(column_default, '') AS line"
        "  FROM information_schema.columns WHERE table_schema = $1"
        "  AND table_name <> 'schema_migrations'"
        " UNION ALL SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' '"
        "  || pg_get_constraintdef(oid) FROM pg_constraint"
        "  WHERE connamespace = $1::regnamespace AND conrelid <> to_regclass($1 || "
        "'.schema_migrations')"
        " UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = $1"
        "  AND tablename <> 'schema_migrations'"
        " UNION ALL SELECT 'function ' || pg_get_functiondef(p.oid) FROM pg_proc p"
        "  WHERE p.pronamespace = $1::regnamespace) lines";
    PGconn *connection = it_db();
    const char *values[] = {schema};
    PGresult *result = PQexecParams(connection, sql, 1, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(result) != PGRES_TUPLES_OK)
        fail_msg("%s", PQresultErrorMessage(result));
    const char *text = PQgetvalue(result, 0, 0);
    size_t length = strlen(schema);
    for (const char *at = text; *at != '\0';) {
        const char *found = strstr(at, schema);
        size_t plain = found != NULL ? (size_t)(found - at) : strlen(at);
        assert_int_equal(buffer_append(out, at, plain), 0);
        if (found == NULL)
            break;
        assert_int_equal(buffer_append(out, "S", 1), 0);
        at = found + length;
    }
    assert_int_equal(buffer_append(out, "", 1), 0);
    PQclear(result);
}

static void assert_same_schema(const char *expected, const char *actual)
{
    buffer a = BUFFER_INIT, b = BUFFER_INIT;
    describe(expected, &a);
    describe(actual, &b);
    assert_true(a.length > 1000); /* the comparison compares something */
    if (strcmp(a.data, b.data) != 0) {
        const char *x = a.data, *y = b.data;
        while (*x != '\0' && *x == *y)
            x++, y++;
        fail_msg("%s differs from %s at:\n%.300s\n---\n%.300s", actual, expected, x, y);
    }
    buffer_free(&a);
    buffer_free(&b);
}

static long long count_in(const char *schema, const char *what)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.%s", schema, what);
    return it_scalar(sql, NULL);
}

/* ---- a new database ---- */

static void test_new_database_gets_both_sets_named(void **state)
{
    (void)state;
    fresh_schema("it_migrate_new");
    buffer out = BUFFER_INIT;
    assert_int_equal(migrate("it_migrate_new", NULL, &out), 0);
    assert_contains(&out, "applied connector 001_intake.sql\n");
    assert_contains(&out, "applied connector 009_rate_buckets.sql\n");
    assert_contains(&out, "applied connector 010_catchup.sql\n");
    assert_contains(&out, "applied crm 001_tables.sql\n");
    assert_contains(&out, "applied crm 002_finite_timestamps.sql\n");
    assert_contains(&out, "14 applied now");
    assert_contains(&out, "connector version 12\n");
    assert_contains(&out, "crm version 2\n");
    /* The connector's files come first: none of the crm set before them. */
    assert_true(strstr(out.data, "applied connector 010") < strstr(out.data, "applied crm 001"));
    buffer_free(&out);

    buffer again = BUFFER_INIT;
    assert_int_equal(migrate("it_migrate_new", NULL, &again), 0);
    assert_lacks(&again, "applied c");
    assert_contains(&again, "0 applied now");
    buffer_free(&again);

    buffer status = BUFFER_INIT;
    assert_int_equal(ctl_on("it_migrate_new", NULL, "status", &status), 0);
    assert_contains(&status, "schema connector version 12\n");
    assert_contains(&status, "schema crm version 2\n");
    buffer_free(&status);
}

/* ---- a database at the old single set ---- */

static void test_old_version_9_is_recorded_as_both_sets(void **state)
{
    (void)state;
    fresh_schema("it_migrate_new");
    buffer out = BUFFER_INIT;
    assert_int_equal(migrate("it_migrate_new", NULL, &out), 0);
    buffer_free(&out);

    fresh_schema("it_migrate_old");
    apply_legacy("it_migrate_old", 9);
    PGconn *old = connect_to("it_migrate_old");
    run_sql(old, "INSERT INTO customers (name, phone) VALUES ('Nguyễn Văn A', '+84901234567')");
    run_sql(old, "INSERT INTO hv_events (topic, dedupe_key, body) VALUES ('orders/create', 'k1',"
                 " '\\x7b7d')");
    PQfinish(old);

    buffer upgrade = BUFFER_INIT;
    assert_int_equal(migrate("it_migrate_old", NULL, &upgrade), 0);
    /* Nothing of the old set runs again; only what came after it. */
    assert_lacks(&upgrade, "applied connector 00");
    assert_lacks(&upgrade, "applied crm");
    assert_contains(&upgrade, "applied connector 010_catchup.sql\n");
    assert_contains(&upgrade, "applied connector 011_shops.sql\n");
    assert_contains(&upgrade, "applied connector 012_inbox_body_lz4.sql\n");
    assert_contains(&upgrade, "3 applied now");
    assert_contains(&upgrade, "connector version 12\n");
    assert_contains(&upgrade, "crm version 2\n");
    buffer_free(&upgrade);

    assert_same_schema("it_migrate_new", "it_migrate_old");
    assert_int_equal(count_in("it_migrate_old", "customers WHERE phone = '+84901234567'"), 1);
    assert_int_equal(count_in("it_migrate_old", "hv_events WHERE dedupe_key = 'k1'"), 1);
    assert_int_equal(count_in("it_migrate_old", "schema_migrations WHERE migration_set ="
                                                " 'connector'"),
                     12);
    assert_int_equal(count_in("it_migrate_old", "schema_migrations WHERE migration_set = 'crm'"),
                     2);
    assert_int_equal(count_in("it_migrate_old", "schema_migrations WHERE migration_set ="
                                                " 'connector' AND version = 2 AND name ="
                                                " '002_staff_shops.sql'"),
                     1);

    /* And a second run finds nothing to do. */
    buffer again = BUFFER_INIT;
    assert_int_equal(migrate("it_migrate_old", NULL, &again), 0);
    assert_contains(&again, "0 applied now");
    buffer_free(&again);
}

/* One stopped at the old 004 gets the rest of both sets, and the same
 * schema as a new one. */
static void test_old_version_4_gets_the_rest(void **state)
{
    (void)state;
    fresh_schema("it_migrate_new");
    buffer out = BUFFER_INIT;
    assert_int_equal(migrate("it_migrate_new", NULL, &out), 0);
    buffer_free(&out);

    fresh_schema("it_migrate_old4");
    apply_legacy("it_migrate_old4", 4);
    buffer upgrade = BUFFER_INIT;
    assert_int_equal(migrate("it_migrate_old4", NULL, &upgrade), 0);
    assert_lacks(&upgrade, "applied connector 004");
    assert_lacks(&upgrade, "applied crm 001");
    assert_contains(&upgrade, "applied connector 005_db_timestamps.sql\n");
    assert_contains(&upgrade, "applied connector 009_rate_buckets.sql\n");
    assert_contains(&upgrade, "applied connector 010_catchup.sql\n");
    assert_contains(&upgrade, "applied crm 002_finite_timestamps.sql\n");
    assert_contains(&upgrade, "9 applied now");
    buffer_free(&upgrade);
    assert_same_schema("it_migrate_new", "it_migrate_old4");
}

/* ---- a CRM with its own tables ---- */

/* The CRM tables as the crm set makes them, in `schema`. */
static void crm_tables(const char *schema)
{
    buffer sql = BUFFER_INIT;
    it_read_file(HARAVAN_SOURCE_DIR "/sql/crm/001_tables.sql", &sql);
    assert_int_equal(buffer_append(&sql, "", 1), 0);
    PGconn *connection = connect_to(schema);
    run_sql(connection, sql.data);
    PQfinish(connection);
    buffer_free(&sql);
}

static void test_own_crm_tables_lacking_columns_apply_nothing(void **state)
{
    (void)state;
    fresh_schema("it_migrate_own");
    crm_tables("it_migrate_own");
    it_exec("ALTER TABLE it_migrate_own.customers DROP COLUMN phone_raw");
    it_exec("ALTER TABLE it_migrate_own.orders DROP COLUMN haravan_updated_at");
    it_exec("DROP TABLE it_migrate_own.crm_events");
    it_exec("ALTER TABLE it_migrate_own.payments"
            " DROP CONSTRAINT payments_order_id_haravan_transaction_id_key");
    /* Unique, but partial: ON CONFLICT (haravan_channel) cannot use it. */
    it_exec("ALTER TABLE it_migrate_own.order_sources"
            " DROP CONSTRAINT order_sources_haravan_channel_key");
    it_exec("CREATE UNIQUE INDEX ON it_migrate_own.order_sources (haravan_channel)"
            " WHERE haravan_channel <> ''");
    /* Not unique: two processors could create one customer twice. */
    it_exec("DROP INDEX it_migrate_own.customers_email");
    it_exec("CREATE INDEX ON it_migrate_own.customers (email)");

    buffer out = BUFFER_INIT;
    assert_int_equal(migrate("it_migrate_own", "own", &out), 1);
    assert_contains(&out, "missing customers.phone_raw\n");
    assert_contains(&out, "missing orders.haravan_updated_at\n");
    assert_contains(&out, "missing crm_events\n");
    assert_contains(&out,
                    "missing a unique index on payments (order_id, haravan_transaction_id)\n");
    assert_contains(&out, "missing a unique index on order_sources (haravan_channel)\n");
    assert_contains(&out, "missing a unique index on customers (email)\n");
    assert_lacks(&out, "missing a unique index on customers (phone)");
    assert_lacks(&out, "missing a unique index on orders");
    assert_contains(&out, "lack 6 thing(s)");
    assert_lacks(&out, "missing customers.phone\n");
    assert_lacks(&out, "applied c");
    buffer_free(&out);
    /* Nothing half there: no connector table either. */
    assert_int_equal(it_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'it_migrate_own'"
                               " AND tablename LIKE 'hv\\_%'",
                               NULL),
                     0);
}

static void test_own_crm_tables_get_only_the_connector_set(void **state)
{
    (void)state;
    fresh_schema("it_migrate_own");
    crm_tables("it_migrate_own");
    /* The CRM's own naming, mapped by a view (docs/CONTRACT.md). */
    it_exec("ALTER TABLE it_migrate_own.crm_users RENAME TO staff");
    it_exec("CREATE VIEW it_migrate_own.crm_users AS SELECT * FROM it_migrate_own.staff");

    buffer out = BUFFER_INIT;
    assert_int_equal(migrate("it_migrate_own", "own", &out), 0);
    assert_contains(&out, "applied connector 001_intake.sql\n");
    assert_contains(&out, "applied connector 009_rate_buckets.sql\n");
    assert_lacks(&out, "applied crm");
    assert_lacks(&out, "missing");
    assert_contains(&out, "12 applied now");
    assert_contains(&out, "connector version 12\n");
    assert_contains(&out, "crm: the CRM's own tables (HARAVAN_CRM_SCHEMA=own)\n");
    buffer_free(&out);
    assert_int_equal(count_in("it_migrate_own", "schema_migrations WHERE migration_set = 'crm'"),
                     0);

    buffer status = BUFFER_INIT;
    assert_int_equal(ctl_on("it_migrate_own", "own", "status", &status), 0);
    assert_contains(&status, "schema connector version 12\n");
    assert_contains(&status, "schema crm: the CRM's own tables (HARAVAN_CRM_SCHEMA=own)\n");
    buffer_free(&status);
}

static int teardown(void **state)
{
    (void)state;
    it_exec("DROP SCHEMA IF EXISTS it_migrate_new, it_migrate_old, it_migrate_old4, "
            "it_migrate_own CASCADE");
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_database_gets_both_sets_named),
        cmocka_unit_test(test_old_version_9_is_recorded_as_both_sets),
        cmocka_unit_test(test_old_version_4_gets_the_rest),
        cmocka_unit_test(test_own_crm_tables_lacking_columns_apply_nothing),
        cmocka_unit_test(test_own_crm_tables_get_only_the_connector_set),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
