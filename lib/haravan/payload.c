/*
 * hv_payload: Haravan customers and orders into CRM inputs. See payload.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "haravan/payload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "core/phone.h"

/* Appends `part` to `line` with `separator` when both are non-empty. */
static void join(char *line, size_t size, const char *part, const char *separator)
{
    if (part == NULL)
        return;
    while (*part == ' ')
        part++;
    if (*part == '\0')
        return;
    size_t used = strlen(line);
    snprintf(line + used, size - used, "%s%s", used > 0 ? separator : "", part);
}

/* Vietnamese names are written family name first: last_name first_name. */
static void full_name(const cJSON *person, char *out, size_t size)
{
    out[0] = '\0';
    join(out, size, json_text(person, "last_name"), " ");
    join(out, size, json_text(person, "first_name"), " ");
}

static const char *gender_of(const cJSON *customer)
{
    const cJSON *gender = cJSON_GetObjectItemCaseSensitive(customer, "gender");
    if (cJSON_IsNumber(gender))
        return gender->valueint == 1 ? "male" : gender->valueint == 0 ? "female" : NULL;
    if (!cJSON_IsString(gender))
        return NULL;
    const char *text = gender->valuestring;
    if (strcasecmp(text, "male") == 0 || strcmp(text, "1") == 0 || strcasecmp(text, "nam") == 0)
        return "male";
    if (strcasecmp(text, "female") == 0 || strcmp(text, "0") == 0 || strcasecmp(text, "nữ") == 0 ||
        strcasecmp(text, "nu") == 0)
        return "female";
    return NULL;
}

static void read_phone(const char *raw, crm_customer_input *out)
{
    if (raw == NULL || out->phone[0] != '\0')
        return;
    if (phone_canonical(raw, out->phone))
        out->phone_raw = NULL;
    else if (out->phone_raw == NULL)
        out->phone_raw = raw;
}

static void read_address(const cJSON *address, crm_customer_input *out)
{
    if (address == NULL || out->address[0] != '\0')
        return;
    join(out->address, sizeof out->address, json_text(address, "address1"), ", ");
    join(out->address, sizeof out->address, json_text(address, "address2"), ", ");
    out->province = json_text(address, "province");
    out->district = json_text(address, "district");
    out->ward = json_text(address, "ward");
}

int hv_payload_customer(const cJSON *customer, const cJSON *fallback_address, const char *org_id,
                        crm_customer_input *out, char *reason, size_t reason_size)
{
    memset(out, 0, sizeof *out);
    out->org_id = org_id;
    if (!cJSON_IsObject(customer)) {
        snprintf(reason, reason_size, "customer is not an object");
        return -1;
    }
    json_id(customer, "id", out->haravan_id, sizeof out->haravan_id);
    full_name(customer, out->name, sizeof out->name);
    const cJSON *address = json_object(customer, "default_address");
    if (address == NULL)
        address = fallback_address;
    if (out->name[0] == '\0' && address != NULL) {
        full_name(address, out->name, sizeof out->name);
        if (out->name[0] == '\0')
            join(out->name, sizeof out->name, json_text(address, "name"), "");
    }
    read_phone(json_text(customer, "phone"), out);
    if (address != NULL)
        read_phone(json_text(address, "phone"), out);
    const char *email = json_text(customer, "email");
    if (email != NULL && !crm_customer_normalise_email(email, out->email, sizeof out->email))
        out->email_raw = email;
    out->gender = gender_of(customer);
    out->birthday = json_text(customer, "birthday");
    out->description = json_text(customer, "note");
    read_address(address, out);
    out->updated_at = json_text(customer, "updated_at");
    return 0;
}

static const char *payment_status_of(const char *financial_status)
{
    static const struct {
        const char *haravan;
        const char *crm;
    } map[] = {
        {"paid", "paid"},
        {"pending", "unpaid"},
        {"authorized", "unpaid"},
        {"partially_paid", "partially_paid"},
        {"partiallypaid", "partially_paid"},
        {"partially_refunded", "refunded"},
        {"partiallyrefunded", "refunded"},
        {"refunded", "refunded"},
        {"voided", "voided"},
    };
    if (financial_status == NULL)
        return "unpaid";
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcasecmp(financial_status, map[i].haravan) == 0)
            return map[i].crm;
    return NULL;
}

