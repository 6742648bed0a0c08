/*
 * crm_payload: Haravan customers and orders into CRM inputs. See haravan_payload.h
 * for which fields fail an event and which are left empty and noted.
 */
#define _POSIX_C_SOURCE 200809L
#include "crm/haravan_payload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/phone.h"

/* "order 123": what a reason is about. */
#define SUBJECT_SIZE 48

/* ---- small readers that note what they leave empty ---- */

static const char *text_or_note(crm_report *report, const char *path, const cJSON *object,
                                const char *key)
{
    const char *text = NULL;
    if (crm_field_text(object, key, &text) == CRM_FIELD_UNREADABLE)
        crm_report_note(report, path, object, key, "text", "left empty");
    return text;
}

static const cJSON *object_or_note(crm_report *report, const char *path, const cJSON *object,
                                   const char *key)
{
    const cJSON *found = NULL;
    if (crm_field_object(object, key, &found) == CRM_FIELD_UNREADABLE)
        crm_report_note(report, path, object, key, "an object", "left empty");
    return found;
}

static void id_or_note(crm_report *report, const char *path, const cJSON *object, const char *key,
                       char *out, size_t size)
{
    if (crm_field_id(object, key, out, size) == CRM_FIELD_UNREADABLE)
        crm_report_note(report, path, object, key, "an id", "left empty");
}

/* An amount the record needs: absent or unreadable fails. */
static int need_amount(crm_report *report, const char *subject, const char *path,
                       const cJSON *object, const char *key, char *out, size_t size)
{
    if (crm_field_amount(object, key, out, size) == CRM_FIELD_READ)
        return 0;
    crm_report_fail(report, subject, path, object, key, "an amount");
    return -1;
}

/* Text that decides something (a status): unreadable fails, absent is NULL. */
static int decisive_text(crm_report *report, const char *subject, const char *path,
                         const cJSON *object, const char *key, const char *expected,
                         const char **out)
{
    if (crm_field_text(object, key, out) != CRM_FIELD_UNREADABLE)
        return 0;
    crm_report_fail(report, subject, path, object, key, expected);
    return -1;
}

/* Appends `part` to `line` with `separator` when both are non-empty.
 * Returns 1 when the line was full and `part` was cut or left out. */
static int join(char *line, size_t size, const char *part, const char *separator)
{
    if (part == NULL)
        return 0;
    while (*part == ' ')
        part++;
    if (*part == '\0')
        return 0;
    size_t used = strlen(line);
    size_t separator_length = used > 0 ? strlen(separator) : 0;
    if (used + separator_length + 1 >= size)
        return 1;
    memcpy(line + used, separator, separator_length);
    used += separator_length;
    return crm_copy_utf8(line + used, size - used, part);
}

static void note_cut(crm_report *report, const char *what, size_t size)
{
    char note[160];
    snprintf(note, sizeof note, "%s: longer than %zu bytes; cut", what, size - 1);
    crm_report_add(report, note);
}

static void path_of(char *out, size_t size, const char *path, const char *key)
{
    snprintf(out, size, "%s%s%s", path[0] != '\0' ? path : "", path[0] != '\0' ? "." : "", key);
}

/* ---- customers ---- */

/* Vietnamese names are written family name first: last_name first_name. */
static void full_name(crm_report *report, const char *path, const cJSON *person, char *out,
                      size_t size)
{
    out[0] = '\0';
    int cut = join(out, size, text_or_note(report, path, person, "last_name"), " ");
    cut |= join(out, size, text_or_note(report, path, person, "first_name"), " ");
    if (cut) {
        char where[96];
        path_of(where, sizeof where, path, "name");
        note_cut(report, where, size);
    }
}

static const char *gender_of_text(const char *text)
{
    if (strcasecmp(text, "male") == 0 || strcmp(text, "1") == 0 || strcasecmp(text, "nam") == 0)
        return "male";
    if (strcasecmp(text, "female") == 0 || strcmp(text, "0") == 0 || strcasecmp(text, "nữ") == 0 ||
        strcasecmp(text, "nu") == 0)
        return "female";
    return NULL;
}

