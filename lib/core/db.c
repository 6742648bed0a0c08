/*
 * db: a self-healing libpq connection. See db.h.
 *
 * Whether a statement may run again on a fresh connection is decided
 * before it runs, from libpq's own view of the session
 * (PQtransactionStatus) and db->transaction: once the connection is gone
 * that view is gone with it, so it cannot be asked afterwards.
 */
#define _POSIX_C_SOURCE 200809L
#include "core/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* Long enough for a loaded server, short enough that Haravan's request
 * does not time out before we answer 503. */
#define CONNECT_TIMEOUT_SECONDS "5"

/* SQLSTATEs this file sets itself, when libpq has none to give. */
#define SQLSTATE_CANNOT_CONNECT  "08001"
#define SQLSTATE_NO_CONNECTION   "08003"
#define SQLSTATE_CONNECTION_LOST "08006"

static void set_error(db *database, const char *prefix, const char *detail)
{
    snprintf(database->error, sizeof database->error, "%s%s", prefix, detail != NULL ? detail : "");
    /* libpq messages end with a newline; a log line should not. */
    size_t length = strlen(database->error);
    while (length > 0 &&
           (database->error[length - 1] == '\n' || database->error[length - 1] == ' '))
        database->error[--length] = '\0';
}

static void set_sqlstate(db *database, const char *state)
{
    snprintf(database->sqlstate, sizeof database->sqlstate, "%s", state != NULL ? state : "");
}

static void clear_error(db *database)
{
    database->error[0] = '\0';
    database->sqlstate[0] = '\0';
}

int db_init(db *database, const char *conninfo, const char *application_name)
{
    memset(database, 0, sizeof *database);
    database->conninfo = strdup(conninfo != NULL ? conninfo : "");
    database->application_name = application_name;
    return database->conninfo != NULL ? 0 : -1;
}

static const char *notice_level(const char *severity)
{
    if (severity == NULL)
        return "warning";
    if (strcmp(severity, "ERROR") == 0 || strcmp(severity, "FATAL") == 0 ||
        strcmp(severity, "PANIC") == 0)
        return "error";
    if (strcmp(severity, "WARNING") == 0)
        return "warning";
    return "info";
}

