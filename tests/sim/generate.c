/*
 * generate: seeded customers and orders, and merchants' edits. See
 * generate.h for what is varied and why it is deterministic.
 *
 * Each record is a deep copy of a template with its varying fields set
 * by replacing members (cJSON_ReplaceItemInObject, or adding the member
 * when the template lacks it), so every field the template had that is
 * not varied keeps Haravan's shape.
 */
#define _POSIX_C_SOURCE 200809L
#include "generate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the random sequence ---------------------------------------------- */

void sim_random_seed(sim_random *random, unsigned long long seed)
{
    random->state = seed ^ 0x9e3779b97f4a7c15ULL;
}

unsigned long long sim_random_next(sim_random *random)
{
    unsigned long long z = (random->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

unsigned long long sim_random_below(sim_random *random, unsigned long long bound)
{
    return bound == 0 ? 0 : sim_random_next(random) % bound;
}

/* ---- fields ------------------------------------------------------------ */

void sim_generate_time(long long milliseconds, int with_fraction, char *out, size_t out_size)
{
    time_t seconds = (time_t)(milliseconds / 1000);
    struct tm utc;
    gmtime_r(&seconds, &utc);
    char whole[32];
    strftime(whole, sizeof whole, "%Y-%m-%dT%H:%M:%S", &utc);
    if (with_fraction)
        snprintf(out, out_size, "%s.%03lldZ", whole, milliseconds % 1000);
    else
        snprintf(out, out_size, "%sZ", whole);
}

/* Sets `name` of `object` to `value` (consumed), replacing any member of
 * that name. Returns 0 or -1. */
static int set_item(cJSON *object, const char *name, cJSON *value)
{
    if (value == NULL)
        return -1;
    if (cJSON_GetObjectItemCaseSensitive(object, name) != NULL)
        return cJSON_ReplaceItemInObjectCaseSensitive(object, name, value) ? 0 : -1;
    if (cJSON_AddItemToObject(object, name, value))
        return 0;
    cJSON_Delete(value);
    return -1;
}

static int set_text(cJSON *object, const char *name, const char *text)
{
    return set_item(object, name, text != NULL ? cJSON_CreateString(text) : cJSON_CreateNull());
}

static int set_number(cJSON *object, const char *name, double number)
{
    return set_item(object, name, cJSON_CreateNumber(number));
}

static int set_time(cJSON *object, const char *name, long long seconds)
{
    char text[40];
    sim_generate_time(seconds * 1000, 0, text, sizeof text);
    return set_text(object, name, text);
}

static long long largest_id(const cJSON *records)
{
    long long largest = 0;
    const cJSON *record = NULL;
    cJSON_ArrayForEach(record, records)
    {
        long long id = sim_record_id(record);
        if (id > largest)
            largest = id;
    }
    return largest;
}

#define PICK(random, list) ((list)[sim_random_below((random), sizeof(list) / sizeof((list)[0]))])

static const char *const last_names[] = {"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh",
                                         "Phan",   "Vũ",   "Võ", "Đặng", "Bùi",   "Đỗ"};
static const char *const middle_names[] = {"Văn", "Thị", "Minh", "Ngọc", "Thanh", "Quốc", "Hữu"};
static const char *const first_names[] = {"An",   "Bình", "Chi",  "Dũng",  "Giang", "Hà",
                                          "Hùng", "Lan",  "Linh", "Mai",   "Nam",   "Phương",
                                          "Quân", "Sơn",  "Thảo", "Trang", "Tuấn",  "Vy"};
static const char *const ascii_first[] = {"an",   "binh", "chi",  "dung",  "giang", "ha",
                                          "hung", "lan",  "linh", "mai",   "nam",   "phuong",
                                          "quan", "son",  "thao", "trang", "tuan",  "vy"};
static const char *const mail_domains[] = {"gmail.com", "yahoo.com", "example.vn", "outlook.com"};
/* Mobile prefixes valid since 2018 (tests/data/vn-phone-prefix-2018.csv). */
static const char *const mobile_prefixes[] = {"090", "091", "093", "094", "096", "097", "098"};

typedef struct place {
    const char *province;
    const char *district;
    const char *ward;
} place;

static const place places[] = {
    {"Hồ Chí Minh", "Quận 1", "Phường Bến Nghé"},
    {"Hồ Chí Minh", "Quận 11", "Phường 15"},
    {"Hồ Chí Minh", "Quận Bình Thạnh", "Phường 25"},
    {"Hà Nội", "Quận Ba Đình", "Phường Kim Mã"},
    {"Hà Nội", "Quận Cầu Giấy", "Phường Dịch Vọng"},
    {"Đà Nẵng", "Quận Hải Châu", "Phường Thạch Thang"},
    {"Cần Thơ", "Quận Ninh Kiều", "Phường An Hòa"},
    {"Hải Phòng", "Quận Lê Chân", "Phường An Biên"},
};
static const char *const streets[] = {"Lê Đại Hành",      "Nguyễn Trãi",  "Trần Hưng Đạo",
                                      "Lý Thường Kiệt",   "Hai Bà Trưng", "Điện Biên Phủ",
                                      "Cách Mạng Tháng 8"};

/* ---- customers --------------------------------------------------------- */

typedef struct person {
    long long id;
    char first_name[64];
    char last_name[64];
    char email[128]; /* "" when the customer has none */
    char phone[16];  /* "" when the customer has none */
    char address[160];
    const place *where;
} person;

static void make_person(sim_random *random, long long id, person *p)
{
    memset(p, 0, sizeof *p);
    p->id = id;
    size_t first = (size_t)sim_random_below(random, sizeof first_names / sizeof first_names[0]);
    snprintf(p->first_name, sizeof p->first_name, "%s", first_names[first]);
    snprintf(p->last_name, sizeof p->last_name, "%s %s", PICK(random, last_names),
             PICK(random, middle_names));
    /* Unique per customer: both carry the id. Some have none. */
    if (sim_random_below(random, 100) >= 8)
        snprintf(p->email, sizeof p->email, "%s.%lld@%s", ascii_first[first], id,
                 PICK(random, mail_domains));
    if (sim_random_below(random, 100) >= 12)
        snprintf(p->phone, sizeof p->phone, "%s%07lld", mobile_prefixes[(id / 10000000) % 7],
                 id % 10000000);
    p->where = &PICK(random, places);
    snprintf(p->address, sizeof p->address, "%llu %s", 1 + sim_random_below(random, 400),
             PICK(random, streets));
}

static cJSON *address_of(const person *p)
{
    cJSON *a = cJSON_CreateObject();
    char name[160];
    snprintf(name, sizeof name, "%s %s", p->last_name, p->first_name);
    int ok = a != NULL && set_text(a, "address1", p->address) == 0 &&
             set_text(a, "address2", NULL) == 0 && set_text(a, "city", NULL) == 0 &&
             set_text(a, "company", NULL) == 0 && set_text(a, "country", "Vietnam") == 0 &&
             set_text(a, "first_name", p->first_name) == 0 &&
             set_number(a, "id", (double)p->id) == 0 &&
             set_text(a, "last_name", p->last_name) == 0 &&
             set_text(a, "phone", p->phone[0] ? p->phone : NULL) == 0 &&
             set_text(a, "province", p->where->province) == 0 && set_text(a, "zip", NULL) == 0 &&
             set_text(a, "name", name) == 0 && set_text(a, "country_code", "VN") == 0 &&
             set_item(a, "default", cJSON_CreateTrue()) == 0 &&
             set_text(a, "district", p->where->district) == 0 &&
             set_text(a, "ward", p->where->ward) == 0;
    if (!ok) {
        cJSON_Delete(a);
        return NULL;
    }
    return a;
}

/* The seeded customer with the most fields: the fullest shape. */
static const cJSON *customer_template(const cJSON *customers)
{
    const cJSON *best = NULL;
    int most = -1;
    const cJSON *record = NULL;
    cJSON_ArrayForEach(record, customers)
    {
        int size = cJSON_GetArraySize(record);
        if (size > most) {
            most = size;
            best = record;
        }
    }
    return best;
}

typedef struct times {
    long long created; /* seconds */
    long long updated;
} times;

/* Spread over the span before SIM_GENERATE_END; every seventh record
 * shares the previous one's updated_at (the same second). */
static times next_times(sim_random *random, long index, const times *previous)
{
    times t;
    t.created = SIM_GENERATE_END - (long long)sim_random_below(random, SIM_GENERATE_SPAN_SECONDS);
    t.updated = t.created + (long long)sim_random_below(random, 20 * 86400);
    if (t.updated > SIM_GENERATE_END)
        t.updated = SIM_GENERATE_END;
    if (index > 0 && index % 7 == 0) {
        t.updated = previous->updated;
        if (t.created > t.updated)
            t.created = t.updated - (long long)sim_random_below(random, 3600);
    }
    return t;
}

static cJSON *make_customer(const cJSON *template, const person *p, const times *t,
                            sim_random *random)
{
    cJSON *c = cJSON_Duplicate(template, 1);
    cJSON *addresses = cJSON_CreateArray();
    cJSON *address = address_of(p);
    if (addresses != NULL && address != NULL && !cJSON_AddItemToArray(addresses, address)) {
        cJSON_Delete(address);
        address = NULL;
    }
    int ok =
        c != NULL && addresses != NULL && address != NULL &&
        set_number(c, "id", (double)p->id) == 0 && set_text(c, "first_name", p->first_name) == 0 &&
        set_text(c, "last_name", p->last_name) == 0 &&
        set_text(c, "email", p->email[0] ? p->email : NULL) == 0 &&
        set_text(c, "phone", p->phone[0] ? p->phone : NULL) == 0 &&
        set_item(c, "addresses", addresses) == 0 &&
        set_item(c, "default_address", cJSON_Duplicate(address, 1)) == 0 &&
        set_text(c, "gender", sim_random_below(random, 2) ? "male" : "female") == 0 &&
        set_item(c, "birthday", cJSON_CreateNull()) == 0 &&
        set_text(c, "note", sim_random_below(random, 4) == 0 ? "Khách quen" : NULL) == 0 &&
        set_number(c, "orders_count", 0) == 0 && set_number(c, "total_spent", 0) == 0 &&
        set_item(c, "last_order_id", cJSON_CreateNull()) == 0 &&
        set_item(c, "last_order_name", cJSON_CreateNull()) == 0 &&
        set_item(c, "last_order_date", cJSON_CreateNull()) == 0 &&
        set_time(c, "created_at", t->created) == 0 && set_time(c, "updated_at", t->updated) == 0;
    if (addresses != NULL && !ok && cJSON_GetObjectItemCaseSensitive(c, "addresses") != addresses)
        cJSON_Delete(addresses);
    if (!ok) {
        cJSON_Delete(c);
        return NULL;
    }
    return c;
}

/* ---- orders ------------------------------------------------------------ */

static const char *const products[] = {"Áo thun cotton", "Quần jean slim", "Túi xách da",
                                       "Giày thể thao",  "Nón lưỡi trai",  "Khăn lụa",
                                       "Bình giữ nhiệt", "Sổ tay A5"};
static const char *const sources[] = {"web", "pos", "haravan_draft_order", "facebook", "zalo"};
static const char *const gateways[] = {"COD", "Chuyển khoản qua ngân hàng", "Tiền mặt"};

typedef struct money {
    double total;
} money;

static cJSON *make_line_items(const cJSON *template_item, long long order_id, sim_random *random,
                              money *m)
{
    cJSON *items = cJSON_CreateArray();
    int count = 1 + (int)sim_random_below(random, 3);
    m->total = 0;
    for (int k = 0; items != NULL && k < count; k++) {
        size_t product = (size_t)sim_random_below(random, sizeof products / sizeof products[0]);
        double price = 1000.0 * (double)(50 + sim_random_below(random, 950));
        int quantity = 1 + (int)sim_random_below(random, 3);
        char sku[32];
        snprintf(sku, sizeof sku, "SP-%04zu", product + 1);
        cJSON *item =
            template_item != NULL ? cJSON_Duplicate(template_item, 1) : cJSON_CreateObject();
        int ok =
            item != NULL && set_number(item, "id", (double)(order_id * 10 + k)) == 0 &&
            set_number(item, "product_id", (double)(1003000000 + product)) == 0 &&
            set_number(item, "variant_id", (double)(1008000000 + product)) == 0 &&
            set_text(item, "sku", sku) == 0 && set_text(item, "title", products[product]) == 0 &&
            set_text(item, "name", products[product]) == 0 &&
            set_text(item, "variant_title", "Default Title") == 0 &&
            set_number(item, "price", price) == 0 && set_number(item, "quantity", quantity) == 0 &&
            set_number(item, "total_discount", 0) == 0 &&
            set_item(item, "applied_discounts", cJSON_CreateArray()) == 0;
        if (!ok || !cJSON_AddItemToArray(items, item)) {
            cJSON_Delete(item);
            cJSON_Delete(items);
            return NULL;
        }
        m->total += price * quantity;
    }
    return items;
}

/* paid, pending ("pay later"), partially_paid, refunded, voided. */
static const char *pick_financial_status(sim_random *random)
{
    unsigned long long roll = sim_random_below(random, 100);
    return roll < 50   ? "paid"
           : roll < 80 ? "pending"
           : roll < 88 ? "partially_paid"
           : roll < 95 ? "refunded"
                       : "voided";
}

static cJSON *transaction(long long id, double amount, const char *kind, const char *gateway,
                          long long at)
{
    cJSON *t = cJSON_CreateObject();
    int ok = t != NULL && set_number(t, "id", (double)id) == 0 &&
             set_number(t, "amount", amount) == 0 && set_text(t, "kind", kind) == 0 &&
             set_text(t, "status", "success") == 0 && set_text(t, "gateway", gateway) == 0 &&
             set_time(t, "created_at", at) == 0;
    if (!ok) {
        cJSON_Delete(t);
        return NULL;
    }
    return t;
}

static cJSON *make_transactions(long long order_id, const char *status, double total,
                                const char *gateway, long long at)
{
    cJSON *list = cJSON_CreateArray();
    cJSON *first = NULL, *second = NULL;
    if (strcmp(status, "paid") == 0 || strcmp(status, "refunded") == 0)
        first = transaction(order_id * 10 + 7, total, "capture", gateway, at);
    else if (strcmp(status, "partially_paid") == 0)
        first = transaction(order_id * 10 + 7, total / 2, "capture", gateway, at);
    if (strcmp(status, "refunded") == 0)
        second = transaction(order_id * 10 + 8, total, "refund", gateway, at);
    int ok = list != NULL && (first == NULL || cJSON_AddItemToArray(list, first)) &&
             (second == NULL || cJSON_AddItemToArray(list, second));
    if (!ok) {
        cJSON_Delete(list);
        return NULL;
    }
    return list;
}

typedef struct order_plan {
    long long id;
    const cJSON *customer; /* NULL: a guest checkout */
    times t;
    long long user_id;
} order_plan;

static int set_order_customer(cJSON *o, const order_plan *plan)
{
    if (plan->customer == NULL) { /* a guest: no one to name */
        int ok = set_item(o, "customer", cJSON_CreateNull()) == 0 &&
                 set_text(o, "email", NULL) == 0 && set_text(o, "phone", NULL) == 0 &&
                 set_item(o, "billing_address", cJSON_CreateNull()) == 0 &&
                 set_item(o, "shipping_address", cJSON_CreateNull()) == 0;
        return ok ? 0 : -1;
    }
    const cJSON *address = cJSON_GetObjectItemCaseSensitive(plan->customer, "default_address");
    const cJSON *email = cJSON_GetObjectItemCaseSensitive(plan->customer, "email");
    const cJSON *phone = cJSON_GetObjectItemCaseSensitive(plan->customer, "phone");
    int ok = set_item(o, "customer", cJSON_Duplicate(plan->customer, 1)) == 0 &&
             set_item(o, "email", cJSON_Duplicate(email, 1)) == 0 &&
             set_item(o, "phone", cJSON_Duplicate(phone, 1)) == 0 &&
             set_item(o, "billing_address", cJSON_Duplicate(address, 1)) == 0 &&
             set_item(o, "shipping_address", cJSON_Duplicate(address, 1)) == 0;
    return ok ? 0 : -1;
}

static int set_order_state(cJSON *o, const order_plan *plan, sim_random *random)
{
    unsigned long long roll = sim_random_below(random, 100);
    int closed = roll < 10;
    int cancelled = roll >= 10 && roll < 15;
    int ok = (closed ? set_time(o, "closed_at", plan->t.updated)
                     : set_text(o, "closed_at", NULL)) == 0 &&
             (cancelled ? set_time(o, "cancelled_at", plan->t.updated)
                        : set_text(o, "cancelled_at", NULL)) == 0 &&
             set_text(o, "cancel_reason", cancelled ? "customer" : NULL) == 0;
    return ok ? 0 : -1;
}

static cJSON *make_order(const cJSON *template, const order_plan *plan, sim_random *random)
{
    cJSON *o = cJSON_Duplicate(template, 1);
    if (o == NULL)
        return NULL;
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(template, "line_items");
    money m;
    cJSON *line_items = make_line_items(cJSON_GetArrayItem(items, 0), plan->id, random, &m);
    const char *status = pick_financial_status(random);
    const char *source = PICK(random, sources);
    const char *gateway = PICK(random, gateways);
    long long number = 100000 + (plan->id % 1000000);
    char name[32];
    snprintf(name, sizeof name, "#%lld", number);
    int ok =
        line_items != NULL && set_number(o, "id", (double)plan->id) == 0 &&
        set_item(o, "line_items", line_items) == 0 && set_text(o, "name", name) == 0 &&
        set_number(o, "order_number", (double)number) == 0 &&
        set_number(o, "total_price", m.total) == 0 &&
        set_number(o, "subtotal_price", m.total) == 0 &&
        set_number(o, "total_line_items_price", m.total) == 0 &&
        set_number(o, "total_discounts", 0) == 0 &&
        set_item(o, "discount_codes", cJSON_CreateArray()) == 0 &&
        set_text(o, "financial_status", status) == 0 && set_text(o, "source_name", source) == 0 &&
        set_text(o, "source", source) == 0 && set_text(o, "gateway", gateway) == 0 &&
        set_text(o, "currency", "VND") == 0 &&
        set_number(o, "user_id", (double)plan->user_id) == 0 &&
        set_item(o, "transactions",
                 make_transactions(plan->id, status, m.total, gateway, plan->t.created)) == 0 &&
        set_text(o, "note", sim_random_below(random, 3) == 0 ? "Giao giờ hành chính" : NULL) == 0 &&
        set_time(o, "created_at", plan->t.created) == 0 &&
        set_time(o, "updated_at", plan->t.updated) == 0 && set_order_customer(o, plan) == 0 &&
        set_order_state(o, plan, random) == 0;
    if (line_items != NULL && !ok &&
        cJSON_GetObjectItemCaseSensitive(o, "line_items") != line_items)
        cJSON_Delete(line_items);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* The staff ids orders are assigned to: the seeded users', and 0 (web
 * orders have none). */
static long long pick_user(sim_random *random, const cJSON *users, const char *source)
{
    int count = cJSON_GetArraySize(users);
    if (strcmp(source, "web") == 0 || count == 0 || sim_random_below(random, 4) == 0)
        return 0;
    return sim_record_id(cJSON_GetArrayItem(users, (int)sim_random_below(random, (unsigned)count)));
}

/* Moves the members a listing reads for every record (the filters and
 * the sort: id, the times, closed_at, cancelled_at) to the front of the
 * object: cJSON finds a member by walking from the first, and a listing
 * over 20,000 orders of some 80 members each otherwise spends most of
 * its time walking. Member order means nothing in JSON. */
static void listing_members_first(cJSON *record)
{
    static const char *const names[] = {"cancelled_at", "closed_at", "created_at", "updated_at",
                                        "id"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        cJSON *item = cJSON_DetachItemFromObjectCaseSensitive(record, names[i]);
        if (item == NULL)
            continue;
        cJSON *first = record->child;
        item->next = first;
        item->prev = first != NULL ? first->prev : item; /* the first's prev is the last */
        if (first != NULL)
            first->prev = item;
        record->child = item;
    }
}

/* ---- the whole run ----------------------------------------------------- */

static int fail(char *error, size_t error_size, const char *message)
{
    snprintf(error, error_size, "%s", message);
    return -1;
}

static int generate_customers(sim_org *org, const cJSON *template, long count, sim_random *random,
                              cJSON **made)
{
    /* Each shop's customers in an id range of their own: the phone and
     * e-mail carry the id, and a CRM matches customers by them across
     * shops, so two generated shops must never share one. */
    long long base = largest_id(org->customers);
    long long shop_base = 2000000000LL + (org->id % 100) * 100000LL;
    if (base < shop_base)
        base = shop_base;
    times previous = {0, 0};
    for (long i = 0; i < count; i++) {
        person p;
        make_person(random, base + 1 + i, &p);
        times t = next_times(random, i, &previous);
        previous = t;
        cJSON *customer = make_customer(template, &p, &t, random);
        if (customer != NULL)
            listing_members_first(customer);
        /* Ids above every other: appended, in the store's order. */
        if (customer == NULL || !cJSON_AddItemToArray(org->customers, customer)) {
            cJSON_Delete(customer);
            return -1;
        }
        made[i] = customer;
    }
    return 0;
}

/* The orders' timestamps: next_times(), and one run of
 * SIM_GENERATE_SAME_INSTANT orders at a single instant when there are
 * enough orders for it. */
static times order_times(sim_random *random, long index, long count, const times *previous)
{
    times t = next_times(random, index, previous);
    long first = count / 2;
    if (count >= 2 * SIM_GENERATE_SAME_INSTANT && index >= first &&
        index < first + SIM_GENERATE_SAME_INSTANT) {
        t.updated = SIM_GENERATE_END - 30LL * 86400;
        if (t.created > t.updated)
            t.created = t.updated - (long long)sim_random_below(random, 86400);
    }
    return t;
}

/* Appends `count` orders of `customers` to the org. `now_ms` 0: times
 * spread over the past (order_times); otherwise every order is new at
 * that moment (milliseconds, as a live order's). `made`, when not NULL,
 * gets the orders appended. */
static int generate_orders(sim_org *org, const cJSON *templates, const cJSON *users, long count,
                           cJSON **customers, long customer_count, sim_random *random,
                           long long now_ms, cJSON **made)
{
    /* Each shop's orders in an id range of their own, as Haravan's ids are
     * global: two shops generated from one seed would otherwise list
     * byte-identical guest orders (no customer to tell them apart). */
    long long base = largest_id(org->orders);
    long long shop_base = 3000000000LL + (org->id % 10000) * 1000000LL;
    if (base < shop_base)
        base = shop_base;
    int template_count = cJSON_GetArraySize(templates);
    times previous = {0, 0};
    char now[40];
    sim_generate_time(now_ms, 1, now, sizeof now);
    for (long i = 0; i < count; i++) {
        const cJSON *template = cJSON_GetArrayItem(templates, (int)(i % template_count));
        order_plan plan = {.id = base + 1 + i};
        plan.t = order_times(random, i, count, &previous);
        if (now_ms > 0)
            plan.t.created = plan.t.updated = now_ms / 1000;
        previous = plan.t;
        if (customer_count > 0 && sim_random_below(random, 100) >= 5)
            plan.customer = customers[sim_random_below(random, (unsigned long long)customer_count)];
        const cJSON *source = cJSON_GetObjectItemCaseSensitive(template, "source_name");
        plan.user_id =
            pick_user(random, users, cJSON_IsString(source) ? source->valuestring : "web");
        cJSON *order = make_order(template, &plan, random);
        int ok = order != NULL && (now_ms == 0 || (set_text(order, "created_at", now) == 0 &&
                                                   set_text(order, "updated_at", now) == 0));
        if (ok)
            listing_members_first(order);
        if (!ok || !cJSON_AddItemToArray(org->orders, order)) {
            cJSON_Delete(order);
            return -1;
        }
        if (made != NULL)
            made[i] = order;
    }
    return 0;
}

int sim_generate(const sim_org *templates, sim_org *org, long customers, long orders,
                 unsigned long long seed, char *error, size_t error_size)
{
    if (customers < 0 || orders < 0 || customers + orders > SIM_GENERATE_MAX_RECORDS)
        return fail(error, error_size, "customers and orders: 0 or more, at most 200000 in all");
    const cJSON *customer_shape = customer_template(templates->customers);
    if (customer_shape == NULL || (orders > 0 && cJSON_GetArraySize(templates->orders) == 0))
        return fail(error, error_size, "the seeded shop has no customers or orders to copy");
    sim_random random;
    sim_random_seed(&random, seed);
    cJSON **made = malloc((size_t)(customers > 0 ? customers : 1) * sizeof *made);
    if (made == NULL)
        return fail(error, error_size, "out of memory");
    int result = generate_customers(org, customer_shape, customers, &random, made);
    if (result == 0)
        result = generate_orders(org, templates->orders, templates->users, orders, made, customers,
                                 &random, 0, NULL);
    free(made);
    return result == 0 ? 0 : fail(error, error_size, "out of memory");
}

/* ---- touching ---------------------------------------------------------- */

int sim_generate_touch(sim_org *org, sim_touch_kind kind, long count, unsigned long long seed,
                       long long now_ms, cJSON ***touched, size_t *touched_count, char *error,
                       size_t error_size)
{
    cJSON *records = kind == SIM_TOUCH_ORDERS ? org->orders : org->customers;
    int size = cJSON_GetArraySize(records);
    *touched = NULL;
    *touched_count = 0;
    if (count < 0 || count > size)
        return fail(error, error_size, "count: from 0 to the number of records");
    cJSON **all = malloc((size_t)(size > 0 ? size : 1) * sizeof *all);
    if (all == NULL)
        return fail(error, error_size, "out of memory");
    int i = 0;
    cJSON *record = NULL;
    cJSON_ArrayForEach(record, records) all[i++] = record;
    /* A partial Fisher-Yates shuffle: `count` distinct records. */
    sim_random random;
    sim_random_seed(&random, seed);
    char now[40], note[64];
    sim_generate_time(now_ms, 1, now, sizeof now);
    for (long k = 0; k < count; k++) {
        long pick = k + (long)sim_random_below(&random, (unsigned long long)(size - k));
        cJSON *chosen = all[pick];
        all[pick] = all[k];
        all[k] = chosen;
        snprintf(note, sizeof note, "sửa lúc %s", now);
        if (set_text(chosen, "updated_at", now) != 0 || set_text(chosen, "note", note) != 0) {
            free(all);
            return fail(error, error_size, "out of memory");
        }
    }
    *touched = all;
    *touched_count = (size_t)count;
    return 0;
}

int sim_generate_new_orders(const sim_org *templates, sim_org *org, long count,
                            unsigned long long seed, long long now_ms, cJSON ***made,
                            size_t *made_count, char *error, size_t error_size)
{
    *made = NULL;
    *made_count = 0;
    if (count < 0 || count > SIM_GENERATE_MAX_RECORDS || cJSON_GetArraySize(templates->orders) == 0)
        return fail(error, error_size, "new: 0 to 200000 orders, and seeded orders to copy");
    int customer_count = cJSON_GetArraySize(org->customers);
    cJSON **customers =
        malloc((size_t)(customer_count > 0 ? customer_count : 1) * sizeof *customers);
    cJSON **orders = malloc((size_t)(count > 0 ? count : 1) * sizeof *orders);
    if (customers == NULL || orders == NULL) {
        free(customers);
        free(orders);
        return fail(error, error_size, "out of memory");
    }
    int i = 0;
    cJSON *customer = NULL;
    cJSON_ArrayForEach(customer, org->customers) customers[i++] = customer;
    sim_random random;
    sim_random_seed(&random, seed ^ 0x6e6577ULL);
    int result = generate_orders(org, templates->orders, templates->users, count, customers,
                                 customer_count, &random, now_ms, orders);
    free(customers);
    if (result != 0) {
        free(orders);
        return fail(error, error_size, "out of memory");
    }
    *made = orders;
    *made_count = (size_t)count;
    return 0;
}