/* 1 male, 0 female, null unknown; some senders use words. */
static const char *gender_of(crm_report *report, const char *path, const cJSON *customer)
{
    const cJSON *gender = cJSON_GetObjectItemCaseSensitive(customer, "gender");
    const char *text = NULL;
    const char *found = NULL;
    if (gender == NULL || cJSON_IsNull(gender))
        return NULL;
    if (cJSON_IsNumber(gender) && (gender->valuedouble == 1 || gender->valuedouble == 0))
        found = gender->valuedouble == 1 ? "male" : "female";
    else if (crm_field_text(customer, "gender", &text) == CRM_FIELD_ABSENT)
        return NULL;
    else if (text != NULL)
        found = gender_of_text(text);
    if (found == NULL)
        crm_report_note(report, path, customer, "gender", "a gender", "left empty");
    return found;
}

static int starts_with_date(const char *text)
{
    static const char shape[] = "dddd-dd-dd";
    for (size_t i = 0; shape[i] != '\0'; i++) {
        int digit = text[i] >= '0' && text[i] <= '9';
        if (shape[i] == 'd' ? !digit : text[i] != shape[i])
            return 0;
    }
    return 1;
}

static const char *birthday_of(crm_report *report, const char *path, const cJSON *customer)
{
    const char *text = text_or_note(report, path, customer, "birthday");
    if (text != NULL && !starts_with_date(text)) {
        crm_report_note(report, path, customer, "birthday", "a date", "left empty");
        return NULL;
    }
    return text;
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

static void read_email(const char *email, crm_customer_input *out)
{
    if (email != NULL && !crm_customer_normalise_email(email, out->email, sizeof out->email))
        out->email_raw = email;
}

static void read_address(crm_report *report, const char *path, const cJSON *address,
                         crm_customer_input *out)
{
    if (address == NULL || out->address[0] != '\0')
        return;
    int cut = join(out->address, sizeof out->address,
                   text_or_note(report, path, address, "address1"), ", ");
    cut |= join(out->address, sizeof out->address, text_or_note(report, path, address, "address2"),
                ", ");
    if (cut)
        note_cut(report, "customer address", sizeof out->address);
    out->province = text_or_note(report, path, address, "province");
    out->district = text_or_note(report, path, address, "district");
    out->ward = text_or_note(report, path, address, "ward");
}

/* The customer's own address, else `fallback` (an order's billing or
 * shipping address), with the path each is noted under. */
static const cJSON *address_of(crm_report *report, const char *path, const cJSON *customer,
                               const cJSON *fallback, const char *fallback_path, char *where,
                               size_t where_size)
{
    const cJSON *address = object_or_note(report, path, customer, "default_address");
    if (address != NULL) {
        path_of(where, where_size, path, "default_address");
        return address;
    }
    snprintf(where, where_size, "%s", fallback_path);
    return fallback;
}

static void read_name(crm_report *report, const char *path, const cJSON *customer,
                      const cJSON *address, const char *address_path, crm_customer_input *out)
{
    full_name(report, path, customer, out->name, sizeof out->name);
    if (out->name[0] != '\0' || address == NULL)
        return;
    full_name(report, address_path, address, out->name, sizeof out->name);
    if (out->name[0] == '\0' &&
        join(out->name, sizeof out->name, text_or_note(report, address_path, address, "name"), ""))
        note_cut(report, "customer name", sizeof out->name);
}

/* A customer object at `path` ("" for a customers/... body, "customer" in an
 * order); `subject` names the event in a reason. */
static int read_customer(const cJSON *customer, const char *path, const char *subject,
                         const cJSON *fallback, const char *fallback_path, const char *org_id,
                         crm_customer_input *out, crm_report *report)
{
    memset(out, 0, sizeof *out);
    out->org_id = org_id;
    if (crm_field_id(customer, "id", out->haravan_id, sizeof out->haravan_id) ==
        CRM_FIELD_UNREADABLE) {
        crm_report_fail(report, subject, path, customer, "id", "an id");
        return -1;
    }
    char address_path[64];
    const cJSON *address = address_of(report, path, customer, fallback, fallback_path, address_path,
                                      sizeof address_path);
    read_name(report, path, customer, address, address_path, out);
    read_phone(text_or_note(report, path, customer, "phone"), out);
    if (address != NULL)
        read_phone(text_or_note(report, address_path, address, "phone"), out);
    read_email(text_or_note(report, path, customer, "email"), out);
    out->gender = gender_of(report, path, customer);
    out->birthday = birthday_of(report, path, customer);
    out->description = text_or_note(report, path, customer, "note");
    read_address(report, address_path, address, out);
    out->updated_at = text_or_note(report, path, customer, "updated_at");
    return 0;
}

int crm_payload_customer(const cJSON *body, const char *org_id, crm_customer_input *out,
                         crm_report *report)
{
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(body)) {
        crm_report_reason(report, "customer body is not a JSON object");
        return -1;
    }
    if (read_customer(body, "", "customer", NULL, "", org_id, out, report) != 0)
        return -1;
    if (out->haravan_id[0] == '\0') {
        crm_report_reason(report, "customer without an id");
        return -1;
    }
    return 0;
}

