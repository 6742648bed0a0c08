#!/usr/bin/env bash
# processing.sh: the processing benchmark (issue #3; figures in
# docs/PERFORMANCE.md, section "Processing").
#
#   tests/bench/processing.sh   (what `make bench-processing` runs, with BUILD set)
#
# In one run, on one private stack (tests/stack/stack.sh in a fresh temp dir,
# with haravan-fcgi stopped so that nothing but the row under test touches
# the inbox), it measures:
#   1. events processed per second draining a backlog of 20,000 pending
#      orders/create events (3 line items each; half of them repeat
#      customers, recognised by a phone or an email written another way),
#      by the product's C code: N processes calling crm_process_event() on
#      their share of the backlog, as N haravan-fcgi workers do (process.c);
#   2. the same backlog, the same statements, the same values, sent by
#      pgbench with N clients, one transaction per event, -M prepared (as
#      lib/core/db.c prepares each statement once per connection; -M extended,
#      parsed every time, with BENCH_PGBENCH_MODE=extended)
#      (process-order.sql): PostgreSQL's own rate for this work;
#   2a. end to end (issue #10): the stack's own haravan-fcgi started on the
#      pending backlog with its processors (hv-processor children) at their
#      default, the number of cores, timed until no event is pending, and
#      checked like every row; next to pgbench with as many clients
#      (BENCH_STACK_PROCESSORS=0 skips the pair). This is the product as it
#      runs: the processors' own claim, batching and wake-up included;
#      the children's peak resident set (VmHWM) is read before it stops;
#   3. and 4. the same pair with one process: the background processor's
#      loop (crm_process_due, batches of 100), which is what drains a
#      backlog when the workers have not, against pgbench with one client
#      (BENCH_BACKGROUND=0 skips them);
#   5. the dedupe lookup with 10,000 and with 1,000,000 customers in the
#      table: crm_customer_upsert() for known customers (the match query,
#      then the fill that changes nothing) through the C code, the same two
#      statements with pgbench, and the match query alone with pgbench,
#      one client, 100 lookups per transaction (dedupe-lookup.sql,
#      dedupe-match.sql); each size in a database of its own in the same
#      cluster, the sizes measured in turn, best of 5 repeats; with the plan
#      of the match query (EXPLAIN) and the WAL each lookup writes.
# and prints a markdown table with the ratios C / pgbench and 1M / 10k.
#
# Why it is built this way:
# - Every row starts from the same state (bench_reset in processing-data.sql:
#   the backlog pending, each event as the intake stores it (resource,
#   version, body digest), 10,000 customers already in the CRM, nothing
#   processed), vacuumed, analysed and checkpointed, so rows differ only in
#   who sends the statements.
# - After every processing row the database must hold exactly what the
#   backlog means: every event done with no note, 10,000 people created once,
#   10,000 repeat orders attached to the customer already there, 3 items and
#   1 payment per order, 4 automation events per order. And pgbench must have
#   written, value for value, what the C code wrote (bench_digest): that is
#   what makes it "the same statements". Any difference fails the run.
# - The executor of each order is resolved by the product's staff lookup from
#   hv_staff's cache (seeded, fresh), as it is for every order after a shop's
#   first: no call to Haravan, which the check "no event has a note" proves.
# - PostgreSQL runs with its defaults (fsync on, synchronous_commit on).
# - CPU time is read per process, as in run.sh (lib.sh): the C code's time
#   is the "client" column, next to pgbench's; a row during which other jobs
#   took more than 5% of the machine is flagged as disturbed.
#
# Settings (environment):
#   BUILD                  build directory (default: ROOT/build)
#   BENCH_BACKLOG          events in the backlog (default 20000; a multiple of
#                          2 * BENCH_PROCESSES)
#   BENCH_PROCESSES        C processes = pgbench clients of rows 1-2 (default 4,
#                          haravan-fcgi's workers in run.sh)
#   BENCH_BACKGROUND       1 (default): rows 3-4; 0: skip them
#   BENCH_STACK_PROCESSORS haravan-fcgi's processors in the end-to-end row, and
#                          pgbench's clients next to it (default: the cores); 0: skip
#   BENCH_STACK_TIMEOUT    most seconds the end-to-end row may take (default 900)
#   BENCH_PGBENCH_MODE     pgbench's -M (default prepared; extended: parsed every time)
#   BENCH_LOOKUP_SIZES     customers in the table for the lookup rows
#                          (default "10000 1000000")
#   BENCH_LOOKUP_SECONDS   measured seconds per lookup row (default 4)
#   BENCH_LOOKUP_REPEATS   runs of each lookup row, interleaved; the best is
#                          kept (default 5)
#   BENCH_SHARED_BUFFERS   PostgreSQL's shared_buffers for the run (default: not
#                          set, PostgreSQL's 128MB), e.g. 1GB
#   BENCH_WAL_WARMUP       1 (default): write and checkpoint WAL first (lib.sh)
#   BENCH_KEEP             1: keep the temp dir (logs) after the run
#
# Exit status: 0 when every row ran without errors and every check passed;
# non-zero otherwise. Missing the aims is reported, not an error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=$ROOT/tests/bench
BUILD=${BUILD:-$ROOT/build}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -n 1)}
BACKLOG=${BENCH_BACKLOG:-20000}
PROCESSES=${BENCH_PROCESSES:-4}
WANT_BACKGROUND=${BENCH_BACKGROUND:-1}
LOOKUP_SIZES=${BENCH_LOOKUP_SIZES:-10000 1000000}
LOOKUP_SECONDS=${BENCH_LOOKUP_SECONDS:-4}
LOOKUP_REPEATS=${BENCH_LOOKUP_REPEATS:-5}
STACK_PROCESSORS=${BENCH_STACK_PROCESSORS:-$(nproc)}
STACK_TIMEOUT=${BENCH_STACK_TIMEOUT:-900}
PGBENCH_MODE=${BENCH_PGBENCH_MODE:-prepared}
KEEP=${BENCH_KEEP:-0}
SAMPLE=$ROOT/tests/data/samples/order-webhook-payload-haravan_draft_order-paid.captured.json
export HARAVAN_WORKERS=${HARAVAN_WORKERS:-4}

