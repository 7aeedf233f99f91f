-- devices (Control actor): the device shadow and device commands. JSON documents are
-- stored as text; times are epoch milliseconds.
CREATE TABLE devices_shadow (
    device_id TEXT PRIMARY KEY NOT NULL,
    desired TEXT NOT NULL DEFAULT '{}',
    reported TEXT NOT NULL DEFAULT '{}',
    version BIGINT NOT NULL,
    desired_version BIGINT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    updated_at BIGINT NOT NULL
);

CREATE TABLE devices_commands (
    id TEXT PRIMARY KEY NOT NULL,
    device_id TEXT NOT NULL,
    name TEXT NOT NULL,
    args TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    completed_at BIGINT,
    expires_at BIGINT NOT NULL,
    result TEXT
);
CREATE INDEX devices_commands_device ON devices_commands (device_id, id);
CREATE INDEX devices_commands_open ON devices_commands (state, expires_at);
