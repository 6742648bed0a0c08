/*
 * migrate: applies the numbered files of sql/ in order, once each.
 *
 * The SQL is compiled into the binary (CMake embeds sql/NNN_name.sql), so
 * a deployed haravan-ctl can never run against migrations from another
 * version. Each migration runs in its own transaction together with its
 * row in schema_migrations, under an advisory lock, so two hosts running
 * `haravan-ctl migrate` at once apply each file exactly once.
 */
#ifndef HARAVAN_CORE_MIGRATE_H
#define HARAVAN_CORE_MIGRATE_H

#include "core/db.h"

typedef struct migration {
    int version;      /* NNN of the file name */
    const char *name; /* the file name */
    const char *sql;
} migration;

/* The migrations built into this binary, in version order; ends with a
 * zero entry. Static storage. */
extern const migration migrate_embedded[];

/* Applies what is missing. Calls `report` (may be NULL) once per applied
 * file. Returns the number applied, or -1 with database->error set. */
int migrate_apply(db *database, void (*report)(const migration *applied));

/* The highest applied version, 0 for an empty database, -1 on error. */
int migrate_current_version(db *database);

#endif
