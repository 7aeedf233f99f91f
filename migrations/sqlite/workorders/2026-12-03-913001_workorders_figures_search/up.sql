-- The figures (`ComputeFigures`) read these columns instead of decoding every order's
-- document; `search_text` is what the order tables search (the words a person sees:
-- number, title, description, type, assignee, location, asset and device), lower case.
-- New rows get them from `store::row_of` (search text lowercased in Rust); existing rows
-- are filled from their documents here. SQLite's lower() folds ASCII letters only, so
-- a row written before this migration keeps other capitals until it is written again.
ALTER TABLE workorders_orders ADD COLUMN completed_at BIGINT;
ALTER TABLE workorders_orders ADD COLUMN downtime_start BIGINT;
ALTER TABLE workorders_orders ADD COLUMN downtime_end BIGINT;
ALTER TABLE workorders_orders ADD COLUMN estimated_hours DOUBLE PRECISION;
ALTER TABLE workorders_orders ADD COLUMN actual_hours DOUBLE PRECISION;
ALTER TABLE workorders_orders ADD COLUMN interval_days DOUBLE PRECISION;
ALTER TABLE workorders_orders ADD COLUMN repeat_failure BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE workorders_orders ADD COLUMN failure_mode TEXT;
ALTER TABLE workorders_orders ADD COLUMN search_text TEXT NOT NULL DEFAULT '';

UPDATE workorders_orders SET
    completed_at = CAST(ROUND((julianday(json_extract(doc, '$.completed_at')) - 2440587.5) * 86400000.0) AS INTEGER),
    downtime_start = CAST(ROUND((julianday(json_extract(doc, '$.downtime_start')) - 2440587.5) * 86400000.0) AS INTEGER),
    downtime_end = CAST(ROUND((julianday(json_extract(doc, '$.downtime_end')) - 2440587.5) * 86400000.0) AS INTEGER),
    estimated_hours = json_extract(doc, '$.estimated_hours'),
    actual_hours = json_extract(doc, '$.actual_hours'),
    interval_days = json_extract(doc, '$.interval_days'),
    repeat_failure = COALESCE(json_extract(doc, '$.repeat_failure'), 0),
    failure_mode = json_extract(doc, '$.closing.failure_mode'),
    search_text = lower(
        'wo-' || number
        || ' ' || COALESCE(json_extract(doc, '$.title'), '')
        || ' ' || COALESCE(json_extract(doc, '$.description'), '')
        || ' ' || kind
        || ' ' || COALESCE(assignee, '')
        || ' ' || COALESCE(json_extract(doc, '$.location'), '')
        || ' ' || COALESCE(asset_id, '')
        || ' ' || COALESCE(device_id, '')
    );

-- The board reads each status newest first; the indexes give it without a sort.
CREATE INDEX workorders_orders_status_created ON workorders_orders (status, created_at, id);
