#!/usr/bin/env bash
# burst.sh: a flash sale's burst of webhooks (issue #10; figures in
# docs/PERFORMANCE.md, section "Issue #10").
#
#   tests/bench/burst.sh        (what `make bench-burst` runs, with BUILD set)
#
# On one private stack (tests/stack/stack.sh in a fresh temp dir, haravan-fcgi
# with HARAVAN_WORKERS workers and HARAVAN_PROCESSORS processors, both at
# their defaults unless set), it sends BENCH_BURST (20,000) signed order
# deliveries as fast as the client can (load.c --requests: closed loop,
# BENCH_BURST_CONNECTIONS keep-alive connections), while the processors
# process what is stored, and reports:
#   - the time until every delivery was answered, and their rate and latency;
#   - the time until every stored event was processed (drained), from the
#     burst's start and from its last answer;
#   - the most events waiting (pending or processing) at any moment, read
#     every 0.2 s;
#   - each worker's and processor's peak resident set (VmHWM).
#
# Why it is built this way:
# - What Haravan needs in a burst is a fast 200 for every delivery, or it
#   sends them again; what the CRM needs is every one of them processed
#   exactly once, however long it takes. So the run fails unless every
#   request was answered 200, the inbox holds exactly one event per
#   delivery, every event is done without a reason or a note, and the CRM
#   holds exactly one order (with its item and its payment) per delivery.
# - Each delivery is the captured Haravan order (5.8 kB) with a fresh
#   top-level id, signed as Haravan signs, as in run.sh: every one a new
#   order, all of the same customer. The executor (the sample's user_id) is
#   in the staff cache, as for every order after a shop's first few, so no
#   call to Haravan is made (a call, or a fallback, would leave a note).
# - Only the inbox's statuses are read from outside; nothing here depends on
#   how the processors claim or batch.
# - PostgreSQL runs with its defaults; the WAL is warmed up first (lib.sh).
#
# Settings (environment):
#   BUILD                    build directory (default: ROOT/build)
#   BENCH_BURST              deliveries in the burst (default 20000)
#   BENCH_BURST_CONNECTIONS  the client's connections (default 64)
#   BENCH_DRAIN_TIMEOUT      most seconds to wait for the drain (default 900)
#   BENCH_WAL_WARMUP         1 (default): write and checkpoint WAL first (lib.sh)
#   BENCH_KEEP               1: keep the temp dir (logs) after the run
#   HARAVAN_WORKERS          haravan-fcgi workers (default 4, as in run.sh)
#   HARAVAN_PROCESSORS       haravan-fcgi processors (default: the cores)
#
# Exit status: 0 when every delivery was answered, stored and processed as
# above; non-zero otherwise. Missing an aim is reported, not an error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=$ROOT/tests/bench
BUILD=${BUILD:-$ROOT/build}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -n 1)}
BURST=${BENCH_BURST:-20000}
CONNECTIONS=${BENCH_BURST_CONNECTIONS:-64}
DRAIN_TIMEOUT=${BENCH_DRAIN_TIMEOUT:-900}
KEEP=${BENCH_KEEP:-0}
BODY=$ROOT/tests/data/samples/order-webhook-payload-haravan_draft_order-paid.captured.json
export HARAVAN_WORKERS=${HARAVAN_WORKERS:-4}
export HARAVAN_PROCESSORS=${HARAVAN_PROCESSORS:-$(nproc)}

ORG_ID=1000
TOPIC=orders/create
STAFF_ID=200000905615 # the sample's user_id
STAFF_EMAIL=staff@shop.bench.vn
export BENCH_TABLES="hv_events customers orders order_items payments crm_events"

# shellcheck source=tests/bench/lib.sh
. "$BENCH/lib.sh"

command -v cc > /dev/null || die "cc is not installed"
[ -x "$PGBIN/psql" ] || die "psql not found under $PGBIN"
if [ ! -x "$BUILD/haravan-fcgi" ] || [ ! -x "$BUILD/haravan-ctl" ] || [ ! -f "$BUILD/libharavan.a" ]; then
    die "$BUILD has no haravan-fcgi, haravan-ctl, libharavan.a (make build)"
fi
[ "$HARAVAN_PROCESSORS" != 0 ] || die "HARAVAN_PROCESSORS=0: nothing would drain the burst"

