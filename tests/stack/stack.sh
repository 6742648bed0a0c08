#!/usr/bin/env bash
# stack.sh: a complete local haravan-crm stack in one directory.
#
#   stack.sh start DIR [PORT]   PostgreSQL cluster, migrations, haravan-fcgi and
#                               nginx on 127.0.0.1:PORT (0 = any free port), the
#                               Haravan simulator behind the same nginx on
#                               127.0.0.1:SIM_PORT (default PORT+1; any free
#                               port when PORT is 0); writes DIR/stack.env
#   stack.sh stop DIR           stops what start started, by pid
#   stack.sh pg-stop DIR        stops PostgreSQL only (outage tests)
#   stack.sh pg-start DIR       starts it again
#   stack.sh fcgi-stop DIR      stops haravan-fcgi only (drains its workers)
#   stack.sh fcgi-start DIR     starts it again with DIR/stack.env
#   stack.sh sim-stop DIR       stops the Haravan simulator only (Haravan down)
#   stack.sh sim-start DIR      starts it again, with fresh seed data
#   stack.sh host2-start DIR    a second host on the same database: its own
#                               haravan-fcgi (socket fcgi2.sock, log
#                               log/haravan-fcgi-host2.log) and its own nginx
#                               on any free port with the same snippets
#                               (HARAVAN_HOST2_WORKERS, HARAVAN_HOST2_PROCESSORS:
#                               default the stack's); writes
#                               HARAVAN_HOST2_URL to DIR/stack.env
#   stack.sh host2-stop DIR     stops it (stop stops it too)
#
# `make run` uses DIR=var and PORT=${PORT:-8080}; `make test` gives every run a
# fresh directory and a free port, so test runs and a running `make run` never
# meet. Everything lives under DIR: data, sockets (or a short /tmp directory
# when DIR's path is too long for a unix socket), logs, pid files, the master
# key (mode 0600).
#
# The simulator (tests/sim, one process) plays Haravan's REST API, accounts
# (OpenID Connect) and webhooks; the stack points the connector at it with
# HARAVAN_API_URL, HARAVAN_ACCOUNTS_URL and HARAVAN_WEBHOOK_URL, and tests
# reach its /sim/ controls with HARAVAN_SIM_URL and its seeded token
# HARAVAN_SIM_TOKEN. Once the simulator answers, one app is registered with
# it (random client id and secret, the stack's redirect and callback URLs,
# an empty verify token), again on every sim-start since a restart forgets
# it; its id and secret are HARAVAN_SIM_CLIENT_ID and
# HARAVAN_SIM_CLIENT_SECRET in stack.env.
#
# PostgreSQL refuses to run as root, so as root the cluster belongs to the
# `postgres` user. When that user cannot reach DIR (a checkout inside a 0700
# directory), the data directory is created under /tmp and DIR/pgdata links
# to it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

die() { echo "stack: $*" >&2; exit 1; }
say() { echo "stack: $*"; }

