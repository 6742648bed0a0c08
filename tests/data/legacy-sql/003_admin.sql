-- 003: admin sessions of the settings page, and the login throttle.
--
-- A session is a random token in the browser's hv_session cookie; only its
-- SHA-256 is stored, so a copy of this table (a backup, a replica) lets
-- nobody in. Each session has its own CSRF token, sent back by the page on
-- every state-changing request. Sessions end after 12 hours, at logout,
-- and all at once when the admin password changes.
CREATE TABLE hv_admin_sessions (
    token_hash bytea PRIMARY KEY,
    csrf       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX hv_admin_sessions_expiry ON hv_admin_sessions (expires_at);

-- One row per login attempt that has not (yet) succeeded: an attempt is
-- written as a failure before the password is checked and removed if it
-- was right, so concurrent guesses count too. More than 10 in a minute and
-- logins are refused with 429 until the oldest leaves the minute. The
-- throttle is global, not per address: there is one admin password, and an
-- attacker has many addresses. remote_addr is kept for the operator.
CREATE TABLE hv_admin_login_failures (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    remote_addr text
);
CREATE INDEX hv_admin_login_failures_at ON hv_admin_login_failures (at);