ORG_ID=1000
STAFF_ID=200000905615 # the sample's user_id
STAFF_EMAIL=staff@shop.bench.vn
LOOKUP_BATCH=100
# The tables the rows write, for the autovacuum count (lib.sh).
export BENCH_TABLES="hv_events customers orders order_items payments crm_events"

# shellcheck source=tests/bench/lib.sh
. "$BENCH/lib.sh"

command -v cc > /dev/null || die "cc is not installed"
if [ ! -x "$PGBIN/pgbench" ] || [ ! -x "$PGBIN/psql" ]; then
    die "pgbench/psql not found under $PGBIN"
fi
if [ ! -x "$BUILD/haravan-fcgi" ] || [ ! -x "$BUILD/haravan-ctl" ] || [ ! -f "$BUILD/libharavan.a" ]; then
    die "$BUILD has no haravan-fcgi, haravan-ctl, libharavan.a (make build)"
fi
[ -f "$SAMPLE" ] || die "no sample order at $SAMPLE"
if [ $((BACKLOG % (2 * PROCESSES))) != 0 ] || [ $((BACKLOG % 2)) != 0 ]; then
    die "BENCH_BACKLOG ($BACKLOG) must be a multiple of 2 * BENCH_PROCESSES ($PROCESSES)"
fi
if [ "$STACK_PROCESSORS" != 0 ] && [ $((BACKLOG % STACK_PROCESSORS)) != 0 ]; then
    die "BENCH_BACKLOG ($BACKLOG) must be a multiple of BENCH_STACK_PROCESSORS ($STACK_PROCESSORS)"
fi
for size in $LOOKUP_SIZES; do
    if [ "$size" -lt 1 ] || [ "$size" -ge 10000000 ]; then die "lookup sizes must be 1..9999999"; fi
done

bench_workdir

# ------------------------------------------------------------------ build
say "compiling the processing driver"
# shellcheck disable=SC2046 # pkg-config prints several words on purpose
cc -std=c11 -O2 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -I"$ROOT/lib" \
    $(pkg-config --cflags libpq libcjson) -o "$WORK/process" "$BENCH/process.c" \
    "$BUILD/libharavan.a" $(pkg-config --libs libpq libcjson libcurl openssl) -lm

# ------------------------------------------------------------------ stack
bench_start_stack
# Neither the workers nor the background processor may touch the backlog:
# the rows measure the processing they run themselves, and nothing else.
BUILD=$BUILD "$ROOT/tests/stack/stack.sh" fcgi-stop "$STACK"
if [ -f "$STACK/haravan-fcgi.pid" ] && kill -0 "$(cat "$STACK/haravan-fcgi.pid")" 2> /dev/null; then
    die "haravan-fcgi did not stop"