as_postgres() {
    # From /: `postgres` may not be allowed into the caller's directory.
    if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Below the kernel's ephemeral range: a port that an outgoing connection
# holds (the tests open thousands) looks free to port_in_use, which only
# knows listeners, yet nginx cannot bind it.
pick_port() {
    local port low=32768
    read -r low _ < /proc/sys/net/ipv4/ip_local_port_range 2> /dev/null || low=32768
    [ "$low" -gt 11000 ] || die "the ephemeral port range starts at $low: no room below it"
    for _ in $(seq 1 50); do
        port=$((10000 + RANDOM % (low - 10000)))
        port_in_use "$port" || { echo "$port"; return; }
    done
    die "no free port found"
}

# Whether the `postgres` user can pass through DIR (not in a 0700 checkout).
postgres_reaches() {
    [ "$(id -u)" != 0 ] || runuser -u postgres -- test -x "$1"
}

# Where the sockets go: DIR itself, unless unix socket paths (108 bytes) would
# not fit or PostgreSQL could not reach its socket there; then a directory
# under /tmp, remembered in DIR/socket-dir.
socket_dir() {
    local dir=$1 elsewhere
    if [ ${#dir} -gt 80 ] || ! postgres_reaches "$dir"; then
        if [ ! -f "$dir/socket-dir" ]; then
            elsewhere=$(mktemp -d /tmp/haravan-run.XXXXXX)
            chmod 755 "$elsewhere"
            echo "$elsewhere" > "$dir/socket-dir"
        fi
        cat "$dir/socket-dir"
    else
        echo "$dir"
    fi
}

pid_alive() { [ -f "$1" ] && kill -0 "$(head -n 1 "$1")" 2>/dev/null; }

# The cluster's real data directory: DIR/pgdata, or the /tmp directory it
# links to. PostgreSQL's tools get this path, never the link, because the
# `postgres` user may not be able to pass through DIR to follow it.
pg_data() { readlink -f "$1/pgdata"; }

# Where the server writes its log: DIR/log when `postgres` can write there,
# else next to the data directory, with DIR/log/postgresql.log linking to it.
pg_log() {
    local dir=$1
    if postgres_reaches "$dir"; then
        echo "$dir/log/postgresql.log"
    else
        echo "$(pg_data "$dir").log"
    fi
}

init_cluster() {
    local dir=$1 data=$1/pgdata
    [ -e "$data/PG_VERSION" ] && return 0
    [ -x "$PGBIN/initdb" ] || die "PostgreSQL server binaries not found (apt-get install postgresql)"
    if [ "$(id -u)" = 0 ]; then
        if ! postgres_reaches "$dir"; then
            local elsewhere
            elsewhere=$(mktemp -d /tmp/haravan-pgdata.XXXXXX)
            chown postgres "$elsewhere"
            rm -rf "$data"
            ln -s "$elsewhere" "$data"
            say "postgres cannot reach $dir; cluster data in $elsewhere"
        else
            mkdir -p "$data"
            chown postgres "$data"
        fi
    else
        mkdir -p "$data"
    fi
    data=$(pg_data "$dir")
    chmod 700 "$data" 2>/dev/null || true
    as_postgres "$PGBIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        > "$dir/log/initdb.log" 2>&1 || die "initdb failed; see $dir/log/initdb.log"
}

pg_start() {
    local dir=$1 sockets data log
    sockets=$(socket_dir "$dir")/pg
    mkdir -p "$sockets"
    [ "$(id -u)" = 0 ] && chown postgres "$sockets"
    data=$(pg_data "$dir")
    if as_postgres "$PGBIN/pg_ctl" -D "$data" status > /dev/null 2>&1; then return 0; fi
    log=$(pg_log "$dir")
    touch "$log"
    [ "$(id -u)" = 0 ] && chown postgres "$log" 2>/dev/null
    [ "$log" != "$dir/log/postgresql.log" ] && ln -sfn "$log" "$dir/log/postgresql.log"
    # Reachable by its unix socket only: no TCP port to collide with.
    as_postgres "$PGBIN/pg_ctl" -D "$data" -w -t 60 -l "$log" \
        -o "-c listen_addresses='' -c unix_socket_directories='$sockets' -c max_connections=300" \
        start > /dev/null || die "PostgreSQL did not start; see $dir/log/postgresql.log"
}

pg_stop() {
    local dir=$1
    [ -e "$dir/pgdata/PG_VERSION" ] || return 0
    as_postgres "$PGBIN/pg_ctl" -D "$(pg_data "$dir")" -m fast -w stop > /dev/null 2>&1 || true
}

create_database() {
    local sockets=$1
    local psql=("$PGBIN/psql" -h "$sockets" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt)
    if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = 'haravan'")" != 1 ]; then
        "${psql[@]}" -c "CREATE ROLE haravan LOGIN"
    fi
    if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'haravan'")" != 1 ]; then
        "${psql[@]}" -c "CREATE DATABASE haravan OWNER haravan"
    fi
}

master_key() {
    local file=$1/master.key
    if [ ! -s "$file" ]; then
        (umask 077 && "$BUILD/haravan-ctl" keygen > "$file")
    fi
    chmod 600 "$file"
}

# The seeded token with every read scope: tests/sim/seed/tokens.json.
SIM_TOKEN=sim-token-1000114691-all-read

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

write_env() {
    local dir=$1 port=$2 sockets=$3 sim_port=$4
    local client_id client_secret
    client_id=sim-app-$(random_hex 6)
    client_secret=$(random_hex 16)
    cat > "$dir/stack.env" <<ENV
# Written by tests/stack/stack.sh: the running stack's addresses.
# Use with: set -a; . $dir/stack.env; set +a   or   HARAVAN_CONFIG=$dir/stack.env
HARAVAN_DB='host=$sockets/pg dbname=haravan user=haravan'
HARAVAN_BASE_URL=http://127.0.0.1:$port
HARAVAN_PUBLIC_URL=http://127.0.0.1:$port
HARAVAN_SOCKET=$sockets/fcgi.sock
HARAVAN_SOCKET_MODE=0660
HARAVAN_MASTER_KEY_FILE=$dir/master.key
HARAVAN_WORKERS=${HARAVAN_WORKERS:-$((2 * $(nproc)))}
HARAVAN_PROCESSORS=${HARAVAN_PROCESSORS:-$(nproc)}
HARAVAN_VAR=$dir
STACK_PORT=$port
STACK_PGDATA=$dir/pgdata
STACK_PGHOST=$sockets/pg
HARAVAN_API_URL=http://127.0.0.1:$sim_port
HARAVAN_ACCOUNTS_URL=http://127.0.0.1:$sim_port
HARAVAN_WEBHOOK_URL=http://127.0.0.1:$sim_port
STACK_SIM_PORT=$sim_port
STACK_SIM_SOCKET=$sockets/sim.sock
# The simulator's controls and seeded token, for tests and people.
HARAVAN_SIM_URL=http://127.0.0.1:$sim_port
HARAVAN_SIM_TOKEN=$SIM_TOKEN
# The CRM session cookie value that the stack's stand-in for a CRM sign-in
# check (nginx/dev-server.conf.in) takes for an admin (HARAVAN_ADMIN_AUTH=crm).
STACK_CRM_ADMIN_COOKIE=crm-$(random_hex 16)
# The app registered with the simulator at start (its developer portal).
HARAVAN_SIM_CLIENT_ID=$client_id
HARAVAN_SIM_CLIENT_SECRET=$client_secret
ENV
}

# HARAVAN_VALGRIND=1 (make test-valgrind, tests/valgrind.sh) runs
# haravan-fcgi, master, workers and processors (forked, not exec'd, so
# valgrind follows them), under memcheck: one log per process in
# DIR/log/valgrind.PID.log, definite leaks counted as errors, the library
# leaks of tests/stack/valgrind.supp suppressed. It needs the normal build
# (BUILD), not the sanitizer one. Start and drain are 20 to 50 times
# slower there, so the waits below are ten times longer.
fcgi_prefix() {
    [ "${HARAVAN_VALGRIND:-0}" = 1 ] || return 0
    echo valgrind --leak-check=full --show-leak-kinds=definite \
        --errors-for-leak-kinds=definite --error-exitcode=99 --num-callers=30 \
        --suppressions="$ROOT/tests/stack/valgrind.supp" --log-file="$1/log/valgrind.%p.log"
}

wait_scale() { if [ "${HARAVAN_VALGRIND:-0}" = 1 ]; then echo 10; else echo 1; fi; }

start_fcgi() {
    local dir=$1 prefix
    read -r -a prefix <<< "$(fcgi_prefix "$dir")"
    HARAVAN_CONFIG="$dir/stack.env" nohup "${prefix[@]}" "$BUILD/haravan-fcgi" \
        --pid-file "$dir/haravan-fcgi.pid" >> "$dir/log/haravan-fcgi.log" 2>&1 < /dev/null &
    local socket
    socket=$(sed -n 's/^HARAVAN_SOCKET=//p' "$dir/stack.env")
    for _ in $(seq 1 $((100 * $(wait_scale)))); do
        [ -S "$socket" ] && pid_alive "$dir/haravan-fcgi.pid" && return 0
        sleep 0.1
    done
    die "haravan-fcgi did not start; see $dir/log/haravan-fcgi.log"
}

env_value() { sed -n "s/^$2=//p" "$1/stack.env"; }

start_sim() {
    local dir=$1 socket sim_url
    socket=$(env_value "$dir" STACK_SIM_SOCKET)
    sim_url=$(env_value "$dir" HARAVAN_SIM_URL)
    nohup "$BUILD/haravan-sim" --socket "$socket" --seed "$ROOT/tests/sim/seed" \
        --base-url "$sim_url" --samples "$ROOT/tests/data/samples" \
        --pid-file "$dir/haravan-sim.pid" >> "$dir/log/haravan-sim.log" 2>&1 < /dev/null &
    for _ in $(seq 1 100); do
        [ -S "$socket" ] && pid_alive "$dir/haravan-sim.pid" && return 0
        sleep 0.1
    done
    die "haravan-sim did not start; see $dir/log/haravan-sim.log"
}

# Registers the stack's app with the simulator (POST /sim/apps), as a
# developer does once in Haravan's partner dashboard. The simulator keeps
# apps in memory only, so this follows every start of it.
register_sim_app() {
    local dir=$1 public sim_url body
    public=$(env_value "$dir" HARAVAN_PUBLIC_URL)
    sim_url=$(env_value "$dir" HARAVAN_SIM_URL)
    body=$(cat <<JSON
{"client_id":"$(env_value "$dir" HARAVAN_SIM_CLIENT_ID)",
 "client_secret":"$(env_value "$dir" HARAVAN_SIM_CLIENT_SECRET)",
 "name":"haravan-crm (stack)",
 "redirect_uris":["$public/api/haravan/login","$public/api/haravan/grandservice"],
 "webhook":{"callback_url":"$public/api/haravan/webhook","verify_token":"",
  "topics":["orders/create","orders/updated","orders/paid","orders/cancelled",
            "customers/create","customers/update","app/uninstalled"]}}
JSON
)
    curl -fsS -o /dev/null -H 'Content-Type: application/json' --data-binary "$body" \
        "$sim_url/sim/apps" || die "cannot register the app with the simulator at $sim_url"
}

# sim-start: the simulator again, once it answers through nginx, with the
# stack's app registered anew.
restart_sim() {
    local dir=$1
    start_sim "$dir"
    wait_sim_healthy "$(env_value "$dir" STACK_SIM_PORT)"
    register_sim_app "$dir"
}

stop_sim() {
    local dir=$1 pid
    pid_alive "$dir/haravan-sim.pid" || return 0
    pid=$(cat "$dir/haravan-sim.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}

start_nginx() {
    local dir=$1 port=$2 sockets=$3 sim_port=$4 user=""
    [ "$(id -u)" = 0 ] && user="user root;"
    mkdir -p "$dir/nginx"
    local location=(-e "s|@ROOT@/nginx/haravan-location.conf|@ROOT@/nginx/haravan-location.conf|")
    if [ "${HARAVAN_VALGRIND:-0}" = 1 ]; then
        # Under memcheck one admin login (PBKDF2, 600,000 rounds) takes
        # longer than the snippet's 30 s: a copy that waits ten times as
        # long, and nothing else changed.
        sed -e "s|fastcgi_read_timeout 30s;|fastcgi_read_timeout 300s;|" \
            "$ROOT/nginx/haravan-location.conf" > "$dir/nginx/haravan-location.conf"
        location=(-e "s|@ROOT@/nginx/haravan-location.conf|$dir/nginx/haravan-location.conf|")
    fi
    sed "${location[@]}" -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" -e "s|@ROOT@|$ROOT|g" \
        -e "s|@SOCKET@|$sockets/fcgi.sock|g" -e "s|@USER@|$user|g" \
        -e "s|@SIM_PORT@|$sim_port|g" -e "s|@SIM_SOCKET@|$sockets/sim.sock|g" \
        -e "s|@CRM_ADMIN_COOKIE@|$(env_value "$dir" STACK_CRM_ADMIN_COOKIE)|g" \
        "$ROOT/nginx/dev-server.conf.in" > "$dir/nginx/nginx.conf"
    # The settings page's snippet, serving the tree's nginx/www/ instead of
    # the installed copy.
    sed -e "s|/usr/local/share/haravan-crm/www/|$ROOT/nginx/www/|g" \
        "$ROOT/nginx/haravan-page.conf" > "$dir/nginx/haravan-page.conf"
    nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/log/nginx-error.log" \
        || die "nginx did not start; see $dir/log/nginx-error.log"
}

wait_healthy() {
    local port=$1
    for _ in $(seq 1 100); do
        if curl -fsS "http://127.0.0.1:$port/api/haravan/health" > /dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    die "health check failed on port $port"
}

wait_sim_healthy() {
    local port=$1
    for _ in $(seq 1 100); do
        if curl -fsS "http://127.0.0.1:$port/sim/health" > /dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    die "the Haravan simulator does not answer on port $port"
}

stop_fcgi() {
    local dir=$1 pid
    pid_alive "$dir/haravan-fcgi.pid" || return 0
    pid=$(cat "$dir/haravan-fcgi.pid")
    kill -TERM "$pid" 2>/dev/null || true
    # The master drains for up to 30 s; wait a little longer than that.
    for _ in $(seq 1 $((350 * $(wait_scale)))); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
}

# A second host, as a second machine would run it against the same
# PostgreSQL (docs/ARCHITECTURE.md, "Processes"): haravan-fcgi with the
# stack's settings but its own socket, HARAVAN_HOST2_WORKERS and
# HARAVAN_HOST2_PROCESSORS (default: the stack's), and its own nginx, the
# dev server's first server block only (the simulator stays the stack's).
# Everything of its own is under DIR/host2, but its log is with the stack's
# so that run-tests.sh searches it for sanitizer reports.
host2_start() {
    local dir=$1 host=$1/host2 sockets port user=""
    [ -f "$dir/stack.env" ] || die "no stack in $dir (stack.sh start first)"
    host2_stop "$dir"
    sockets=$(socket_dir "$dir")
    port=$(pick_port)
    mkdir -p "$host/nginx" "$host/log"
    HARAVAN_CONFIG="$dir/stack.env" HARAVAN_SOCKET="$sockets/fcgi2.sock" \
        HARAVAN_WORKERS="${HARAVAN_HOST2_WORKERS:-$(env_value "$dir" HARAVAN_WORKERS)}" \
        HARAVAN_PROCESSORS="${HARAVAN_HOST2_PROCESSORS:-$(env_value "$dir" HARAVAN_PROCESSORS)}" \
        nohup "$BUILD/haravan-fcgi" --pid-file "$host/haravan-fcgi.pid" \
        >> "$dir/log/haravan-fcgi-host2.log" 2>&1 < /dev/null &
    for _ in $(seq 1 100); do
        [ -S "$sockets/fcgi2.sock" ] && pid_alive "$host/haravan-fcgi.pid" && break
        sleep 0.1
    done
    pid_alive "$host/haravan-fcgi.pid" || die "host2's haravan-fcgi did not start; see $dir/log/haravan-fcgi-host2.log"
    [ "$(id -u)" = 0 ] && user="user root;"
    sed -e "/@HOST2_END@/,\$d" -e "s|@DIR@|$host|g" -e "s|@PORT@|$port|g" -e "s|@ROOT@|$ROOT|g" \
        -e "s|@SOCKET@|$sockets/fcgi2.sock|g" -e "s|@USER@|$user|g" \
        -e "s|@CRM_ADMIN_COOKIE@|$(env_value "$dir" STACK_CRM_ADMIN_COOKIE)|g" \
        "$ROOT/nginx/dev-server.conf.in" > "$host/nginx/nginx.conf"
    echo "}" >> "$host/nginx/nginx.conf"
    cp "$dir/nginx/haravan-page.conf" "$host/nginx/haravan-page.conf"
    nginx -p "$host/nginx" -c "$host/nginx/nginx.conf" -e "$host/log/nginx-error.log" \
        || die "host2's nginx did not start; see $host/log/nginx-error.log"
    wait_healthy "$port"
    echo "HARAVAN_HOST2_URL=http://127.0.0.1:$port" >> "$dir/stack.env"
    say "host2 up on http://127.0.0.1:$port (haravan-fcgi socket $sockets/fcgi2.sock)"
}

# Also after a kill -9 of its master (tests do that): nginx is stopped by
# its pid, the master drained if alive, and the stale socket removed.
host2_stop() {
    local dir=$1 host=$1/host2
    [ -d "$host" ] || return 0
    if pid_alive "$host/nginx/nginx.pid"; then
        kill -QUIT "$(cat "$host/nginx/nginx.pid")" 2>/dev/null || true
    fi
    stop_fcgi "$host"
    for _ in $(seq 1 50); do pid_alive "$host/nginx/nginx.pid" || break; sleep 0.1; done
    rm -f "$(socket_dir "$dir")/fcgi2.sock"
    [ -f "$dir/stack.env" ] && sed -i '/^HARAVAN_HOST2_URL=/d' "$dir/stack.env"
    return 0
}

stop() {
    local dir=$1
    [ -d "$dir" ] || return 0
    host2_stop "$dir"
    if pid_alive "$dir/nginx/nginx.pid"; then
        kill -QUIT "$(cat "$dir/nginx/nginx.pid")" 2>/dev/null || true
    fi
    stop_fcgi "$dir"
    stop_sim "$dir"
    for _ in $(seq 1 50); do pid_alive "$dir/nginx/nginx.pid" || break; sleep 0.1; done
    pg_stop "$dir"
}

# The simulator's port: SIM_PORT if set, else PORT+1, else (PORT 0) any
# free port other than PORT.
pick_sim_port() {
    local requested=$1 port=$2 sim_port
    if [ -n "${SIM_PORT:-}" ]; then echo "$SIM_PORT"; return; fi
    if [ "$requested" != 0 ]; then echo $((port + 1)); return; fi
    for _ in $(seq 1 10); do
        sim_port=$(pick_port)
        [ "$sim_port" != "$port" ] && { echo "$sim_port"; return; }
    done
    die "no free port found for the simulator"
}

start() {
    local dir port requested sockets sim_port
    mkdir -p "$1"
    dir=$(cd "$1" && pwd)
    port=${2:-8080}
    [ -x "$BUILD/haravan-fcgi" ] || die "$BUILD/haravan-fcgi is not built (make build)"
    [ -x "$BUILD/haravan-sim" ] || die "$BUILD/haravan-sim is not built (make build)"
    stop "$dir"
    requested=$port
    [ "$port" = 0 ] && port=$(pick_port)
    sim_port=$(pick_sim_port "$requested" "$port")
    port_in_use "$port" && die "port $port is in use (set PORT=... to choose another)"
    port_in_use "$sim_port" && die "port $sim_port (simulator) is in use (set SIM_PORT=...)"
    mkdir -p "$dir/log"
    sockets=$(socket_dir "$dir")
    init_cluster "$dir"
    pg_start "$dir"
    create_database "$sockets/pg"
    master_key "$dir"
    write_env "$dir" "$port" "$sockets" "$sim_port"
    HARAVAN_CONFIG="$dir/stack.env" "$BUILD/haravan-ctl" migrate > "$dir/log/migrate.log" \
        || die "migrations failed; see $dir/log/migrate.log"
    start_fcgi "$dir"
    start_sim "$dir"
    start_nginx "$dir" "$port" "$sockets" "$sim_port"
    wait_healthy "$port"
    wait_sim_healthy "$sim_port"
    register_sim_app "$dir"
    say "up on http://127.0.0.1:$port, Haravan simulator on http://127.0.0.1:$sim_port" \
        "(variables in $dir/stack.env)"
}

case "${1:-}" in
start) [ $# -ge 2 ] || die "usage: stack.sh start DIR [PORT]"; start "$2" "${3:-8080}" ;;
stop) [ $# -ge 2 ] || die "usage: stack.sh stop DIR"; stop "$(cd "$2" 2>/dev/null && pwd || echo "$2")" ;;
pg-stop) pg_stop "$(cd "$2" && pwd)" ;;
pg-start) pg_start "$(cd "$2" && pwd)" ;;
fcgi-stop) stop_fcgi "$(cd "$2" && pwd)" ;;
fcgi-start) start_fcgi "$(cd "$2" && pwd)" ;;
sim-stop) stop_sim "$(cd "$2" && pwd)" ;;
sim-start) restart_sim "$(cd "$2" && pwd)" ;;
host2-start) host2_start "$(cd "$2" && pwd)" ;;
host2-stop) host2_stop "$(cd "$2" && pwd)" ;;
*) die "usage: stack.sh start DIR [PORT] | stop DIR | pg-stop|pg-start|fcgi-stop|fcgi-start|sim-stop|sim-start|host2-start|host2-stop DIR" ;;
esac
