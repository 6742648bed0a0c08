/*
 * crm_order: versioned upsert of an order, its items and payments.
 * See order.h for the versioning rules.
 */
#include "crm/order.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sql_array.h"

static const char find_sql[] =
    "SELECT id, payment_status, status,"
    " coalesce(haravan_updated_at < hv_timestamptz($3::text), hv_timestamptz($3::text) IS NOT NULL"
    "          OR haravan_updated_at IS NULL),"
    " coalesce(haravan_updated_at = hv_timestamptz($3::text), false)"
    " FROM orders WHERE haravan_org_id = $1::text AND haravan_order_id = $2::text FOR UPDATE";

static const char insert_sql[] =
    "INSERT INTO orders (haravan_org_id, haravan_order_id, code, customer_id, executor_id,"
    " source_id, channel, payment_status, status, total, currency, shipping_address, note,"
    " ordered_at, haravan_updated_at)"
    " VALUES ($1::text, $2::text, $3::text, nullif($4::text, '0')::bigint, nullif($5::text, "
    "'0')::bigint,"
    " nullif($6::text, '0')::bigint, $7::text, $8::text, $9::text, $10::numeric, $11::text, "
    "$12::text, $13::text,"
    " hv_timestamptz($14::text), hv_timestamptz($15::text))"
    " RETURNING id";

static const char update_sql[] =
    "UPDATE orders SET code = $2::text, customer_id = coalesce(nullif($3::text, '0')::bigint, "
    "customer_id),"
    " executor_id = coalesce(nullif($4::text, '0')::bigint, executor_id),"
    " source_id = coalesce(nullif($5::text, '0')::bigint, source_id), channel = $6::text,"
    " payment_status = $7::text, status = $8::text, total = $9::numeric, currency = $10::text,"
    " shipping_address = $11::text, note = $12::text, ordered_at = hv_timestamptz($13::text),"
    " haravan_updated_at = hv_timestamptz($14::text), updated_at = now()"
    " WHERE id = $1::bigint AND (code, customer_id, executor_id, source_id, channel,"
    "  payment_status, status, total, currency, shipping_address, note, ordered_at)"
    "  IS DISTINCT FROM ($2::text, coalesce(nullif($3::text, '0')::bigint, customer_id),"
    "  coalesce(nullif($4::text, '0')::bigint, executor_id), coalesce(nullif($5::text, "
    "'0')::bigint,"
    "  source_id), $6::text, $7::text, $8::text, $9::numeric, $10::text, $11::text, $12::text, "
    "hv_timestamptz($13::text))"
    " RETURNING id";

static const char touch_version_sql[] =
    "UPDATE orders SET haravan_updated_at = hv_timestamptz($2::text) WHERE id = $1::bigint";

static const char items_signature_sql[] =
    "SELECT coalesce(string_agg(concat_ws('|', product_id, variant_id, sku, name, quantity,"
    " price, discount, haravan_line_item_id), E'\\n' ORDER BY id), '')"
    " FROM order_items WHERE order_id = $1::bigint";

/* Every item of an order in one statement (core/sql_array.h): each column
 * an array, in the order of the items, which is the order of their ids
 * (items_signature_sql reads them back by id). */
static const char insert_items_sql[] =
    "INSERT INTO order_items (order_id, product_id, variant_id, sku, name, quantity, price,"
    " discount, haravan_line_item_id)"
    " SELECT $1::bigint, product, variant, sku, name, quantity::integer, price::numeric,"
    " discount::numeric, line FROM unnest($2::text[], $3::text[], $4::text[], $5::text[],"
    " $6::text[], $7::text[], $8::text[], $9::text[])"
    " WITH ORDINALITY AS item(product, variant, sku, name, quantity, price, discount, line, place)"
    " ORDER BY place";

static const char insert_payment_sql[] =
    "INSERT INTO payments (order_id, amount, method, paid_at, haravan_transaction_id)"
    " VALUES ($1::bigint, $2::numeric, $3::text, hv_timestamptz($4::text), $5::text)"
    " ON CONFLICT (order_id, haravan_transaction_id) DO NOTHING RETURNING id";

static const char *or_null(const char *text)
{
    return text != NULL && text[0] != '\0' ? text : NULL;
}

