/*
 * hv_shop: connected shops and their tokens (hv_shops).
 *
 * A shop's access token opens its data on Haravan, so it is sealed like
 * every secret (core/crypto.h), and bound to its shop: the label is
 * "access_token:{org id}", so a token copied to another shop's row does not
 * open. Issue #4's connect flow stores tokens here; `haravan-ctl shop token`
 * stores one by hand (a private app, a test stack).
 *
 * Ownership: tokens are appended to caller-owned buffers; wipe them
 * (crypto_wipe) before freeing.
 */
#ifndef HARAVAN_HARAVAN_SHOP_H
#define HARAVAN_HARAVAN_SHOP_H

#include <stddef.h>

#include "core/buffer.h"
#include "core/crypto.h"
#include "core/db.h"

/* Stores (or replaces) the shop's access token and scopes, status
 * connected. Returns 0, or -1 with `error` filled. */
int hv_shop_store_token(db *database, const unsigned char master_key[CRYPTO_KEY_SIZE],
                        const char *org_id, const char *name, const char *token,
                        const char *scopes, char *error, size_t error_size);

/* Appends the shop's access token to `token`. Returns 1 when found, 0 when
 * the shop has none (not connected, or needs reconnecting), -1 on error
 * (with `error` filled). */
int hv_shop_token(db *database, const unsigned char master_key[CRYPTO_KEY_SIZE],
                  const char *org_id, buffer *token, char *error, size_t error_size);

#endif
