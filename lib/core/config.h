/*
 * config: the connector's configuration, from a file and the environment.
 *
 * Every name is the environment variable's (docs/CONTRACT.md). A file
 * holds the same names as shell-style `NAME=value` lines (var/stack.env is
 * such a file), and the environment overrides the file, so one systemd
 * EnvironmentFile or one exported variable does what an operator expects.
 * Unknown HARAVAN_ names in a file are an error: a typo must not silently
 * leave a default in force.
 *
 * HARAVAN_ADMIN_AUTH=crm makes the admin routes trust the identity that the
 * CRM's nginx passes from its sign-in check (auth_request) instead of their
 * own sessions (cgi/haravan-fcgi/admin.h). HARAVAN_ADMIN_HEADER, which made
 * them trust a request header, is refused with an explanation.
 *
 * Refused at load as unsafe: a HARAVAN_MASTER_KEY_FILE that group or others
 * may access, and a HARAVAN_SOCKET_MODE with any bit for others.
 *
 * Ownership: a config owns its strings; config_free() releases them. The
 * processes treat a loaded config as read-only; SIGHUP loads a new one.
 */
#ifndef HARAVAN_CORE_CONFIG_H
#define HARAVAN_CORE_CONFIG_H

#include <stddef.h>

#include "core/crypto.h"

typedef struct config {
    char *database;        /* HARAVAN_DB: libpq conninfo */
    char *public_url;      /* HARAVAN_PUBLIC_URL: https://crm.example.com */
    char *accounts_url;    /* HARAVAN_ACCOUNTS_URL */
    char *api_url;         /* HARAVAN_API_URL */
    char *webhook_url;     /* HARAVAN_WEBHOOK_URL */
    int admin_crm;         /* HARAVAN_ADMIN_AUTH=crm (default password) */
    int crm_own;           /* HARAVAN_CRM_SCHEMA=own (default ours): lib/core/migrate.h */
    char *socket_path;     /* HARAVAN_SOCKET: the FastCGI unix socket */
    char *socket_group;    /* HARAVAN_SOCKET_GROUP: group given the socket */
    unsigned socket_mode;  /* HARAVAN_SOCKET_MODE, octal, e.g. 0660 */
    int workers;           /* HARAVAN_WORKERS; 0 until loaded = 2 x cores */
    int processors;        /* HARAVAN_PROCESSORS; 0 = intake only; -1 until loaded = cores */
    int reconcile_seconds; /* HARAVAN_RECONCILE_SECONDS: catch-up of missed webhooks; 300 */
    int has_master_key;    /* HARAVAN_MASTER_KEY or HARAVAN_MASTER_KEY_FILE */
    unsigned char master_key[CRYPTO_KEY_SIZE];
} config;

/* Fills in the defaults (no master key, no database). */
void config_defaults(config *c);

/* Applies one NAME=value. Returns 0, or -1 with a message in `error` when
 * the name is unknown or the value invalid. */
int config_set(config *c, const char *name, const char *value, char *error, size_t error_size);

/* Applies the NAME=value lines of `text` (comments with #, blank lines,
 * optional `export `, values optionally in single or double quotes).
 * Returns 0, or -1 with the line number in `error`. */
int config_apply_text(config *c, const char *text, char *error, size_t error_size);

/* Defaults, then the file at `path` (NULL: $HARAVAN_CONFIG if set), then
 * the environment. Returns 0, or -1 with a message in `error`. */
int config_load(config *c, const char *path, char *error, size_t error_size);

void config_free(config *c);

#endif
