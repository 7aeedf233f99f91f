-- telemetry: raw samples clustered by series and time, and one row per series with its
-- first/last sight and latest value.
CREATE TABLE telemetry_samples (
    device_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    ts BIGINT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (device_id, metric, ts)
);
CREATE TABLE telemetry_series (
    device_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_ts BIGINT NOT NULL,
    last_value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (device_id, metric)
);
