/*
 * migrate: applies the numbered files of two migration sets in order, once
 * each: the connector's own tables (sql/connector: hv_*, the hv_ functions)
 * and the CRM tables it writes (sql/crm: customers, orders, order_items,
 * payments, order_sources, crm_users, crm_events).
 *
 * Two sets because the two have different owners. The connector set is
 * always the connector's; the CRM tables are the CRM's, which a CRM that
 * already has them must be able to keep: with HARAVAN_CRM_SCHEMA=own the
 * crm set is not applied, and migrate checks instead that the CRM's tables
 * have every column and unique index the connector relies on, naming each
 * one that is missing and applying nothing at all when one is, so that a
 * schema is never half there (docs/CONTRACT.md, "A CRM with its own
 * tables"). Each set is numbered from 001 on its own, so a change to one
 * never renumbers the other; the connector set is applied first, since the
 * CRM set's repairs may use its functions, never the other way round.
 *
 * The SQL is compiled into the binary (CMake embeds sql/SET/NNN_name.sql),
 * so a deployed haravan-ctl can never run against migrations from another
 * version. Each migration runs in its own transaction together with its
 * row in schema_migrations (migration_set, version, name), under an
 * advisory lock, so two hosts running `haravan-ctl migrate` at once apply
 * each file exactly once.
 *
 * Before the split there was one set, 001..009, and databases in the field
 * carry its rows (no migration_set column). Applied migrations are never
 * edited, so the split keeps every statement: the connector set is the old
 * files with the CRM statements taken out and keeps their numbers (old N is
 * connector N), and the crm set is those statements (old 002's tables are
 * crm 001, old 005's repair of CRM rows is crm 002). A database with the
 * old rows is therefore recognised, under the same lock and in one
 * transaction, and recorded as those versions of both sets; nothing runs
 * twice and nothing is lost, and a fresh database reaches the same schema
 * (tests/integration/test_migrate.c compares the two).
 */
#ifndef HARAVAN_CORE_MIGRATE_H
#define HARAVAN_CORE_MIGRATE_H

#include "core/db.h"

typedef struct migration {
    const char *set;  /* MIGRATE_SET_CONNECTOR or MIGRATE_SET_CRM */
    int version;      /* NNN of the file name, within its set */
    const char *name; /* the file name */
    const char *sql;
} migration;

#define MIGRATE_SET_CONNECTOR "connector"
#define MIGRATE_SET_CRM       "crm"

/* The migrations built into this binary: the connector set, then the crm
 * set, each in version order; ends with an entry whose sql is NULL. Static
 * storage. */
extern const migration migrate_embedded[];

typedef struct migrate_options {
    /* HARAVAN_CRM_SCHEMA=own: the crm set is the CRM's business; check its
     * tables instead of applying it. */
    int crm_own;
    /* Called once per applied file; may be NULL. */
    void (*applied)(const migration *applied);
    /* Called once per table, column or unique index the connector needs and
     * the CRM's tables lack ("customers.phone_raw"); may be NULL. */
    void (*missing)(const char *what);
} migrate_options;

/* Applies what is missing. Returns the number applied, or -1 with
 * database->error set (with crm_own: also when the CRM's tables lack
 * something, in which case nothing was applied). */
int migrate_apply(db *database, const migrate_options *options);

/* The highest applied version of `set`, 0 when none is, -1 on error. */
int migrate_current_version(db *database, const char *set);

#endif
