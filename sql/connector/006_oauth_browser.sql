-- 005: the OAuth state bound to the browser that pressed Kết nối (issue #9,
-- docs/CONNECT.md "The browser cookie").
--
-- A state alone let anyone who saw an authorize URL (a screenshot, a
-- shared screen, a proxy log) finish the flow in their own browser with
-- their own shop. Each authorize request now also sets a random value in
-- a cookie (hv_oauth_login or hv_oauth_grant, HttpOnly, Path limited to
-- its callback) and stores its SHA-256 here; the callback consumes the
-- state only when the cookie it brings hashes to this value:
--   UPDATE ... SET consumed_at = now() WHERE state_hash = $1 AND step = $2
--     AND browser_hash = $3 AND consumed_at IS NULL AND created_at > ...
--
-- States made before this migration have no browser to match; they live
-- 10 minutes and are deleted here rather than given a NULL that would
-- weaken the check: a merchant caught mid-flow presses Kết nối again.
DELETE FROM hv_oauth_states;
ALTER TABLE hv_oauth_states
    ADD COLUMN browser_hash bytea NOT NULL CHECK (length(browser_hash) = 32);
