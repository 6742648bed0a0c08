#!/usr/bin/env bash
# soak.sh: faults under a steady load of signed deliveries (issue #12;
# figures in docs/RELIABILITY.md, "Faults under load").
#
#   tests/soak/soak.sh [FAULT...]     what `make soak` runs (every fault)
#   SOAK_SECONDS=10 tests/soak/soak.sh workers master nginx pg-restart
#                                     the fast variant of `make test`
#
# One private stack (tests/stack/stack.sh in a fresh temp dir) takes, for
# each fault in turn, a steady load from four copies of the project's load
# generator (tests/bench/load.c, open mode, SOAK_RATE deliveries a second in
# all), one per topic, made from the samples in tests/data/samples:
#   orders/create      a new order of a new customer (own id, phone, e-mail)
#   orders/updated     a new order of the one returning customer
#   customers/create   a new customer
#   customers/update   a newer version of that same customer (same ids)
# Every request's outcome is recorded (load --record: time, topic, id,
# status). SOAK_LEAD seconds into the load the fault starts; it lasts
# SOAK_SECONDS; the load goes on SOAK_TAIL seconds after it, so that the
# first 200 after the fault shows. Then tests/soak/invariants.sh checks,
# once the inbox is drained or SOAK_RECOVERY seconds have passed, that
# nothing was lost, duplicated, left stuck or leaked.
#
# The faults (each run alone, in this order):
#   workers      kill -9 of a random request worker and a random processor,
#                every second
#   master       kill -9 of the master: its workers and processors must
#                exit by themselves (PR_SET_PDEATHSIG); after SOAK_SECONDS
#                (at most 10) `stack.sh fcgi-start` brings everything back
#   nginx        nginx reloaded (SIGHUP) every 5 seconds
#   pg-restart   PostgreSQL stopped (fast) and started, twice
#   pg-pause     PostgreSQL (postmaster and backends) SIGSTOPped for 10 s
#   sim-errors   `haravan-ctl backfill` of a generated shop while the
#                simulator answers 429 and 503 (switching every 5 s); the
#                import is run again until it completes, and must bring in
#                every customer and order
#   host-kill    a second host (stack.sh host2-start) takes half the load;
#                halfway through, its nginx, master, workers and processors
#                are killed with SIGKILL: the first host finishes the inbox
#   readonly     var/ read-only: skipped, see docs/RELIABILITY.md
#
# Per fault it prints a row: deliveries sent, 200s, 503s, other answers,
# no answer, lost (200 but not in the inbox: must be 0), duplicates (must
# be 0), seconds from the fault's end to the first 200 and to the drained
# inbox, and the invariants' verdict. Exit status: 0 when every invariant
# held after every fault.
#
# Settings (environment): BUILD (default ROOT/build), SOAK_SECONDS (60),
# SOAK_RATE (40 deliveries a second in all), SOAK_LEAD (5), SOAK_TAIL (10),
# SOAK_RECOVERY (120: the most seconds to wait for the inbox to drain),
# SOAK_WORKERS (4) and SOAK_PROCESSORS (2): the stack's HARAVAN_WORKERS and
# HARAVAN_PROCESSORS (every HARAVAN_ and STACK_ variable of the caller is
# dropped),
# KEEP=1 keeps the temp dir (it is kept anyway when a fault fails).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SOAK=$ROOT/tests/soak
BUILD=${BUILD:-$ROOT/build}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -n 1)}
SECONDS_PER_FAULT=${SOAK_SECONDS:-60}
RATE=${SOAK_RATE:-40}
LEAD=${SOAK_LEAD:-5}
TAIL=${SOAK_TAIL:-10}
RECOVERY=${SOAK_RECOVERY:-120}
KEEP=${KEEP:-0}
ORG=7701        # the webhooks' shop
IMPORT_ORG=7702 # the backfilled shop (sim-errors)
IMPORT_TOKEN=soak-import-token
ALL_FAULTS=(workers master nginx pg-restart pg-pause sim-errors host-kill readonly)
FAULTS=("$@")
[ ${#FAULTS[@]} -gt 0 ] || FAULTS=("${ALL_FAULTS[@]}")
# A stack of its own: nothing of a caller's stack may reach it (make
# test runs this with its own stack's stack.env exported, whose
# HARAVAN_SOCKET, HARAVAN_DB... would win over this stack's file).
for name in $(compgen -v | grep -E '^(HARAVAN|STACK)_'); do unset "$name"; done
export HARAVAN_WORKERS=${SOAK_WORKERS:-4}
export HARAVAN_PROCESSORS=${SOAK_PROCESSORS:-2}
export HARAVAN_RECONCILE_SECONDS=86400 # only the backfill calls the simulator

say() { echo "soak: $*" >&2; }
die() {
    say "$*"
    exit 1
}

for fault in "${FAULTS[@]}"; do
    [[ " ${ALL_FAULTS[*]} " == *" $fault "* ]] || die "unknown fault '$fault' (${ALL_FAULTS[*]})"
done
[ -x "$BUILD/haravan-fcgi" ] || die "no $BUILD/haravan-fcgi: make build first"

WORK=$(mktemp -d /tmp/haravan-soak.XXXXXX)
chmod 755 "$WORK" # PostgreSQL, another user, must reach its data dir
STACK=$WORK/stack
mkdir -p "$STACK" "$WORK/out" "$WORK/templates"
FAILED=0
BACKGROUND=()
cleanup() {
    local status=$?
    for pid in "${BACKGROUND[@]}"; do kill "$pid" 2> /dev/null || true; done
    BUILD=$BUILD "$ROOT/tests/stack/stack.sh" stop "$STACK" > /dev/null 2>&1 || true
    if [ "$KEEP" = 1 ] || [ "$status" != 0 ]; then say "logs kept in $WORK"; else rm -rf "$WORK"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql_super() { "$PGBIN/psql" -h "$STACK_PGHOST" -U postgres -d haravan -qAt -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
pid_of() {
    local pid
    pid=$(head -n 1 "$1" 2> /dev/null || true)
    [[ $pid =~ ^[0-9]+$ ]] && echo "$pid" || echo 0
}

# ------------------------------------------------------------------ setup
say "compiling the load generator"
cc -std=c11 -O2 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -I"$ROOT/lib" \
    -o "$WORK/load" "$ROOT/tests/bench/load.c" "$BUILD/libharavan.a" -lcrypto -lm

say "starting the stack in $STACK"
BUILD=$BUILD "$ROOT/tests/stack/stack.sh" start "$STACK" 0 >&2
set -a
# shellcheck disable=SC1091
. "$STACK/stack.env"
set +a
export HARAVAN_CONFIG=$STACK/stack.env
SECRET=soak-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
"$BUILD/haravan-ctl" settings set client_secret "$SECRET" > /dev/null
"$SOAK/templates.sh" "$ROOT/tests/data/samples" "$WORK/templates"

# ------------------------------------------------------------ the load
# load_start FAULT_INDEX SECONDS [URL2]: four load generators in the
# background, one per topic; with URL2, the orders/updated and
# customers/update streams go to that host. Ids: 3,000,000,000 + fault
# index x 1,000,000 + stream x 100,000, so no two deliveries of a soak
# share an id, and customers/update reuses customers/create's ids.
LOAD_PIDS=()
load_start() {
    local index=$1 seconds=$2 url2=${3:-$HARAVAN_BASE_URL} base stream topic template id_stream url
    base=$((3000000000 + index * 1000000))
    LOAD_PIDS=()
    for stream in 0 1 2 3; do
        case $stream in
        0) topic=orders/create template=order-new id_stream=0 url=$HARAVAN_BASE_URL ;;
        1) topic=orders/updated template=order-repeat id_stream=1 url=$url2 ;;
        2) topic=customers/create template=customer-create id_stream=2 url=$HARAVAN_BASE_URL ;;
        3) topic=customers/update template=customer-update id_stream=2 url=$url2 ;;
        esac
        "$WORK/load" --label "$topic" --mode open --rate "$(awk -v r="$RATE" 'BEGIN { print r / 4 }')" \
            --connections 32 --warmup 0 --duration "$seconds" --drain 30 \
            --url "$url/api/haravan/webhook" --webhook "$WORK/templates/$template.json" \
            --secret "$SECRET" --org-id "$ORG" --topic "$topic" \
            --id-base $((base + id_stream * 100000)) \
            --record "$WORK/out/$index-$stream.record" > "$WORK/out/$index-$stream.line" &
        LOAD_PIDS+=($!)
    done
}
load_wait() {
    local pid
    for pid in "${LOAD_PIDS[@]}"; do wait "$pid" || die "a load generator failed"; done
}

