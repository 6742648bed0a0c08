/*
 * fuzz_payload: a delivery's body, through everything that reads it.
 *
 * Intake (haravan/webhook.c) reads three members with json_peek_members()
 * when it can be sure and otherwise with the checked parser; processing
 * (crm/processor.c) parses the body with inbox_body_parse() and maps it
 * with crm_payload_fits(), crm_payload_customer() and crm_payload_order().
 * The input goes through all of them, and besides "no crash, no leak, no
 * undefined behaviour" three things are checked:
 *
 * - the peek and the parser agree (a differential oracle): when
 *   json_peek_members() says it is sure, json_parse_checked() accepts the
 *   text without a repair and json_members_of() on its tree gives the same
 *   members, kind, length, bytes and number (json.h promises exactly that;
 *   a disagreement would store a body under the wrong status);
 * - a mapping that fails says why (report.reason is not empty), one that
 *   succeeds has an order id, and whatever it cut to fit a column is still
 *   UTF-8 (cut at a character, as haravan_payload.h promises);
 * - a customer's phone is either empty or a canonical form
 *   (phone_canonical() gives it back unchanged).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/phone.h"
#include "core/utf8.h"
#include "crm/haravan_payload.h"
#include "haravan/webhook.h"
#include "inbox/body.h"

static const char *const wanted_names[] = {"id", "updated_at", "org_id", "email", "customer"};
#define WANTED (sizeof wanted_names / sizeof wanted_names[0])

static void name_members(json_member *members)
{
    memset(members, 0, WANTED * sizeof *members);
    for (size_t i = 0; i < WANTED; i++)
        members[i].name = wanted_names[i];
}

static void same_member(const json_member *peeked, const json_member *parsed)
{
    if (peeked->kind != parsed->kind || peeked->length != parsed->length)
        abort();
    if (peeked->kind == JSON_MEMBER_STRING && peeked->length < JSON_MEMBER_TEXT_MAX &&
        memcmp(peeked->text, parsed->text, peeked->length + 1) != 0)
        abort();
    if (peeked->kind == JSON_MEMBER_NUMBER && peeked->number != parsed->number)
        abort();
}

/* The peek, when sure, must be the checked parser's answer. */
static void check_peek_agrees(const char *text, size_t length)
{
    json_member peeked[WANTED];
    json_member parsed[WANTED];
    name_members(peeked);
    name_members(parsed);
    if (!json_peek_members(text, length, INBOX_BODY_MAX_DEPTH, peeked, WANTED))
        return;
    json_refusal refusal = JSON_ACCEPTED;
    json_repairs repairs;
    cJSON *tree = json_parse_checked(text, length, INBOX_BODY_MAX_DEPTH, &refusal, NULL, &repairs);
    if (tree == NULL && refusal == JSON_NO_MEMORY)
        return;
    if (tree == NULL || repairs.invalid_utf8 != 0 || repairs.nul_escapes != 0 ||
        repairs.big_integers != 0)
        abort();
    json_members_of(tree, parsed, WANTED);
    for (size_t i = 0; i < WANTED; i++)
        same_member(&peeked[i], &parsed[i]);
    cJSON_Delete(tree);
}

static void check_utf8(const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t left = strlen(text);
    while (left > 0) {
        long step = utf8_sequence(p, left);
        if (step <= 0)
            abort();
        p += step;
        left -= (size_t)step;
    }
}

static void check_customer(const crm_customer_input *customer)
{
    char again[PHONE_CANONICAL_SIZE];
    if (customer->phone[0] != '\0' &&
        (!phone_canonical(customer->phone, again) || strcmp(again, customer->phone) != 0))
        abort();
    check_utf8(customer->name);
    check_utf8(customer->address);
    check_utf8(customer->email);
}

static void map_customer(const cJSON *body)
{
    crm_report report = {0};
    crm_customer_input customer;
    memset(&customer, 0, sizeof customer);
    (void)crm_payload_fits(body, CRM_PAYLOAD_CUSTOMER, "customers/update", &report);
    memset(&report, 0, sizeof report);
    if (crm_payload_customer(body, "1000114691", &customer, &report) != 0) {
        if (report.reason[0] == '\0')
            abort();
        return;
    }
    check_customer(&customer);
}

static void map_order(const cJSON *body, const char *topic)
{
    crm_report report = {0};
    crm_order_payload order;
    memset(&order, 0, sizeof order);
    (void)crm_payload_fits(body, CRM_PAYLOAD_ORDER, topic, &report);
    memset(&report, 0, sizeof report);
    int result = crm_payload_order(body, topic, "1000114691", &order, &report);
    if (result != 0 && report.reason[0] == '\0')
        abort();
    if (result == 0) {
        if (order.order.haravan_id[0] == '\0')
            abort();
        check_utf8(order.order.shipping_address);
        if (order.has_customer)
            check_customer(&order.customer);
    }
    crm_payload_order_free(&order);
}

/* What intake does with the body: its members and dedupe key. */
static void intake(const char *text, size_t length)
{
    hv_webhook webhook;
    if (hv_webhook_read(&webhook, "orders/create", NULL, text, length) == 0 &&
        webhook.dedupe_key.length == 0)
        abort();
    hv_webhook_free(&webhook);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    check_peek_agrees(text, size);
    intake(text, size);
    cJSON *body = NULL;
    json_repairs repairs;
    char reason[256];
    if (inbox_body_parse(text, size, &body, &repairs, reason, sizeof reason) != 0 || body == NULL)
        return 0;
    map_customer(body);
    map_order(body, "orders/create");
    map_order(body, "orders/cancelled");
    cJSON_Delete(body);
    return 0;
}
