-- The figures (`ComputeFigures`) read these columns instead of decoding every order's
-- document; `search_text` is what the order tables search (the words a person sees:
-- number, title, description, type, assignee, location, asset and device), lower case.
-- New rows get them from `store::row_of` (search text lowercased in Rust); existing rows
-- are filled from their documents here.
ALTER TABLE workorders_orders ADD COLUMN completed_at BIGINT;
ALTER TABLE workorders_orders ADD COLUMN downtime_start BIGINT;
ALTER TABLE workorders_orders ADD COLUMN downtime_end BIGINT;
ALTER TABLE workorders_orders ADD COLUMN estimated_hours DOUBLE PRECISION;
ALTER TABLE workorders_orders ADD COLUMN actual_hours DOUBLE PRECISION;
ALTER TABLE workorders_orders ADD COLUMN interval_days DOUBLE PRECISION;
ALTER TABLE workorders_orders ADD COLUMN repeat_failure BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE workorders_orders ADD COLUMN failure_mode TEXT;
ALTER TABLE workorders_orders ADD COLUMN search_text TEXT NOT NULL DEFAULT '';

UPDATE workorders_orders SET
    completed_at = (EXTRACT(EPOCH FROM (doc::jsonb->>'completed_at')::timestamptz) * 1000)::bigint,
    downtime_start = (EXTRACT(EPOCH FROM (doc::jsonb->>'downtime_start')::timestamptz) * 1000)::bigint,
    downtime_end = (EXTRACT(EPOCH FROM (doc::jsonb->>'downtime_end')::timestamptz) * 1000)::bigint,
    estimated_hours = (doc::jsonb->>'estimated_hours')::double precision,
    actual_hours = (doc::jsonb->>'actual_hours')::double precision,
    interval_days = (doc::jsonb->>'interval_days')::double precision,
    repeat_failure = COALESCE((doc::jsonb->>'repeat_failure')::boolean, false),
    failure_mode = doc::jsonb->'closing'->>'failure_mode',
    search_text = lower(concat_ws(' ',
        'wo-' || number,
        COALESCE(doc::jsonb->>'title', ''),
        COALESCE(doc::jsonb->>'description', ''),
        kind,
        COALESCE(assignee, ''),
        COALESCE(doc::jsonb->>'location', ''),
        COALESCE(asset_id, ''),
        COALESCE(device_id, '')
    ));

-- The board reads each status newest first; the indexes give it without a sort.
CREATE INDEX workorders_orders_status_created ON workorders_orders (status, created_at, id);