# ------------------------------------------------------------ processes
# "pid name" of each child of the master in pid file $1.
# Never asked of pid 0: its children are init and kthreadd.
children_of() { if [ "${1:-0}" -gt 1 ]; then pgrep -l -P "$1" || true; fi; }
fcgi_children() { children_of "$(pid_of "$1")"; }
random_of() { shuf -n 1 2> /dev/null || true; }

# snapshot FILE: "role pid rss_kb fds" for the master and each child, for
# the invariants' leak check.
snapshot() {
    local file=$1 master pid name role
    master=$(pid_of "$STACK/haravan-fcgi.pid")
    : > "$file"
    {
        echo "$master master"
        fcgi_children "$STACK/haravan-fcgi.pid"
    } | while read -r pid name; do
        role=worker
        [ "$name" = hv-processor ] && role=processor
        [ "$pid" = "$master" ] && role=master
        rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status" 2> /dev/null) || continue
        fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2> /dev/null | wc -l) || continue
        [ -n "$rss" ] && echo "$role $pid $rss $fds" >> "$file"
    done
}

wait_health() {
    for _ in $(seq 1 300); do
        curl -fsS -o /dev/null "$1/api/haravan/health" 2> /dev/null && return 0
        sleep 0.1
    done
    return 1
}

postgres_pids() {
    local postmaster
    postmaster=$(pid_of "$(readlink -f "$STACK/pgdata")/postmaster.pid")
    [ "$postmaster" -gt 1 ] || return 0
    echo "$postmaster"
    children_of "$postmaster" | awk '{ print $1 }'
}

