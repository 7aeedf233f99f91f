-- identity: when each API token last authenticated (HTTP or MQTT), written at most once a
-- minute per token.
ALTER TABLE identity_tokens ADD COLUMN last_used_at BIGINT;
