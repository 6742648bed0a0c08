#!/usr/bin/env bash
# run.sh: runs the libFuzzer targets of tests/fuzz (built with
# HARAVAN_FUZZ=ON in $BUILD_FUZZ, default build-fuzz).
#
#   run.sh check   each target over its committed corpus only
#                  (tests/fuzz/corpus/<target>, -runs=0): what `make test`
#                  runs, a few seconds, so every CI run replays every seed
#                  and every regress-* input a fuzzer once crashed on.
#   run.sh fuzz    each target for FUZZ_SECONDS (default 60), `make fuzz`.
#                  New inputs go to $BUILD_FUZZ/corpus/<target> (not
#                  committed), crashes to $BUILD_FUZZ/artifacts/<target>/.
#                  Prints per target: seconds, executions, exec/s,
#                  coverage (cov, ft), corpus size and crashes.
#
# ONLY=regex limits the targets (e.g. ONLY=payload). One process per
# target: the machine is shared.
# Exits non-zero when a target crashed, leaked or broke a property.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_FUZZ=${BUILD_FUZZ:-$ROOT/build-fuzz}
MODE=${1:-check}
SECONDS_EACH=${FUZZ_SECONDS:-60}
TARGETS=(payload phone form jwt jwks signature)
# A leak is a failure; UBSan's reports stop the run (the build also sets
# -fno-sanitize-recover=undefined).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# "#N DONE cov: C ft: F corp: U/S ..." and -print_final_stats=1's lines
# into one summary line.
summarise() {
    local target=$1 log=$2 crashes=$3
    local done_line executions rate cov ft corp
    done_line=$(grep -a -E '^#[0-9]+[[:space:]]+(DONE|INITED)' "$log" | tail -n 1 || true)
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$done_line")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$done_line")
    corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<< "$done_line")
    printf '%-10s %8s %12s %9s %6s %7s %7s %8s\n' "$target" "$4" "${executions:-?}" \
        "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes"
}

header() {
    printf '%-10s %8s %12s %9s %6s %7s %7s %8s\n' target seconds executions exec/s cov ft corpus \
        crashes
}

status=0
header
for target in "${TARGETS[@]}"; do
    [[ $target =~ ${ONLY:-.} ]] || continue
    binary=$BUILD_FUZZ/tests/fuzz/fuzz_$target
    seeds=$ROOT/tests/fuzz/corpus/$target
    if [ ! -x "$binary" ]; then
        echo "$binary is missing: build with HARAVAN_FUZZ=ON (make build-fuzz)" >&2
        exit 1
    fi
    log=$BUILD_FUZZ/logs/$target.log
    artifacts=$BUILD_FUZZ/artifacts/$target
    mkdir -p "$BUILD_FUZZ/logs" "$artifacts"
    started=$(date +%s)
    set +e
    if [ "$MODE" = fuzz ]; then
        found=$BUILD_FUZZ/corpus/$target
        mkdir -p "$found"
        "$binary" -max_total_time="$SECONDS_EACH" -timeout=10 -print_final_stats=1 \
            -artifact_prefix="$artifacts/" "$found" "$seeds" > "$log" 2>&1
    else
        "$binary" -runs=0 -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/" \
            "$seeds" > "$log" 2>&1
    fi
    result=$?
    set -e
    elapsed=$(($(date +%s) - started))
    crashes=$(find "$artifacts" -type f -newermt "@$started" -name '*-*' | wc -l)
    summarise "$target" "$log" "$crashes" "$elapsed"
    if [ "$result" != 0 ]; then
        status=1
        echo "fuzz_$target failed (exit $result); its log, $log, ends:" >&2
        grep -a -E -A 25 'ERROR:|runtime error|deadly signal' "$log" | head -n 40 >&2 || tail -n 40 "$log" >&2
    fi
done
exit $status
