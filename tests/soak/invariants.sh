#!/usr/bin/env bash
# invariants.sh: what must hold after a fault, checked by script, not by eye
# (tests/soak/soak.sh runs it after each fault, once the inbox has had its
# recovery time).
#
#   invariants.sh --stack DIR --org ORG --snapshots START END
#                 [--import ORG CUSTOMERS ORDERS] [--orphans N] RECORD...
#
# RECORD files are the load generator's (tests/bench/load.c --record): one
# line per delivery, "unix-time topic id status". START and END are
# soak.sh's snapshots of haravan-fcgi: "role pid rss_kb fds" per process.
#
# The invariants, each named when broken:
#   lost            every delivery that got a 200 is in the inbox
#   duplicates      no delivery is in the inbox twice
#   stuck           no event is pending or processing
#   reason          every dead or ignored event says why
#   missing-crm-row every order and customer of a done event exists
#   crm-twice       every order and customer exists once (Haravan id;
#                   phones and e-mails unique)
#   crm-events      no crm_events row twice for one change, no record
#                   created twice
#   import          (--import) the backfilled shop's customers and orders
#                   are all in the CRM, each once
#   orphans         (--orphans) no worker or processor outlived its master
#   leak-fds, leak-memory  the pool of each role (master, workers,
#                   processors; a killed and replaced process counts with
#                   its pool) holds no more file descriptors than at the
#                   start (the master: one more at most), and its largest
#                   resident set grew by less than 2 MB
# It prints "counts sent= ok= s503= other= none= lost= duplicates=
# other_codes=" (other_codes: status:count,... of the answers neither 200
# nor 503) and
# one "BROKEN: invariant: detail" line per broken invariant, and exits 1
# when any is broken (2 on a usage error).
set -euo pipefail

PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -n 1)}
STACK='' ORG='' START='' END='' IMPORT_ORG='' IMPORT_CUSTOMERS='' IMPORT_ORDERS='' ORPHANS=''
RECORDS=()
while [ $# -gt 0 ]; do
    case $1 in
    --stack) STACK=$2 && shift 2 ;;
    --org) ORG=$2 && shift 2 ;;
    --snapshots) START=$2 END=$3 && shift 3 ;;
    --import) IMPORT_ORG=$2 IMPORT_CUSTOMERS=$3 IMPORT_ORDERS=$4 && shift 4 ;;
    --orphans) ORPHANS=$2 && shift 2 ;;
    *) RECORDS+=("$1") && shift ;;
    esac
done
if [ -z "$STACK" ] || [ -z "$ORG" ] || [ ${#RECORDS[@]} = 0 ]; then
    echo "usage: invariants.sh --stack DIR --org ORG --snapshots START END [--import ORG C O] [--orphans N] RECORD..." >&2
    exit 2
fi
PGHOST=$(sed -n 's/^STACK_PGHOST=//p' "$STACK/stack.env")
BROKEN=0
broken() {
    echo "BROKEN: $1: $2"
    BROKEN=1
}
psql_super() { "$PGBIN/psql" -h "$PGHOST" -U postgres -d haravan -qAt -v ON_ERROR_STOP=1 "$@"; }

# The deliveries, as the load generator saw them, next to the inbox.
ALL=$(mktemp)
trap 'rm -f "$ALL"' EXIT
cat "${RECORDS[@]}" > "$ALL"
# One session: the temporary table lives as long as it.
read -r sent ok s503 other none lost duplicates codes < <(psql_super -v org="$ORG" << SQL
CREATE TEMP TABLE delivered (at numeric, topic text, id text, status int);
\copy delivered FROM '$ALL' WITH (FORMAT text, DELIMITER ' ')
SELECT (SELECT count(*) FROM delivered),
       (SELECT count(*) FROM delivered WHERE status = 200),
       (SELECT count(*) FROM delivered WHERE status = 503),
       (SELECT count(*) FROM delivered WHERE status NOT IN (0, 200, 503)),
       (SELECT count(*) FROM delivered WHERE status = 0),
       (SELECT count(*) FROM delivered d WHERE status = 200 AND NOT EXISTS
           (SELECT 1 FROM hv_events e WHERE e.org_id = :'org' AND e.topic = d.topic
               AND e.resource_id = d.id)),
       (SELECT count(*) FROM (SELECT 1 FROM delivered d JOIN hv_events e ON e.org_id = :'org'
           AND e.topic = d.topic AND e.resource_id = d.id GROUP BY d.topic, d.id
           HAVING count(*) > 1) twice),
       (SELECT coalesce(string_agg(status || ':' || n, ',' ORDER BY status), '-') FROM
           (SELECT status, count(*) AS n FROM delivered WHERE status NOT IN (0, 200, 503)
             GROUP BY status) s)
\g (format=unaligned fieldsep=' ')
SQL
)
echo "counts sent=$sent ok=$ok s503=$s503 other=$other none=$none lost=$lost duplicates=$duplicates other_codes=$codes"
[ "$lost" = 0 ] || broken lost "$lost deliveries answered 200 are not in the inbox"
[ "$duplicates" = 0 ] || broken duplicates "$duplicates deliveries are in the inbox more than once"

# zero NAME DETAIL SQL: the invariant holds when the query counts 0.
zero() {
    local count
    count=$(psql_super -v org="$ORG" -c "$3")
    [ "$count" = 0 ] || broken "$1" "$count $2"
}
zero stuck "events still pending or processing" \
    "SELECT count(*) FROM hv_events WHERE status IN ('pending', 'processing')"
zero reason "dead or ignored events without a reason" \
    "SELECT count(*) FROM hv_events WHERE status IN ('dead', 'ignored') AND coalesce(reason, '') = ''"
zero missing-crm-row "done order events without their order" \
    "SELECT count(*) FROM hv_events e WHERE e.status = 'done' AND e.topic LIKE 'orders/%'
       AND e.resource_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM orders o
       WHERE o.haravan_org_id = e.org_id AND o.haravan_order_id = e.resource_id)"
zero missing-crm-row "done customer events without their customer" \
    "SELECT count(*) FROM hv_events e WHERE e.status = 'done' AND e.topic LIKE 'customers/%'
       AND e.resource_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM customers c
       WHERE c.haravan_org_id = e.org_id AND c.haravan_customer_id = e.resource_id)"
