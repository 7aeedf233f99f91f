DROP TABLE identity_sessions;
DROP TABLE identity_tokens;
DROP TABLE identity_users;
