#!/usr/bin/env bash
# run.sh: the settings page's end-to-end test (tests/e2e/journey.js) in
# headless Chromium against a running stack.
#
#   tests/e2e/run.sh [STACK_ENV]     default: $HARAVAN_CONFIG, else var/stack.env
#
# `make test` runs it after the integration tests, on the same throwaway
# stack. By hand, against `make run`'s stack: tests/e2e/run.sh var/stack.env
# (it sets that stack's admin password to a random one and connects the
# simulator's shop).
#
# Needs Debian's chromium and nodejs (tests/stack/deps.sh installs them);
# without them it fails and says so: it never skips. The driver is Node's
# standard library speaking the DevTools protocol over Chromium's
# --remote-debugging-pipe, so there is no npm step and no network use.
# Screenshots go to E2E_OUT (default build/e2e/). CHROMIUM, HARAVAN_CTL
# (default build/haravan-ctl) may be set.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ENV_FILE=${1:-${HARAVAN_CONFIG:-$ROOT/var/stack.env}}

die() { echo "e2e: $*" >&2; exit 1; }

[ -f "$ENV_FILE" ] || die "no stack.env at $ENV_FILE (start a stack: make run, or pass its stack.env)"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || die "chromium not found at $CHROMIUM: install Debian's chromium (tests/stack/deps.sh does)"
command -v node > /dev/null || die "node not found: install Debian's nodejs (tests/stack/deps.sh does)"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' \
    || die "node $(node --version) is too old: 18 or later is needed"

set -a
# shellcheck disable=SC1090
. "$ENV_FILE"
set +a
export HARAVAN_CONFIG=$ENV_FILE
export HARAVAN_CTL=${HARAVAN_CTL:-$ROOT/build/haravan-ctl}
export CHROMIUM
export E2E_OUT=${E2E_OUT:-$ROOT/build/e2e}
[ -x "$HARAVAN_CTL" ] || die "$HARAVAN_CTL is not built (make build)"
for name in HARAVAN_PUBLIC_URL HARAVAN_SIM_URL HARAVAN_SIM_CLIENT_ID HARAVAN_SIM_CLIENT_SECRET; do
    [ -n "${!name:-}" ] || die "$name is missing from $ENV_FILE (a stack from tests/stack/stack.sh writes it)"
done
mkdir -p "$E2E_OUT"
rm -f "$E2E_OUT"/*.png "$E2E_OUT"/chromium.log
# Chromium's fonts: Vietnamese text needs glyphs (fonts-noto-core).
fc-list : family 2> /dev/null | grep -i "noto" > /dev/null || echo "e2e: note: no Noto font found; screenshots may lack Vietnamese glyphs" >&2

echo "== e2e: the settings page in headless Chromium ($("$CHROMIUM" --version 2> /dev/null | head -n 1), node $(node --version))"
exec node "$ROOT/tests/e2e/journey.js"
