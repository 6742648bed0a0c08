-- 004: connecting a shop (issue #4, docs/CONNECT.md "Tables").

-- The OAuth state of each authorize request the connector starts: the CSRF
-- defence of the login and grandservice callbacks, which Haravan reaches
-- through a cross-site form_post that carries no SameSite=Strict cookie.
-- Only the SHA-256 of the state is kept: the value itself travels through
-- the browser, and a copy of this table must not let anyone complete a
-- connect. A state is good for one step ('login' or 'grant'), for 10
-- minutes, once: the callback consumes it with a single
--   UPDATE ... SET consumed_at = now() WHERE state_hash = $1 AND step = $2
--     AND consumed_at IS NULL AND created_at > now() - interval '10 minutes'
--   RETURNING nonce
-- so two requests racing with one state cannot both succeed.
CREATE TABLE hv_oauth_states (
    state_hash  bytea PRIMARY KEY CHECK (length(state_hash) = 32),
    nonce       text NOT NULL,
    step        text NOT NULL CHECK (step IN ('login', 'grant')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    consumed_at timestamptz
);
-- Old rows are deleted when new ones are made.
CREATE INDEX hv_oauth_states_created_at ON hv_oauth_states (created_at);

-- Who connected the shop (the owner's e-mail from the id_token), and why a
-- shop needs reconnecting (the refresh token was refused, ...).
-- token_issued_at is when the stored access token was issued, so that the
-- refresh ahead of expiry can be a share of the token's lifetime, which
-- Haravan does not document.
ALTER TABLE hv_shops
    ADD COLUMN connected_by text,
    ADD COLUMN status_reason text,
    ADD COLUMN token_issued_at timestamptz;
