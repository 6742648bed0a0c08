-- processing-data.sql: the data of tests/bench/processing.sh (issue #3).
--
-- psql variables: backlog (orders, even), org (org id), sample (the text of
-- a real Haravan order webhook, tests/data/samples/...captured.json).
--
-- Made once, in SQL, so that 20,000 payloads cost seconds and every row of
-- the benchmark starts from the same bytes:
--   bench_seed_customers   the CRM's customers before the backlog: one per
--                          repeat order (backlog / 2), customer k with phone
--                          039 + k in 7 digits and customerK@mail.bench.vn;
--   bench_backlog          the hv_events rows of the backlog: the sample with
--                          its own order id, updated_at, customer, 3 line
--                          items, 2 transactions (a pending one and the
--                          capture, as in the sample), address;
--   bench_process_input    for pgbench only: the values the C code reads out
--                          of each payload (crm_payload_*), so that pgbench can
--                          send the same statements with the same values
--                          without parsing JSON. '' stands for NULL (pgbench
--                          variables cannot hold NULL; the script nullifs).
-- and the procedure bench_reset(), which puts the CRM tables and the inbox
-- back to "backlog pending, nothing processed" before each row.
--
-- Odd n: a new person (phone 09 + n, buyerN@mail.bench.vn, never seen).
-- Even n: the repeat customer k = n / 2 of bench_seed_customers, recognised
-- by phone or email written another way (k % 6):
--   0 "+84 39 xxx xxxx"   1 "039.xxx.xxxx"   2 "0169 xxxxxxx" (the pre-2018 11 digits)
--   3 "CUSTOMERk@MAIL.BENCH.VN"   4 " Customerk@Mail.Bench.VN "   5 "customerk@MAIL.bench.vn"
-- A repeat order carries only the phone or only the email, so it must be
-- matched by that one; it also brings the Haravan customer id and a note,
-- which the CRM record lacks, so every match is an update
-- (customer.updated), as for a person first entered in the CRM by hand.
\set ON_ERROR_STOP on

CREATE TABLE bench_seed_customers AS
SELECT k,
       'Trần Thị Lan ' || k AS name,
       '039' || lpad(k::text, 7, '0') AS phone,
       'customer' || k || '@mail.bench.vn' AS email,
       (k % 300 + 1) || ' Tràng Tiền' AS address,
       'Hà Nội' AS province
FROM generate_series(1, :backlog / 2) AS k;

CREATE TABLE bench_orders AS
WITH base AS (
    SELECT n, n % 2 = 1 AS is_new, n / 2 AS k, (n / 2) % 6 AS variant,
           timestamp '2024-03-01 00:00:00' + n * interval '1 second' AS created
    FROM generate_series(1, :backlog) AS n
)
SELECT n, is_new,
       3000000000 + n AS order_id,
       4000000000 + n AS customer_id,
       '#' || (100000 + n) AS code,
       to_char(created, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at,
       to_char(created + interval '30 seconds', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS paid_at,
       to_char(created + interval '60 seconds', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS updated_at,
       CASE WHEN is_new THEN 'Minh ' || n ELSE 'Lan ' || k END AS first_name,
       CASE WHEN is_new THEN 'Nguyễn' ELSE 'Trần Thị' END AS last_name,
       -- as Haravan sends them
       CASE WHEN is_new THEN '09' || lpad(n::text, 8, '0')
            WHEN variant = 0 THEN '+84 39 ' || substr(lpad(k::text, 7, '0'), 1, 3) || ' '
                                  || substr(lpad(k::text, 7, '0'), 4)
            WHEN variant = 1 THEN '039.' || substr(lpad(k::text, 7, '0'), 1, 3) || '.'
                                  || substr(lpad(k::text, 7, '0'), 4)
            WHEN variant = 2 THEN '0169 ' || lpad(k::text, 7, '0')
       END AS phone_sent,
       CASE WHEN is_new THEN 'buyer' || n || '@mail.bench.vn'
            WHEN variant = 3 THEN 'CUSTOMER' || k || '@MAIL.BENCH.VN'
            WHEN variant = 4 THEN ' Customer' || k || '@Mail.Bench.VN '
            WHEN variant = 5 THEN 'customer' || k || '@MAIL.bench.vn'
       END AS email_sent,
       -- as the CRM keeps them (lib/core/phone.c, crm_customer_normalise_email)
       CASE WHEN is_new THEN '09' || lpad(n::text, 8, '0')
            WHEN variant < 3 THEN '039' || lpad(k::text, 7, '0') END AS phone,
       CASE WHEN is_new THEN 'buyer' || n || '@mail.bench.vn'
            WHEN variant >= 3 THEN 'customer' || k || '@mail.bench.vn' END AS email,
       (n % 200 + 1) || ' Lê Lợi' AS address1,
       1 + n % 3 AS third_quantity
FROM base;

-- The three line items: the sample's, with other products beside it.
CREATE TABLE bench_items AS
SELECT o.n, i.position,
       5000000000 + 3 * o.n + i.position AS line_item_id,
       1035974156 + i.position AS product_id,
       1079017264 + i.position AS variant_id,
       i.title, i.variant_title, i.price,
       CASE WHEN i.position = 3 THEN o.third_quantity ELSE i.position END AS quantity
FROM bench_orders o
CROSS JOIN (VALUES (1, 'Đồng hồ thông minh smartwatch DZ09', 'Nâu', 980000),
                   (2, 'Tai nghe Bluetooth i12', 'Trắng', 250000),
                   (3, 'Cáp sạc USB-C 1m', 'Đen', 45000)) AS i (position, title, variant_title, price);

CREATE TABLE bench_totals AS
SELECT n, sum(price * quantity) AS total FROM bench_items GROUP BY n;

CREATE TABLE bench_backlog AS
WITH sample AS (SELECT :'sample'::jsonb AS j),
address AS (
    SELECT o.n, (SELECT j -> 'billing_address' FROM sample)
           || jsonb_build_object('address1', o.address1, 'province', 'Hồ Chí Minh',
                                 'district', 'Quận 1', 'ward', 'Phường Bến Nghé') AS a
    FROM bench_orders o
),
items AS (
    SELECT i.n, jsonb_agg((SELECT j -> 'line_items' -> 0 FROM sample)
           || jsonb_build_object('id', i.line_item_id, 'product_id', i.product_id,
                                 'variant_id', i.variant_id, 'title', i.title,
                                 'variant_title', i.variant_title,
                                 'name', i.title || ' - ' || i.variant_title,
                                 'price', i.price, 'price_original', i.price,
                                 'quantity', i.quantity, 'fulfillable_quantity', i.quantity)
           ORDER BY i.position) AS lines
    FROM bench_items i GROUP BY i.n
),
bodies AS (
    SELECT o.n, o.order_id, o.updated_at,
           (SELECT j FROM sample) || jsonb_build_object(
               'id', o.order_id, 'number', o.order_id, 'name', o.code, 'order_number', o.code,
               'created_at', o.created_at, 'updated_at', o.updated_at,
               'email', o.email_sent, 'contact_email', o.email_sent,
               'total_price', t.total, 'subtotal_price', t.total,
               'total_line_items_price', t.total,
               'billing_address', a.a, 'shipping_address', a.a,
               'customer', (SELECT j -> 'customer' FROM sample) || jsonb_build_object(
                   'id', o.customer_id, 'first_name', o.first_name, 'last_name', o.last_name,
                   'phone', o.phone_sent, 'email', o.email_sent,
                   'updated_at', '2024-02-01T08:00:00Z'),
               'line_items', items.lines,
               'transactions', jsonb_build_array(
                   (SELECT j -> 'transactions' -> 0 FROM sample) || jsonb_build_object(
                       'id', 6000000000 + 2 * o.n, 'order_id', o.order_id, 'amount', t.total,
                       'created_at', o.created_at),
                   (SELECT j -> 'transactions' -> 1 FROM sample) || jsonb_build_object(
                       'id', 6000000001 + 2 * o.n, 'order_id', o.order_id, 'amount', t.total,
                       'created_at', o.paid_at))) AS body
    FROM bench_orders o
    JOIN bench_totals t USING (n)
    JOIN address a USING (n)
    JOIN items USING (n)
)
SELECT n AS id, :'org'::text AS org_id, 'orders/create'::text AS topic,
       order_id::text AS resource_id, updated_at AS resource_updated_at,
       'v1:' || :'org' || ':orders/create:' || order_id || ':' || updated_at AS dedupe_key,
       jsonb_build_object('Content-Type', 'application/json', 'X-Haravan-Topic', 'orders/create',
                          'X-Haravan-Org-Id', :'org', 'User-Agent', 'haravan-bench') AS headers,
       convert_to(body::text, 'UTF8') AS body
FROM bodies;

-- What crm_payload_order / crm_payload_customer make of each body.
CREATE TABLE bench_process_input AS
SELECT o.n AS event_id,
       CASE WHEN o.is_new THEN 1 ELSE 0 END AS is_new,
       o.customer_id::text AS c_haravan_id,
       o.last_name || ' ' || o.first_name AS c_name,
       coalesce(o.phone, '') AS c_phone,
       coalesce(o.email, '') AS c_email,
       'haipb' AS c_note,
       o.address1 AS c_address,
       'Hồ Chí Minh' AS c_province, 'Quận 1' AS c_district, 'Phường Bến Nghé' AS c_ward,
       '2024-02-01T08:00:00Z' AS c_updated_at,
       o.order_id::text AS o_id, o.code AS o_code,
       to_char(t.total, 'FM999999999990.00') AS o_total,
       o.address1 || ', Phường Bến Nghé, Quận 1, Hồ Chí Minh' AS o_shipping,
       o.created_at AS o_ordered_at, o.updated_at AS o_updated_at,
       i1.product_id::text AS i1_product, i1.variant_id::text AS i1_variant,
       i1.title || ' - ' || i1.variant_title AS i1_name, i1.quantity AS i1_quantity,
       to_char(i1.price, 'FM999999999990.00') AS i1_price, i1.line_item_id::text AS i1_line,
       i2.product_id::text AS i2_product, i2.variant_id::text AS i2_variant,
       i2.title || ' - ' || i2.variant_title AS i2_name, i2.quantity AS i2_quantity,
       to_char(i2.price, 'FM999999999990.00') AS i2_price, i2.line_item_id::text AS i2_line,
       i3.product_id::text AS i3_product, i3.variant_id::text AS i3_variant,
       i3.title || ' - ' || i3.variant_title AS i3_name, i3.quantity AS i3_quantity,
       to_char(i3.price, 'FM999999999990.00') AS i3_price, i3.line_item_id::text AS i3_line,
       (6000000001 + 2 * o.n)::text AS p_transaction, o.paid_at AS p_paid_at,
       'Chuyển khoản qua ngân hàng' AS p_method,
       'haravan_draft_order' AS o_channel, 'new orders' AS o_note,
       -- the order's user_id, and haravan/staff.c's HV_STAFF_CACHE_SECONDS
       '200000905615' AS staff_id, 86400 AS staff_max_age
FROM bench_orders o
JOIN bench_totals t USING (n)
JOIN bench_items i1 ON i1.n = o.n AND i1.position = 1
JOIN bench_items i2 ON i2.n = o.n AND i2.position = 2
JOIN bench_items i3 ON i3.n = o.n AND i3.position = 3;
ALTER TABLE bench_process_input ADD PRIMARY KEY (event_id);

DROP TABLE bench_items, bench_totals;

-- Back to "the backlog is pending, nothing processed": the CRM tables
-- empty but for the seeded customers and the staff member, the inbox
-- exactly the backlog. Identities restart, so event ids are 1..backlog.
CREATE PROCEDURE bench_reset()
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE crm_events, payments, order_items, orders, order_sources, customers, hv_events
        RESTART IDENTITY;
    -- The shop's channel is known already, as in a CRM that has been
    -- running: two processes meeting a new channel at once race in
    -- processor.c's source_for (docs/PERFORMANCE.md).
    INSERT INTO order_sources (name, haravan_channel)
    VALUES ('haravan_draft_order', 'haravan_draft_order');
    INSERT INTO customers (name, phone, email, address, province, source, created_at)
    SELECT name, phone, email, address, province, 'crm', now() - interval '1 year'
    FROM bench_seed_customers ORDER BY k;
    -- Each event as the intake stores it (lib/haravan/inbox.c): with its
    -- body's digest and the resource and version the processors claim by.
    INSERT INTO hv_events (id, org_id, topic, resource_id, resource_updated_at, dedupe_key,
                           headers, body, body_sha256, status, resource, resource_version)
    SELECT id, org_id, topic, resource_id, resource_updated_at, dedupe_key, headers, body,
           sha256(body), 'pending',
           split_part(topic, '/', 1) || ':' || org_id || ':' || resource_id,
           hv_timestamptz(resource_updated_at)
    FROM bench_backlog ORDER BY id;
    PERFORM setval('hv_events_id_seq', (SELECT max(id) FROM hv_events));
END $$;

-- What a row wrote, table by table, as one md5 each, without the ids that
-- depend on the order in which concurrent transactions committed: the C
-- code's rows and pgbench's must be equal, value for value.
CREATE FUNCTION bench_digest() RETURNS text
LANGUAGE sql STABLE AS $$
SELECT concat_ws(' ',
    'customers=' || (SELECT md5(coalesce(string_agg(r, E'\n' ORDER BY r), '')) FROM (
        SELECT concat_ws('|', name, phone, email, gender, birthday, description, address,
                         province, district, ward, owner_id, source, haravan_org_id,
                         haravan_customer_id, phone_raw, email_raw, haravan_updated_at) AS r
        FROM customers) AS t),
    'orders=' || (SELECT md5(coalesce(string_agg(r, E'\n' ORDER BY r), '')) FROM (
        SELECT concat_ws('|', o.haravan_org_id, o.haravan_order_id, o.code,
                         c.phone, c.email, c.haravan_customer_id, o.executor_id, o.source_id,
                         o.channel, o.payment_status, o.status, o.total, o.currency,
                         o.shipping_address, o.note, o.ordered_at, o.haravan_updated_at) AS r
        FROM orders o LEFT JOIN customers c ON c.id = o.customer_id) AS t),
    'items=' || (SELECT md5(coalesce(string_agg(r, E'\n' ORDER BY r), '')) FROM (
        SELECT concat_ws('|', o.haravan_order_id, i.product_id, i.variant_id, i.sku, i.name,
                         i.quantity, i.price, i.discount, i.haravan_line_item_id) AS r
        FROM order_items i JOIN orders o ON o.id = i.order_id) AS t),
    'payments=' || (SELECT md5(coalesce(string_agg(r, E'\n' ORDER BY r), '')) FROM (
        SELECT concat_ws('|', o.haravan_order_id, p.amount, p.method, p.paid_at,
                         p.haravan_transaction_id) AS r
        FROM payments p JOIN orders o ON o.id = p.order_id) AS t),
    'crm_events=' || (SELECT md5(coalesce(string_agg(r, E'\n' ORDER BY r), '')) FROM (
        SELECT concat_ws('|', e.type, e.payload ->> 'haravan_org_id', e.payload ->> 'haravan_id',
                         e.payload ->> 'hv_event_id', (e.payload ->> 'id')::bigint = e.entity_id,
                         coalesce(c.haravan_customer_id, o.haravan_order_id)) AS r
        FROM crm_events e
        LEFT JOIN customers c ON e.type LIKE 'customer.%' AND c.id = e.entity_id
        LEFT JOIN orders o ON e.type LIKE 'order.%' AND o.id = e.entity_id) AS t),
    'hv_events=' || (SELECT md5(coalesce(string_agg(r, E'\n' ORDER BY r), '')) FROM (
        SELECT concat_ws('|', id, status, reason, notes, attempts) AS r FROM hv_events) AS t))
$$;
