-- process-order.sql: one orders/create event processed by PostgreSQL alone,
-- for tests/bench/processing.sh (issue #3).
--
-- The statements lib/crm/processor.c (with customer.c, order.c and
-- haravan/staff.c) sends for one order of the backlog, in the same order,
-- with the same text but for what is listed below, the same values, in the
-- same transaction, as seen
-- with log_statement = all on a run of the C code (docs/PERFORMANCE.md
-- lists them). Not here: the C code's own work (JSON parsing, building the
-- inputs, libpq). processing.sh runs it with -M prepared (each statement
-- parsed once per session, as lib/core/db.c prepares them since issue #10),
-- or with BENCH_PGBENCH_MODE=extended parsed and planned each time, as
-- PQexecParams made PostgreSQL do before.
--
-- The order's items and its automation events are one statement each, with
-- arrays and unnest(), as lib/crm/order.c and processor.c send them
-- (core/sql_array.h); the C code passes the arrays as parameters, the script
-- writes them with ARRAY[...] of its variables. One event per transaction:
-- the processors commit up to 16 events at once (with a savepoint each),
-- which pgbench does not; the end-to-end row shows what that is worth.
--
-- What differs, and why it does not favour pgbench:
-- - The values come from bench_process_input (what crm_payload_* reads out
--   of each body), joined into the first statement, which the C code uses
--   to read the event row and its body: one index lookup more, in the same
--   round trip.
-- - pgbench variables cannot be NULL: where the C code sends a phone or an
--   email or NULL, the script sends nullif(:value, ''); where it always
--   sends NULL for this data (gender, birthday, sku, raw phone/email,
--   reason, notes), the script writes NULL. Constants the C code sends as
--   parameters ('paid', 'open', 'VND', 'done', the event types) are written
--   in; the repeat customer's match names its columns for \gset.
-- - New person or repeat customer is read from the input (is_new), where
--   the C code decides from the match; processing.sh checks afterwards that
--   pgbench wrote exactly the rows the C code wrote.
--
-- Each client takes the events first + client_id + clients * seq, seq
-- counting its own transactions from 0 (-D first=, clients=, seq=0), which
-- is how the C driver shares them among its processes.
\set event :first + :client_id + :clients * :seq
\set seq :seq + 1
SELECT e.topic, coalesce(e.org_id, '') AS org, e.status = 'pending' AS pending, e.body, i.*
FROM hv_events e JOIN bench_process_input i ON i.event_id = e.id WHERE e.id = :event::bigint
\gset
SELECT email AS staff_email, coalesce(missing, '') AS staff_missing, fetched_at > now() - make_interval(secs => :staff_max_age::int) AS staff_fresh FROM hv_staff WHERE org_id = :org AND user_id = :staff_id
\gset
SELECT id AS executor_id FROM crm_users WHERE lower(email) = lower(btrim(:staff_email)) AND active
\gset
BEGIN;
SELECT 1 FROM hv_events WHERE id = :event::bigint AND status = 'pending' FOR UPDATE SKIP LOCKED;
\if :is_new
SELECT id, coalesce(haravan_org_id = :org::text AND haravan_customer_id = :c_haravan_id::text, false), coalesce(phone = nullif(:c_phone, '')::text, false), coalesce(email = nullif(:c_email, '')::text, false), coalesce(haravan_updated_at > hv_timestamptz(:c_updated_at::text), false) FROM customers WHERE (haravan_org_id = :org::text AND haravan_customer_id = :c_haravan_id::text) OR phone = nullif(:c_phone, '')::text OR email = nullif(:c_email, '')::text ORDER BY id FOR UPDATE;
INSERT INTO customers (name, phone, email, gender, birthday, description, address, province, district, ward, owner_id, source, haravan_org_id, haravan_customer_id, phone_raw, email_raw, haravan_updated_at) VALUES (:c_name::text, nullif(:c_phone, '')::text, nullif(:c_email, '')::text, NULL::text, hv_date_in_vietnam(NULL::text), :c_note::text, :c_address::text, :c_province::text, :c_district::text, :c_ward::text, nullif(:executor_id::text, '0')::bigint, 'haravan', :org::text, :c_haravan_id::text, NULL::text, NULL::text, hv_timestamptz(:c_updated_at::text)) RETURNING id AS customer_id
\gset
WITH inserted AS (INSERT INTO crm_events (type, entity_id, payload) SELECT type, :customer_id::bigint, jsonb_build_object('id', :customer_id::bigint, 'haravan_org_id', :org::text, 'haravan_id', :c_haravan_id::text, 'hv_event_id', :event::bigint) FROM unnest(ARRAY['customer.created']::text[]) WITH ORDINALITY AS event(type, place) ORDER BY place RETURNING id) SELECT pg_notify('crm_events', id::text) FROM inserted ORDER BY id;
\else
SELECT id AS customer_id, coalesce(haravan_org_id = :org::text AND haravan_customer_id = :c_haravan_id::text, false) AS by_haravan, coalesce(phone = nullif(:c_phone, '')::text, false) AS by_phone, coalesce(email = nullif(:c_email, '')::text, false) AS by_email, coalesce(haravan_updated_at > hv_timestamptz(:c_updated_at::text), false) AS stored_is_newer FROM customers WHERE (haravan_org_id = :org::text AND haravan_customer_id = :c_haravan_id::text) OR phone = nullif(:c_phone, '')::text OR email = nullif(:c_email, '')::text ORDER BY id FOR UPDATE
\gset
UPDATE customers SET name = CASE WHEN name = '' THEN coalesce(:c_name::text, '') ELSE name END, phone = coalesce(phone, nullif(:c_phone, '')::text), email = coalesce(email, nullif(:c_email, '')::text), gender = coalesce(gender, NULL::text), birthday = coalesce(birthday, hv_date_in_vietnam(NULL::text)), description = coalesce(nullif(description, ''), :c_note::text), address = coalesce(nullif(address, ''), :c_address::text), province = coalesce(nullif(province, ''), :c_province::text), district = coalesce(nullif(district, ''), :c_district::text), ward = coalesce(nullif(ward, ''), :c_ward::text), haravan_org_id = coalesce(haravan_org_id, :org::text), haravan_customer_id = coalesce(haravan_customer_id, :c_haravan_id::text), phone_raw = coalesce(phone_raw, NULL::text), email_raw = coalesce(email_raw, NULL::text), haravan_updated_at = greatest(haravan_updated_at, hv_timestamptz(:c_updated_at::text)), updated_at = now() WHERE id = :customer_id::bigint AND (  (name = '' AND coalesce(:c_name::text, '') <> '') OR (phone IS NULL AND nullif(:c_phone, '')::text IS NOT NULL)  OR (email IS NULL AND nullif(:c_email, '')::text IS NOT NULL) OR (gender IS NULL AND NULL::text IS NOT NULL)  OR (birthday IS NULL AND hv_date_in_vietnam(NULL::text) IS NOT NULL)  OR (coalesce(description, '') = '' AND :c_note::text IS NOT NULL)  OR (coalesce(address, '') = '' AND :c_address::text IS NOT NULL)  OR (coalesce(province, '') = '' AND :c_province::text IS NOT NULL)  OR (coalesce(district, '') = '' AND :c_district::text IS NOT NULL)  OR (coalesce(ward, '') = '' AND :c_ward::text IS NOT NULL)  OR (haravan_customer_id IS NULL AND :c_haravan_id::text IS NOT NULL)) RETURNING id;
WITH inserted AS (INSERT INTO crm_events (type, entity_id, payload) SELECT type, :customer_id::bigint, jsonb_build_object('id', :customer_id::bigint, 'haravan_org_id', :org::text, 'haravan_id', :c_haravan_id::text, 'hv_event_id', :event::bigint) FROM unnest(ARRAY['customer.updated']::text[]) WITH ORDINALITY AS event(type, place) ORDER BY place RETURNING id) SELECT pg_notify('crm_events', id::text) FROM inserted ORDER BY id;
\endif
WITH added AS (INSERT INTO order_sources (name, haravan_channel) VALUES (:o_channel, :o_channel) ON CONFLICT (haravan_channel) DO NOTHING RETURNING id) SELECT id AS source_id FROM added UNION ALL SELECT id FROM order_sources WHERE haravan_channel = :o_channel
\gset
SELECT id, payment_status, status, coalesce(haravan_updated_at < hv_timestamptz(:o_updated_at::text), hv_timestamptz(:o_updated_at::text) IS NOT NULL          OR haravan_updated_at IS NULL), coalesce(haravan_updated_at = hv_timestamptz(:o_updated_at::text), false) FROM orders WHERE haravan_org_id = :org::text AND haravan_order_id = :o_id::text FOR UPDATE;
INSERT INTO orders (haravan_org_id, haravan_order_id, code, customer_id, executor_id, source_id, channel, payment_status, status, total, currency, shipping_address, note, ordered_at, haravan_updated_at) VALUES (:org::text, :o_id::text, :o_code::text, nullif(:customer_id::text, '0')::bigint, nullif(:executor_id::text, '0')::bigint, nullif(:source_id::text, '0')::bigint, :o_channel::text, 'paid'::text, 'open'::text, :o_total::numeric, 'VND'::text, :o_shipping::text, :o_note::text, hv_timestamptz(:o_ordered_at::text), hv_timestamptz(:o_updated_at::text)) RETURNING id AS order_id
\gset
INSERT INTO order_items (order_id, product_id, variant_id, sku, name, quantity, price, discount, haravan_line_item_id) SELECT :order_id::bigint, product, variant, sku, name, quantity::integer, price::numeric, discount::numeric, line FROM unnest(ARRAY[:i1_product, :i2_product, :i3_product]::text[], ARRAY[:i1_variant, :i2_variant, :i3_variant]::text[], ARRAY[NULL, NULL, NULL]::text[], ARRAY[:i1_name, :i2_name, :i3_name]::text[], ARRAY[:i1_quantity, :i2_quantity, :i3_quantity]::text[], ARRAY[:i1_price, :i2_price, :i3_price]::text[], ARRAY['0.00', '0.00', '0.00']::text[], ARRAY[:i1_line, :i2_line, :i3_line]::text[]) WITH ORDINALITY AS item(product, variant, sku, name, quantity, price, discount, line, place) ORDER BY place;
INSERT INTO payments (order_id, amount, method, paid_at, haravan_transaction_id) VALUES (:order_id::bigint, :o_total::numeric, :p_method::text, hv_timestamptz(:p_paid_at::text), :p_transaction::text) ON CONFLICT (order_id, haravan_transaction_id) DO NOTHING RETURNING id;
WITH inserted AS (INSERT INTO crm_events (type, entity_id, payload) SELECT type, :order_id::bigint, jsonb_build_object('id', :order_id::bigint, 'haravan_org_id', :org::text, 'haravan_id', :o_id::text, 'hv_event_id', :event::bigint) FROM unnest(ARRAY['order.created', 'order.paid']::text[]) WITH ORDINALITY AS event(type, place) ORDER BY place RETURNING id) SELECT pg_notify('crm_events', id::text) FROM inserted ORDER BY id;
UPDATE hv_events SET status = 'done', reason = NULL, notes = NULL, attempts = attempts + 1, processed_at = now() WHERE id = :event::bigint AND status = 'pending';
COMMIT;
