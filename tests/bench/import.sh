#!/usr/bin/env bash
# import.sh: the historical import's throughput against Haravan's rate
# limit (issue #11; figures in docs/PERFORMANCE.md, section "Issue #11").
#
#   tests/bench/import.sh        (what `make bench-import` runs, with BUILD set)
#
# On one private stack (tests/stack/stack.sh in a fresh temp dir), the
# simulator generates a shop of BENCH_IMPORT_CUSTOMERS (5,000) customers and
# BENCH_IMPORT_ORDERS (20,000) orders (POST /sim/generate), and `haravan-ctl
# backfill` imports it while the stack's processors process what it stores.
# It reports, as a table:
#   - the import's records a second against the simulator's ceiling, 4
#     calls a second x 50 records = 200 records a second, as a ratio;
#   - its API calls a second against 4/s: over the whole run, and in the
#     steady state after the bucket's first 50 free slots are spent (the
#     simulator's own count of calls let through each second);
#   - the 429s the simulator answered (must be 0) and the time until every
#     stored event was processed.
#
# Why it is built this way: the import is bound by Haravan's bucket, not by
# this code, so the question is how close to the ceiling it runs while
# keeping its headroom (docs/CONNECT.md, "Rate limit"): at most 50 of 80
# slots. The first 50 calls go at once, then 4 a second.
#
# Settings (environment):
#   BUILD                    build directory (default: ROOT/build)
#   BENCH_IMPORT_CUSTOMERS   customers generated (default 5000)
#   BENCH_IMPORT_ORDERS      orders generated (default 20000)
#   BENCH_KEEP               1: keep the temp dir (logs) after the run
#
# Exit status: 0 when the import finished with no 429 and every record in
# the CRM; non-zero otherwise. Missing the 90% aim is reported, not an error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=$ROOT/tests/bench
BUILD=${BUILD:-$ROOT/build}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -n 1)}
CUSTOMERS=${BENCH_IMPORT_CUSTOMERS:-5000}
ORDERS=${BENCH_IMPORT_ORDERS:-20000}
KEEP=${BENCH_KEEP:-0}
ORG=8801
TOKEN=bench-import-token
export HARAVAN_WORKERS=${HARAVAN_WORKERS:-4}
export HARAVAN_PROCESSORS=${HARAVAN_PROCESSORS:-$(nproc)}
export HARAVAN_RECONCILE_SECONDS=86400 # nothing else calls the simulator
# shellcheck source=tests/bench/lib.sh
. "$BENCH/lib.sh"

[ -x "$BUILD/haravan-ctl" ] || die "no $BUILD/haravan-ctl: make build first"

bench_workdir
bench_start_stack
export HARAVAN_CONFIG=$STACK/stack.env

sim() { curl -sf -X POST "$HARAVAN_SIM_URL$1" -H 'Content-Type: application/json' -d "$2"; }
sim "/sim/tokens" "{\"token\":\"$TOKEN\",\"org_id\":$ORG,\"scopes\":\"com.read_orders com.read_customers com.read_shop\"}" > /dev/null
say "generating $CUSTOMERS customers and $ORDERS orders"
sim "/sim/generate" "{\"org_id\":$ORG,\"customers\":$CUSTOMERS,\"orders\":$ORDERS,\"seed\":1}" > /dev/null
"$BUILD/haravan-ctl" shop token "$ORG" "com.read_orders com.read_customers com.read_shop" <<< "$TOKEN" > /dev/null
sim "/sim/reset" '{"buckets":true,"failures":true,"counters":true}' > /dev/null

say "importing"
start=$(date +%s.%N)
"$BUILD/haravan-ctl" backfill --shop "$ORG" > "$WORK/out/backfill.txt" 2> "$WORK/out/backfill.err"
end=$(date +%s.%N)
say "waiting for the processors"
for _ in $(seq 1 3000); do
    [ "$(psql_super -c "SELECT count(*) FROM hv_events WHERE status IN ('pending','processing')")" = 0 ] && break
    sleep 0.2
done
drained=$(date +%s.%N)

buckets=$(curl -sf "$HARAVAN_SIM_URL/sim/buckets")
read -r admitted refused steady < <(python3 -c '
import json, sys
b = [x for x in json.loads(sys.argv[1])["buckets"] if x["org_id"] == int(sys.argv[2])][0]
s = b["per_second"][2:-1] if len(b["per_second"]) > 4 else b["per_second"]
print(b["admitted"], b["refused"], "%.2f" % (sum(s) / len(s) if s else 0))
' "$buckets" "$ORG")
calls=$(psql_super -c "SELECT sum(calls) FROM hv_catchup WHERE org_id = '$ORG' AND job LIKE '%/import'")
records=$((CUSTOMERS + ORDERS))
seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
after=$(awk -v a="$end" -v b="$drained" 'BEGIN { printf "%.1f", b - a }')
rate=$(awk -v r="$records" -v s="$seconds" 'BEGIN { printf "%.1f", r / s }')
call_rate=$(awk -v c="$calls" -v s="$seconds" 'BEGIN { printf "%.2f", c / s }')
crm_orders=$(psql_super -c "SELECT count(*) FROM orders WHERE haravan_org_id = '$ORG'")
crm_customers=$(psql_super -c "SELECT count(*) FROM customers WHERE haravan_org_id = '$ORG'")

[ "$refused" = 0 ] || FAILURES+=("the simulator refused $refused calls (429)")
[ "$crm_orders" = "$ORDERS" ] || FAILURES+=("the CRM holds $crm_orders orders, not $ORDERS")
[ "$crm_customers" = "$CUSTOMERS" ] || FAILURES+=("the CRM holds $crm_customers customers, not $CUSTOMERS")
NOTES+=("$records records in $calls API calls ($admitted let through by the simulator), $(nproc) cores, load average at start $LOADAVG_START")
NOTES+=("steady state: the simulator's calls let through per whole second, the first two and the last left out (the bucket's 50 free slots, the last partial second)")
NOTES+=("every stored event processed $after s after the import's end; the CRM holds $crm_customers customers and $crm_orders orders")

{
    echo
    echo "| measure | value | ceiling | ratio |"
    echo "| --- | ---: | ---: | ---: |"
    echo "| import: records/s ($records in $seconds s) | $rate | 200 | $(ratio "$rate" 200) |"
    echo "| API calls/s, whole run | $call_rate | 4 | $(ratio "$call_rate" 4) |"
    echo "| API calls/s, steady state | $steady | 4 | $(ratio "$steady" 4) |"
    echo "| 429 answers | $refused | 0 | |"
    echo
    print_notes
} | tee "$WORK/out/table.md"
bench_finish
