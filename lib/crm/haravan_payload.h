/*
 * crm_payload: reading Haravan's customer and order objects into the CRM's
 * inputs (crm/customer.h, crm/order.h).
 *
 * This is where Haravan's shapes (docs/HARAVAN.md section 4) meet the CRM's
 * fields, so every interpretation lives here: names written family name
 * first, gender as 1/0 or "male"/"female", phones canonicalised, emails
 * normalised, the 2018 prefixes, addresses as one readable line, the
 * payment status and the payment log derived from financial_status and
 * transactions.
 *
 * A field that cannot be read never becomes a silent default. Absent and
 * null (and "" for text) are Haravan's way of saying "none" and are taken
 * as such; a value that is present but unusable (a `price` of "abc", a
 * `customer` that is a string) is one of two things, decided per field:
 *
 *   Fails the event (dead, with a reason naming the field's path and its
 *   value: "order 123: line_items[2].price: \"abc\" is not an amount"):
 *   what the CRM's record cannot be right without.
 *     order: id, total_price, financial_status, currency, cancelled_at and
 *       closed_at (they decide the status), line_items (an array of
 *       objects);
 *     line item: quantity (0 to 10^9) and price (both required),
 *       total_discount;
 *     transactions, when the order is paid or partially paid: the array,
 *       each one's kind and status, and the id and amount of those that
 *       moved money (at most CRM_ORDER_MAX_PAYMENTS);
 *     customer: the object itself when present, and its id (a customer
 *       linked by a wrong id would be someone else's); for customers/...
 *       events the id is required.
 *
 *   Left empty and noted on the event ("customer.gender: \"x\" is not a
 *   gender; left empty"): descriptive fields.
 *     order: name/order_number, note, created_at, updated_at,
 *       source_name (the order's source is then "Haravan"), gateway,
 *       email, user_id (the executor is then the default owner), the
 *       shipping and billing address and their parts;
 *     line item: id, product_id, variant_id, sku, title, variant_title;
 *     transaction: gateway, created_at (the order's time is used);
 *     customer: first_name, last_name, phone, email, gender, birthday (a
 *       string that does not start with a date too), note, updated_at,
 *       default_address and its parts.
 *   Text cut to fit a CRM column (a name, an address line) is cut at a
 *   character and noted.
 *
 * Ids are read exactly (crm/haravan_field.h): 123 and "123" are one id, and an
 * id a double cannot hold exactly arrives from json_parse_checked as a
 * string of its digits, so two orders never share a key by rounding.
 *
 * The body must fit its topic (crm_payload_fits): the header is not signed,
 * and an order taken for a customer would make a customer out of an order.
 *
 * Ownership: the inputs point into the cJSON tree, which must outlive
 * them; items are malloc'd into `order.items` (crm_payload_order_free).
 */
#ifndef HARAVAN_CRM_HARAVAN_PAYLOAD_H
#define HARAVAN_CRM_HARAVAN_PAYLOAD_H

#include <stddef.h>

#include <cJSON.h>

#include "crm/customer.h"
#include "crm/order.h"
#include "crm/haravan_field.h"

typedef enum crm_payload_kind {
    CRM_PAYLOAD_ORDER,
    CRM_PAYLOAD_CUSTOMER,
} crm_payload_kind;

/* 1 when `body` is the kind of resource its topic names, else 0 with
 * report->reason saying what does not fit. What tells them apart (from
 * every sample in tests/data/samples and docs/HARAVAN.md section 4): an order
 * has at least one of line_items, financial_status, total_price,
 * order_number, fulfillment_status; a customer has at least one of
 * first_name, last_name, addresses, default_address, accepts_marketing,
 * orders_count, total_spent, verified_email, gender, birthday,
 * last_order_id. Neither ever carries the other's fields at its top level,
 * and a body with fields of Haravan's staff users or shop (account_owner,
 * user_type, permissions, shop_owner, myharavan_domain) is neither. */
int crm_payload_fits(const cJSON *body, crm_payload_kind kind, const char *topic,
                     crm_report *report);

/* Reads the body of a customers/... event. Returns 0, or -1 with
 * report->reason; notes go to report->notes either way. */
int crm_payload_customer(const cJSON *body, const char *org_id, crm_customer_input *out,
                         crm_report *report);

typedef struct crm_order_payload {
    crm_order_input order;
    crm_customer_input customer; /* when has_customer */
    int has_customer;            /* a POS sale may have none */
    char staff_id[32];           /* user_id, "" when none */
} crm_order_payload;

/* Reads the body of an orders/... event, with its customer. `topic` decides
 * what a bare field cannot (an orders/cancelled without cancelled_at is
 * cancelled). Returns 0, or -1 with report->reason; notes go to
 * report->notes either way. Free with crm_payload_order_free(), also after
 * a failure. */
int crm_payload_order(const cJSON *body, const char *topic, const char *org_id,
                      crm_order_payload *out, crm_report *report);

void crm_payload_order_free(crm_order_payload *payload);

#endif
