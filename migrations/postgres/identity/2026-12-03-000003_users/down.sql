DROP INDEX identity_sessions_username;
ALTER TABLE identity_users DROP COLUMN last_sign_in_at;
ALTER TABLE identity_users DROP COLUMN updated_at;
ALTER TABLE identity_users DROP COLUMN skills;
ALTER TABLE identity_users DROP COLUMN disabled;
