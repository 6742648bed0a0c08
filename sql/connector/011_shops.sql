-- 011: a shop's life and seeing it (issue #11): uninstall, disconnect,
-- several shops, the paged sync log and its chart.
--
-- disconnected_at: when the shop was last disconnected (app/uninstalled
-- or "Ngắt kết nối"); status_reason says which. Its tokens are NULL from
-- then on; its CRM rows stay. connected_at (002) is when the current
-- connection began, which an uninstall is compared with: one received
-- before the merchant connected again is about the old connection.
ALTER TABLE hv_shops ADD COLUMN disconnected_at timestamptz;

-- The sync log of one shop, a page at a time, newest first (keyset on id):
-- a walk down this index, however many events other shops have.
CREATE INDEX hv_events_by_org ON hv_events (org_id, id);

-- The chart: the last 24 hours of events per shop, hour and outcome, read
-- from the events received since then, not from the whole inbox.
CREATE INDEX hv_events_received_at ON hv_events (received_at);