fi
export HARAVAN_CONFIG=$STACK/stack.env
# PostgreSQL's defaults unless asked: the lookup at 1,000,000 customers
# depends on whether the table fits in shared_buffers (128 MB by default).
if [ -n "${BENCH_SHARED_BUFFERS:-}" ]; then
    psql_super -c "ALTER SYSTEM SET shared_buffers = '$BENCH_SHARED_BUFFERS'"
    BUILD=$BUILD "$ROOT/tests/stack/stack.sh" pg-stop "$STACK"
    BUILD=$BUILD "$ROOT/tests/stack/stack.sh" pg-start "$STACK"
    NOTES+=("shared_buffers set to $BENCH_SHARED_BUFFERS for this run (BENCH_SHARED_BUFFERS); PostgreSQL's default is 128MB")
fi

psql_app() { "$PGBIN/psql" -h "$STACK_PGHOST" -U haravan -d haravan -qAt -v ON_ERROR_STOP=1 "$@"; }

# ------------------------------------------------------------------ data
say "generating the backlog ($BACKLOG orders) and the seeded customers"
psql_app -v backlog="$BACKLOG" -v org="$ORG_ID" -v sample="$(cat "$SAMPLE")" \
    -f "$BENCH/processing-data.sql"
psql_app << SQL
INSERT INTO crm_users (email, name) VALUES ('$STAFF_EMAIL', 'Bench Staff');
INSERT INTO hv_staff (org_id, user_id, email, fetched_at) VALUES ('$ORG_ID', '$STAFF_ID', '$STAFF_EMAIL', now());
SQL
STAFF_USER=$(psql_app -c "SELECT id FROM crm_users WHERE email = '$STAFF_EMAIL'")
BODY_BYTES=$(psql_app -c "SELECT round(avg(length(body))) FROM bench_backlog")

# About as much WAL as the processing rows write (25 kB per event, measured:
# the run's WAL is in the notes), but no more than max_wal_size (1 GB by
# default) keeps for reuse: 900,000 rows of 1 kB.
processing_rows=2
[ "$WANT_BACKGROUND" = 1 ] && processing_rows=$((processing_rows + 2))
[ "$STACK_PROCESSORS" != 0 ] && processing_rows=$((processing_rows + 2))
warmup_rows=$((BACKLOG * 25 * processing_rows))
[ "$warmup_rows" -le 900000 ] || warmup_rows=900000
bench_wal_warmup "$warmup_rows"

declare -A RATE

# The backends of a row's connections exit when it ends; PostgreSQL's
# postmaster must reap them before the CPU snapshot, or their time is lost.
settle() { sleep 0.5; }

# reset: the backlog pending, nothing processed; then vacuumed, analysed and
# checkpointed, so that no row pays for the previous one's dead rows or
# dirty pages.
reset() {
    psql_app -c "CALL bench_reset()"
    psql_super -c "VACUUM ANALYZE hv_events" -c "VACUUM ANALYZE customers" \
        -c "VACUUM ANALYZE orders" -c "VACUUM ANALYZE order_items" -c "VACUUM ANALYZE payments" \
        -c "VACUUM ANALYZE crm_events" -c "VACUUM ANALYZE order_sources" -c "CHECKPOINT"
}

# check_processed NAME: what the backlog must have become, to the row.
check_processed() {
    local name=$1 half=$((BACKLOG / 2)) expected got
    expected="events=$BACKLOG done=$BACKLOG noted=0 attempts=$BACKLOG"
    expected+=" customers=$BACKLOG seeded=$half with_haravan_id=$BACKLOG"
    expected+=" orders=$BACKLOG repeat_orders=$half customers_with_orders=$BACKLOG"
    expected+=" by_staff=$BACKLOG items=$((3 * BACKLOG)) payments=$BACKLOG"
    expected+=" customer_created=$half customer_updated=$half order_created=$BACKLOG order_paid=$BACKLOG"
    got=$(psql_super -F ' ' << SQL
SELECT 'events=' || count(*), 'done=' || count(*) FILTER (WHERE status = 'done'),
       'noted=' || count(*) FILTER (WHERE notes IS NOT NULL OR reason IS NOT NULL),
       'attempts=' || sum(attempts) FROM hv_events;
SELECT 'customers=' || count(*), 'seeded=' || count(*) FILTER (WHERE source = 'crm'),
       'with_haravan_id=' || count(haravan_customer_id) FROM customers;
SELECT 'orders=' || count(*),
       'repeat_orders=' || count(*) FILTER (WHERE c.source = 'crm'),
       'customers_with_orders=' || count(DISTINCT o.customer_id),
       'by_staff=' || count(*) FILTER (WHERE o.executor_id = $STAFF_USER)
FROM orders o LEFT JOIN customers c ON c.id = o.customer_id;
SELECT 'items=' || count(*) FROM order_items;
SELECT 'payments=' || count(*) FROM payments;
SELECT 'customer_created=' || count(*) FILTER (WHERE type = 'customer.created'),
       'customer_updated=' || count(*) FILTER (WHERE type = 'customer.updated'),
       'order_created=' || count(*) FILTER (WHERE type = 'order.created'),
       'order_paid=' || count(*) FILTER (WHERE type = 'order.paid') FROM crm_events;
SQL
    )
    got=$(echo "$got" | tr '\n' ' ' | sed 's/ *$//')
    if [ "$got" = "$expected" ]; then
        NOTES+=("$name: $BACKLOG events done; $half people created once, $half repeats matched to the existing customer; items, payments, automation events as expected: match")
    else
        NOTES+=("$name: MISMATCH: expected \`$expected\`, got \`$got\`")
        FAILURES+=("$name: the database does not hold what the backlog means (see notes)")
    fi
    # Value for value against the first row (the C code's).
    local digest
    digest=$(psql_super -c "SELECT bench_digest()")
    if [ -z "${REFERENCE_DIGEST:-}" ]; then
        REFERENCE_DIGEST=$digest
        REFERENCE_ROW=$name
    elif [ "$digest" = "$REFERENCE_DIGEST" ]; then
        NOTES+=("$name: wrote the same rows, value for value, as $REFERENCE_ROW (bench_digest): match")
    else
        NOTES+=("$name: rows differ from $REFERENCE_ROW's: $digest vs $REFERENCE_DIGEST")
        FAILURES+=("$name: did not write what $REFERENCE_ROW wrote")
    fi
}

