/*
 * db: a self-healing libpq connection. See db.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "core/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Long enough for a loaded server, short enough that Haravan's request
 * does not time out before we answer 503. */
#define CONNECT_TIMEOUT_SECONDS "5"

static void set_error(db *database, const char *prefix, const char *detail)
{
    snprintf(database->error, sizeof database->error, "%s%s", prefix, detail != NULL ? detail : "");
    /* libpq messages end with a newline; a log line should not. */
    size_t length = strlen(database->error);
    while (length > 0 &&
           (database->error[length - 1] == '\n' || database->error[length - 1] == ' '))
        database->error[--length] = '\0';
}

int db_init(db *database, const char *conninfo, const char *application_name)
{
    memset(database, 0, sizeof *database);
    database->conninfo = strdup(conninfo != NULL ? conninfo : "");
    database->application_name = application_name;
    return database->conninfo != NULL ? 0 : -1;
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
        return -1;
    }
    if (PQstatus(connection) != CONNECTION_OK) {
        set_error(database, "cannot connect: ", PQerrorMessage(connection));
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

PGresult *db_query(db *database, int flags, const char *sql, int count, const char *const *values,
                   const int *lengths, const int *formats)
{
    int attempts = (flags & DB_IDEMPOTENT) ? 2 : 1;
    for (int attempt = 0; attempt < attempts; attempt++) {
        if (db_connect(database) != 0)
            return NULL;
        PGresult *result =
            PQexecParams(database->connection, sql, count, NULL, values, lengths, formats, 0);
        if (result != NULL && result_ok(result))
            return result;
        set_error(database, "",
                  result != NULL ? PQresultErrorMessage(result)
                                 : PQerrorMessage(database->connection));
        const char *state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
        snprintf(database->sqlstate, sizeof database->sqlstate, "%s", state != NULL ? state : "");
        PQclear(result);
        if (PQstatus(database->connection) == CONNECTION_OK)
            return NULL; /* a real SQL error: running it again changes nothing */
        db_disconnect(database);
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

void db_disconnect(db *database)
{
    if (database->connection != NULL)
        PQfinish(database->connection);
    database->connection = NULL;
}

void db_close(db *database)
{
    db_disconnect(database);
    free(database->conninfo);
    database->conninfo = NULL;
}
