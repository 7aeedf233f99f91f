-- What the alarm table searches: the words a person sees of an alarm (rule, device,
-- metric, severity, state, asset), lower case; written by `writer::row_of` (lowered in
-- Rust), filled here from the stored documents. SQLite's lower() folds ASCII letters
-- only, so a row written before this keeps other capitals until it is written again.
ALTER TABLE health_alarms ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
UPDATE health_alarms SET search_text = lower(
    COALESCE(json_extract(doc, '$.rule_name'), '')
    || ' ' || device_id
    || ' ' || COALESCE(json_extract(doc, '$.metric'), '')
    || ' ' || severity
    || ' ' || state
    || ' ' || COALESCE(asset_id, '')
);