# run_c NAME process-arguments...: a processing row through the C code.
run_c() {
    local name=$1 line
    shift
    reset
    say "row $name"
    cpu_begin
    line=$("$WORK/process" "$@") || FAILURES+=("$name: the driver failed: $line")
    settle
    cpu_end "$name" "$BACKLOG"
    echo "$line" >> "$WORK/out/process.txt"
    RATE[$name]=$(awk -v n="$BACKLOG" -v s="$(field "$line" seconds)" 'BEGIN { printf "%.1f", n / s }')
    check_processed "$name"
}

# run_pgbench_rows NAME CLIENTS: the same backlog through pgbench.
run_pgbench_rows() {
    local name=$1 clients=$2 output
    reset
    say "row $name"
    output=$WORK/out/$name.txt
    cpu_begin
    # The session setting every processing session gets
    # (crm_processor_prepare_session in lib/crm/processor.h: no sequential
    # scan where an index serves; without it a generic plan made while
    # orders was empty scans orders for every order), so that pgbench runs
    # the statements as the C code's sessions run them.
    PGOPTIONS="-c enable_seqscan=off" \
        "$PGBIN/pgbench" -h "$STACK_PGHOST" -U haravan -n -M "$PGBENCH_MODE" -c "$clients" -j 1 \
        -t $((BACKLOG / clients)) -D first=1 -D clients="$clients" -D seq=0 \
        -f "$BENCH/process-order.sql" haravan > "$output" 2>&1 ||
        FAILURES+=("$name: pgbench failed: $(tail -n 3 "$output")")
    settle
    cpu_end "$name" "$BACKLOG"
    local processed tps
    processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$output")
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$output")
    [ "$processed" = "$BACKLOG" ] || FAILURES+=("$name: pgbench processed ${processed:-nothing}, not $BACKLOG")
    [ -n "$tps" ] || die "no tps in pgbench's output: $(cat "$output")"
    RATE[$name]=$tps
    check_processed "$name"
}

# run_stack NAME: the product end to end (issue #10): the stack's own
# haravan-fcgi started on the pending backlog, its processors at
# STACK_PROCESSORS, timed from its start until no event is pending or
# processing; then stopped again, after its children's peak memory is read.
# Only the inbox's statuses are read from outside (every 0.2 s, one count),
# so the row depends on nothing inside the processors.
run_stack() {
    local name=$1 started finished waiting deadline
    reset
    say "row $name (haravan-fcgi, HARAVAN_PROCESSORS=$STACK_PROCESSORS)"
    cpu_begin
    started=$(date +%s.%N)
    HARAVAN_PROCESSORS=$STACK_PROCESSORS BUILD=$BUILD "$ROOT/tests/stack/stack.sh" fcgi-start "$STACK"
    deadline=$(($(date +%s) + STACK_TIMEOUT))
    for (( ; ; )); do
        waiting=$(psql_super -c "SELECT count(*) FROM hv_events WHERE status IN ('pending', 'processing')")
        [ "$waiting" = 0 ] && break
        if [ "$(date +%s)" -ge "$deadline" ]; then
            FAILURES+=("$name: $waiting events still waiting after ${STACK_TIMEOUT}s (BENCH_STACK_TIMEOUT)")
            break
        fi
        sleep 0.2
    done
    finished=$(date +%s.%N)
    bench_memory "$name"
    # The CPU is read while haravan-fcgi still runs: its processors are the
    # code under test and count as the row's client (cpu_end groups a
    # process by its master's pid file, which fcgi-stop removes; read after
    # it, their time fell under "other processes" and flagged the row as
    # disturbed in every run).
    cpu_end "$name" "$BACKLOG"
    BUILD=$BUILD "$ROOT/tests/stack/stack.sh" fcgi-stop "$STACK"
    settle
    RATE[$name]=$(awk -v n="$BACKLOG" -v a="$started" -v b="$finished" 'BEGIN { printf "%.1f", n / (b - a) }')
    NOTES+=("$name: $BACKLOG events drained in $(awk -v a="$started" -v b="$finished" 'BEGIN { printf "%.2f", b - a }') s from haravan-fcgi's start (its start-up included)")
    check_processed "$name"
}