/* ---- what a body is ---- */

static const char *const order_fields[] = {"line_items",   "financial_status",   "total_price",
                                           "order_number", "fulfillment_status", NULL};
static const char *const customer_fields[] = {
    "first_name",    "last_name",   "addresses",      "default_address", "accepts_marketing",
    "orders_count",  "total_spent", "verified_email", "gender",          "birthday",
    "last_order_id", NULL};
static const char *const other_fields[] = {"account_owner", "user_type",        "permissions",
                                           "shop_owner",    "myharavan_domain", NULL};

/* Lists the keys of `keys` that `body` has into `found` (", " between);
 * returns how many. */
static int fields_present(const cJSON *body, const char *const *keys, char *found, size_t size)
{
    int count = 0;
    found[0] = '\0';
    for (size_t i = 0; keys[i] != NULL; i++) {
        if (!cJSON_HasObjectItem(body, keys[i]))
            continue;
        join(found, size, keys[i], ", ");
        count++;
    }
    return count;
}

int crm_payload_fits(const cJSON *body, crm_payload_kind kind, const char *topic,
                     crm_report *report)
{
    if (!cJSON_IsObject(body))
        return 1; /* the reader says what is wrong with it */
    char orders[160], customers[200], others[120];
    int order = fields_present(body, order_fields, orders, sizeof orders);
    int customer = fields_present(body, customer_fields, customers, sizeof customers);
    int other = fields_present(body, other_fields, others, sizeof others);
    const char *mine = kind == CRM_PAYLOAD_ORDER ? "an order" : "a customer";
    if (other > 0) {
        crm_report_reason(report, "body does not fit topic %s: it has %s, which %s does not have",
                          topic, others, mine);
        return 0;
    }
    int foreign = kind == CRM_PAYLOAD_ORDER ? customer : order;
    if (foreign > 0) {
        crm_report_reason(report, "body does not fit topic %s: it has %s, which only %s has", topic,
                          kind == CRM_PAYLOAD_ORDER ? customers : orders,
                          kind == CRM_PAYLOAD_ORDER ? "a customer" : "an order");
        return 0;
    }
    if ((kind == CRM_PAYLOAD_ORDER ? order : customer) == 0) {
        crm_report_reason(report, "body does not fit topic %s: it has none of %s's fields", topic,
                          mine);
        return 0;
    }
    return 1;
}

/* ---- orders ---- */

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

/* The state of reading one order. */
typedef struct order_reading {
    const cJSON *body;
    char subject[SUBJECT_SIZE]; /* "order 123" */
    const char *method;         /* the order's gateway, for payments without one */
    crm_order_payload *out;
    crm_report *report;
} order_reading;

/* A transaction that moved money to the shop: a capture or sale that did
 * not fail (Haravan leaves status null on success; case varies). Returns
 * 1 or 0, or -1 when kind or status cannot be read. */
