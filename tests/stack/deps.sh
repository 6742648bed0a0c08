#!/usr/bin/env bash
# deps.sh: installs the Debian 12 packages haravan-crm needs, if missing.
#
#   deps.sh        to build and run
#   deps.sh test   and to run every test (adds the browser test's packages,
#                  clang for the fuzz targets, valgrind)
#   deps.sh bench  and to run the benchmarks (adds the PHP-FPM peer's packages)
#
# As root it runs apt-get itself; as a user with passwordless sudo it uses
# sudo; otherwise it prints the exact command and stops, since building
# without them cannot work. It says what it installs.
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config ca-certificates curl openssl
    libfcgi-dev libcjson-dev libcurl4-openssl-dev libssl-dev libpq-dev libcmocka-dev
    postgresql nginx
)
# `deps.sh test` (make test, .ci/run) adds what the settings page's browser
# test needs: headless Chromium, Node to drive it (standard library only:
# no npm), and fonts with Vietnamese glyphs for its screenshots.
if [ "${1:-}" = test ]; then
    PACKAGES+=(chromium nodejs fonts-noto-core)
    # The libFuzzer targets (tests/fuzz, run over their corpus by make
    # test) and make test-valgrind.
    PACKAGES+=(clang libclang-rt-14-dev valgrind)
fi
# `deps.sh bench` (make bench, bench-processing, bench-burst) adds the PHP-FPM
# peer of tests/bench/run.sh: Debian's php-fpm and its PostgreSQL module.
# Not needed by `make test`; Debian may start its own php-fpm service on
# install, which the benchmark leaves alone (it runs a private one).
if [ "${1:-}" = bench ]; then
    PACKAGES+=(php-fpm php-pgsql)
fi

missing=()
for package in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
# Any nginx flavour will do; do not pull nginx next to an installed nginx.
if [ ${#missing[@]} -gt 0 ] && command -v nginx > /dev/null; then
    kept=()
    for package in "${missing[@]}"; do [ "$package" = nginx ] || kept+=("$package"); done
    missing=("${kept[@]+"${kept[@]}"}")
fi
[ ${#missing[@]} -eq 0 ] && exit 0

line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" = 0 ]; then
    sudo=()
elif command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
    sudo=(sudo)
else
    echo "haravan-crm needs these Debian packages: ${missing[*]}" >&2
    echo "Install them as root, then run make again:" >&2
    echo "    sudo apt-get update && sudo $line" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" $line > /dev/null
# Debian starts its own PostgreSQL and nginx on install; ours run privately
# under var/, so theirs are left as the system has them.
echo "deps: done"