# ------------------------------------------------------------ the faults
# Each fault_* runs while the load goes on and returns when its fault is
# over, or writes the fault's end to $WORK/out/FAULT.end (master: when
# the restart is asked for; pg-restart: the second start; sim-errors: the
# failures' end, since it returns once the import completed); what it did
# goes to FAULT.note,
# what went wrong to FAULT.problem.
fault_workers() {
    local until=$(($(date +%s) + SECONDS_PER_FAULT)) kills=0 worker processor
    while [ "$(date +%s)" -lt "$until" ]; do
        worker=$(fcgi_children "$STACK/haravan-fcgi.pid" | awk '$2 != "hv-processor" { print $1 }' | random_of)
        processor=$(fcgi_children "$STACK/haravan-fcgi.pid" | awk '$2 == "hv-processor" { print $1 }' | random_of)
        [ -n "$worker" ] && kill -KILL "$worker" 2> /dev/null && kills=$((kills + 1))
        [ -n "$processor" ] && kill -KILL "$processor" 2> /dev/null && kills=$((kills + 1))
        sleep 1
    done
    echo "$kills processes killed" > "$WORK/out/workers.note"
}

fault_master() {
    local master hold=$SECONDS_PER_FAULT left
    [ "$hold" -le 10 ] || hold=10
    master=$(pid_of "$STACK/haravan-fcgi.pid")
    [ "$master" -gt 1 ] || die "no haravan-fcgi master to kill"
    local children
    children=$(fcgi_children "$STACK/haravan-fcgi.pid" | awk '{ print $1 }')
    kill -KILL "$master"
    sleep "$hold"
    left=0
    for pid in $children; do kill -0 "$pid" 2> /dev/null && left=$((left + 1)); done
    echo "$left" > "$WORK/out/master.orphans"
    # The fault's end: the restart is asked for (recovery counts from here).
    now > "$WORK/out/master.end"
    "$ROOT/tests/stack/stack.sh" fcgi-start "$STACK" >&2
    wait_health "$HARAVAN_BASE_URL" || echo "not healthy after fcgi-start" >> "$WORK/out/master.problem"
    echo "down ${hold}s; children alive after it: $left" > "$WORK/out/master.note"
}

