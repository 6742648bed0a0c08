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
 * Never inside a transaction: a fresh connection has no open transaction,
 * so a statement run again there would silently continue in autocommit,
 * outside the transaction it belonged to, without the locks it held. While
 * a transaction is open (PQtransactionStatus before the statement, or
 * db_transaction() running) a broken connection fails the statement, and
 * inside db_transaction() every later statement too, until the transaction
 * ends: the caller runs the whole transaction again (db_retryable()).
 *
 * The server's notices and warnings (and the FATAL it sends when it shuts
 * down) are logged as JSON lines through core/log.h, never printed raw.
 *
 * A db runs `on_connect` after every successful (re)connection: that is
 * where LISTEN and session settings go, since a new session has none.
 *
 * Prepared statements: db_query() prepares each statement text the first
 * time it runs on a session and executes it by name from then on, so
 * PostgreSQL parses it once per connection instead of once per call, and
 * may keep one generic plan for it (which is why processing sessions rule
 * out sequential scans: crm/processor.h, crm_processor_prepare_session).
 * A statement is known by the address of its text
 * and, to be sure the buffer was not reused for another, the text itself.
 * A session prepares at most DB_PREPARED_MAX texts; more run unprepared,
 * as all did before, so the server's memory per session stays bounded. A
 * new session (a reconnect) has none, and prepares again.
 *
 * Ownership: the db owns its PGconn, its conninfo copy and its copies of
 * the prepared texts. A PGresult returned by db_query() belongs to the
 * caller: PQclear() it.
 */
#ifndef HARAVAN_CORE_DB_H
#define HARAVAN_CORE_DB_H

#include <libpq-fe.h>

typedef struct db db;
typedef int (*db_connect_hook)(db *database, void *context);

/* How many statement texts one session prepares at most (the processors
 * run about 40). */
#define DB_PREPARED_MAX 64

typedef struct db_prepared {
    const char *address; /* the caller's text, as passed */
    char *text;          /* our copy of it */
} db_prepared;

struct db {
    PGconn *connection; /* NULL while disconnected */
    char *conninfo;     /* HARAVAN_DB, as configured */
    const char *application_name;
    db_connect_hook on_connect;
    void *on_connect_context;
    char error[256];  /* the last failure, for logs and replies */
    char sqlstate[6]; /* its SQLSTATE ("23505"), or "" */
    int transaction;  /* inside db_transaction(): never reconnect */
    /* What this session has prepared, named "hv_{index}"; emptied when
     * the session ends. */
    db_prepared prepared[DB_PREPARED_MAX];
    int prepared_count;
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
 * PGRES_COMMAND_OK or PGRES_TUPLES_OK, or NULL with db->error set. Clears
 * db->error and db->sqlstate first: a caller that needs them after its
 * next query (to record a reason, say) copies them, and never passes
 * db->error itself as a parameter. */
PGresult *db_query(db *database, int flags, const char *sql, int count, const char *const *values,
                   const int *lengths, const int *formats);

/* Runs a statement that returns nothing. Returns 0, or -1 with db->error. */
int db_command(db *database, const char *sql);

/* The body of a transaction: runs its statements on `database` and returns
 * 0 to commit, 1 to roll back although nothing failed (e.g. there was
 * nothing to do), or -1 to roll back on a failure. */
typedef int (*db_transaction_body)(db *database, void *context);

/* BEGIN, `body`, then COMMIT (body returned 0) or ROLLBACK. Clears
 * db->error and db->sqlstate first, so what they hold after a -1 is this
 * transaction's failure, never an older one's. Returns 0 committed, 1
 * rolled back as the body asked, or -1: failed and rolled back (or lost
 * with its connection), with db->error (and db->sqlstate) saying why.
 * Runs the body once: a caller that may, runs it all again when
 * db_retryable() says so. */
int db_transaction(db *database, db_transaction_body body, void *context);

/* 1 when the last failure may pass if the whole transaction runs again:
 * the connection broke (SQLSTATE 08006 or 08003; a failed connect, 08001,
 * is not: the server is away), a serialization failure (40001), a
 * deadlock (40P01) or a unique violation (23505, two transactions
 * inserting one row at once). */
int db_retryable(const db *database);

/* Drops the connection (the next query reconnects). */
void db_disconnect(db *database);

void db_close(db *database);

#endif
