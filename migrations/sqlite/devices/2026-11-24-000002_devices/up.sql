-- devices: the registry. Secrets are stored only as SHA-256 digests; a deleted id is kept
-- (deleted_at) so it is never reused.
CREATE TABLE devices_devices (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    kind TEXT,
    asset_id TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    secret_digest TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_seen BIGINT,
    deleted_at BIGINT
);
