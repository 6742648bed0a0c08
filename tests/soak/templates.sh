#!/usr/bin/env bash
# templates.sh SAMPLES OUT: the soak's four delivery bodies (tests/soak/soak.sh),
# made from the real payloads in tests/data/samples with only what must
# differ changed: ids, phones, e-mails, versions, and staff id 0 (the
# executor lookup, a Haravan call, is not what the soak is about).
# "@ID@" and "@ID7@" are the load generator's markers (tests/bench/load.c):
# each delivery's own id and its last seven digits.
#   order-new.json        orders/create: a new order of a new customer
#   order-repeat.json     orders/updated: a new order of the one returning
#                         customer (Haravan id 886999001)
#   customer-create.json  customers/create: a new customer
#   customer-update.json  customers/update: a newer version of that customer
set -euo pipefail
SAMPLES=$1
OUT=$2

# jq writes the numeric markers as strings; sed takes their quotes off.
unquote() { sed -e 's/"@@ID@@"/@ID@/g' > "$1"; }

jq -c '.id = "@@ID@@" | .name = "#S@ID@" | .order_number = "#S@ID@" | .user_id = 0
    | .email = "new@ID@@soak.test" | .updated_at = "2026-11-30T08:00:00Z"
    | .customer.id = "@@ID@@" | .customer.phone = "090@ID7@" | .customer.email = "new@ID@@soak.test"
    | .customer.updated_at = "2026-11-30T08:00:00Z"' \
    "$SAMPLES/order-webhook-payload-haravan_draft_order-paid.captured.json" | unquote "$OUT/order-new.json"

jq -c '.order | .id = "@@ID@@" | .name = "#R@ID@" | .order_number = "#R@ID@" | .user_id = 0
    | .email = "repeat@soak.test" | .updated_at = "2026-11-30T09:00:00Z"
    | .customer.id = 886999001 | .customer.phone = "0869990001" | .customer.email = "repeat@soak.test"
    | .customer.updated_at = "2026-11-30T07:00:00Z"' \
    "$SAMPLES/order-api-get-single-web-cod.docs.json" | unquote "$OUT/order-repeat.json"

person='.id = "@@ID@@" | .phone = "091@ID7@" | .email = "c@ID@@soak.test"'
jq -c ".customer | $person | .updated_at = \"2026-11-30T08:00:00Z\"" \
    "$SAMPLES/customer-api-create-with-address-response.docs.json" | unquote "$OUT/customer-create.json"
jq -c ".customer | $person | .updated_at = \"2026-11-30T10:00:00Z\"" \
    "$SAMPLES/customer-api-get-single.docs.json" | unquote "$OUT/customer-update.json"
