CREATE TABLE telemetry_samples (
    device_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    ts BIGINT NOT NULL,
    value DOUBLE NOT NULL,
    PRIMARY KEY (device_id, metric, ts)
) WITHOUT ROWID;
CREATE TABLE telemetry_series (
    device_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_ts BIGINT NOT NULL,
    last_value DOUBLE NOT NULL,
    PRIMARY KEY (device_id, metric)
);
-- chunks are not decoded here: only samples not yet compacted come back
INSERT OR IGNORE INTO telemetry_samples (device_id, metric, ts, value)
    SELECT m.device_id, m.metric, r.ts, r.value FROM telemetry_recent r
    JOIN telemetry_metrics m ON m.id = r.series_id;
INSERT INTO telemetry_series (device_id, metric, first_seen, last_ts, last_value)
    SELECT device_id, metric, first_seen, last_ts, last_value FROM telemetry_metrics;
DROP TABLE telemetry_state;
DROP TABLE telemetry_rollups;
DROP TABLE telemetry_chunks;
DROP TABLE telemetry_recent;
DROP TABLE telemetry_metrics;