# ------------------------------------------------------------------ processing rows
run_c workers workers --processes "$PROCESSES" --first 1 --last "$BACKLOG"
run_pgbench_rows pgbench "$PROCESSES"
if [ "$STACK_PROCESSORS" != 0 ]; then
    run_stack stack
    run_pgbench_rows pgbench_stack "$STACK_PROCESSORS"
fi
if [ "$WANT_BACKGROUND" = 1 ]; then
    run_c background background
    run_pgbench_rows pgbench_1 1
fi

# ------------------------------------------------------------------ lookup rows
declare -A LOOKUP_US PLAN

# keep_best NAME US: a lookup row's result, kept when it is the best of its
# repeats so far, with the CPU figures of that repeat (see BENCH_LOOKUP_REPEATS).
keep_best() {
    local name=$1 us=$2
    if [ -z "${LOOKUP_US[$name]:-}" ] ||
        awk -v a="$us" -v b="${LOOKUP_US[$name]}" 'BEGIN { exit !(a < b) }'; then
        LOOKUP_US[$name]=$us
        CPU[$name]=${CPU[candidate]}
    fi
    LOOKUP_ALL[$name]="${LOOKUP_ALL[$name]:-}${LOOKUP_ALL[$name]:+, }$us"
    unset 'CPU[candidate]'
}

# Each size has a database of its own in the same cluster (the project's
# migrations, then the customers), so that the sizes can be measured in
# turn, repeat after repeat: a slow minute of the machine then falls on both.
lookup_db() { echo "haravan_lookup_$1"; }
psql_lookup() { "$PGBIN/psql" -h "$STACK_PGHOST" -U haravan -d "$(lookup_db "$1")" -qAt -v ON_ERROR_STOP=1 "${@:2}"; }
wal_counters() { psql_super -F ' ' -c "SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal"; }

# lookup_c NAME SIZE: µs per lookup through crm_customer_upsert, one process;
# with the WAL it wrote per lookup (the row locks of FOR UPDATE).
lookup_c() {
    local name=$1 size=$2 line wal_before wal_after
    say "row $name"
    wal_before=$(wal_counters)
    cpu_begin
    line=$(HARAVAN_DB="host=$STACK_PGHOST dbname=$(lookup_db "$size") user=haravan" \
        "$WORK/process" lookup --customers "$size" --seconds "$LOOKUP_SECONDS" \
        --batch "$LOOKUP_BATCH" --org "$ORG_ID") || FAILURES+=("$name: $line")
    settle
    cpu_end candidate "$(field "$line" lookups)"
    wal_after=$(wal_counters)
    echo "$line" >> "$WORK/out/process.txt"
    if [ "$(field "$line" not_found)" != 0 ]; then
        FAILURES+=("$name: $(field "$line" not_found) lookups did not find the customer")
    fi
    LOOKUP_WAL[$name]="${LOOKUP_WAL[$name]:-}${LOOKUP_WAL[$name]:+; }$(awk -v b="$wal_before" \
        -v a="$wal_after" -v n="$(field "$line" lookups)" 'BEGIN { split(b, x, " "); split(a, y, " ")
        printf "%.2f full-page images and %.0f bytes", (y[2] - x[2]) / n, (y[3] - x[3]) / n }')"
    keep_best "$name" "$(field "$line" us_per_lookup)"
}