static int run(db *database, const char *sql, int count, const char *const *values,
               int *rows_returned)
{
    PGresult *result = db_query(database, DB_ONCE, sql, count, values, NULL, NULL);
    if (result == NULL)
        return -1;
    if (rows_returned != NULL)
        *rows_returned = PQntuples(result);
    PQclear(result);
    return 0;
}

/* The items as items_signature_sql renders them, to tell whether a new
 * version changed them. */
static int items_signature(const crm_order_input *in, buffer *out)
{
    for (size_t i = 0; i < in->item_count; i++) {
        const crm_item_input *item = &in->items[i];
        /* concat_ws skips NULLs: so does this. */
        const char *parts[] = {or_null(item->product_id),
                               or_null(item->variant_id),
                               or_null(item->sku),
                               item->name,
                               NULL,
                               item->price,
                               item->discount,
                               or_null(item->line_item_id)};
        char quantity[32];
        snprintf(quantity, sizeof quantity, "%lld", item->quantity);
        parts[4] = quantity;
        if (i > 0 && buffer_append_char(out, '\n') != 0)
            return -1;
        int first = 1;
        for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) {
            if (parts[p] == NULL)
                continue;
            if ((!first && buffer_append_char(out, '|') != 0) ||
                buffer_append_string(out, parts[p]) != 0)
                return -1;
            first = 0;
        }
    }
    return buffer_append(out, "", 0);
}

static int items_differ(db *database, const char *order_id, const crm_order_input *in)
{
    const char *values[] = {order_id};
    PGresult *result = db_query(database, DB_ONCE, items_signature_sql, 1, values, NULL, NULL);
    if (result == NULL)
        return -1;
    buffer incoming = BUFFER_INIT;
    int differ = items_signature(in, &incoming) != 0
                     ? -1
                     : strcmp(PQgetvalue(result, 0, 0), buffer_text(&incoming)) != 0;
    buffer_free(&incoming);
    PQclear(result);
    return differ;
}

#define ITEM_COLUMNS 8

/* Column `column` of item `item` as its text[] element (NULL: SQL NULL).
 * `quantity` is room for the quantity's digits. */
static const char *item_column(const crm_item_input *item, int column, char quantity[32])
{
    switch (column) {
    case 0:
        return or_null(item->product_id);
    case 1:
        return or_null(item->variant_id);
    case 2:
        return or_null(item->sku);
    case 3:
        return item->name;
    case 4:
        snprintf(quantity, 32, "%lld", item->quantity);
        return quantity;
    case 5:
        return item->price;
    case 6:
        return item->discount;
    default:
        return or_null(item->line_item_id);
    }
}

/* Every item of `in` into one statement: each column an array literal
 * (core/sql_array.h) built over the same list of element pointers. */
static int insert_items(db *database, const char *order_id, const crm_order_input *in)
{
    if (in->item_count == 0)
        return 0;
    buffer columns[ITEM_COLUMNS];
    const char *values[1 + ITEM_COLUMNS] = {order_id};
    const char **elements = calloc(in->item_count, sizeof *elements);
    char(*quantities)[32] = calloc(in->item_count, sizeof *quantities);
    int result = elements != NULL && quantities != NULL ? 0 : -1;
    for (int c = 0; c < ITEM_COLUMNS; c++) {
        columns[c] = (buffer)BUFFER_INIT;
        for (size_t i = 0; i < in->item_count && result == 0; i++)
            elements[i] = item_column(&in->items[i], c, quantities[i]);
        if (result == 0)
            result = sql_text_array(&columns[c], elements, in->item_count);
        values[1 + c] = buffer_text(&columns[c]);
    }
    if (result == 0)
        result = run(database, insert_items_sql, 1 + ITEM_COLUMNS, values, NULL);
    else
        snprintf(database->error, sizeof database->error, "out of memory writing order items");
    for (int c = 0; c < ITEM_COLUMNS; c++)
        buffer_free(&columns[c]);
    free(elements);
    free(quantities);
    return result;
}

static int replace_items(db *database, const char *order_id, const crm_order_input *in)
{
    const char *values[] = {order_id};
    if (run(database, "DELETE FROM order_items WHERE order_id = $1::bigint", 1, values, NULL) != 0)
        return -1;
    return insert_items(database, order_id, in);
}