/* libpq's default prints notices raw on stderr, which is our JSON log. */
static void log_notice(void *context, const PGresult *notice)
{
    const char *application = context;
    const char *severity = PQresultErrorField(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (severity == NULL)
        severity = PQresultErrorField(notice, PG_DIAG_SEVERITY);
    log_record record;
    log_begin(&record, notice_level(severity), "postgres");
    log_string(&record, "application", application);
    log_string(&record, "severity", severity);
    log_string(&record, "sqlstate", PQresultErrorField(notice, PG_DIAG_SQLSTATE));
    log_string(&record, "msg", PQresultErrorField(notice, PG_DIAG_MESSAGE_PRIMARY));
    log_end(&record);
}

int db_connect(db *database)
{
    if (database->connection != NULL && PQstatus(database->connection) == CONNECTION_OK)
        return 0;
    db_disconnect(database);

    /* The configured conninfo comes last with expand_dbname, so anything it
     * says (its own connect_timeout included) wins over our defaults. */
    const char *keywords[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *values[] = {CONNECT_TIMEOUT_SECONDS, database->application_name, database->conninfo,
                            NULL};
    PGconn *connection = PQconnectdbParams(keywords, values, 1);
    if (connection == NULL) {
        set_error(database, "cannot connect: out of memory", NULL);
        set_sqlstate(database, SQLSTATE_CANNOT_CONNECT);
        return -1;
    }
    PQsetNoticeReceiver(connection, log_notice, (void *)database->application_name);
    if (PQstatus(connection) != CONNECTION_OK) {
        set_error(database, "cannot connect: ", PQerrorMessage(connection));
        set_sqlstate(database, SQLSTATE_CANNOT_CONNECT);
        PQfinish(connection);
        return -1;
    }
    database->connection = connection;
    if (database->on_connect != NULL &&
        database->on_connect(database, database->on_connect_context) != 0) {
        db_disconnect(database);
        return -1;
    }
    return 0;
}

static int result_ok(PGresult *result)
{
    ExecStatusType status = PQresultStatus(result);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

static int connected(const db *database)
{
    return database->connection != NULL && PQstatus(database->connection) == CONNECTION_OK;
}

/* Whether the session has a transaction open (or failed) right now. */
static int transaction_open(const db *database)
{
    if (database->transaction)
        return 1;
    if (!connected(database))
        return 0;
    PGTransactionStatusType status = PQtransactionStatus(database->connection);
    return status == PQTRANS_INTRANS || status == PQTRANS_INERROR;
}

/* Records why the statement failed; drops a broken connection. */
static void record_failure(db *database, PGresult *result)
{
    set_error(database, "",
              result != NULL ? PQresultErrorMessage(result) : PQerrorMessage(database->connection));
    set_sqlstate(database, PQresultErrorField(result, PG_DIAG_SQLSTATE));
    if (connected(database))
        return;
    /* Whatever the server said as it went (57P01 ...), for the caller the
     * connection is lost: one state to test. */
    set_sqlstate(database, SQLSTATE_CONNECTION_LOST);
    db_disconnect(database);
}

/* Forgets what the session prepared (the session is gone, or going). */
static void forget_prepared(db *database)
{
    for (int i = 0; i < database->prepared_count; i++)
        free(database->prepared[i].text);
    database->prepared_count = 0;
}

/* The name under which `sql` is prepared on this session, preparing it if
 * there is room. Returns 1 with `name` set, 0 when it runs unprepared
 * (no room, or its buffer now holds another text), -1 with the failure
 * recorded. */
static int prepared_name(db *database, const char *sql, int count, char *name, size_t size)
{
    int index = 0;
    while (index < database->prepared_count && database->prepared[index].address != sql)
        index++;
    if (index < database->prepared_count) {
        snprintf(name, size, "hv_%d", index);
        return strcmp(database->prepared[index].text, sql) == 0;
    }
    if (database->prepared_count == DB_PREPARED_MAX)
        return 0;
    char *text = strdup(sql);
    if (text == NULL)
        return 0; /* out of memory: it runs unprepared */
    snprintf(name, size, "hv_%d", index);
    PGresult *result = PQprepare(database->connection, name, sql, count, NULL);
    if (result == NULL || !result_ok(result)) {
        free(text);
        record_failure(database, result);
        PQclear(result);
        return -1;
    }
    PQclear(result);
    database->prepared[index] = (db_prepared){.address = sql, .text = text};
    database->prepared_count++;
    return 1;
}

/* One attempt at a statement on the current session. NULL with the
 * failure recorded. */
static PGresult *run_once(db *database, const char *sql, int count, const char *const *values,
                          const int *lengths, const int *formats)
{
    char name[16];
    int prepared = prepared_name(database, sql, count, name, sizeof name);
    if (prepared < 0)
        return NULL;
    PGresult *result =
        prepared ? PQexecPrepared(database->connection, name, count, values, lengths, formats, 0)
                 : PQexecParams(database->connection, sql, count, NULL, values, lengths, formats,
                                0);
    if (result != NULL && result_ok(result))
        return result;
    record_failure(database, result);
    PQclear(result);
    return NULL;
}

PGresult *db_query(db *database, int flags, const char *sql, int count, const char *const *values,
                   const int *lengths, const int *formats)
{
    clear_error(database);
    if (database->transaction && !connected(database)) {
        set_error(database, "the connection was lost inside a transaction", NULL);
        set_sqlstate(database, SQLSTATE_NO_CONNECTION);
        return NULL;
    }
    int attempts = (flags & DB_IDEMPOTENT) && !transaction_open(database) ? 2 : 1;
    for (int attempt = 0; attempt < attempts; attempt++) {
        if (db_connect(database) != 0)
            return NULL;
        PGresult *result = run_once(database, sql, count, values, lengths, formats);
        if (result != NULL)
            return result;
        if (database->connection != NULL)
            return NULL; /* a real SQL error: running it again changes nothing */
    }
    return NULL;
}

int db_command(db *database, const char *sql)
{
    PGresult *result = db_query(database, DB_ONCE, sql, 0, NULL, NULL, NULL);
    if (result == NULL)
        return -1;
    PQclear(result);
    return 0;
}

/* Ends the transaction whatever state it is in; a session that cannot say
 * it is idle again is dropped, so no transaction ever outlives this. */
static void rollback(db *database)
{
    database->transaction = 0;
    if (database->connection == NULL)
        return;
    PGresult *result = PQexec(database->connection, "ROLLBACK");
    int ok = PQresultStatus(result) == PGRES_COMMAND_OK;
    PQclear(result);
    if (!ok || PQtransactionStatus(database->connection) != PQTRANS_IDLE)
        db_disconnect(database);
}

int db_transaction(db *database, db_transaction_body body, void *context)
{
    clear_error(database);
    database->transaction = 0;
    /* Nothing has happened yet: BEGIN itself may go to a fresh connection. */
    PGresult *begun = db_query(database, DB_IDEMPOTENT, "BEGIN", 0, NULL, NULL, NULL);
    if (begun == NULL)
        return -1;
    PQclear(begun);
    database->transaction = 1;
    int result = body(database, context);
    if (result == 0 && db_command(database, "COMMIT") == 0) {
        database->transaction = 0;
        return 0;
    }
    char error[sizeof database->error];
    char sqlstate[sizeof database->sqlstate];
    memcpy(error, database->error, sizeof error);
    memcpy(sqlstate, database->sqlstate, sizeof sqlstate);
    rollback(database);
    memcpy(database->error, error, sizeof error);
    memcpy(database->sqlstate, sqlstate, sizeof sqlstate);
    return result > 0 ? 1 : -1;
}

int db_retryable(const db *database)
{
    static const char *const states[] = {
        SQLSTATE_CONNECTION_LOST, SQLSTATE_NO_CONNECTION, "40001", "40P01", "23505", NULL};
    for (size_t i = 0; states[i] != NULL; i++)
        if (strcmp(database->sqlstate, states[i]) == 0)
            return 1;
    return 0;
}

void db_disconnect(db *database)
{
    if (database->connection != NULL)
        PQfinish(database->connection);
    database->connection = NULL;
    forget_prepared(database); /* a session's prepared statements end with it */
}

void db_close(db *database)
{
    db_disconnect(database);
    free(database->conninfo);
    database->conninfo = NULL;
}
