# shellcheck shell=bash disable=SC2034 # variables for the scripts that source this
# lib.sh: what the benchmarks of tests/bench share (sourced by run.sh, the
# intake benchmark, processing.sh, the processing benchmark, and burst.sh;
# figures in docs/PERFORMANCE.md).
#
# The caller sets ROOT, BUILD, PGBIN and KEEP, sources this file, and calls
# bench_workdir, then bench_start_stack. It gets:
#   WORK, STACK              a fresh temp dir (logs, results) and the stack in it
#   say, die                 messages on stderr, prefixed "bench:"
#   psql_super               psql as the cluster's superuser, on the stack's database
#   stop_pid_file FILE SIG   stops a process of ours by its pid file
#   bench_cleanup_extra      a function the caller may define: run at exit
#                            before the stack is stopped (run.sh stops PHP-FPM)
#   bench_wal_warmup ROWS    WAL written and checkpointed before the rows
#   field LINE NAME          a value of a name=value result line
#   cpu_begin / cpu_end      where the CPU went during a row (below)
#   ratio A B                A / B to two places
#   FAILURES, NOTES          arrays: what fails the run, what goes under the table
#   bench_memory, memory_table  each haravan-fcgi child's peak resident set
#   events_with_status S     events in hv_events with status S
#
# At exit the stack is stopped by its own directory (never by process
# name), and WORK is removed unless KEEP=1 or the run failed.

say() { echo "bench: $*" >&2; }
die() {
    echo "bench: $*" >&2
    exit 1
}

FAILURES=() # what makes the run fail
NOTES=()    # printed under the table
LOADAVG_START=$(cut -d ' ' -f 1-3 /proc/loadavg)

# Processes that are not the stack's, started by the caller (PHP-FPM and its
# nginx in run.sh); pid files that do not exist are skipped.
PHP_NGINX_PID=${PHP_NGINX_PID:-/nonexistent}
PHP_FPM_PID=${PHP_FPM_PID:-/nonexistent}

stop_pid_file() {
    local file=$1 signal=$2 pid
    [ -f "$file" ] || return 0
    pid=$(head -n 1 "$file")
    kill -0 "$pid" 2> /dev/null || return 0
    kill "-$signal" "$pid" 2> /dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2> /dev/null || return 0
        sleep 0.1
    done
}