/* A transaction that moved money to the shop: a capture or sale that did
 * not fail (Haravan leaves status null on success; case varies). */
static int is_successful(const cJSON *transaction)
{
    const char *kind = json_text(transaction, "kind");
    const char *status = json_text(transaction, "status");
    if (kind == NULL || (strcasecmp(kind, "capture") != 0 && strcasecmp(kind, "sale") != 0))
        return 0;
    return status == NULL || strcasecmp(status, "success") == 0;
}

static const char *method_of(const cJSON *order)
{
    const char *gateway = json_text(order, "gateway");
    return gateway != NULL ? gateway : json_text(order, "gateway_code");
}

static int read_payments(const cJSON *order, crm_order_input *out, char *reason, size_t reason_size)
{
    const int paid = strcmp(out->payment_status, "paid") == 0;
    if (!paid && strcmp(out->payment_status, "partially_paid") != 0)
        return 0;
    const cJSON *transactions = json_array(order, "transactions");
    const cJSON *transaction = NULL;
    cJSON_ArrayForEach(transaction, transactions)
    {
        if (!is_successful(transaction) || out->payment_count == CRM_ORDER_MAX_PAYMENTS)
            continue;
        crm_payment_input *payment = &out->payments[out->payment_count];
        if (!json_id(transaction, "id", payment->transaction_id, sizeof payment->transaction_id) ||
            !json_amount(transaction, "amount", payment->amount, sizeof payment->amount)) {
            snprintf(reason, reason_size, "order %s: a transaction has no id or amount",
                     out->haravan_id);
            return -1;
        }
        const char *gateway = json_text(transaction, "gateway");
        payment->method = gateway != NULL ? gateway : method_of(order);
        payment->paid_at = json_text(transaction, "created_at");
        if (payment->paid_at == NULL)
            payment->paid_at = out->ordered_at;
        out->payment_count++;
    }
    /* Paid without a listed transaction: one entry for the whole order. */
    if (paid && out->payment_count == 0) {
        crm_payment_input *payment = &out->payments[0];
        snprintf(payment->transaction_id, sizeof payment->transaction_id, "order:%s",
                 out->haravan_id);
        snprintf(payment->amount, sizeof payment->amount, "%s", out->total);
        payment->method = method_of(order);
        payment->paid_at = out->ordered_at;
        out->payment_count = 1;
    }
    return 0;
}

static int read_item(const cJSON *line, crm_item_input *item, const char *order_id, size_t index,
                     char *reason, size_t reason_size)
{
    memset(item, 0, sizeof *item);
    if (!cJSON_IsObject(line) || !json_integer(line, "quantity", &item->quantity) ||
        item->quantity < 0 || item->quantity > 1000000000) {
        snprintf(reason, reason_size, "order %s: line item %zu has no valid quantity", order_id,
                 index + 1);
        return -1;
    }
    json_id(line, "product_id", item->product_id, sizeof item->product_id);
    json_id(line, "variant_id", item->variant_id, sizeof item->variant_id);
    json_id(line, "id", item->line_item_id, sizeof item->line_item_id);
    item->sku = json_text(line, "sku");
    join(item->name, sizeof item->name, json_text(line, "title"), "");
    const char *variant = json_text(line, "variant_title");
    if (variant != NULL && strcasecmp(variant, "Default Title") != 0)
        join(item->name, sizeof item->name, variant, " - ");
    if (!json_amount(line, "price", item->price, sizeof item->price))
        snprintf(item->price, sizeof item->price, "0.00");
    if (!json_amount(line, "total_discount", item->discount, sizeof item->discount))
        snprintf(item->discount, sizeof item->discount, "0.00");
    return 0;
}