bench_workdir
POLL_PID=
bench_cleanup_extra() { if [ -n "$POLL_PID" ]; then kill "$POLL_PID" 2> /dev/null || true; fi; }

say "compiling load generator"
cc -std=c11 -O2 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -I"$ROOT/lib" \
    -o "$WORK/load" "$BENCH/load.c" "$BUILD/libharavan.a" -lcrypto -lm

bench_start_stack
SECRET=bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
HARAVAN_CONFIG=$STACK/stack.env "$BUILD/haravan-ctl" settings set client_secret "$SECRET" > /dev/null
psql_super << SQL
INSERT INTO crm_users (email, name) VALUES ('$STAFF_EMAIL', 'Bench Staff');
INSERT INTO hv_staff (org_id, user_id, email, fetched_at) VALUES ('$ORG_ID', '$STAFF_ID', '$STAFF_EMAIL', now());
SQL
# About 10 kB of WAL per delivery stored and 25 kB per event processed,
# no more than max_wal_size keeps for reuse.
warmup_rows=$((BURST * 35))
[ "$warmup_rows" -le 900000 ] || warmup_rows=900000
bench_wal_warmup "$warmup_rows"

waiting_events() { psql_super -c "SELECT count(*) FROM hv_events WHERE status IN ('pending', 'processing')"; }

# ------------------------------------------------------------------ the burst
say "burst: $BURST deliveries on $CONNECTIONS connections, $HARAVAN_PROCESSORS processors"
# The waiting events every 0.2 s, with the time, until killed.
(
    while :; do
        echo "$(date +%s.%N) $(waiting_events)"
        sleep 0.2
    done
) > "$WORK/out/waiting.txt" 2> /dev/null &
POLL_PID=$!
cpu_begin
STARTED=$(date +%s.%N)
# --duration is only a cap here: the burst ends when its requests are out.
LINE=$("$WORK/load" --label burst --url "$HARAVAN_BASE_URL/api/haravan/webhook" --webhook "$BODY" \
    --secret "$SECRET" --org-id "$ORG_ID" --topic "$TOPIC" --connections "$CONNECTIONS" \
    --warmup 0 --duration 3600 --drain 60 --requests "$BURST")
