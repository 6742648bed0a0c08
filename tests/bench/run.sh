#!/usr/bin/env bash
# run.sh: the intake benchmark (issue #2; figures in docs/PERFORMANCE.md).
#
#   tests/bench/run.sh          (what `make bench` runs, with BUILD set)
#
# In one run, on one private stack (tests/stack/stack.sh in a fresh temp dir
# on a free port), it measures:
#   1. nginx alone answering `return 200`          GET /bench/static
#   2. a no-op FastCGI round trip (router's 404)   GET /api/haravan/bench-noop
#   3. signed webhook intake at maximum rate       POST /api/haravan/webhook
#   4. the same intake at a fixed 1,000 req/s (open loop, p99)
#   5. PostgreSQL's own rate for the intake's INSERT, with pgbench
#   6. a PHP-FPM receiver doing the same work, if php-fpm and php-pgsql are
#      installed (`make bench` installs them: tests/stack/deps.sh bench)
#   7. the intake at 1,000 req/s again, while haravan-fcgi's processors run
#      (issue #10): haravan-fcgi restarted with BENCH_BUSY_PROCESSORS
#      processors (default: the cores) on an emptied inbox, so they process
#      what this row delivers, as in steady running
# and prints a markdown table with the ratios intake/pgbench, intake/PHP-FPM
# and intake/no-op, each row's processors and the events they processed
# during it, and each worker's and processor's peak resident set (VmHWM).
# Rows 1-6 run with HARAVAN_PROCESSORS=0 unless it is set: issue #10's
# intake aims are about the intake alone, and processors draining what the
# earlier rows stored would take the CPU of the later ones (pgbench, PHP).
# The stack and measurement helpers it shares with processing.sh (the
# processing benchmark, issue #3) are in lib.sh.
#
# Why it is built this way:
# - Every HTTP row is measured by the same client (load.c, compiled here),
#   with the same connections, so ratios compare like with like. The
#   closed-loop rows and pgbench use the same number of clients for the same
#   time, each after the same warm-up.
# - After each intake run the rows added to hv_events must equal the 200
#   answers counted, to the row: a 200 must mean a committed row, and a
#   benchmark that lost or duplicated rows would be measuring something else.
# - PostgreSQL runs with its defaults (fsync on, synchronous_commit on): a
#   200 means committed, so that is what is measured.
# - Load generator, nginx, workers and PostgreSQL share this machine's cores;
#   that is the setting, and the table says so. Each row's CPU time is read
#   per process, so the report says where it went, and a row during which
#   some other job took more than 5% of the machine is flagged as disturbed.
# - The WAL is warmed up before the rows, so they measure a database that
#   recycles its WAL segments as a running one does (section below).
#
# Settings (environment):
#   BUILD                   build directory (default: ROOT/build)
#   BENCH_DURATION          measured seconds per row (default 10)
#   BENCH_WARMUP            warm-up seconds before each row (default 2)
#   BENCH_CONNECTIONS       connections of the closed-loop rows = pgbench clients (default 8)
#   BENCH_OPEN_RATE         open-loop rate, req/s (default 1000)
#   BENCH_OPEN_CONNECTIONS  connections of the open-loop rows (default 32)
#   BENCH_PHP               auto (default: run if installed) | 0 (skip) | 1 (required)
#   BENCH_WRK               auto (default: cross-check rows 1-2 with wrk if installed) | 0 | 1
#   BENCH_PGBENCH_MODE      pgbench's -M (default prepared: lib/core/db.c prepares each
#                           statement once per connection; extended: parsed every time)
#   BENCH_BODY              webhook body template (default: the captured draft-order payload)
#   BENCH_WAL_WARMUP        1 (default): write and checkpoint WAL first, see below; 0: cold cluster
#   BENCH_KEEP              1: keep the temp dir (logs) after the run
#   HARAVAN_WORKERS         haravan-fcgi workers, and PHP-FPM children (default 4)
#   HARAVAN_PROCESSORS      haravan-fcgi processors during rows 1-6 (default 0: the
#                           intake alone, nothing processing what it stores)
#   BENCH_BUSY_PROCESSORS   processors during row 7 (default: the cores); 0 skips it
#
# Exit status: 0 when every row ran without errors and every row count
# matched; non-zero otherwise. Missing the aims is reported, not an error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=$ROOT/tests/bench
BUILD=${BUILD:-$ROOT/build}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -n 1)}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-8}
OPEN_RATE=${BENCH_OPEN_RATE:-1000}
OPEN_CONNECTIONS=${BENCH_OPEN_CONNECTIONS:-32}
WANT_PHP=${BENCH_PHP:-auto}
WANT_WRK=${BENCH_WRK:-auto}
PGBENCH_MODE=${BENCH_PGBENCH_MODE:-prepared}
BODY=${BENCH_BODY:-$ROOT/tests/data/samples/order-webhook-payload-haravan_draft_order-paid.captured.json}
KEEP=${BENCH_KEEP:-0}
export HARAVAN_WORKERS=${HARAVAN_WORKERS:-4}
export HARAVAN_PROCESSORS=${HARAVAN_PROCESSORS:-0}
BUSY_PROCESSORS=${BENCH_BUSY_PROCESSORS:-$(nproc)}

