-- dedupe-match.sql: the dedupe lookup alone, customer.c's match_sql, for
-- tests/bench/processing.sh (issue #3). As dedupe-lookup.sql without the
-- fill: the query whose cost must not grow much with the customers table.
\set k random(1, :customers)
\set by_phone random(0, 1)
\if :by_phone
SELECT id, coalesce(haravan_org_id = :org::text AND haravan_customer_id = NULL::text, false), coalesce(phone = ('039' || lpad(:k::text, 7, '0'))::text, false), coalesce(email = NULL::text, false), coalesce(haravan_updated_at > hv_timestamptz(NULL::text), false) FROM customers WHERE (haravan_org_id = :org::text AND haravan_customer_id = NULL::text) OR phone = ('039' || lpad(:k::text, 7, '0'))::text OR email = NULL::text ORDER BY id FOR UPDATE;
\else
SELECT id, coalesce(haravan_org_id = :org::text AND haravan_customer_id = NULL::text, false), coalesce(phone = NULL::text, false), coalesce(email = ('customer' || :k || '@mail.bench.vn')::text, false), coalesce(haravan_updated_at > hv_timestamptz(NULL::text), false) FROM customers WHERE (haravan_org_id = :org::text AND haravan_customer_id = NULL::text) OR phone = NULL::text OR email = ('customer' || :k || '@mail.bench.vn')::text ORDER BY id FOR UPDATE;
\endif