static int add_payments(db *database, const char *order_id, const crm_order_input *in,
                        crm_order_result *out)
{
    for (size_t i = 0; i < in->payment_count; i++) {
        const crm_payment_input *payment = &in->payments[i];
        const char *values[] = {order_id, payment->amount, payment->method, payment->paid_at,
                                payment->transaction_id};
        int added = 0;
        if (run(database, insert_payment_sql, 5, values, &added) != 0)
            return -1;
        out->payments_added += added;
    }
    return 0;
}

static int create(db *database, const crm_order_input *in, const char *const ids[3],
                  crm_order_result *out)
{
    const char *values[] = {in->org_id,
                            in->haravan_id,
                            in->code,
                            ids[0],
                            ids[1],
                            ids[2],
                            or_null(in->channel),
                            in->payment_status,
                            in->status,
                            in->total,
                            in->currency,
                            or_null(in->shipping_address),
                            or_null(in->note),
                            in->ordered_at,
                            in->updated_at};
    PGresult *result = db_query(database, DB_ONCE, insert_sql, 15, values, NULL, NULL);
    if (result == NULL)
        return -1;
    char order_id[32];
    snprintf(order_id, sizeof order_id, "%s", PQgetvalue(result, 0, 0));
    PQclear(result);
    out->id = strtoll(order_id, NULL, 10);
    out->created = 1;
    out->became_paid = strcmp(in->payment_status, "paid") == 0;
    out->became_cancelled = strcmp(in->status, "cancelled") == 0;
    if (insert_items(database, order_id, in) != 0)
        return -1;
    return add_payments(database, order_id, in, out);
}

static int update(db *database, const char *order_id, const crm_order_input *in,
                  const char *const ids[3], crm_order_result *out)
{
    const char *values[] = {order_id,
                            in->code,
                            ids[0],
                            ids[1],
                            ids[2],
                            or_null(in->channel),
                            in->payment_status,
                            in->status,
                            in->total,
                            in->currency,
                            or_null(in->shipping_address),
                            or_null(in->note),
                            in->ordered_at,
                            in->updated_at};
    int updated = 0;
    if (run(database, update_sql, 14, values, &updated) != 0)
        return -1;
    const char *version[] = {order_id, in->updated_at};
    if (!updated && run(database, touch_version_sql, 2, version, NULL) != 0)
        return -1;
    int differ = items_differ(database, order_id, in);
    if (differ < 0 || (differ && replace_items(database, order_id, in) != 0))
        return -1;
    out->changed = updated || differ;
    return 0;
}

int crm_order_upsert(db *database, const crm_order_input *input, long long customer_id,
                     long long executor_id, long long source_id, crm_order_result *result)
{
    char customer[32], executor[32], source[32];
    snprintf(customer, sizeof customer, "%lld", customer_id);
    snprintf(executor, sizeof executor, "%lld", executor_id);
    snprintf(source, sizeof source, "%lld", source_id);
    const char *const ids[3] = {customer, executor, source};
    memset(result, 0, sizeof *result);

    const char *keys[] = {input->org_id, input->haravan_id, input->updated_at};
    PGresult *found = db_query(database, DB_ONCE, find_sql, 3, keys, NULL, NULL);
    if (found == NULL)
        return -1;
    if (PQntuples(found) == 0) {
        PQclear(found);
        return create(database, input, ids, result);
    }
    char order_id[32];
    snprintf(order_id, sizeof order_id, "%s", PQgetvalue(found, 0, 0));
    int was_paid = strcmp(PQgetvalue(found, 0, 1), "paid") == 0;
    int was_cancelled = strcmp(PQgetvalue(found, 0, 2), "cancelled") == 0;
    int incoming_is_newer = PQgetvalue(found, 0, 3)[0] == 't';
    int same_version = PQgetvalue(found, 0, 4)[0] == 't';
    PQclear(found);
    result->id = strtoll(order_id, NULL, 10);
    if (!incoming_is_newer && !same_version) {
        result->older = 1;
        return 0;
    }
    if (incoming_is_newer && update(database, order_id, input, ids, result) != 0)
        return -1;
    if (add_payments(database, order_id, input, result) != 0)
        return -1;
    result->became_paid =
        incoming_is_newer && !was_paid && strcmp(input->payment_status, "paid") == 0;
    result->became_cancelled =
        incoming_is_newer && !was_cancelled && strcmp(input->status, "cancelled") == 0;
    return 0;
}