HARAVAN_PROCESSORS_ROWS=$HARAVAN_PROCESSORS # rows 1-6 (row 7 changes HARAVAN_PROCESSORS)
ORG_ID=1000
TOPIC=orders/create

# shellcheck source=tests/bench/lib.sh
. "$BENCH/lib.sh"

for tool in cc curl nginx; do
    command -v "$tool" > /dev/null || die "$tool is not installed"
done
if [ ! -x "$PGBIN/pgbench" ] || [ ! -x "$PGBIN/psql" ]; then
    die "pgbench/psql not found under $PGBIN"
fi
if [ ! -x "$BUILD/haravan-fcgi" ] || [ ! -x "$BUILD/haravan-ctl" ] || [ ! -f "$BUILD/libharavan.a" ]; then
    die "$BUILD has no haravan-fcgi, haravan-ctl, libharavan.a (make build)"
fi
[ -f "$BODY" ] || die "no webhook body at $BODY"

bench_workdir
PHP_NGINX_PID=$WORK/php-nginx/nginx.pid
PHP_FPM_PID=$WORK/php/php-fpm.pid
bench_cleanup_extra() {
    stop_pid_file "$PHP_NGINX_PID" QUIT
    stop_pid_file "$PHP_FPM_PID" QUIT
}

# ------------------------------------------------------------------ build
say "compiling load generator"
cc -std=c11 -O2 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -I"$ROOT/lib" \
    -o "$WORK/load" "$BENCH/load.c" "$BUILD/libharavan.a" -lcrypto -lm

# ------------------------------------------------------------------ stack
bench_start_stack
BASE=$HARAVAN_BASE_URL
SECRET=bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
HARAVAN_CONFIG=$STACK/stack.env "$BUILD/haravan-ctl" settings set client_secret "$SECRET" > /dev/null

event_rows() { psql_super -c "SELECT count(*) FROM hv_events"; }

# ------------------------------------------------------------------ WAL warm-up
# About as much WAL as the rows will write (lib.sh says why).
bench_wal_warmup "$(awk -v d="$DURATION" -v w="$WARMUP" 'BEGIN { printf "%d", 40000 * (d + w) + 0.5 }')"

declare -A RESULT

# CPU accounting (cpu_begin, cpu_end): lib.sh.

