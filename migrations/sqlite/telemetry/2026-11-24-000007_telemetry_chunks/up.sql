-- telemetry, time-series layout: an index-free append-only table of recent samples (the
-- write-ahead log of the in-memory head), immutable per-series chunks of compressed points
-- (one window of an hour at most per chunk), minute and hour roll-ups kept equal to the
-- chunks, and a metric registry. Existing samples move to the recent table and are
-- compacted into chunks by the running server.
CREATE TABLE telemetry_metrics (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    unit TEXT,
    first_seen BIGINT NOT NULL,
    last_ts BIGINT NOT NULL,
    last_value DOUBLE NOT NULL,
    -- newest sample time stored in chunks (-1: none): older arrivals are checked against
    -- the chunks for duplicates
    compacted_to BIGINT NOT NULL DEFAULT -1,
    UNIQUE (device_id, metric)
);
INSERT INTO telemetry_metrics (device_id, metric, first_seen, last_ts, last_value)
    SELECT device_id, metric, first_seen, last_ts, last_value FROM telemetry_series;

-- no index but the rowid (seq, assigned by the telemetry actor in commit order)
CREATE TABLE telemetry_recent (
    seq INTEGER PRIMARY KEY,
    series_id BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    value DOUBLE NOT NULL
);
INSERT INTO telemetry_recent (series_id, ts, value)
    SELECT m.id, s.ts, s.value FROM telemetry_samples s
    JOIN telemetry_metrics m ON m.device_id = s.device_id AND m.metric = s.metric
    ORDER BY s.ts;
DROP TABLE telemetry_samples;
DROP TABLE telemetry_series;

CREATE TABLE telemetry_chunks (
    id INTEGER PRIMARY KEY,
    series_id BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    t_min BIGINT NOT NULL,
    t_max BIGINT NOT NULL,
    points INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX telemetry_chunks_series ON telemetry_chunks (series_id, window_start);
CREATE INDEX telemetry_chunks_window ON telemetry_chunks (window_start);

-- resolution: 60000 (minute) or 3600000 (hour); bucket: its start, epoch ms
CREATE TABLE telemetry_rollups (
    series_id BIGINT NOT NULL,
    resolution BIGINT NOT NULL,
    bucket BIGINT NOT NULL,
    n BIGINT NOT NULL,
    vmin DOUBLE NOT NULL,
    vmax DOUBLE NOT NULL,
    vsum DOUBLE NOT NULL,
    vlast DOUBLE NOT NULL,
    last_ts BIGINT NOT NULL,
    PRIMARY KEY (series_id, resolution, bucket)
) WITHOUT ROWID;
CREATE INDEX telemetry_rollups_expiry ON telemetry_rollups (resolution, bucket);

-- compacted_seq: every recent row up to this seq is in chunks and roll-ups
CREATE TABLE telemetry_state (
    key TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO telemetry_state (key, value) VALUES ('compacted_seq', 0);