echo "$LINE" >> "$WORK/out/load.txt"
ANSWERED_S=$(field "$LINE" elapsed_s)
say "burst answered in ${ANSWERED_S}s; waiting for the processors"
deadline=$(($(date +%s) + DRAIN_TIMEOUT))
for (( ; ; )); do
    left=$(waiting_events)
    [ "$left" = 0 ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then
        FAILURES+=("$left events still waiting after ${DRAIN_TIMEOUT}s (BENCH_DRAIN_TIMEOUT)")
        break
    fi
    sleep 0.2
done
DRAINED_S=$(awk -v a="$STARTED" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
kill "$POLL_PID" 2> /dev/null || true
wait "$POLL_PID" 2> /dev/null || true
POLL_PID=
bench_memory burst
sleep 0.5 # backends of the poller reaped before the CPU snapshot
cpu_end burst "$BURST"
PEAK_WAITING=$(awk '{ if ($2 + 0 > max) max = $2 + 0 } END { print max + 0 }' "$WORK/out/waiting.txt")

# ------------------------------------------------------------------ checks
ERRORS=$(($(field "$LINE" unexpected) + $(field "$LINE" socket_errors) + $(field "$LINE" abandoned)))
OK=$(field "$LINE" expected_total)
[ "$ERRORS" = 0 ] || FAILURES+=("burst: $ERRORS errors (other_status=$(field "$LINE" other_status), socket_errors=$(field "$LINE" socket_errors), abandoned=$(field "$LINE" abandoned))")
[ "$OK" = "$BURST" ] || FAILURES+=("burst: $OK of $BURST deliveries answered 200")
expected="events=$BURST done=$BURST noted=0 orders=$BURST distinct_orders=$BURST by_staff=$BURST"
expected+=" customers=1 items=$BURST payments=$BURST order_created=$BURST order_paid=$BURST"
got=$(psql_super -F ' ' << SQL
SELECT 'events=' || count(*), 'done=' || count(*) FILTER (WHERE status = 'done'),
       'noted=' || count(*) FILTER (WHERE notes IS NOT NULL OR reason IS NOT NULL) FROM hv_events;
SELECT 'orders=' || count(*), 'distinct_orders=' || count(DISTINCT haravan_order_id),
       'by_staff=' || count(*) FILTER (WHERE executor_id = (SELECT id FROM crm_users WHERE email = '$STAFF_EMAIL'))
FROM orders;
SELECT 'customers=' || count(*) FROM customers;
SELECT 'items=' || count(*) FROM order_items;
SELECT 'payments=' || count(*) FROM payments;
SELECT 'order_created=' || count(*) FILTER (WHERE type = 'order.created'),
       'order_paid=' || count(*) FILTER (WHERE type = 'order.paid') FROM crm_events;
SQL
)
got=$(echo "$got" | tr '\n' ' ' | sed 's/ *$//')
if [ "$got" = "$expected" ]; then
    NOTES+=("$OK answers 200, $BURST events stored, all done without a reason or note; $BURST orders, each with its item, payment, order.created and order.paid, on the one customer: match")
else
    NOTES+=("MISMATCH: expected \`$expected\`, got \`$got\`")
    FAILURES+=("the inbox or the CRM does not hold what the burst means (see notes)")
fi

# ------------------------------------------------------------------ report
# shellcheck disable=SC2086 # the row's figures, one word each
set -- ${CPU[burst]}
if awk -v wall="$1" -v other="$9" -v hz="$TICKS" -v cores="$(nproc)" \
    'BEGIN { exit !(100 * other / (wall * hz * cores) > 5) }'; then
    NOTES+=("WARNING: other processes took more than 5% of the machine during the burst; its figures are disturbed (run again on an idle machine)")
fi
NOTES+=("load average when the run started: $LOADAVG_START")
NOTES+=("haravan-fcgi log lines at level error during the run: $(grep -c '"level":"error"' "$STACK/log/haravan-fcgi.log" || true)")
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
{
    echo
    echo "## haravan-crm burst benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "$BURST signed orders/create deliveries (the captured 5.8 kB order, a fresh id each), closed loop on $CONNECTIONS connections, as fast as the client can; haravan-fcgi: $HARAVAN_WORKERS workers, $HARAVAN_PROCESSORS processors, processing while the burst comes in."
    echo
    echo "| what | value |"
    echo "| --- | ---: |"
    echo "| deliveries answered 200 | $OK of $BURST |"
    echo "| time to answer all, s | $ANSWERED_S |"
    echo "| deliveries answered per second | $(awk -v n="$BURST" -v s="$ANSWERED_S" 'BEGIN { printf "%.1f", n / s }') |"
    echo "| answer latency p50 / p99 / max, ms | $(field "$LINE" p50_ms) / $(field "$LINE" p99_ms) / $(field "$LINE" max_ms) |"
    echo "| time to drain (every event done), from the burst's start, s | $DRAINED_S |"
    echo "| time to drain after the last answer, s | $(awk -v a="$ANSWERED_S" -v b="$DRAINED_S" 'BEGIN { printf "%.2f", b - a }') |"
    echo "| events processed per second, over the drain | $(awk -v n="$BURST" -v s="$DRAINED_S" 'BEGIN { printf "%.1f", n / s }') |"
    echo "| peak events waiting (pending or processing) | $PEAK_WAITING |"
    echo
    awk -v wall="$1" -v total="$2" -v client="$3" -v web="$4" -v fcgi="$5" -v pg="$6" \
        -v kernel="$8" -v other="$9" -v n="$BURST" -v hz="$TICKS" -v cores="$(nproc)" 'BEGIN {
        capacity = wall * hz * cores; us = 1e6 / hz / n
        printf "Where the CPU went (µs per delivery, answered and processed): client %.0f, nginx %.0f, haravan-fcgi (workers and processors) %.0f, PostgreSQL %.0f, kernel threads %.0f; machine %.0f%% busy over %.1f s, other processes %.1f%%.\n",
            client * us, web * us, fcgi * us, pg * us, kernel * us, 100 * total / capacity, wall,
            100 * other / capacity }'
    echo
    echo "Machine: $(nproc) cores ($CPU_MODEL), $(uname -sr), shared by the client, nginx, haravan-fcgi and PostgreSQL."
    echo
    memory_table
    print_notes
} | tee "$WORK/out/table.md"

bench_finish