# Which processors each row ran with, and how many events reached `done`
# during it (warm-up and drain included): PROCESSORS_OF, PROCESSED_IN.
declare -A PROCESSORS_OF PROCESSED_IN
ROW_DONE_BEFORE=0
# Every row starts from the same database: an empty inbox, just
# checkpointed. Rows used to follow one another on one growing table, and
# a closed-loop row writes about 300 MB of WAL, so a later row (pgbench,
# PHP-FPM) met bigger indexes than the intake's row and often the
# checkpoint that max_wal_size starts after two rows, during which every
# page an INSERT touches first goes whole into the WAL again: it paid for
# the rows before it. Emptying the inbox and checkpointing before each row,
# outside its CPU window, gives every row the same start; a checkpoint that
# still begins inside a row is noted. Each row's stored rows are checked
# against the intake's statement at its end (like_for_like), while they
# are still there.
checkpoints() { psql_super -c "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"; }
CHECKPOINTS_BEFORE=0
ROW_EVENTS_BEFORE=0
row_begin() {
    psql_super -c "TRUNCATE hv_events" -c "CHECKPOINT"
    CHECKPOINTS_BEFORE=$(checkpoints)
    ROW_EVENTS_BEFORE=$(event_rows)
    PROCESSORS_OF[$1]=$HARAVAN_PROCESSORS
    ROW_DONE_BEFORE=$(events_with_status 'done')
}
row_end() {
    PROCESSED_IN[$1]=$(($(events_with_status 'done') - ROW_DONE_BEFORE))
    local began=$(($(checkpoints) - CHECKPOINTS_BEFORE))
    if [ "$began" != 0 ]; then
        NOTES+=("$1: $began checkpoint(s) began during the row, despite the CHECKPOINT before it")
    fi
    like_for_like
}