static int is_successful(order_reading *r, const cJSON *transaction, const char *path)
{
    const char *kind = NULL, *status = NULL;
    if (decisive_text(r->report, r->subject, path, transaction, "kind", "a transaction kind",
                      &kind) != 0 ||
        decisive_text(r->report, r->subject, path, transaction, "status", "a transaction status",
                      &status) != 0)
        return -1;
    if (kind == NULL || (strcasecmp(kind, "capture") != 0 && strcasecmp(kind, "sale") != 0))
        return 0;
    return status == NULL || strcasecmp(status, "success") == 0;
}

static int read_payment(order_reading *r, const cJSON *transaction, const char *path)
{
    crm_order_input *order = &r->out->order;
    if (order->payment_count == CRM_ORDER_MAX_PAYMENTS) {
        crm_report_reason(r->report, "%s: transactions: more than %d payments", r->subject,
                          CRM_ORDER_MAX_PAYMENTS);
        return -1;
    }
    crm_payment_input *payment = &order->payments[order->payment_count];
    if (crm_field_id(transaction, "id", payment->transaction_id, sizeof payment->transaction_id) !=
        CRM_FIELD_READ) {
        crm_report_fail(r->report, r->subject, path, transaction, "id", "an id");
        return -1;
    }
    if (need_amount(r->report, r->subject, path, transaction, "amount", payment->amount,
                    sizeof payment->amount) != 0)
        return -1;
    const char *gateway = text_or_note(r->report, path, transaction, "gateway");
    payment->method = gateway != NULL ? gateway : r->method;
    payment->paid_at = text_or_note(r->report, path, transaction, "created_at");
    if (payment->paid_at == NULL)
        payment->paid_at = order->ordered_at;
    order->payment_count++;
    return 0;
}

static int read_payments(order_reading *r)
{
    crm_order_input *order = &r->out->order;
    const int paid = strcmp(order->payment_status, "paid") == 0;
    if (!paid && strcmp(order->payment_status, "partially_paid") != 0)
        return 0;
    const cJSON *transactions = NULL;
    if (crm_field_array(r->body, "transactions", &transactions) == CRM_FIELD_UNREADABLE) {
        crm_report_fail(r->report, r->subject, NULL, r->body, "transactions", "an array");
        return -1;
    }
    const cJSON *transaction = NULL;
    size_t index = 0;
    cJSON_ArrayForEach(transaction, transactions)
    {
        char path[48];
        snprintf(path, sizeof path, "transactions[%zu]", index++);
        if (!cJSON_IsObject(transaction)) {
            crm_report_fail(r->report, r->subject, path, transaction, NULL, "an object");
            return -1;
        }
        int successful = is_successful(r, transaction, path);
        if (successful < 0 || (successful && read_payment(r, transaction, path) != 0))
            return -1;
    }
    /* Paid without a listed transaction: one entry for the whole order. */
    if (paid && order->payment_count == 0) {
        crm_payment_input *payment = &order->payments[0];
        snprintf(payment->transaction_id, sizeof payment->transaction_id, "order:%s",
                 order->haravan_id);
        snprintf(payment->amount, sizeof payment->amount, "%s", order->total);
        payment->method = r->method;
        payment->paid_at = order->ordered_at;
        order->payment_count = 1;
    }
    return 0;
}

static void item_name(order_reading *r, const cJSON *line, const char *path, crm_item_input *item)
{
    int cut = join(item->name, sizeof item->name, text_or_note(r->report, path, line, "title"), "");
    const char *variant = text_or_note(r->report, path, line, "variant_title");
    if (variant != NULL && strcasecmp(variant, "Default Title") != 0)
        cut |= join(item->name, sizeof item->name, variant, " - ");
    if (cut) {
        char where[64];
        snprintf(where, sizeof where, "%s name", path);
        note_cut(r->report, where, sizeof item->name);
    }
}

static int read_quantity(order_reading *r, const cJSON *line, const char *path,
                         crm_item_input *item)
{
    if (crm_field_count(line, "quantity", &item->quantity) == CRM_FIELD_READ &&
        item->quantity >= 0 && item->quantity <= 1000000000)
        return 0;
    crm_report_fail(r->report, r->subject, path, line, "quantity", "a quantity");
    return -1;
}

