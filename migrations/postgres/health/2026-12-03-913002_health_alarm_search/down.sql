ALTER TABLE health_alarms DROP COLUMN search_text;
