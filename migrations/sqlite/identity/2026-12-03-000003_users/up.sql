-- identity: users gain a disabled flag, skills (space-separated short tags, sorted),
-- the time of the last change and of the last sign-in.
ALTER TABLE identity_users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE identity_users ADD COLUMN skills TEXT NOT NULL DEFAULT '';
ALTER TABLE identity_users ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE identity_users ADD COLUMN last_sign_in_at BIGINT;
UPDATE identity_users SET updated_at = created_at;
CREATE INDEX identity_sessions_username ON identity_sessions (username);
