/*
 * settings: what the merchant configures, stored in hv_settings.
 *
 * The set of names is closed: each is declared in settings.c with whether
 * it is secret. A secret is sealed with AES-256-GCM under the master key,
 * bound to its own name, before it leaves this process, and is never
 * printed back by any tool. Every change commits together with
 * `NOTIFY hv_settings`, which is how running workers learn to reload.
 *
 * Replacing client_secret keeps the old one as client_secret_previous, and
 * webhooks signed with it are accepted for SETTINGS_ROTATION_GRACE_SECONDS
 * after the change: Haravan may sign in-flight deliveries with the old
 * secret while the merchant rotates it.
 *
 * Ownership: values are appended to caller-owned buffers.
 */
#ifndef HARAVAN_CORE_SETTINGS_H
#define HARAVAN_CORE_SETTINGS_H

#include <stddef.h>
#include <time.h>

#include "core/buffer.h"
#include "core/crypto.h"
#include "core/db.h"

#define SETTINGS_ROTATION_GRACE_SECONDS (72 * 3600)
#define SETTINGS_CHANNEL                "hv_settings"

/* 1 when `name` is a known setting, and then *secret says if it is one. */
int settings_known(const char *name, int *secret);

/* 1 when `name` may be written but never shown (client secrets). */
int settings_write_only(const char *name);

/* The known names, NULL-terminated, in display order. Static storage. */
const char *const *settings_names(void);

/* Stores `value` under `name` (sealed when secret). Returns 0, or -1 with a
 * message in `error` (unknown name, empty value, no master key, database). */
int settings_set(db *database, const unsigned char *master_key, const char *name, const char *value,
                 char *error, size_t error_size);

/* Like settings_set, inside a transaction the caller has opened: nothing
 * is committed and no NOTIFY is sent, so several values (and other rows)
 * can change all together or not at all. The caller sends
 * `NOTIFY hv_settings` before its COMMIT, and rolls back on -1. */
int settings_set_in(db *database, const unsigned char *master_key, const char *name,
                    const char *value, char *error, size_t error_size);

/* Removes `name`. Returns 0 (also when it was not set) or -1. */
int settings_unset(db *database, const char *name, char *error, size_t error_size);

/* Like settings_unset, inside the caller's transaction (see settings_set_in). */
int settings_unset_in(db *database, const char *name, char *error, size_t error_size);

/* Appends the value of `name` to `out` and sets *updated_at (may be NULL).
 * Returns 1 when found, 0 when not set, -1 on error (message in `error`). */
int settings_get(db *database, const unsigned char *master_key, const char *name, buffer *out,
                 time_t *updated_at, char *error, size_t error_size);

#endif
