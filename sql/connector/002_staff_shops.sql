-- 002: what the connector needs beside the CRM tables to fill them: staff
-- e-mails, connected shops, processing notes, and the functions that read
-- Haravan's timestamps. Until the split into two sets (lib/core/migrate.h)
-- this was the second half of the single set's 002_crm.sql, unchanged; the
-- CRM tables of that file are now sql/crm/001_tables.sql.

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