static int read_items(const cJSON *order, crm_order_input *out, char *reason, size_t reason_size)
{
    const cJSON *lines = cJSON_GetObjectItemCaseSensitive(order, "line_items");
    if (!cJSON_IsArray(lines)) {
        snprintf(reason, reason_size, "order %s: line_items %s", out->haravan_id,
                 lines == NULL ? "missing" : "is not an array");
        return -1;
    }
    int count = cJSON_GetArraySize(lines);
    if (count > CRM_ORDER_MAX_ITEMS) {
        snprintf(reason, reason_size, "order %s: %d line items, more than %d", out->haravan_id,
                 count, CRM_ORDER_MAX_ITEMS);
        return -1;
    }
    out->items = calloc(count > 0 ? (size_t)count : 1, sizeof *out->items);
    if (out->items == NULL) {
        snprintf(reason, reason_size, "out of memory");
        return -1;
    }
    const cJSON *line = NULL;
    cJSON_ArrayForEach(line, lines)
    {
        if (read_item(line, &out->items[out->item_count], out->haravan_id, out->item_count, reason,
                      reason_size) != 0)
            return -1;
        out->item_count++;
    }
    return 0;
}

static void read_shipping(const cJSON *order, crm_order_input *out)
{
    const cJSON *address = json_object(order, "shipping_address");
    if (address == NULL)
        address = json_object(order, "billing_address");
    if (address == NULL)
        return;
    static const char *const parts[] = {"address1", "address2", "ward", "district", "province"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        join(out->shipping_address, sizeof out->shipping_address, json_text(address, parts[i]),
             ", ");
}

static int read_order_fields(const cJSON *order, const char *topic, crm_order_input *out,
                             char *reason, size_t reason_size)
{
    if (!json_amount(order, "total_price", out->total, sizeof out->total)) {
        snprintf(reason, reason_size, "order %s: total_price missing or not a number",
                 out->haravan_id);
        return -1;
    }
    const char *financial = json_text(order, "financial_status");
    out->payment_status = payment_status_of(financial);
    if (out->payment_status == NULL) {
        snprintf(reason, reason_size, "order %s: unknown financial_status '%.40s'", out->haravan_id,
                 financial);
        return -1;
    }
    out->code = json_text(order, "name");
    if (out->code == NULL)
        out->code = json_text(order, "order_number");
    if (out->code == NULL)
        out->code = "";
    int cancelled = json_text(order, "cancelled_at") != NULL ||
                    (topic != NULL && strcmp(topic, "orders/cancelled") == 0);
    out->status = cancelled                               ? "cancelled"
                  : json_text(order, "closed_at") != NULL ? "closed"
                                                          : "open";
    out->currency = json_text(order, "currency");
    if (out->currency == NULL)
        out->currency = "VND";
    out->note = json_text(order, "note");
    out->ordered_at = json_text(order, "created_at");
    out->updated_at = json_text(order, "updated_at");
    out->channel = json_text(order, "source_name");
    read_shipping(order, out);
    return 0;
}

int hv_payload_order(const cJSON *order, const char *topic, const char *org_id,
                     crm_order_input *out, const cJSON **customer, char *staff_id,
                     size_t staff_id_size, char *reason, size_t reason_size)
{
    memset(out, 0, sizeof *out);
    out->org_id = org_id;
    *customer = NULL;
    staff_id[0] = '\0';
    if (!cJSON_IsObject(order)) {
        snprintf(reason, reason_size, "order body is not a JSON object");
        return -1;
    }
    if (!json_id(order, "id", out->haravan_id, sizeof out->haravan_id)) {
        snprintf(reason, reason_size, "order without an id");
        return -1;
    }
    if (read_order_fields(order, topic, out, reason, reason_size) != 0 ||
        read_items(order, out, reason, reason_size) != 0 ||
        read_payments(order, out, reason, reason_size) != 0)
        return -1;
    *customer = json_object(order, "customer");
    json_id(order, "user_id", staff_id, staff_id_size);
    return 0;
}

void hv_payload_order_free(crm_order_input *order)
{
    free(order->items);
    order->items = NULL;
    order->item_count = 0;
}
