-- devices (firmware roll-outs): images, campaigns and each target device's progress. The
-- image bytes are files under the data directory, named by the image id.
CREATE TABLE devices_firmware (
    id TEXT PRIMARY KEY NOT NULL,
    version TEXT NOT NULL,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE devices_campaigns (
    id TEXT PRIMARY KEY NOT NULL,
    firmware_id TEXT NOT NULL REFERENCES devices_firmware (id),
    status TEXT NOT NULL,
    timeout_s BIGINT NOT NULL,
    retries INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);

CREATE TABLE devices_campaign_targets (
    campaign_id TEXT NOT NULL REFERENCES devices_campaigns (id),
    device_id TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    reported_version TEXT,
    detail TEXT,
    deadline BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, device_id)
);