bench_workdir() {
    WORK=$(mktemp -d /tmp/haravan-bench.XXXXXX)
    chmod 755 "$WORK" # PostgreSQL runs as another user and must reach its data dir
    STACK=$WORK/stack
    mkdir -p "$STACK" "$WORK/out"
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

bench_cleanup() {
    local status=$?
    if declare -F bench_cleanup_extra > /dev/null; then bench_cleanup_extra || true; fi
    BUILD=$BUILD "$ROOT/tests/stack/stack.sh" stop "$STACK" > /dev/null 2>&1 || true
    if [ "$KEEP" = 1 ] || [ "$status" != 0 ]; then
        say "logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}

# A private stack on a free port (tests/stack/stack.sh), its variables exported.
bench_start_stack() {
    say "starting the stack in $STACK (HARAVAN_WORKERS=$HARAVAN_WORKERS)"
    BUILD=$BUILD "$ROOT/tests/stack/stack.sh" start "$STACK" 0 >&2
    set -a
    # shellcheck disable=SC1091
    . "$STACK/stack.env"
    set +a
}

psql_super() { "$PGBIN/psql" -h "$STACK_PGHOST" -U postgres -d haravan -qAt -v ON_ERROR_STOP=1 "$@"; }

# ------------------------------------------------------------------ WAL warm-up
# A new cluster has to create every 16 MB WAL segment the first time it
# needs it (zero-filled and fsynced while commits wait: a 20-50 ms stall
# each, every few seconds of intake). A database that has been running
# recycles old segments instead. So that the rows measure that steady state,
# about as much WAL as the rows will write is written and checkpointed
# first; the checkpoint keeps those segments for reuse. Durability settings
# are not touched. BENCH_WAL_WARMUP=0 measures the cold cluster.
wal_files() { psql_super -c "SELECT name FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}\$' ORDER BY name"; }
bench_wal_warmup() {
    local rows=$1
    if [ "${BENCH_WAL_WARMUP:-1}" = 1 ]; then
        say "warming up the WAL ($rows rows of 1 kB, then CHECKPOINT)"
        psql_super << SQL
CREATE TABLE bench_wal_warmup (filler text);
INSERT INTO bench_wal_warmup SELECT repeat(md5(g::text), 30) FROM generate_series(1, $rows) AS g;
DROP TABLE bench_wal_warmup;
CHECKPOINT;
SQL
        NOTES+=("WAL warmed up before the rows: $rows rows of 1 kB written, dropped, checkpointed (BENCH_WAL_WARMUP=0 to skip)")
    else
        NOTES+=("no WAL warm-up (BENCH_WAL_WARMUP=0): the rows run on a cold cluster")
    fi
    wal_files > "$WORK/out/wal-before.txt"
    WAL_LSN_START=$(psql_super -c "SELECT pg_current_wal_lsn()")
}

# A value from a result line of name=value pairs: field LINE NAME
# The notes under a table (inside the block that tees it), and the end of
# a run: exit 1 after saying each failure, else "done".
print_notes() {
    echo "Notes:"
    for note in "${NOTES[@]}"; do echo "- $note"; done
    echo
}
bench_finish() {
    if [ ${#FAILURES[@]} -gt 0 ]; then
        for failure in "${FAILURES[@]}"; do say "FAILED: $failure"; done
        exit 1
    fi
    say "done"
}

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<< " $1"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

declare -A CPU

# ---------------------------------------------------------- CPU accounting
# Where the machine's CPU went during each row. Every process's CPU time is
# read from /proc/PID/stat before and after the row: its own time, plus the
# time of the children it reaped (so a process that lived and died inside
# the row is counted with its parent). Processes are sorted by who they
# are: the stack's (a master from its pid file, and its children), the
# client (this shell's children: load, pgbench), kernel threads (children
# of kthreadd: block I/O, the ext4 journal), and other: any other job on
# the machine, which makes the row's figures suspect. Interrupt and softirq
# work (loopback TCP, I/O completions) is in the time of whatever process
# it interrupted: this kernel has no IRQ time accounting. Per-process times
# are used throughout rather than /proc/stat's busy total: on this VM the
# two disagree by tens of percent.
TICKS=$(getconf CLK_TCK)

master_pid() {
    if [ -f "$1" ]; then head -n 1 "$1"; else echo 0; fi
}

# cpu_snapshot FILE: "pid ppid own reaped" per process.
cpu_snapshot() {
    # shellcheck disable=SC2016
    # Processes come and go between the glob and the read: cat may fail.
    { cat /proc/[0-9]*/stat 2> /dev/null || true; } | awk '{
        match($0, /.*\) /)
        split(substr($0, RLENGTH + 1), f, " ")
        print $1, f[2], f[12] + f[13], f[14] + f[15] }' > "$1"
}

# Autovacuum and autoanalyze passes so far over the tables a row writes
# (BENCH_TABLES, space-separated; run.sh: hv_events) and their TOAST
# tables: they compete with the rows for the same two cores.
BENCH_TABLES=${BENCH_TABLES:-hv_events}
autovacuum_passes() {
    psql_super -c "SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) FROM pg_stat_all_tables
        WHERE relid IN (SELECT oid FROM pg_class WHERE relname = ANY (string_to_array('$BENCH_TABLES', ' '))
                        UNION SELECT reltoastrelid FROM pg_class
                              WHERE relname = ANY (string_to_array('$BENCH_TABLES', ' ')))"
}

CPU_STARTED=0
AUTOVACUUM_BEFORE=0
cpu_begin() {
    AUTOVACUUM_BEFORE=$(autovacuum_passes)
    cpu_snapshot "$WORK/out/cpu-before.txt"
    CPU_STARTED=$(date +%s.%N)
}

# cpu_end NAME REQUESTS: keeps, in ticks,
# "wall total client nginx fcgi postgres php kernel other requests autovacuum".
cpu_end() {
    local wall autovacuum
    cpu_snapshot "$WORK/out/cpu-after.txt"
    wall=$(awk -v a="$CPU_STARTED" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    autovacuum=$(($(autovacuum_passes) - AUTOVACUUM_BEFORE))
    CPU[$1]=$(awk -v wall="$wall" -v requests="$2" -v shell=$$ \
        -v nginx="$(master_pid "$STACK/nginx/nginx.pid") $(master_pid "$PHP_NGINX_PID")" \
        -v fcgi="$(master_pid "$STACK/haravan-fcgi.pid")" \
        -v postgres="$(master_pid "$STACK_PGDATA/postmaster.pid")" \
        -v php="$(master_pid "$PHP_FPM_PID")" -v sim="$(master_pid "$STACK/haravan-sim.pid")" \
        -v autovacuum="$autovacuum" '
        function group_of(pid, ppid) {
            if (pid == shell || ppid == shell) return "client"
            if (pid == 2 || ppid == 2) return "kernel"
            if (pid in master) return master[pid]
            if (ppid in master) return master[ppid]
            return "other"
        }
        BEGIN {
            n = split(nginx, list, " "); for (i = 1; i <= n; i++) if (list[i] > 0) master[list[i]] = "nginx"
            if (fcgi > 0) master[fcgi] = "fcgi"
            if (postgres > 0) master[postgres] = "postgres"
            if (php > 0) master[php] = "php"
            if (sim > 0) master[sim] = "sim" # the idle Haravan simulator of the stack: not printed
        }
        FNR == 1 { file++ }
        file == 1 { own[$1] = $3; reaped[$1] = $4; next }
        {
            spent = $3 - ($1 in own ? own[$1] : 0) + $4 - ($1 in reaped ? reaped[$1] : 0)
            if (spent > 0) ticks[group_of($1, $2)] += spent
        }
        END {
            total = 0
            for (g in ticks) total += ticks[g]
            printf "%s %d %d %d %d %d %d %d %d %d %d", wall, total, ticks["client"], ticks["nginx"],
                ticks["fcgi"], ticks["postgres"], ticks["php"], ticks["kernel"], ticks["other"],
                requests, autovacuum
        }' "$WORK/out/cpu-before.txt" "$WORK/out/cpu-after.txt")
}

# ---------------------------------------------------------- memory
# Each haravan-fcgi child's peak resident set (VmHWM in /proc/PID/status,
# the kernel's high-water mark of VmRSS over the process's life), read while
# it still runs, at the end of the rows it served: issue #10's aim is under
# 8 MB for every worker and every processor. Processors are the children
# named hv-processor (processing.c sets the name); the other children are
# request workers. bench_memory WHEN appends "WHEN role pid hwm_kb rss_kb"
# per child to WORK/out/memory.txt; memory_table prints them.
MEMORY_AIM_KB=8192
bench_memory() {
    local when=$1 master status comm role hwm rss pid
    master=$(master_pid "$STACK/haravan-fcgi.pid")
    [ "$master" != 0 ] || return 0
    for status in /proc/[0-9]*/status; do
        [ "$(awk '$1 == "PPid:" { print $2 }' "$status" 2> /dev/null)" = "$master" ] || continue
        comm=$(awk '$1 == "Name:" { print $2 }' "$status" 2> /dev/null) || continue
        hwm=$(awk '$1 == "VmHWM:" { print $2 }' "$status" 2> /dev/null) || continue
        rss=$(awk '$1 == "VmRSS:" { print $2 }' "$status" 2> /dev/null) || continue
        role=worker
        [ "$comm" = hv-processor ] && role=processor
        pid=${status#/proc/}
        echo "$when $role ${pid%/status} $hwm $rss" >> "$WORK/out/memory.txt"
    done
}
memory_table() {
    [ -s "$WORK/out/memory.txt" ] || return 0
    echo "Peak resident set of each haravan-fcgi child (VmHWM from /proc/PID/status, read at the end of the rows it served; aim: < 8 MB each):"
    echo
    echo "| read after | role | pid | peak RSS (VmHWM) MB | RSS then MB | < 8 MB |"
    echo "| --- | --- | ---: | ---: | ---: | --- |"
    awk -v aim="$MEMORY_AIM_KB" '{
        printf "| %s | %s | %s | %.1f | %.1f | %s |\n", $1, $2, $3, $4 / 1024, $5 / 1024,
            ($4 < aim) ? "met" : "NOT MET" }' "$WORK/out/memory.txt"
    echo
}

# Events in the inbox by status, for the rows that report processing.
events_with_status() { psql_super -c "SELECT count(*) FROM hv_events WHERE status = '$1'"; }