zero crm-twice "orders twice (Haravan id)" \
    "SELECT count(*) FROM (SELECT 1 FROM orders GROUP BY haravan_org_id, haravan_order_id
       HAVING count(*) > 1) twice"
zero crm-twice "customers twice (Haravan id)" \
    "SELECT count(*) FROM (SELECT 1 FROM customers WHERE haravan_customer_id IS NOT NULL
       GROUP BY haravan_org_id, haravan_customer_id HAVING count(*) > 1) twice"
zero crm-twice "phones on two customers" \
    "SELECT count(*) FROM (SELECT 1 FROM customers WHERE phone IS NOT NULL GROUP BY phone
       HAVING count(*) > 1) twice"
zero crm-twice "e-mails on two customers" \
    "SELECT count(*) FROM (SELECT 1 FROM customers WHERE email IS NOT NULL GROUP BY lower(email)
       HAVING count(*) > 1) twice"
zero crm-events "crm_events rows written twice for one change" \
    "SELECT count(*) FROM (SELECT 1 FROM crm_events GROUP BY type, entity_id,
       payload->>'hv_event_id' HAVING count(*) > 1) twice"
zero crm-events "records created twice (order.created or customer.created)" \
    "SELECT count(*) FROM (SELECT 1 FROM crm_events WHERE type IN ('order.created',
       'customer.created') GROUP BY type, entity_id HAVING count(*) > 1) twice"

if [ -n "$IMPORT_ORG" ]; then
    customers=$(psql_super -c "SELECT count(*) FROM customers WHERE haravan_org_id = '$IMPORT_ORG'")
    orders=$(psql_super -c "SELECT count(*) FROM orders WHERE haravan_org_id = '$IMPORT_ORG'")
    [ "$customers" = "$IMPORT_CUSTOMERS" ] ||
        broken import "the CRM holds $customers of the shop's $IMPORT_CUSTOMERS customers"
    [ "$orders" = "$IMPORT_ORDERS" ] ||
        broken import "the CRM holds $orders of the shop's $IMPORT_ORDERS orders"
fi

if [ -n "$ORPHANS" ] && [ "$ORPHANS" != 0 ]; then
    broken orphans "$ORPHANS workers or processors still alive after their master was killed"
fi

# The pools: the largest resident set and the most descriptors per role.
if [ -n "$START" ]; then
    while read -r role rss_start rss_end fds_start fds_end; do
        slack=0
        [ "$role" = master ] && slack=1
        [ "$fds_end" -le $((fds_start + slack)) ] ||
            broken leak-fds "$role: at most $fds_start descriptors at the start, $fds_end at the end"
        [ "$rss_end" -lt $((rss_start + 2048)) ] ||
            broken leak-memory "$role: largest resident set ${rss_start} kB at the start, ${rss_end} kB at the end"
    done < <(awk 'FNR == 1 { file++ }
        { if ($3 > rss[file, $1]) rss[file, $1] = $3; if ($4 > fds[file, $1]) fds[file, $1] = $4; roles[$1] = 1 }
        END { for (r in roles) if ((1, r) in rss && (2, r) in rss)
            print r, rss[1, r], rss[2, r], fds[1, r], fds[2, r] }' "$START" "$END")
fi
exit "$BROKEN"