# Every row the intake, PHP-FPM and pgbench store must carry what the
# intake's statement writes (the same key shape, the body's digest, the
# resource and version the processors claim by): the PHP peer and pgbench
# do the intake's work, not less. Counted over every row, reported once.
STORED_CHECKED=0
STORED_INCOMPLETE=0
like_for_like() {
    STORED_CHECKED=$((STORED_CHECKED + $(event_rows)))
    STORED_INCOMPLETE=$((STORED_INCOMPLETE + $(psql_super -c "SELECT count(*) FROM hv_events
        WHERE body_sha256 IS NULL
        OR resource IS DISTINCT FROM 'orders:$ORG_ID:' || resource_id OR resource_version IS NULL
        OR dedupe_key <> 'v1:$ORG_ID:$TOPIC:' || resource_id || ':' || resource_updated_at
        OR status NOT IN ('pending', 'processing', 'done')")))
}

# run_load NAME [load options...]: runs one row, keeps its line in RESULT[NAME].
run_load() {
    local name=$1
    shift
    say "row $name"
    local line
    row_begin "$name"
    cpu_begin
    line=$("$WORK/load" --label "$name" --duration "$DURATION" --warmup "$WARMUP" "$@")
    cpu_end "$name" "$(field "$line" sent_total)"
    row_end "$name"
    echo "$line" >> "$WORK/out/load.txt"
    RESULT[$name]=$line
    local errors
    errors=$(($(field "$line" unexpected) + $(field "$line" socket_errors) + $(field "$line" abandoned)))
    if [ "$errors" != 0 ]; then
        FAILURES+=("$name: $errors errors (other_status=$(field "$line" other_status), socket_errors=$(field "$line" socket_errors), abandoned=$(field "$line" abandoned))")
    fi
}

# run_intake NAME URL [load options...]: a webhook row, with the row check.
run_intake() {
    local name=$1 url=$2
    shift 2
    local added answered
    run_load "$name" --url "$url" --webhook "$BODY" --secret "$SECRET" --org-id "$ORG_ID" \
        --topic "$TOPIC" "$@"
    added=$(($(event_rows) - ROW_EVENTS_BEFORE))
    answered=$(field "${RESULT[$name]}" expected_total)
    if [ "$added" = "$answered" ]; then
        NOTES+=("$name: $answered answers 200, $added rows added to hv_events: match")
    else
        NOTES+=("$name: $answered answers 200, $added rows added to hv_events: MISMATCH")
        FAILURES+=("$name: $answered answers 200 but $added rows added to hv_events")
    fi
}

# ------------------------------------------------------------------ HTTP rows
run_load static --url "$BASE/bench/static" --connections "$CONNECTIONS" --expect 200
run_load noop --url "$BASE/api/haravan/bench-noop" --connections "$CONNECTIONS" --expect 404
run_intake intake "$BASE/api/haravan/webhook" --connections "$CONNECTIONS"
run_intake intake_open "$BASE/api/haravan/webhook" --mode open --rate "$OPEN_RATE" \
    --connections "$OPEN_CONNECTIONS"

# ------------------------------------------------------------------ pgbench
# The body as a text parameter in bytea's escape format: backslashes doubled.
# The headers as the worker stores them for these requests.
PG_BODY=$(sed 's/\\/\\\\/g' "$BODY")
PG_HEADERS='{"Content-Type":"application/json","X-Haravan-Topic":"orders/create","X-Haravan-Org-Id":"1000","User-Agent":"haravan-bench-load"}'
UPDATED_AT=$(sed -n 's/^  "updated_at": "\([^"]*\)".*/\1/p' "$BODY" | head -n 1)

# run_pgbench ID_BASE SECONDS [extra pgbench options...]
run_pgbench() {
    local id_base=$1 seconds=$2
    shift 2
    "$PGBIN/pgbench" -h "$STACK_PGHOST" -U haravan -n -M "$PGBENCH_MODE" \
        -c "$CONNECTIONS" -j 1 -T "$seconds" -f "$BENCH/intake-insert.sql" \
        -D seq=0 -D "id_base=$id_base" -D "org=$ORG_ID" -D "topic=$TOPIC" \
        -D "updated=$UPDATED_AT" -D "headers=$PG_HEADERS" -D "body=$PG_BODY" \
        "$@" haravan
}

say "row pgbench (warm-up ${WARMUP}s)"
row_begin pgbench
cpu_begin
run_pgbench 7000000000000 "$WARMUP" > "$WORK/out/pgbench-warmup.txt" 2>&1 ||
    die "pgbench warm-up failed: $(tail -n 5 "$WORK/out/pgbench-warmup.txt")"
say "row pgbench"
mkdir -p "$WORK/pgbench-log"
run_pgbench 8000000000000 "$DURATION" -l --log-prefix="$WORK/pgbench-log/tx" \
    > "$WORK/out/pgbench.txt" 2>&1 || die "pgbench failed: $(tail -n 5 "$WORK/out/pgbench.txt")"
pgbench_done=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' \
    "$WORK/out/pgbench.txt" "$WORK/out/pgbench-warmup.txt" | awk '{ sum += $1 } END { print sum }')
cpu_end pgbench "$pgbench_done"
pgbench_added=$(($(event_rows) - ROW_EVENTS_BEFORE))
row_end pgbench
PGBENCH_TPS=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$WORK/out/pgbench.txt")
PGBENCH_FAILED=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$WORK/out/pgbench.txt")
[ -n "$PGBENCH_TPS" ] || die "no tps in pgbench's output: $(cat "$WORK/out/pgbench.txt")"
# Per-transaction log: the third column is the latency in microseconds.
read -r PGBENCH_P50 PGBENCH_P99 PGBENCH_MAX < <(cat "$WORK"/pgbench-log/tx* | awk '{ print $3 }' |
    sort -n | awk '{ v[NR] = $1 } END {
        p50 = int(NR * 0.50 + 0.999999); p99 = int(NR * 0.99 + 0.999999)
        printf "%.3f %.3f %.3f\n", v[p50] / 1000, v[p99] / 1000, v[NR] / 1000 }')
if [ "${PGBENCH_FAILED:-0}" != 0 ]; then
    FAILURES+=("pgbench: $PGBENCH_FAILED failed transactions")
fi
if [ $pgbench_added = "$pgbench_done" ]; then
    NOTES+=("pgbench: $pgbench_done transactions, $pgbench_added rows added: match")
else
    NOTES+=("pgbench: $pgbench_done transactions, $pgbench_added rows added: MISMATCH")
    FAILURES+=("pgbench: $pgbench_done transactions but $pgbench_added rows added")
fi

# ------------------------------------------------------------------ PHP-FPM peer
PHP_FPM=$(ls /usr/sbin/php-fpm* 2> /dev/null | sort -V | tail -n 1 || true)
PHP_ROWS=0
if [ "$WANT_PHP" = 0 ]; then
    NOTES+=("PHP-FPM rows skipped (BENCH_PHP=0)")
elif [ -z "$PHP_FPM" ] || ! grep -qx pgsql <<< "$("$PHP_FPM" -m 2> /dev/null || true)"; then
    # (The module list is read whole first: `php-fpm -m | grep -q` under
    # pipefail fails whenever grep's early exit makes php-fpm die of SIGPIPE.)
    [ "$WANT_PHP" = 1 ] && die "BENCH_PHP=1 but php-fpm with pgsql is not installed (apt-get install php-fpm php-pgsql)"
    NOTES+=("PHP-FPM rows skipped: php-fpm or php-pgsql not installed (apt-get install php-fpm php-pgsql)")
else
    PHP_ROWS=1
    mkdir -p "$WORK/php" "$WORK/php-nginx" "$WORK/log"
    run_as=""
    [ "$(id -u)" = 0 ] && run_as=$'user = root\ngroup = root'
    cat > "$WORK/php/php-fpm.conf" << CONF
; Generated by tests/bench/run.sh: the PHP-FPM peer, as many children as
; haravan-fcgi has workers, each with one persistent PostgreSQL connection.
[global]
pid = $PHP_FPM_PID
error_log = $WORK/log/php-fpm.log
daemonize = yes

[bench]
$run_as
listen = $WORK/php/php-fpm.sock
listen.mode = 0666
pm = static
pm.max_children = $HARAVAN_WORKERS
clear_env = yes
env[HARAVAN_CLIENT_SECRET] = "$SECRET"
env[HARAVAN_PHP_DB] = "host=$STACK_PGHOST dbname=haravan user=haravan application_name=php-fpm"
php_admin_flag[log_errors] = on
php_admin_value[error_log] = $WORK/log/php-error.log
CONF
    nginx_user=""
    [ "$(id -u)" = 0 ] && nginx_user="user root;"
    PHP_PORT=""
    # Below the ephemeral range, as tests/stack/stack.sh's pick_port says why.
    read -r low _ < /proc/sys/net/ipv4/ip_local_port_range 2> /dev/null || low=32768
    for _ in $(seq 1 50); do
        candidate=$((10000 + RANDOM % (low - 10000)))
        if ! (exec 3<> "/dev/tcp/127.0.0.1/$candidate") 2> /dev/null; then
            PHP_PORT=$candidate
            break
        fi
    done
    [ -n "$PHP_PORT" ] || die "no free port for the PHP nginx"
    # Same nginx settings as the stack's (tests/stack, nginx/dev-server.conf.in):
    # two workers, access log on, body kept in memory up to 1 MiB.
    cat > "$WORK/php-nginx/nginx.conf" << CONF
# Generated by tests/bench/run.sh: a second nginx for the PHP-FPM peer.
$nginx_user
worker_processes 2;
pid $PHP_NGINX_PID;
error_log $WORK/log/php-nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log $WORK/log/php-nginx-access.log;
    client_body_temp_path $WORK/php-nginx/body;
    fastcgi_temp_path $WORK/php-nginx/fastcgi;
    proxy_temp_path $WORK/php-nginx/proxy;
    uwsgi_temp_path $WORK/php-nginx/uwsgi;
    scgi_temp_path $WORK/php-nginx/scgi;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$PHP_PORT;
        location = /php-intake {
            client_max_body_size 1m;
            client_body_buffer_size 1m;
            fastcgi_pass unix:$WORK/php/php-fpm.sock;
            fastcgi_param SCRIPT_FILENAME $BENCH/php/receiver.php;
            fastcgi_param REQUEST_METHOD \$request_method;
            fastcgi_param REQUEST_URI \$request_uri;
            fastcgi_param DOCUMENT_URI \$document_uri;
            fastcgi_param QUERY_STRING \$query_string;
            fastcgi_param CONTENT_TYPE \$content_type;
            fastcgi_param CONTENT_LENGTH \$content_length;
            fastcgi_param REMOTE_ADDR \$remote_addr;
            fastcgi_param SERVER_NAME \$server_name;
            fastcgi_param SERVER_PORT \$server_port;
            fastcgi_param SERVER_PROTOCOL \$server_protocol;
        }
    }
}
CONF
    say "starting php-fpm ($PHP_FPM, $HARAVAN_WORKERS children) and its nginx on port $PHP_PORT"
    "$PHP_FPM" -y "$WORK/php/php-fpm.conf" -R || die "php-fpm did not start; see $WORK/log/php-fpm.log"
    nginx -p "$WORK/php-nginx" -c "$WORK/php-nginx/nginx.conf" -e "$WORK/log/php-nginx-error.log" ||
        die "the PHP nginx did not start; see $WORK/log/php-nginx-error.log"
    for _ in $(seq 1 50); do
        [ -S "$WORK/php/php-fpm.sock" ] && break
        sleep 0.1
    done
    run_intake php "http://127.0.0.1:$PHP_PORT/php-intake" --connections "$CONNECTIONS"
    run_intake php_open "http://127.0.0.1:$PHP_PORT/php-intake" --mode open --rate "$OPEN_RATE" \
        --connections "$OPEN_CONNECTIONS"
    stop_pid_file "$PHP_NGINX_PID" QUIT
    stop_pid_file "$PHP_FPM_PID" QUIT
fi

# ------------------------------------------------------------------ wrk cross-check
if [ "$WANT_WRK" != 0 ] && command -v wrk > /dev/null; then
    for pair in "static:$BASE/bench/static" "noop:$BASE/api/haravan/bench-noop"; do
        name=${pair%%:*}
        url=${pair#*:}
        say "wrk cross-check $name"
        wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url" > "$WORK/out/wrk-$name.txt" 2>&1 ||
            die "wrk failed: $(cat "$WORK/out/wrk-$name.txt")"
        wrk_rate=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$WORK/out/wrk-$name.txt")
        wrk_p99=$(sed -n 's/^ *99% *\([0-9.]*[a-z]*\).*/\1/p' "$WORK/out/wrk-$name.txt")
        NOTES+=("wrk cross-check, $name: ${wrk_rate} req/s, p99 ${wrk_p99} (wrk -t1 -c$CONNECTIONS; wrk does not check statuses)")
    done
elif [ "$WANT_WRK" = 1 ]; then
    die "BENCH_WRK=1 but wrk is not installed"
fi

# ------------------------------------------------------------------ intake while processing
# The workers' and processors' peak memory over rows 1-6, before they stop.
bench_memory rows-1-6
if [ "$BUSY_PROCESSORS" != 0 ]; then
    say "restarting haravan-fcgi with $BUSY_PROCESSORS processors on an emptied inbox"
    BUILD=$BUILD "$ROOT/tests/stack/stack.sh" fcgi-stop "$STACK"
    # The rows before were counted; what they stored is not this row's work.
    psql_super -c "TRUNCATE hv_events" -c "CHECKPOINT"
    HARAVAN_PROCESSORS=$BUSY_PROCESSORS
    BUILD=$BUILD "$ROOT/tests/stack/stack.sh" fcgi-start "$STACK"
    run_intake intake_busy "$BASE/api/haravan/webhook" --mode open --rate "$OPEN_RATE" \
        --connections "$OPEN_CONNECTIONS"
    busy_waiting=$(psql_super -c "SELECT count(*) FROM hv_events WHERE status IN ('pending', 'processing')")
    NOTES+=("intake_busy: $BUSY_PROCESSORS processors processed ${PROCESSED_IN[intake_busy]} of the $(field "${RESULT[intake_busy]}" expected_total) events delivered during the row; $busy_waiting still waiting at its end")
    bench_memory row-7
fi

# ------------------------------------------------------------------ report
if [ "$STORED_INCOMPLETE" = 0 ]; then
    NOTES+=("every row stored by the intake, PHP-FPM and pgbench ($STORED_CHECKED, each checked at the end of its row) has the intake's key, body digest, resource and version: match")
else
    NOTES+=("$STORED_INCOMPLETE of $STORED_CHECKED stored rows lack what the intake's statement writes (key, body digest, resource, version): MISMATCH")
    FAILURES+=("$STORED_INCOMPLETE stored rows differ from what the intake stores")
fi
wal_files > "$WORK/out/wal-after.txt"
wal_written=$(psql_super -c "SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$WAL_LSN_START') / 1048576)")
wal_created=$(comm -13 "$WORK/out/wal-before.txt" "$WORK/out/wal-after.txt" | wc -l)
NOTES+=("WAL written during the rows: $wal_written MB; WAL segments created (not recycled) during the rows: $wal_created")
for name in static noop intake intake_open pgbench php php_open intake_busy; do
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
server_logged_errors=$(grep -c '"level":"error"' "$STACK/log/haravan-fcgi.log" || true)
nginx_logged_errors=$(grep -c -E '\[(error|crit|alert|emerg)\]' "$STACK/log/nginx-error.log" || true)
NOTES+=("haravan-fcgi log lines at level error during the run: $server_logged_errors; nginx error log lines at error or worse: $nginx_logged_errors")

errors_of() {
    local line=${RESULT[$1]}
    echo $(($(field "$line" unexpected) + $(field "$line" socket_errors) + $(field "$line" abandoned)))
}
row() {
    local name=$1 title=$2 line=${RESULT[$1]}
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$title" \
        "$(field "$line" rate)" "$(field "$line" p50_ms)" "$(field "$line" p99_ms)" \
        "$(field "$line" max_ms)" "$(errors_of "$name")" "$(field "$line" requests)" \
        "${PROCESSORS_OF[$name]}" "${PROCESSED_IN[$name]}"
}

INTAKE_RATE=$(field "${RESULT[intake]}" rate)
NOOP_RATE=$(field "${RESULT[noop]}" rate)
OPEN_P99=$(field "${RESULT[intake_open]}" p99_ms)
BUSY_P99=$(field "${RESULT[intake_busy]:-}" p99_ms)
TO_PGBENCH=$(ratio "$INTAKE_RATE" "$PGBENCH_TPS")
TO_NOOP=$(ratio "$INTAKE_RATE" "$NOOP_RATE")
AIM_RATE=$(awk -v r="$TO_PGBENCH" 'BEGIN { print (r >= 0.60) ? "met" : "not met" }')
AIM_BUSY_P99=$(awk -v p="$BUSY_P99" 'BEGIN { print (p != "" && p < 20) ? "met" : "not met" }')

PG_VERSION=$(psql_super -c "SHOW server_version")
PG_SYNC=$(psql_super -c "SHOW synchronous_commit")
PG_FSYNC=$(psql_super -c "SHOW fsync")
PG_WAL_SYNC=$(psql_super -c "SHOW wal_sync_method")
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
NGINX_VERSION=$(nginx -v 2>&1 | sed 's/^nginx version: //')
PG_FS=$(df -PT "$STACK_PGDATA/" | awk 'NR == 2 { print $2 }')

{
    echo
    echo "## haravan-crm intake benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Closed loop: $CONNECTIONS keep-alive connections (pgbench: $CONNECTIONS clients, -M $PGBENCH_MODE), ${DURATION} s measured after ${WARMUP} s warm-up."
    echo "Open loop: $OPEN_RATE req/s scheduled, $OPEN_CONNECTIONS connections, latency from the scheduled send time."
    echo "haravan-fcgi workers: $HARAVAN_WORKERS; processors: as each row says (the last two columns: haravan-fcgi's processors during the row, and the events they brought to \`done\` during it, warm-up and drain included)."
    echo
    echo "| row | rate (req/s) | p50 ms | p99 ms | max ms | errors | requests | processors | processed during the row |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    row static "nginx \`return 200\` (GET /bench/static)"
    row noop "no-op FastCGI round trip (GET /api/haravan/bench-noop, 404)"
    row intake "signed webhook intake, closed loop (POST /api/haravan/webhook)"
    row intake_open "signed webhook intake, open loop at $OPEN_RATE req/s"
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
        "pgbench, the intake's INSERT ($CONNECTIONS clients, tps)" "$PGBENCH_TPS" "$PGBENCH_P50" \
        "$PGBENCH_P99" "$PGBENCH_MAX" "${PGBENCH_FAILED:-0}" \
        "$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/out/pgbench.txt")" \
        "${PROCESSORS_OF[pgbench]}" "${PROCESSED_IN[pgbench]}"
    if [ "$PHP_ROWS" = 1 ]; then
        row php "PHP-FPM receiver, closed loop ($HARAVAN_WORKERS children)"
        row php_open "PHP-FPM receiver, open loop at $OPEN_RATE req/s"
    fi
    if [ -n "${RESULT[intake_busy]:-}" ]; then
        row intake_busy "signed webhook intake, open loop at $OPEN_RATE req/s, processors running"
    fi
    echo
    echo "| ratio | value | aim |"
    echo "| --- | ---: | --- |"
    echo "| intake / pgbench | $TO_PGBENCH | >= 0.60: $AIM_RATE |"
    echo "| intake / no-op | $TO_NOOP | |"
    echo "| intake p99 at $OPEN_RATE req/s, processors: $HARAVAN_PROCESSORS_ROWS | $OPEN_P99 ms | |"
    if [ -n "${RESULT[intake_busy]:-}" ]; then
        echo "| intake p99 at $OPEN_RATE req/s while $BUSY_PROCESSORS processors run | $BUSY_P99 ms | < 20 ms: $AIM_BUSY_P99 |"
    fi
    if [ "$PHP_ROWS" = 1 ]; then
        PHP_RATE=$(field "${RESULT[php]}" rate)
        TO_PHP=$(ratio "$INTAKE_RATE" "$PHP_RATE")
        echo "| intake / PHP-FPM | $TO_PHP | >= 2: $(awk -v r="$TO_PHP" 'BEGIN { print (r >= 2) ? "met" : "not met" }') |"
        echo "| PHP-FPM / pgbench | $(ratio "$PHP_RATE" "$PGBENCH_TPS") | |"
    else
        echo "| intake / PHP-FPM | n/a (no PHP-FPM rows) | >= 2: not measured |"
    fi
    echo
    echo "Where the CPU went, per row (warm-up and drain included; µs/req = CPU time of the group / requests sent; the client's time includes the kernel's loopback TCP work done when it sends):"
    echo
    echo "| row | wall s | machine busy | client µs/req | nginx µs/req | FastCGI app µs/req | PostgreSQL µs/req | kernel threads µs/req | other processes | autovacuum passes |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for name in static noop intake intake_open pgbench php php_open intake_busy; do
        [ -n "${CPU[$name]:-}" ] || continue
        # shellcheck disable=SC2086
        set -- ${CPU[$name]}
        awk -v name="$name" -v wall="$1" -v total="$2" -v client="$3" -v web="$4" -v fcgi="$5" \
            -v pg="$6" -v php="$7" -v kernel="$8" -v other="$9" -v requests="${10}" \
            -v autovacuum="${11}" -v hz="$TICKS" -v cores="$(nproc)" 'BEGIN {
            capacity = wall * hz * cores; us = 1e6 / hz / (requests > 0 ? requests : 1)
            printf "| %s | %.1f | %.0f%% | %.0f | %.0f | %.0f | %.0f | %.0f | %.1f%% | %d |\n",
                name, wall, 100 * total / capacity, client * us, web * us, (fcgi + php) * us,
                pg * us, kernel * us, 100 * other / capacity, autovacuum }'
    done
    echo
    echo "Machine: $(nproc) cores ($CPU_MODEL), $(uname -sr), shared by the load generator, nginx, the workers and PostgreSQL."
    echo "PostgreSQL $PG_VERSION (fsync=$PG_FSYNC, synchronous_commit=$PG_SYNC, wal_sync_method=$PG_WAL_SYNC, data on $PG_FS); nginx $NGINX_VERSION."
    echo
    memory_table
    print_notes
} | tee "$WORK/out/table.md"

bench_finish