# lookup_pgbench NAME SIZE TEMPLATE: µs per lookup, pgbench, one client.
lookup_pgbench() {
    local name=$1 size=$2 template=$3 script=$WORK/out/$1.sql output=$WORK/out/$1.txt tps
    {
        echo "BEGIN;"
        for _ in $(seq 1 "$LOOKUP_BATCH"); do cat "$template"; done
        echo "ROLLBACK;"
    } > "$script"
    say "row $name"
    cpu_begin
    "$PGBIN/pgbench" -h "$STACK_PGHOST" -U haravan -n -M "$PGBENCH_MODE" -c 1 -j 1 \
        -T "$LOOKUP_SECONDS" -D customers="$size" -D org="$ORG_ID" -f "$script" \
        "$(lookup_db "$size")" > "$output" 2>&1 ||
        FAILURES+=("$name: pgbench failed: $(tail -n 3 "$output")")
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$output")
    [ -n "$tps" ] || die "no tps in pgbench's output: $(cat "$output")"
    settle
    cpu_end candidate "$(awk -v t="$tps" -v s="$LOOKUP_SECONDS" -v b="$LOOKUP_BATCH" 'BEGIN { printf "%d", t * s * b }')"
    keep_best "$name" "$(awk -v t="$tps" -v b="$LOOKUP_BATCH" 'BEGIN { printf "%.1f", 1e6 / (t * b) }')"
}

declare -A LOOKUP_ALL LOOKUP_WAL
for size in $LOOKUP_SIZES; do
    say "loading $size customers into $(lookup_db "$size")"
    psql_super -c "CREATE DATABASE $(lookup_db "$size") OWNER haravan"
    HARAVAN_DB="host=$STACK_PGHOST dbname=$(lookup_db "$size") user=haravan" \
        "$BUILD/haravan-ctl" migrate > "$WORK/out/migrate-$size.txt"
    # The same shape as the seeded customers (processing-data.sql): phone
    # 039 + k, customerK@mail.bench.vn, a name and an address; a third of
    # them linked to a Haravan customer, as after a year of orders.
    psql_lookup "$size" << SQL
INSERT INTO customers (name, phone, email, address, province, source, haravan_org_id,
                       haravan_customer_id, created_at)
SELECT 'Trần Thị Lan ' || k, '039' || lpad(k::text, 7, '0'), 'customer' || k || '@mail.bench.vn',
       (k % 300 + 1) || ' Tràng Tiền', 'Hà Nội', 'crm',
       CASE WHEN k % 3 = 0 THEN '$ORG_ID' END, CASE WHEN k % 3 = 0 THEN (7000000000 + k)::text END,
       now() - interval '1 year'
FROM generate_series(1, $size) AS k;
SQL
    "$PGBIN/psql" -h "$STACK_PGHOST" -U postgres -d "$(lookup_db "$size")" -qAt -v ON_ERROR_STOP=1 \
        -c "VACUUM ANALYZE customers"
    # customer.c's match_sql, by phone, its parameters written in.
    PLAN[$size]=$(psql_lookup "$size" -c "EXPLAIN (COSTS OFF) SELECT id,
        coalesce(haravan_org_id = '$ORG_ID'::text AND haravan_customer_id = NULL::text, false),
        coalesce(phone = '0390000042'::text, false), coalesce(email = NULL::text, false),
        coalesce(haravan_updated_at > hv_timestamptz(NULL::text), false) FROM customers
        WHERE (haravan_org_id = '$ORG_ID'::text AND haravan_customer_id = NULL::text)
           OR phone = '0390000042'::text OR email = NULL::text ORDER BY id FOR UPDATE" |
        tr '\n' ';' | sed 's/;$//; s/  */ /g')
    plan_by_email=$(psql_lookup "$size" -c "EXPLAIN (COSTS OFF) SELECT id,
        coalesce(haravan_org_id = '$ORG_ID'::text AND haravan_customer_id = NULL::text, false),
        coalesce(phone = NULL::text, false), coalesce(email = 'customer42@mail.bench.vn'::text, false),
        coalesce(haravan_updated_at > hv_timestamptz(NULL::text), false) FROM customers
        WHERE (haravan_org_id = '$ORG_ID'::text AND haravan_customer_id = NULL::text)
           OR phone = NULL::text OR email = 'customer42@mail.bench.vn'::text ORDER BY id FOR UPDATE" |
        tr '\n' ';' | sed 's/;$//; s/  */ /g')
    table_mb=$(psql_lookup "$size" -c "SELECT round(pg_total_relation_size('customers') / 1048576.0)")
    NOTES+=("lookup table with $size customers: ${table_mb} MB with its indexes; plan of the match by phone: ${PLAN[$size]}; by email: $plan_by_email")
