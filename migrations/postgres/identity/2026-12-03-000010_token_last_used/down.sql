ALTER TABLE identity_tokens DROP COLUMN last_used_at;
