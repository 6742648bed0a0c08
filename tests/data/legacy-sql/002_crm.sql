-- 002: the tables the CRM reads (docs/CONTRACT.md, "Tables the CRM reads"), and
-- what the connector needs beside them to fill them.
--
-- In production crm_users, customers, orders, ... are the CRM's own tables;
-- this migration creates them for the local stack and the tests with exactly
-- the columns the contract names, plus a few the connector owns (marked).

CREATE TABLE crm_users (
    id         bigserial PRIMARY KEY,
    email      text NOT NULL,
    name       text NOT NULL DEFAULT '',
    active     boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX crm_users_email ON crm_users (lower(email));

CREATE TABLE customers (
    id                  bigserial PRIMARY KEY,
    name                text NOT NULL DEFAULT '',
    phone               text,          -- canonical (lib/core/phone.h), unique
    email               text,          -- trimmed, lower case, unique
    gender              text CHECK (gender IN ('male', 'female')),
    birthday            date,
    description         text,
    address             text,
    province            text,
    district            text,
    ward                text,
    owner_id            bigint REFERENCES crm_users (id),
    source              text NOT NULL DEFAULT 'haravan',
    haravan_org_id      text,
    haravan_customer_id text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- The connector's: what Haravan sent when it was not usable to match
    -- (a junk phone, a placeholder email), kept so nothing is lost.
    phone_raw           text,
    email_raw           text,
    haravan_updated_at  timestamptz
);
CREATE UNIQUE INDEX customers_phone ON customers (phone) WHERE phone IS NOT NULL;
CREATE UNIQUE INDEX customers_email ON customers (email) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX customers_haravan ON customers (haravan_org_id, haravan_customer_id)
    WHERE haravan_customer_id IS NOT NULL;

CREATE TABLE order_sources (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL,
    haravan_channel text NOT NULL UNIQUE
);

CREATE TABLE orders (
    id                 bigserial PRIMARY KEY,
    haravan_org_id     text NOT NULL,
    haravan_order_id   text NOT NULL,
    code               text NOT NULL DEFAULT '',
    customer_id        bigint REFERENCES customers (id),
    executor_id        bigint REFERENCES crm_users (id),
    source_id          bigint REFERENCES order_sources (id),
    channel            text,
    payment_status     text NOT NULL DEFAULT 'unpaid'
        CHECK (payment_status IN ('paid', 'unpaid', 'partially_paid', 'refunded', 'voided')),
    status             text NOT NULL DEFAULT 'open',
    total              numeric(18, 2) NOT NULL DEFAULT 0,
    currency           text NOT NULL DEFAULT 'VND',
    shipping_address   text,
    note               text,
    ordered_at         timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    -- The connector's: the version of the order this row reflects.
    haravan_updated_at timestamptz,
    UNIQUE (haravan_org_id, haravan_order_id)
);
CREATE INDEX orders_customer ON orders (customer_id);

CREATE TABLE order_items (
    id                   bigserial PRIMARY KEY,
    order_id             bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id           text,
    variant_id           text,
    sku                  text,
    name                 text NOT NULL DEFAULT '',
    quantity             integer NOT NULL,
    price                numeric(18, 2) NOT NULL DEFAULT 0,
    discount             numeric(18, 2) NOT NULL DEFAULT 0,
    haravan_line_item_id text
);
CREATE INDEX order_items_order ON order_items (order_id);

CREATE TABLE payments (
    id                     bigserial PRIMARY KEY,
    order_id               bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    amount                 numeric(18, 2) NOT NULL,
    method                 text,
    paid_at                timestamptz,
    haravan_transaction_id text NOT NULL,
    UNIQUE (order_id, haravan_transaction_id)
);

CREATE TABLE crm_events (
    id         bigserial PRIMARY KEY,
    type       text NOT NULL,
    entity_id  bigint NOT NULL,
    payload    jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Haravan staff resolved to emails (GET /com/users/{id}.json), so that an
-- order's user_id costs one API call per staff member, not one per order.
CREATE TABLE hv_staff (
    org_id     text NOT NULL,
    user_id    text NOT NULL,
    email      text,                -- NULL: Haravan has none; `missing` says why
    missing    text,
    fetched_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id)
);

-- Connected shops and their tokens (sealed like every secret). Issue #4's
-- connect flow writes here; `haravan-ctl shop token` too, for a private app.
CREATE TABLE hv_shops (
    org_id        text PRIMARY KEY,
    name          text NOT NULL DEFAULT '',
    scopes        text NOT NULL DEFAULT '',
    access_token  bytea,
    refresh_token bytea,
    expires_at    timestamptz,
    status        text NOT NULL DEFAULT 'connected'
        CHECK (status IN ('connected', 'needs_reconnect', 'disconnected')),
    connected_at  timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- What processing noted about an event without failing it (a phone/email
-- conflict, an executor that fell back to the default owner).
ALTER TABLE hv_events ADD COLUMN notes text;

-- Haravan's timestamps arrive as text in several ISO shapes; one that does
-- not parse must become NULL with the event noted, not fail the event.
CREATE FUNCTION hv_timestamptz(value text) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN value::timestamptz;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

-- A birthday is a date the shop entered in Vietnam (+07:00); Haravan sends
-- it as that local midnight converted to UTC ("1990-05-14T17:00:00Z" is
-- 15 May). A bare date is taken as it is.
CREATE FUNCTION hv_date_in_vietnam(value text) RETURNS date
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF value ~ '^\d{4}-\d{2}-\d{2}$' THEN
        RETURN value::date;
    END IF;
    RETURN (value::timestamptz AT TIME ZONE 'UTC' + interval '7 hours')::date;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;
