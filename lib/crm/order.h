/*
 * crm_order: a Haravan order as the CRM's order, with its items, payments
 * and the automation events that say what changed.
 *
 * Orders arrive at least once and in any order. The row is keyed by
 * (org id, Haravan order id) and remembers the version it reflects
 * (haravan_updated_at): a version older than that changes nothing; the
 * same version changes only what it adds (a payment from orders/paid); a
 * newer one replaces the order's fields and items. Payments are keyed by
 * Haravan transaction id, so a repeated event never logs one twice.
 *
 * Runs inside the caller's transaction. Ownership: inputs are borrowed.
 */
#ifndef HARAVAN_CRM_ORDER_H
#define HARAVAN_CRM_ORDER_H

#include <stddef.h>

#include "core/buffer.h"
#include "core/db.h"

typedef struct crm_item_input {
    char product_id[32];
    char variant_id[32];
    const char *sku;
    char name[512];
    long long quantity;
    char price[32];
    char discount[32];
    char line_item_id[32];
} crm_item_input;

typedef struct crm_payment_input {
    char transaction_id[48]; /* Haravan's, or "order:{id}" when it gave none */
    char amount[32];
    const char *method;
    const char *paid_at; /* Haravan's text */
} crm_payment_input;

#define CRM_ORDER_MAX_ITEMS    500
#define CRM_ORDER_MAX_PAYMENTS 50

typedef struct crm_order_input {
    const char *org_id;
    char haravan_id[32];
    const char *code;
    const char *status;         /* open, cancelled, closed */
    const char *payment_status; /* paid, unpaid, partially_paid, refunded, voided */
    char total[32];
    const char *currency;
    char shipping_address[1024];
    const char *note;
    const char *ordered_at;
    const char *channel; /* source_name, or NULL */
    const char *updated_at;
    crm_item_input *items;
    size_t item_count;
    crm_payment_input payments[CRM_ORDER_MAX_PAYMENTS];
    size_t payment_count;
} crm_order_input;

typedef struct crm_order_result {
    long long id;
    int created;
    int changed; /* fields or items of an existing order changed */
    int older;   /* this version was older than the stored one */
    int payments_added;
    int became_paid; /* payment status is now paid and was not */
    int became_cancelled;
} crm_order_result;

/* Creates or updates the order. `customer_id`, `executor_id` and
 * `source_id` may be 0 (none). Returns 0, or -1 with database->error. */
int crm_order_upsert(db *database, const crm_order_input *input, long long customer_id,
                     long long executor_id, long long source_id, crm_order_result *result);

#endif
