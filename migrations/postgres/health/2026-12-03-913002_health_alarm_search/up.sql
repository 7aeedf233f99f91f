-- What the alarm table searches: the words a person sees of an alarm (rule, device,
-- metric, severity, state, asset), lower case; written by `writer::row_of` (lowered in
-- Rust), filled here from the stored documents.
ALTER TABLE health_alarms ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
UPDATE health_alarms SET search_text = lower(concat_ws(' ',
    COALESCE(doc::jsonb->>'rule_name', ''),
    device_id,
    COALESCE(doc::jsonb->>'metric', ''),
    severity,
    state,
    COALESCE(asset_id, '')
));