done
psql_super -c "CHECKPOINT"
# Warm-up: the first lookups of a fresh table read it from the OS cache.
for size in $LOOKUP_SIZES; do
    HARAVAN_DB="host=$STACK_PGHOST dbname=$(lookup_db "$size") user=haravan" \
        "$WORK/process" lookup --customers "$size" --seconds 2 --org "$ORG_ID" > /dev/null ||
        FAILURES+=("lookup warm-up at $size failed")
done
# Repeats interleaved, sizes in turn, the best of each kept: another job on
# the machine can only make a lookup slower, never faster.
for repeat in $(seq 1 "$LOOKUP_REPEATS"); do
    for size in $LOOKUP_SIZES; do
        say "lookups at $size customers, repeat $repeat of $LOOKUP_REPEATS"
        lookup_c "lookup_c_$size" "$size"
        lookup_pgbench "lookup_pgbench_$size" "$size" "$BENCH/dedupe-lookup.sql"
        lookup_pgbench "match_pgbench_$size" "$size" "$BENCH/dedupe-match.sql"
    done
done
for size in $LOOKUP_SIZES; do
    if [ "$(psql_lookup "$size" -c "SELECT count(*) FROM customers")" != "$size" ]; then
        FAILURES+=("lookups at $size changed the number of customers")
    fi
done

# ------------------------------------------------------------------ report
for size in $LOOKUP_SIZES; do
    for kind in lookup_c lookup_pgbench match_pgbench; do
        NOTES+=("${kind}_$size, µs per lookup in each run: ${LOOKUP_ALL[${kind}_$size]}")
    done
    NOTES+=("lookup_c_$size, WAL per lookup in each run: ${LOOKUP_WAL[lookup_c_$size]}")
done
wal_written=$(psql_super -c "SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$WAL_LSN_START') / 1048576)")
NOTES+=("WAL written during the rows: $wal_written MB")
ROWS="workers pgbench stack pgbench_stack background pgbench_1"
for size in $LOOKUP_SIZES; do ROWS+=" lookup_c_$size lookup_pgbench_$size match_pgbench_$size"; done
for name in $ROWS; do
    [ -n "${CPU[$name]:-}" ] || continue
    # shellcheck disable=SC2086
    set -- ${CPU[$name]}
    disturbed=$(awk -v wall="$1" -v other="$9" -v hz="$TICKS" -v cores="$(nproc)" \
        'BEGIN { share = 100 * other / (wall * hz * cores); if (share > 5) printf "%.0f", share }')
    if [ -n "$disturbed" ]; then
        NOTES+=("WARNING: during row $name other processes took ${disturbed}% of the machine; its figures are disturbed (run again on an idle machine)")
    fi
done
NOTES+=("load average when the run started: $LOADAVG_START")
pg_errors=$(grep -c -E ' (ERROR|FATAL|PANIC): ' "$STACK/log/postgresql.log" || true)
NOTES+=("PostgreSQL log lines at ERROR or worse during the run: $pg_errors")
[ "$pg_errors" = 0 ] || FAILURES+=("PostgreSQL logged $pg_errors errors (see $STACK/log/postgresql.log)")

TO_PGBENCH=$(ratio "${RATE[workers]}" "${RATE[pgbench]}")
AIM_RATE=$(awk -v r="$TO_PGBENCH" 'BEGIN { print (r >= 0.50) ? "met" : "not met" }')
read -r SMALL LARGE _ <<< "$LOOKUP_SIZES $LOOKUP_SIZES"
LOOKUP_GROWTH=$(ratio "${LOOKUP_US[lookup_c_$LARGE]}" "${LOOKUP_US[lookup_c_$SMALL]}")
AIM_LOOKUP=$(awk -v r="$LOOKUP_GROWTH" 'BEGIN { print (r <= 1.5) ? "met" : "not met" }')

PG_VERSION=$(psql_super -c "SHOW server_version")
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)

event_row() {
    local name=$1 title=$2
    printf '| %s | %s | %s | %s |\n' "$title" "${RATE[$name]}" \
        "$(awk -v r="${RATE[$name]}" 'BEGIN { printf "%.2f", 1000 / r }')" "$BACKLOG"
}