static int read_item(order_reading *r, const cJSON *line, size_t index, crm_item_input *item)
{
    char path[48];
    snprintf(path, sizeof path, "line_items[%zu]", index);
    memset(item, 0, sizeof *item);
    if (!cJSON_IsObject(line)) {
        crm_report_fail(r->report, r->subject, path, line, NULL, "an object");
        return -1;
    }
    if (read_quantity(r, line, path, item) != 0 ||
        need_amount(r->report, r->subject, path, line, "price", item->price, sizeof item->price) !=
            0)
        return -1;
    crm_field discount =
        crm_field_amount(line, "total_discount", item->discount, sizeof item->discount);
    if (discount == CRM_FIELD_UNREADABLE) {
        crm_report_fail(r->report, r->subject, path, line, "total_discount", "an amount");
        return -1;
    }
    if (discount == CRM_FIELD_ABSENT)
        snprintf(item->discount, sizeof item->discount, "0.00");
    id_or_note(r->report, path, line, "product_id", item->product_id, sizeof item->product_id);
    id_or_note(r->report, path, line, "variant_id", item->variant_id, sizeof item->variant_id);
    id_or_note(r->report, path, line, "id", item->line_item_id, sizeof item->line_item_id);
    item->sku = text_or_note(r->report, path, line, "sku");
    item_name(r, line, path, item);
    return 0;
}

static int read_items(order_reading *r)
{
    crm_order_input *order = &r->out->order;
    const cJSON *lines = NULL;
    crm_field state = crm_field_array(r->body, "line_items", &lines);
    if (state != CRM_FIELD_READ) {
        crm_report_reason(r->report, "%s: line_items %s", r->subject,
                          state == CRM_FIELD_ABSENT ? "missing" : "is not an array");
        return -1;
    }
    int count = cJSON_GetArraySize(lines);
    if (count > CRM_ORDER_MAX_ITEMS) {
        crm_report_reason(r->report, "%s: %d line items, more than %d", r->subject, count,
                          CRM_ORDER_MAX_ITEMS);
        return -1;
    }
    order->items = calloc(count > 0 ? (size_t)count : 1, sizeof *order->items);
    if (order->items == NULL) {
        crm_report_reason(r->report, "out of memory");
        return -1;
    }
    const cJSON *line = NULL;
    cJSON_ArrayForEach(line, lines)
    {
        if (read_item(r, line, order->item_count, &order->items[order->item_count]) != 0)
            return -1;
        order->item_count++;
    }
    return 0;
}

static void read_shipping(order_reading *r)
{
    crm_order_input *order = &r->out->order;
    const char *path = "shipping_address";
    const cJSON *address = object_or_note(r->report, NULL, r->body, "shipping_address");
    if (address == NULL) {
        path = "billing_address";
        address = object_or_note(r->report, NULL, r->body, "billing_address");
    }
    if (address == NULL)
        return;
    static const char *const parts[] = {"address1", "address2", "ward", "district", "province"};
    int cut = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        cut |= join(order->shipping_address, sizeof order->shipping_address,
                    text_or_note(r->report, path, address, parts[i]), ", ");
    if (cut)
        note_cut(r->report, "shipping address", sizeof order->shipping_address);
}

static int read_status(order_reading *r, const char *topic)
{
    crm_order_input *order = &r->out->order;
    const char *cancelled_at = NULL, *closed_at = NULL;
    if (decisive_text(r->report, r->subject, NULL, r->body, "cancelled_at", "a time",
                      &cancelled_at) != 0 ||
        decisive_text(r->report, r->subject, NULL, r->body, "closed_at", "a time", &closed_at) != 0)
        return -1;
    int cancelled =
        cancelled_at != NULL || (topic != NULL && strcmp(topic, "orders/cancelled") == 0);
    order->status = cancelled ? "cancelled" : closed_at != NULL ? "closed" : "open";
    return 0;
}

