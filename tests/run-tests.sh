#!/usr/bin/env bash
# run-tests.sh: what `make test` runs.
#
# 1. Unit tests (cmocka, through ctest) in the normal and the sanitizer
#    build, then the libFuzzer targets over their committed corpus.
# 2. A throwaway stack of its own (fresh directory, free port) running the
#    sanitizer build of haravan-fcgi, and the integration tests against it
#    through real nginx and PostgreSQL.
# 3. The settings page's end-to-end test in headless Chromium
#    (tests/e2e/), on the same stack.
# 4. The stack's logs are searched for sanitizer reports: a worker that hit
#    one was restarted by its master, and the test that caused it may still
#    have passed, so this is where such a failure shows.
# 5. Every log and saved reply of the run is searched for every secret it
#    used (tests/no-secrets.sh).
# 6. Faults under load (tests/soak/soak.sh), the fast variant: 10 s each of
#    workers and processors killed, the master killed and restarted, nginx
#    reloaded, PostgreSQL restarted, on a stack of its own running the
#    normal build; the invariants checked after each (`make soak`: all
#    faults, a minute each).
# 7. The intake, processing and connect integration tests again, with
#    haravan-fcgi (normal build) under valgrind's memcheck on a stack of
#    its own (tests/valgrind.sh): no memory error, no definite leak
#    (`make test-valgrind`: every integration test but admin).
# Exits non-zero on any failure. KEEP=1 keeps the stack directory; ONLY=regex
# runs only the tests whose ctest names match (e.g. ONLY=processing).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
SOAK_BUILD=$BUILD # the normal build: BUILD becomes the sanitizer one below
E2E_OUT=${E2E_OUT:-$BUILD/e2e}
BUILD_ASAN=${BUILD_ASAN:-$ROOT/build-asan}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "== unit tests (normal build)"
(cd "$BUILD" && ctest -L unit -R "${ONLY:-.}" --output-on-failure)
echo "== unit tests (AddressSanitizer + UndefinedBehaviorSanitizer build)"
(cd "$BUILD_ASAN" && ctest -L unit -R "${ONLY:-.}" --output-on-failure)
# The libFuzzer targets over their committed corpus (tests/fuzz/run.sh):
# every seed and every input a fuzzer once crashed on, in a few seconds.
if [ -z "${ONLY:-}" ] || [[ fuzz =~ ${ONLY} ]]; then
    echo "== fuzz targets over their corpus (tests/fuzz, build-fuzz)"
    BUILD_FUZZ=${BUILD_FUZZ:-$ROOT/build-fuzz} "$ROOT/tests/fuzz/run.sh" check
fi

STACK=$(mktemp -d /tmp/haravan-test.XXXXXX)
chmod 755 "$STACK"
cleanup() {
    BUILD=$BUILD_ASAN "$ROOT/tests/stack/stack.sh" stop "$STACK" || true
    if [ "${KEEP:-0}" = 1 ]; then echo "stack kept in $STACK"; else rm -rf "$STACK"; fi
}
trap cleanup EXIT

echo "== integration tests (sanitizer build of haravan-fcgi, stack in $STACK)"
# The reconciliation (haravan/catchup.h) calls the simulator for every
# connected shop once an interval; tests that count the simulator's calls
# must not see it. test_catchup.c restarts haravan-fcgi with a short one.
export HARAVAN_RECONCILE_SECONDS=${HARAVAN_RECONCILE_SECONDS:-86400}
# What the secret scan at the end reads (tests/no-secrets.sh): the tokens
# the simulator issues, the secrets the tests declare, the replies they got.
export HARAVAN_SIM_ISSUED_FILE=$STACK/secrets-sim-issued.txt
export HARAVAN_TEST_SECRETS=$STACK/secrets-tests.txt
export HARAVAN_TEST_RESPONSES=$STACK/test-responses.txt
BUILD=$BUILD_ASAN "$ROOT/tests/stack/stack.sh" start "$STACK" 0
set -a
# shellcheck disable=SC1091
. "$STACK/stack.env"
set +a
export HARAVAN_CONFIG=$STACK/stack.env
export HARAVAN_STACK_SCRIPT=$ROOT/tests/stack/stack.sh
export HARAVAN_CTL=$BUILD_ASAN/haravan-ctl
export BUILD=$BUILD_ASAN
# Workers killed on purpose by the tests must not count as sanitizer errors;
# LeakSanitizer has nothing to say about processes that _exit().
set +e
(cd "$BUILD_ASAN" && ctest -L integration -R "${ONLY:-.}" --output-on-failure)
status=$?
set -e

# The settings page end to end (tests/e2e/run.sh fails, never skips, when
# chromium or node is missing). Screenshots in build/e2e/ (E2E_OUT).
if [ -z "${ONLY:-}" ] || [[ e2e =~ ${ONLY} ]]; then
    # Fresh workers first: the last connect test leaves every worker
    # refusing the simulator's newest signing key for up to a minute (the
    # key set is fetched again at most once a minute, by design).
    "$ROOT/tests/stack/stack.sh" fcgi-stop "$STACK"
    "$ROOT/tests/stack/stack.sh" fcgi-start "$STACK"
    for _ in $(seq 1 100); do
        curl -fsS -o /dev/null "$HARAVAN_PUBLIC_URL/api/haravan/health" && break
        sleep 0.1
    done
    if ! HARAVAN_CTL=$BUILD_ASAN/haravan-ctl E2E_OUT=$E2E_OUT "$ROOT/tests/e2e/run.sh" "$STACK/stack.env"; then
        status=1
    fi
else
    echo "== e2e: not run (ONLY=$ONLY does not match e2e)"
fi

# 5. No secret the run used is in any log or saved reply, and no token in
#    a URL (tests/no-secrets.sh names the file and line, never the secret).
if ! "$ROOT/tests/no-secrets.sh" "$STACK"; then
    status=1
fi

if grep -l -E "ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer" "$STACK"/log/*.log; then
    echo "sanitizer reports found in the stack's logs (above)" >&2
    grep -h -A 30 -E "ERROR: AddressSanitizer|runtime error:" "$STACK"/log/*.log | head -n 80 >&2
    status=1
fi

if [ -z "${ONLY:-}" ] || [[ soak =~ ${ONLY} ]]; then
    echo "== faults under load (tests/soak/soak.sh, SOAK_SECONDS=10)"
    if ! SOAK_SECONDS=10 BUILD=$SOAK_BUILD "$ROOT/tests/soak/soak.sh" workers master nginx pg-restart; then
        status=1
    fi
fi

if [ -z "${ONLY:-}" ] || [[ valgrind =~ ${ONLY} ]]; then
    if ! ONLY='^integration_(intake|processing|connect)$' BUILD=$SOAK_BUILD \
        "$ROOT/tests/valgrind.sh"; then
        status=1
    fi
fi
exit $status
