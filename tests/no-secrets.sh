#!/usr/bin/env bash
# no-secrets.sh STACK_DIR: the last step of `make test` (tests/run-tests.sh).
# Searches everything the whole test run left behind for every secret it
# used, and fails naming the file and line of each find, never the secret.
#
# Where it looks: every file under STACK_DIR/log (nginx's access and error
# logs, haravan-fcgi's and host2's, the simulator's, PostgreSQL's, the
# migrations') and the replies the integration tests saved
# ($HARAVAN_TEST_RESPONSES: status, Location and body of each).
#
# What it looks for:
# - the master key (STACK_DIR/master.key) and the stack's own secrets from
#   stack.env (the simulator app's client secret, its seeded token, the CRM
#   sign-in cookie);
# - every access and refresh token the simulator issued
#   ($HARAVAN_SIM_ISSUED_FILE, written by tests/sim/oidc.c);
# - the secrets the tests declare with it_secret_used()
#   ($HARAVAN_TEST_SECRETS) and every `#define` in tests/integration whose
#   name says secret, password or token (verify tokens excepted: Haravan
#   sends those in the handshake's URL, by design);
# and, in URLs (request lines of the access logs that were answered below
# 400, Location headers of the saved replies), any access_token=,
# refresh_token=, id_token=, code_verifier= or client_secret= parameter,
# whatever its value.
set -euo pipefail

STACK=${1:?usage: no-secrets.sh STACK_DIR}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

secrets=$(mktemp)
trap 'rm -f "$secrets"' EXIT

env_value() { sed -n "s/^$1=//p" "$STACK/stack.env" | tail -n 1 | sed "s/^'\\(.*\\)'\$/\\1/"; }

{
    tr -d '[:space:]' < "$STACK/master.key"; echo
    for name in HARAVAN_SIM_CLIENT_SECRET HARAVAN_SIM_TOKEN STACK_CRM_ADMIN_COOKIE; do
        env_value "$name"
    done
    [ -n "${HARAVAN_SIM_ISSUED_FILE:-}" ] && [ -f "$HARAVAN_SIM_ISSUED_FILE" ] && cat "$HARAVAN_SIM_ISSUED_FILE"
    [ -n "${HARAVAN_TEST_SECRETS:-}" ] && [ -f "$HARAVAN_TEST_SECRETS" ] && cat "$HARAVAN_TEST_SECRETS"
    sed -n -E 's/^#define [A-Z_]*(SECRET|PASSWORD|TOKEN_[A-Z])[A-Z_]* +"(.*)"$/\2/p' \
        "$ROOT"/tests/integration/*.c
} | awk 'length($0) >= 8' | sort -u > "$secrets"

files=()
while IFS= read -r -d '' file; do files+=("$file"); done \
    < <(find -L "$STACK/log" -type f -print0)
[ -n "${HARAVAN_TEST_RESPONSES:-}" ] && [ -f "$HARAVAN_TEST_RESPONSES" ] && files+=("$HARAVAN_TEST_RESPONSES")

found=0
count=0
while IFS= read -r secret; do
    count=$((count + 1))
    # -o prints the match after file:line:; cut keeps only file:line.
    hits=$(grep -n -o -F -e "$secret" -- "${files[@]}" 2>/dev/null | cut -d: -f1-2 | sort -u || true)
    if [ -n "$hits" ]; then
        echo "no-secrets: secret #$count of $(wc -l < "$secrets") (${#secret} characters) found in:" >&2
        echo "$hits" | sed 's/^/  /' >&2
        found=1
    fi
done < "$secrets"

url_secret='[?&](access_token|refresh_token|id_token|code_verifier|client_secret)='
for log in "$STACK"/log/nginx-access*.log; do
    [ -f "$log" ] || continue
    # Only requests that were answered, not refused: test_connect.c sends
    # the callbacks a GET with a code and id_token in the query on purpose,
    # and they answer 405 (form_post only); that URL is the client's doing.
    hits=$(grep -n -E "\"[A-Z]+ [^ \"]*$url_secret[^\"]*\" [123][0-9][0-9] " "$log" | cut -d: -f1 || true)
    if [ -n "$hits" ]; then
        echo "no-secrets: a token in a request URL in $log, lines: $(echo $hits)" >&2
        found=1
    fi
done
if [ -n "${HARAVAN_TEST_RESPONSES:-}" ] && [ -f "$HARAVAN_TEST_RESPONSES" ]; then
    hits=$(grep -n -i -E "^Location: .*$url_secret" "$HARAVAN_TEST_RESPONSES" | cut -d: -f1 || true)
    if [ -n "$hits" ]; then
        echo "no-secrets: a token in a Location header, $HARAVAN_TEST_RESPONSES lines: $(echo $hits)" >&2
        found=1
    fi
fi

echo "== no-secrets: $count secrets looked for in ${#files[@]} files: $([ $found = 0 ] && echo none found || echo FOUND)"
exit $found
