/*
 * db: one PostgreSQL connection that heals itself.
 *
 * Each worker process owns exactly one db. PostgreSQL may restart under us
 * at any time; the worker must then answer 503 (never hang, never crash)
 * and work again as soon as the server is back, without a restart of its
 * own. So every query goes through db_query(), which reconnects when the
 * connection is broken and, for statements the caller marks idempotent,
 * runs the statement once more on the fresh connection.
 *
 * A db runs `on_connect` after every successful (re)connection: that is
 * where LISTEN and session settings go, since a new session has none.
 *
 * Ownership: the db owns its PGconn and its conninfo copy. A PGresult
 * returned by db_query() belongs to the caller: PQclear() it.
 */
#ifndef HARAVAN_CORE_DB_H
#define HARAVAN_CORE_DB_H

#include <libpq-fe.h>

typedef struct db db;
typedef int (*db_connect_hook)(db *database, void *context);

struct db {
    PGconn *connection; /* NULL while disconnected */
    char *conninfo;     /* HARAVAN_DB, as configured */
    const char *application_name;
    db_connect_hook on_connect;
    void *on_connect_context;
    char error[256]; /* the last failure, for logs and replies */
    char sqlstate[6]; /* its SQLSTATE ("23505"), or "" */
};

enum db_query_flags {
    DB_ONCE = 0,
    /* The statement may run twice (e.g. INSERT ... ON CONFLICT DO NOTHING):
     * retry it once after a reconnect. */
    DB_IDEMPOTENT = 1,
};

/* Prepares `database`; connects lazily on first use. Returns 0 or -1. */
int db_init(db *database, const char *conninfo, const char *application_name);

/* Connects if not connected. Returns 0, or -1 with db->error set. */
int db_connect(db *database);

/* Runs `sql` with text parameters (NULL = SQL NULL) or, where `lengths` and
 * `formats` are given, binary ones. Returns a result whose status is
 * PGRES_COMMAND_OK or PGRES_TUPLES_OK, or NULL with db->error set. */
PGresult *db_query(db *database, int flags, const char *sql, int count, const char *const *values,
                   const int *lengths, const int *formats);

/* Runs a statement that returns nothing. Returns 0, or -1 with db->error. */
int db_command(db *database, const char *sql);

/* Drops the connection (the next query reconnects). */
void db_disconnect(db *database);

void db_close(db *database);

#endif
