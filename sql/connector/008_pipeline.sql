-- 008: processors claim events per resource, oldest version first (issue #10).
--
-- Two versions of one order (or one customer) must never be processed at
-- the same time, and the older pending one goes first. A processor takes
-- an event only when no older version of the same resource is pending,
-- under an advisory lock keyed on the resource (lib/crm/processor.c,
-- docs/ARCHITECTURE.md "Processing"). For that each event names its
-- resource and its version:
--   resource          '{kind}:{org}:{id}', kind being the topic's first
--                     part (orders, customers); NULL when the body has no id
--                     (such an event is its own resource);
--   resource_version  the body's updated_at, read by hv_timestamptz();
--                     NULL when unreadable, which counts as oldest.
-- Both are written by the inbox's INSERT. Added without a default, so no
-- table rewrite; only rows still waiting are filled in here, since finished
-- ones are never claimed again except by a replay, which claims one event.
ALTER TABLE hv_events ADD COLUMN resource text;
ALTER TABLE hv_events ADD COLUMN resource_version timestamptz;

UPDATE hv_events
   SET resource = split_part(topic, '/', 1) || ':' || coalesce(org_id, '') || ':' || resource_id,
       resource_version = hv_timestamptz(resource_updated_at)
 WHERE status IN ('pending', 'processing') AND resource_id IS NOT NULL;

-- The claim's question, "is an older version of this resource pending?",
-- answered from a handful of index entries.
CREATE INDEX hv_events_pending_resource ON hv_events (resource, resource_version, id)
    WHERE status = 'pending';
