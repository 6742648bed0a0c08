/*
 * hv_shop: connected shops and their tokens (hv_shops).
 *
 * A shop's tokens open its data on Haravan, so they are sealed like every
 * secret (core/crypto.h), and bound to their shop and kind: the labels are
 * "access_token:{org id}" and "refresh_token:{org id}", so a token copied
 * to another shop's row, or from one column to the other, does not open.
 * The connect flow (cgi/haravan-fcgi/handler_connect.c) stores a shop with
 * hv_shop_store_connection; the token lifecycle (haravan/token_refresh.h)
 * replaces its tokens or marks it needs_reconnect; `haravan-ctl shop token`
 * stores an access token by hand (a private app, a test stack).
 *
 * Ownership: tokens are appended to caller-owned buffers; wipe them
 * (crypto_wipe) before freeing. Strings passed in are borrowed.
 */
#ifndef HARAVAN_HARAVAN_SHOP_H
#define HARAVAN_HARAVAN_SHOP_H

#include <stddef.h>

#include "core/buffer.h"
#include "core/crypto.h"
#include "core/db.h"

#define HV_SHOP_ORG_ID_SIZE 64

/* What the grant step learned about a shop. */
typedef struct hv_shop_connection {
    const char *org_id;
    const char *name;         /* the id_token's orgname; NULL: "" */
    const char *scopes;       /* granted, space-separated */
    const char *connected_by; /* the owner's e-mail; NULL when the id_token had none */
    const char *access_token;
    const char *refresh_token; /* NULL when Haravan gave none */
    long long expires_in;      /* seconds; 0: not said, no expiry known */
} hv_shop_connection;

/* Stores (or replaces) a shop as connected, with its sealed tokens, expiry
 * and who connected it; clears any status_reason. Returns 0, or -1 with
 * `error` filled. */
int hv_shop_store_connection(db *database, const unsigned char master_key[CRYPTO_KEY_SIZE],
                             const hv_shop_connection *connection, char *error, size_t error_size);

/* Stores (or replaces) the shop's access token and scopes by hand, status
 * connected. Such a token has no refresh token and no known expiry, so any
 * stored ones are dropped. Returns 0, or -1 with `error` filled. */
int hv_shop_store_token(db *database, const unsigned char master_key[CRYPTO_KEY_SIZE],
                        const char *org_id, const char *name, const char *token, const char *scopes,
                        char *error, size_t error_size);

/* Appends the shop's access token to `token`. Returns 1 when found, 0 when
 * the shop has none (not connected, or needs reconnecting), -1 on error
 * (with `error` filled). */
int hv_shop_token(db *database, const unsigned char master_key[CRYPTO_KEY_SIZE], const char *org_id,
                  buffer *token, char *error, size_t error_size);

/* The shop an admin request is about: `requested` when it is a connected
 * shop, else (requested NULL) the connected shop updated last. Writes its
 * org id into `org_id`. Returns 1, 0 when there is none, -1 on error. */
int hv_shop_pick(db *database, const char *requested, char org_id[HV_SHOP_ORG_ID_SIZE], char *error,
                 size_t error_size);

/* Disconnects shop `org_id`: status disconnected with `reason`, both
 * tokens (and their expiry) deleted, disconnected_at set; its CRM rows are
 * not touched. With `unless_connected_after` (a timestamptz as text, NULL
 * for none), a shop whose current connection began after that instant is
 * left alone: what happened before it was about the old connection.
 * Returns 1 disconnected, 0 left alone (no such shop, disconnected
 * already, or connected again since), -1 on error (with `error` filled). */
int hv_shop_disconnect(db *database, const char *org_id, const char *reason,
                       const char *unless_connected_after, char *error, size_t error_size);

/* Opens a sealed token read from hv_shops (`kind` "access_token" or
 * "refresh_token", the column's text form of bytea) into `out`. Returns 0
 * or -1 with `error` filled. */
int hv_shop_open_token(const unsigned char master_key[CRYPTO_KEY_SIZE], const char *kind,
                       const char *org_id, const char *sealed_text, buffer *out, char *error,
                       size_t error_size);

/* Seals `token` for column `kind` of shop `org_id`, appending to `out`. */
int hv_shop_seal_token(const unsigned char master_key[CRYPTO_KEY_SIZE], const char *kind,
                       const char *org_id, const char *token, buffer *out);

#endif
