#!/usr/bin/env bash
# valgrind.sh: what `make test-valgrind` runs: integration tests against a
# stack whose haravan-fcgi (master, workers, processors) runs under
# valgrind's memcheck (tests/stack/stack.sh, HARAVAN_VALGRIND=1), then a
# count of what memcheck said.
#
# The normal build is used (valgrind cannot run an ASan binary). By default
# every integration test runs but integration_admin (EXCEPT, a regex;
# EXCEPT= runs it too):
# under memcheck one PBKDF2 login costs about 35 s, and its throttling
# tests make over a hundred logins (hours). ONLY=regex chooses a subset
# (make test runs ONLY='^integration_(intake|processing|connect)$': every
# request route and event path in about a minute). Every wait of the
# tests and of the stack is HARAVAN_TEST_TIME_SCALE (default 20) times
# longer, since memcheck is 20 to 50 times slower; no assertion changes.
#
# After the tests the stack is stopped with SIGTERM, so that each process
# exits and memcheck writes its leak summary into
# DIR/log/valgrind.PID.log. Exits non-zero when a test failed or when any
# log has an error (invalid read or write, uninitialised value, a definite
# leak not in tests/stack/valgrind.supp). KEEP=1 keeps the stack directory.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
ONLY=${ONLY:-.}
EXCEPT=${EXCEPT-^integration_admin\$}
time_scale=${HARAVAN_TEST_TIME_SCALE:-20}
reconcile_seconds=${HARAVAN_RECONCILE_SECONDS:-86400}
# A stack of its own: nothing of a caller's stack may reach it (make test
# runs this with its own stack's stack.env exported, whose HARAVAN_SOCKET,
# HARAVAN_DB... would win over this stack's file).
for name in $(compgen -v | grep -E '^(HARAVAN|STACK)_'); do unset "$name"; done
export HARAVAN_VALGRIND=1
export HARAVAN_TEST_TIME_SCALE=$time_scale
export HARAVAN_RECONCILE_SECONDS=$reconcile_seconds

command -v valgrind > /dev/null || { echo "valgrind is not installed (deps.sh test)" >&2; exit 1; }
STACK=$(mktemp -d /tmp/haravan-valgrind.XXXXXX)
chmod 755 "$STACK"
cleanup() {
    BUILD=$BUILD "$ROOT/tests/stack/stack.sh" stop "$STACK" > /dev/null 2>&1 || true
    if [ "${KEEP:-0}" = 1 ]; then echo "stack kept in $STACK"; else rm -rf "$STACK"; fi
}
trap cleanup EXIT

echo "== integration tests with haravan-fcgi under valgrind (stack in $STACK)"
BUILD=$BUILD "$ROOT/tests/stack/stack.sh" start "$STACK" 0
set -a
# shellcheck disable=SC1091
. "$STACK/stack.env"
set +a
export HARAVAN_CONFIG=$STACK/stack.env
export HARAVAN_STACK_SCRIPT=$ROOT/tests/stack/stack.sh
export HARAVAN_CTL=$BUILD/haravan-ctl
export BUILD
started=$(date +%s)
# The test programs themselves, not ctest: ctest's per-test TIMEOUT (300 to
# 600 s, tests/CMakeLists.txt) is for the native stack and cannot be
# lengthened from the command line.
# In ctest's order (tests/CMakeLists.txt), as make test runs them: a test
# may find the stack as the ones before it left it.
status=0
ran=0
for name in $(cd "$BUILD" && ctest -N -L integration -R "$ONLY" | sed -n 's/^ *Test *#[0-9]*: //p'); do
    if [ -n "$EXCEPT" ] && [[ $name =~ $EXCEPT ]]; then
        echo "== $name: not run (EXCEPT=$EXCEPT)"
        continue
    fi
    program=$BUILD/tests/$name
    ran=$((ran + 1))
    test_started=$(date +%s)
    if (cd "$BUILD/tests" && "$program"); then result=passed; else result=FAILED; status=1; fi
    echo "== $name: $result in $(($(date +%s) - test_started)) s"
done
[ "$ran" -gt 0 ] || { echo "no integration test matches ONLY=$ONLY" >&2; exit 1; }
echo "== tests took $(($(date +%s) - started)) s; stopping haravan-fcgi (drain, then each process's leak check)"
"$ROOT/tests/stack/stack.sh" fcgi-stop "$STACK"

logs=("$STACK"/log/valgrind.*.log)
[ -e "${logs[0]}" ] || { echo "no valgrind logs in $STACK/log" >&2; exit 1; }
processes=${#logs[@]}
# A process killed on purpose writes no summary, but its errors are in its
# log as they happen: count both.
pattern='ERROR SUMMARY: [1-9]|Invalid (read|write|free)|uninitialised|Mismatched free|overlap'
with_errors=$(grep -l -E "$pattern" "${logs[@]}" | wc -l || true)
definite=$(grep -h -E 'definitely lost in' "${logs[@]}" | wc -l || true)
summaries=$(grep -l -E 'ERROR SUMMARY' "${logs[@]}" | wc -l || true)
echo "valgrind: $processes processes logged, $summaries wrote a summary (the rest were killed" \
    "on purpose by the tests), $with_errors with errors, $definite definite-leak records"
if [ "$with_errors" != 0 ] || [ "$definite" != 0 ]; then
    status=1
    grep -l -E "$pattern|definitely lost in" "${logs[@]}" | head -n 5 | while read -r log; do
        echo "---- $log" >&2
        grep -v -E '^==[0-9]+== *$' "$log" | head -n 60 >&2
    done
fi
exit $status