fault_nginx() {
    local until=$(($(date +%s) + SECONDS_PER_FAULT)) reloads=0 nginx
    nginx=$(pid_of "$STACK/nginx/nginx.pid")
    [ "$nginx" -gt 1 ] || die "no nginx to reload"
    while [ "$(date +%s)" -lt "$until" ]; do
        kill -HUP "$nginx" && reloads=$((reloads + 1))
        sleep 5
    done
    echo "$reloads reloads" > "$WORK/out/nginx.note"
}

fault_pg_restart() {
    local gap=$((SECONDS_PER_FAULT / 2)) first
    "$ROOT/tests/stack/stack.sh" pg-stop "$STACK"
    sleep 2
    "$ROOT/tests/stack/stack.sh" pg-start "$STACK"
    first=$(now)
    sleep "$gap"
    "$ROOT/tests/stack/stack.sh" pg-stop "$STACK"
    sleep 2
    "$ROOT/tests/stack/stack.sh" pg-start "$STACK"
    # The fault's end: the second start (the load goes on after it).
    now > "$WORK/out/pg-restart.end"
    echo "stopped (fast) 2 s and started, twice, ${gap}s apart; first 200 after the first start:" \
        "$(elapsed "$first" "$(awk -v t="$first" '$4 == 200 && $1 >= t && (f == "" || $1 < f) { f = $1 }
            END { print (f == "" ? t : f) }' "$WORK/out/$RUN_INDEX"-*.record)") s" > "$WORK/out/pg-restart.note"
}

fault_pg_pause() {
    local pids
    pids=$(postgres_pids)
    # The postmaster first, so that it forks no new backend meanwhile.
    for pid in $pids; do kill -STOP "$pid" 2> /dev/null || true; done
    sleep 10
    for pid in $(echo "$pids" | tac); do kill -CONT "$pid" 2> /dev/null || true; done
    echo "$(echo "$pids" | wc -l) processes stopped 10 s" > "$WORK/out/pg-pause.note"
}

sim() { curl -fsS -X POST "$HARAVAN_SIM_URL$1" -H 'Content-Type: application/json' -d "$2"; }

# The import runs (again and again: each run resumes from its checkpoint)
# until it completes, while the simulator fails for SECONDS_PER_FAULT.
fault_sim_errors() {
    local until=$(($(date +%s) + SECONDS_PER_FAULT)) runs=0 status=429 switches=0
    (
        while :; do
            runs=$((runs + 1))
            echo "$runs" > "$WORK/out/sim-errors.runs"
            if "$BUILD/haravan-ctl" backfill --shop "$IMPORT_ORG" >> "$WORK/out/backfill.log" 2>&1; then
                now > "$WORK/out/sim-errors.imported"
                break
            fi
            sleep 1
        done
    ) &
    local importer=$!
    while [ "$(date +%s)" -lt "$until" ]; do
        sim /sim/failures "{\"status\":$status,\"retry_after\":1}" > /dev/null
        switches=$((switches + 1))
        if [ $status = 429 ]; then status=503; else status=429; fi
        sleep 5
    done
    sim /sim/reset '{"buckets":false,"failures":true,"counters":false}' > /dev/null
    now > "$WORK/out/sim-errors.end"
    wait "$importer" || true
    echo "$switches switches 429/503; the import ran $(cat "$WORK/out/sim-errors.runs") times;" \
        "done $(elapsed "$(cat "$WORK/out/sim-errors.end")" "$(cat "$WORK/out/sim-errors.imported")") s after the failures" \
        > "$WORK/out/sim-errors.note"
}

fault_host_kill() {
    sleep $((SECONDS_PER_FAULT / 2))
    local host=$STACK/host2 pids
    pids="$(pid_of "$host/nginx/nginx.pid") $(children_of "$(pid_of "$host/nginx/nginx.pid")" | awk '{ print $1 }' | tr '\n' ' ')"
    pids="$pids $(pid_of "$host/haravan-fcgi.pid") $(fcgi_children "$host/haravan-fcgi.pid" | awk '{ print $1 }' | tr '\n' ' ')"
    # shellcheck disable=SC2086
    for pid in $pids; do [ "$pid" -gt 1 ] && kill -KILL "$pid" 2> /dev/null; done || true
    echo "host2 killed halfway ($(echo "$pids" | wc -w) processes)" > "$WORK/out/host-kill.note"
}

# Before the load of sim-errors: the shop to import, and a small one
# imported first, so that the processors' Haravan clients (the staff
# lookups of imported orders: a curl handle and its connection) exist
# before the leak check's first snapshot; what a client holds once is not
# a leak.
import_shop() {
    local org=$1 token=$2 customers=$3 orders=$4
    sim /sim/tokens "{\"token\":\"$token\",\"org_id\":$org,\"scopes\":\"com.read_orders com.read_customers com.read_shop\"}" > /dev/null
    sim /sim/generate "{\"org_id\":$org,\"customers\":$customers,\"orders\":$orders,\"seed\":$org}" > /dev/null
    "$BUILD/haravan-ctl" shop token "$org" "com.read_orders com.read_customers com.read_shop" <<< "$token" > /dev/null
}
prepare_sim_errors() {
    import_shop $((IMPORT_ORG + 1)) "$IMPORT_TOKEN-warm" 5 20
    "$BUILD/haravan-ctl" backfill --shop $((IMPORT_ORG + 1)) >> "$WORK/out/backfill.log" 2>&1 ||
        die "the warm-up import failed (see $WORK/out/backfill.log)"
    wait_all_finished
    import_shop "$IMPORT_ORG" "$IMPORT_TOKEN" 300 600
}

# ------------------------------------------------------------ one fault run
first_200_after() {
    awk -v t="$2" '$4 == 200 && $1 >= t && (first == "" || $1 < first) { first = $1 }
        END { print first }' "$WORK/out/$1"-*.record
}

# drained_after SINCE FILE: writes to FILE the first time, from now on,
# that no event received before SINCE (the fault's end) is pending or
# processing; gives up after RECOVERY seconds. Run in the background.
drained_after() {
    local since=$1 file=$2 deadline=$(($(date +%s) + RECOVERY)) waiting
    while [ "$(date +%s)" -lt "$deadline" ]; do
        waiting=$(psql_super -c "SELECT count(*) FROM hv_events WHERE status IN ('pending', 'processing')
            AND received_at <= to_timestamp($since)" 2> /dev/null || echo x)
        if [ "$waiting" = 0 ]; then
            now > "$file"
            return 0
        fi
        sleep 0.2
    done
}

# Before the invariants: every event finished, or RECOVERY seconds gone.
wait_all_finished() {
    local deadline=$(($(date +%s) + RECOVERY))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        [ "$(psql_super -c "SELECT count(*) FROM hv_events WHERE status IN ('pending', 'processing')" 2> /dev/null || echo x)" = 0 ] && return 0
        sleep 0.5
    done
}

ROWS=()
run_fault() {
    local index=$1 fault=$2 started fault_end first drained verdict url2=$HARAVAN_BASE_URL
    local seconds=$((LEAD + SECONDS_PER_FAULT + TAIL))
    [ "$fault" = pg-pause ] && seconds=$((LEAD + 10 + TAIL))
    say "fault $fault: ${seconds}s of load at $RATE/s, the fault from ${LEAD}s"
    case $fault in
    sim-errors) prepare_sim_errors ;;
    host-kill)
        "$ROOT/tests/stack/stack.sh" host2-start "$STACK" >&2
        url2=$(sed -n 's/^HARAVAN_HOST2_URL=//p' "$STACK/stack.env")
        ;;
    esac
    started=$(now)
    RUN_INDEX=$index
    load_start "$index" "$seconds" "$url2"
    sleep "$LEAD"
    snapshot "$WORK/out/$index.start"
    "fault_${fault//-/_}"
    fault_end=$(now)
    [ -f "$WORK/out/$fault.end" ] && fault_end=$(cat "$WORK/out/$fault.end")
    drained_after "$fault_end" "$WORK/out/$index.drained" &
    local poller=$!
    load_wait
    wait "$poller" || true
    wait_all_finished
    drained=$(cat "$WORK/out/$index.drained" 2> /dev/null || true)
    [ "$fault" = host-kill ] && "$ROOT/tests/stack/stack.sh" host2-stop "$STACK" >&2
    snapshot "$WORK/out/$index.end"
    first=$(first_200_after "$index" "$fault_end")
    local args=(--stack "$STACK" --org "$ORG" --snapshots "$WORK/out/$index.start" "$WORK/out/$index.end")
    [ "$fault" = sim-errors ] && args+=(--import "$IMPORT_ORG" 300 600)
    [ -f "$WORK/out/master.orphans" ] && [ "$fault" = master ] && args+=(--orphans "$(cat "$WORK/out/master.orphans")")
    if "$SOAK/invariants.sh" "${args[@]}" "$WORK/out/$index"-*.record > "$WORK/out/$index.invariants" 2>&1; then
        verdict=held
    else
        verdict="BROKEN: $(grep '^BROKEN' "$WORK/out/$index.invariants" | sed 's/^BROKEN: //' | paste -sd ';' -)"
        FAILED=1
    fi
    [ -f "$WORK/out/$fault.problem" ] && {
        verdict="$verdict; $(cat "$WORK/out/$fault.problem")"
        FAILED=1
    }
    local counts
    counts=$(grep '^counts' "$WORK/out/$index.invariants" || echo "counts sent=? ok=? s503=? other=? none=? lost=? duplicates=?")
    ROWS+=("$fault|$counts|$([ -n "$first" ] && elapsed "$fault_end" "$first" || echo never)|$([ -n "$drained" ] && elapsed "$fault_end" "$drained" || echo "not in ${RECOVERY}s")|$verdict|$(cat "$WORK/out/$fault.note" 2> /dev/null || true)")
    say "fault $fault: $verdict ($(elapsed "$started" "$(now)") s)"
}

