/*
 * hv_payload: reading Haravan's customer and order objects into the CRM's
 * inputs (crm/customer.h, crm/order.h).
 *
 * This is where Haravan's shapes (HARAVAN.md section 4) meet the CRM's
 * fields, so every interpretation lives here: names written family name
 * first, gender as 1/0 or "male"/"female", phones canonicalised, emails
 * normalised, the 2018 prefixes, addresses as one readable line, the
 * payment status and the payment log derived from financial_status and
 * transactions.
 *
 * A payload that cannot be read is refused with a reason a person
 * understands ("order 1238520665: line_items is not an array"), which
 * becomes the event's reason when it is marked dead.
 *
 * Ownership: the inputs point into the cJSON tree, which must outlive
 * them; items are malloc'd into `order->items` (hv_payload_order_free).
 */
#ifndef HARAVAN_HARAVAN_PAYLOAD_H
#define HARAVAN_HARAVAN_PAYLOAD_H

#include <stddef.h>

#include <cJSON.h>

#include "crm/customer.h"
#include "crm/order.h"

/* Reads a customer object. `fallback_address` (may be NULL) supplies the
 * address, name and phone when the customer lacks them (an order's billing
 * or shipping address). Returns 0, or -1 with `reason` filled. */
int hv_payload_customer(const cJSON *customer, const cJSON *fallback_address, const char *org_id,
                        crm_customer_input *out, char *reason, size_t reason_size);

/* Reads an order object. `topic` decides what a bare field cannot (an
 * orders/cancelled without cancelled_at is cancelled). Sets *customer to
 * the order's customer object or NULL, and `staff_id` to its user_id ("" when
 * none). Returns 0, or -1 with `reason` filled. */
int hv_payload_order(const cJSON *order, const char *topic, const char *org_id,
                     crm_order_input *out, const cJSON **customer, char *staff_id,
                     size_t staff_id_size, char *reason, size_t reason_size);

void hv_payload_order_free(crm_order_input *order);

#endif