static int read_money(order_reading *r)
{
    crm_order_input *order = &r->out->order;
    if (need_amount(r->report, r->subject, NULL, r->body, "total_price", order->total,
                    sizeof order->total) != 0)
        return -1;
    const char *financial = NULL;
    if (decisive_text(r->report, r->subject, NULL, r->body, "financial_status",
                      "a financial status", &financial) != 0)
        return -1;
    order->payment_status = payment_status_of(financial);
    if (order->payment_status == NULL) {
        crm_report_fail(r->report, r->subject, NULL, r->body, "financial_status",
                        "a financial status");
        return -1;
    }
    if (decisive_text(r->report, r->subject, NULL, r->body, "currency", "a currency",
                      &order->currency) != 0)
        return -1;
    if (order->currency == NULL)
        order->currency = "VND";
    r->method = text_or_note(r->report, NULL, r->body, "gateway");
    if (r->method == NULL)
        r->method = text_or_note(r->report, NULL, r->body, "gateway_code");
    return 0;
}

static void read_description(order_reading *r)
{
    crm_order_input *order = &r->out->order;
    order->code = text_or_note(r->report, NULL, r->body, "name");
    if (order->code == NULL)
        order->code = text_or_note(r->report, NULL, r->body, "order_number");
    if (order->code == NULL)
        order->code = "";
    order->note = text_or_note(r->report, NULL, r->body, "note");
    order->ordered_at = text_or_note(r->report, NULL, r->body, "created_at");
    order->updated_at = text_or_note(r->report, NULL, r->body, "updated_at");
    const char *channel = NULL;
    if (crm_field_text(r->body, "source_name", &channel) == CRM_FIELD_UNREADABLE)
        crm_report_note(r->report, NULL, r->body, "source_name", "text",
                        "the order's source is Haravan");
    order->channel = channel;
    read_shipping(r);
}

/* The order's customer, with the order's addresses and email to fill what
 * the customer object lacks. */
static int read_order_customer(order_reading *r, const char *org_id)
{
    const cJSON *customer = NULL;
    if (crm_field_object(r->body, "customer", &customer) == CRM_FIELD_UNREADABLE) {
        crm_report_fail(r->report, r->subject, NULL, r->body, "customer", "an object");
        return -1;
    }
    if (customer == NULL)
        return 0; /* a POS sale without a customer stays without one */
    const char *fallback_path = "billing_address";
    const cJSON *fallback = NULL;
    crm_field_object(r->body, "billing_address", &fallback);
    if (fallback == NULL) {
        fallback_path = "shipping_address";
        crm_field_object(r->body, "shipping_address", &fallback);
    }
    crm_customer_input *out = &r->out->customer;
    if (read_customer(customer, "customer", r->subject, fallback, fallback_path, org_id, out,
                      r->report) != 0)
        return -1;
    if (out->email[0] == '\0' && out->email_raw == NULL)
        read_email(text_or_note(r->report, NULL, r->body, "email"), out);
    r->out->has_customer = 1;
    return 0;
}

static int read_order_id(order_reading *r)
{
    crm_order_input *order = &r->out->order;
    crm_field state = crm_field_id(r->body, "id", order->haravan_id, sizeof order->haravan_id);
    if (state == CRM_FIELD_ABSENT)
        crm_report_reason(r->report, "order without an id");
    else if (state == CRM_FIELD_UNREADABLE)
        crm_report_fail(r->report, "order", NULL, r->body, "id", "an id");
    if (state != CRM_FIELD_READ)
        return -1;
    snprintf(r->subject, sizeof r->subject, "order %s", order->haravan_id);
    return 0;
}

int crm_payload_order(const cJSON *body, const char *topic, const char *org_id,
                      crm_order_payload *out, crm_report *report)
{
    memset(out, 0, sizeof *out);
    out->order.org_id = org_id;
    if (!cJSON_IsObject(body)) {
        crm_report_reason(report, "order body is not a JSON object");
        return -1;
    }
    order_reading r = {.body = body, .out = out, .report = report};
    if (read_order_id(&r) != 0 || read_money(&r) != 0 || read_status(&r, topic) != 0)
        return -1;
    read_description(&r);
    if (read_items(&r) != 0 || read_payments(&r) != 0 || read_order_customer(&r, org_id) != 0)
        return -1;
    id_or_note(report, NULL, body, "user_id", out->staff_id, sizeof out->staff_id);
    return 0;
}

void crm_payload_order_free(crm_order_payload *payload)
{
    free(payload->order.items);
    payload->order.items = NULL;
    payload->order.item_count = 0;
}