{
    echo
    echo "## haravan-crm processing benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Backlog: $BACKLOG orders/create events ($BODY_BYTES bytes of body on average, 3 line items, 1 payment), half new people, half repeat customers; $((BACKLOG / 2)) customers in the CRM before."
    echo
    echo "| row | events/s | ms/event | events |"
    echo "| --- | ---: | ---: | ---: |"
    event_row workers "C: $PROCESSES processes, crm_process_event (the workers' path)"
    event_row pgbench "pgbench: the same statements, $PROCESSES clients"
    if [ "$STACK_PROCESSORS" != 0 ]; then
        event_row stack "end to end: haravan-fcgi's $STACK_PROCESSORS processors (hv-processor) draining the backlog"
        event_row pgbench_stack "pgbench: the same statements, $STACK_PROCESSORS clients"
    fi
    if [ "$WANT_BACKGROUND" = 1 ]; then
        event_row background "C: 1 process, crm_process_due (the background processor)"
        event_row pgbench_1 "pgbench: the same statements, 1 client"
    fi
    echo
    echo "Dedupe lookup, one client, $LOOKUP_BATCH lookups per transaction (rolled back), ${LOOKUP_SECONDS} s per row, best of $LOOKUP_REPEATS interleaved runs; µs per lookup:"
    echo
    printf '| customers in the table |'
    for size in $LOOKUP_SIZES; do printf ' %s |' "$size"; done
    echo
    printf '| --- |'
    for _ in $LOOKUP_SIZES; do printf ' ---: |'; done
    echo
    for kind in "lookup_c:C, crm_customer_upsert (match + fill)" \
        "lookup_pgbench:pgbench, the same match + fill" "match_pgbench:pgbench, the match query alone"; do
        printf '| %s |' "${kind#*:}"
        for size in $LOOKUP_SIZES; do printf ' %s |' "${LOOKUP_US[${kind%%:*}_$size]}"; done
        echo
    done
    echo
    echo "| ratio | value | aim |"
    echo "| --- | ---: | --- |"
    echo "| C / pgbench, $PROCESSES processes | $TO_PGBENCH | >= 0.50: $AIM_RATE |"
    if [ "$STACK_PROCESSORS" != 0 ]; then
        echo "| end to end, events/s | ${RATE[stack]} | >= 1000: $(awk -v r="${RATE[stack]}" 'BEGIN { print (r >= 1000) ? "met" : "not met" }') |"
        echo "| end to end / pgbench, $STACK_PROCESSORS clients | $(ratio "${RATE[stack]}" "${RATE[pgbench_stack]}") | |"
    fi
    if [ "$WANT_BACKGROUND" = 1 ]; then
        echo "| C / pgbench, 1 process | $(ratio "${RATE[background]}" "${RATE[pgbench_1]}") | |"
    fi
    echo "| dedupe step through C, $LARGE / $SMALL customers | $LOOKUP_GROWTH | <= 1.5: $AIM_LOOKUP |"
    echo "| the same with pgbench | $(ratio "${LOOKUP_US[lookup_pgbench_$LARGE]}" "${LOOKUP_US[lookup_pgbench_$SMALL]}") | |"
    echo "| the match query alone, pgbench | $(ratio "${LOOKUP_US[match_pgbench_$LARGE]}" "${LOOKUP_US[match_pgbench_$SMALL]}") | |"
    for size in $LOOKUP_SIZES; do
        echo "| dedupe step, C / pgbench, $size customers | $(ratio "${LOOKUP_US[lookup_c_$size]}" "${LOOKUP_US[lookup_pgbench_$size]}") | |"
    done
    echo
    echo "Where the CPU went, per row (µs per event or per lookup; client = the C code, process.c or haravan-fcgi's processors in the stack row, or pgbench):"
    echo
    echo "| row | wall s | machine busy | client µs | PostgreSQL µs | kernel threads µs | other processes | autovacuum passes |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for name in $ROWS; do
        [ -n "${CPU[$name]:-}" ] || continue
        # shellcheck disable=SC2086
        set -- ${CPU[$name]}
        awk -v name="$name" -v wall="$1" -v total="$2" -v client="$(($3 + $5))" -v pg="$6" -v kernel="$8" \
            -v other="$9" -v units="${10}" -v autovacuum="${11}" -v hz="$TICKS" -v cores="$(nproc)" 'BEGIN {
            capacity = wall * hz * cores; us = 1e6 / hz / (units > 0 ? units : 1)
            printf "| %s | %.1f | %.0f%% | %.1f | %.1f | %.1f | %.1f%% | %d |\n", name, wall,
                100 * total / capacity, client * us, pg * us, kernel * us, 100 * other / capacity, autovacuum }'
    done
    echo
    echo "Machine: $(nproc) cores ($CPU_MODEL), $(uname -sr), shared by the C code or pgbench and PostgreSQL."
    echo
    memory_table
    echo "PostgreSQL $PG_VERSION (fsync=$(psql_super -c "SHOW fsync"), synchronous_commit=$(psql_super -c "SHOW synchronous_commit"), shared_buffers=$(psql_super -c "SHOW shared_buffers"))."
    echo
    print_notes
} | tee "$WORK/out/table.md"

bench_finish