index=0
for fault in "${FAULTS[@]}"; do
    index=$((index + 1))
    if [ "$fault" = readonly ]; then
        ROWS+=("readonly|skipped|||skipped|making var/ read-only needs root tricks (a loop mount): docs/RELIABILITY.md")
        continue
    fi
    run_fault "$index" "$fault"
done

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<< " $1"; }
{
    echo
    echo "SOAK_SECONDS=$SECONDS_PER_FAULT SOAK_RATE=$RATE HARAVAN_WORKERS=$HARAVAN_WORKERS HARAVAN_PROCESSORS=$HARAVAN_PROCESSORS commit $(git -C "$ROOT" rev-parse --short HEAD) $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "| fault | sent | 200 | 503 | other | no answer | lost | duplicates | first 200 after (s) | drained after (s) | invariants | notes |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"
    for row in "${ROWS[@]}"; do
        IFS='|' read -r fault counts first drained verdict note <<< "$row"
        if [ "$counts" = skipped ]; then
            echo "| $fault | | | | | | | | | | skipped | $note |"
            continue
        fi
        echo "| $fault | $(field "$counts" sent) | $(field "$counts" ok) | $(field "$counts" s503) | $(field "$counts" other) ($(field "$counts" other_codes)) | $(field "$counts" none) | $(field "$counts" lost) | $(field "$counts" duplicates) | $first | $drained | $verdict | $note |"
    done
    echo
} | tee "$WORK/out/table.md"
[ "$FAILED" = 0 ] || die "an invariant broke (details in $WORK/out/*.invariants)"
say "done"
