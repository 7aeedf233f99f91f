//! Telemetry's metrics, described and set to zero at start; `hot` keeps the handles of those
//! touched for every payload.

pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "plantd_telemetry_payloads_total",
        "telemetry payloads received (MQTT and HTTP)"
    );
    describe_counter!(
        "plantd_telemetry_payloads_rejected_total",
        "telemetry payloads rejected whole, by reason"
    );
    describe_counter!(
        "plantd_telemetry_samples_accepted_total",
        "samples accepted into the write buffer"
    );
    describe_counter!(
        "plantd_telemetry_samples_stored_total",
        "sample rows written (a re-sent sample counts once)"
    );
    describe_counter!(
        "plantd_telemetry_batches_total",
        "write transactions committed"
    );
    describe_counter!(
        "plantd_telemetry_batch_errors_total",
        "write transactions that failed (samples kept and retried)"
    );
    describe_gauge!(
        "plantd_telemetry_buffered_samples",
        Unit::Count,
        "samples waiting to be written"
    );
    describe_histogram!(
        "plantd_telemetry_batch_seconds",
        Unit::Seconds,
        "time to write one batch"
    );
    describe_counter!(
        "plantd_telemetry_duplicates_total",
        "samples dropped as duplicates of a stored (device, metric, ts): re-sent messages"
    );
    describe_histogram!(
        "plantd_telemetry_commit_delay_seconds",
        Unit::Seconds,
        "commit time minus sample time, for samples of the last hour (publish to stored)"
    );
    describe_gauge!(
        "plantd_telemetry_head_samples",
        Unit::Count,
        "committed samples not yet compacted into chunks"
    );
    describe_counter!(
        "plantd_telemetry_compactions_total",
        "compactions of the head into chunks and roll-ups"
    );
    describe_counter!(
        "plantd_telemetry_compacted_samples_total",
        "samples moved into chunks"
    );
    describe_histogram!(
        "plantd_telemetry_compaction_seconds",
        Unit::Seconds,
        "time to write one compaction"
    );
    describe_counter!(
        "plantd_telemetry_chunks_merged_total",
        "chunks of closed windows merged into one per series and window"
    );
    describe_counter!(
        "plantd_telemetry_expired_rows_total",
        "rows removed by retention, by kind (chunks, rollups_1m, rollups_1h)"
    );
    describe_counter!(
        "plantd_telemetry_maintenance_errors_total",
        "compactions, merges or retention runs that failed (retried later)"
    );
    describe_gauge!(
        "plantd_telemetry_database_bytes",
        Unit::Bytes,
        "size of the database on disk (SQLite pages in use, or pg_database_size)"
    );
    describe_gauge!(
        "plantd_telemetry_table_bytes",
        Unit::Bytes,
        "PostgreSQL only: each telemetry table with its indexes"
    );
    describe_counter!(
        "plantd_telemetry_query_chunks_decoded_total",
        "chunks decoded by raw queries (a query with a limit stops at the window that fills it)"
    );
    describe_counter!(
        "plantd_telemetry_query_points_decoded_total",
        "raw points decoded by queries"
    );
    describe_counter!(
        "plantd_telemetry_queries_refused_total",
        "queries refused for decoding more than telemetry_query_max_points raw points"
    );
    for name in [
        "plantd_telemetry_query_chunks_decoded_total",
        "plantd_telemetry_query_points_decoded_total",
        "plantd_telemetry_queries_refused_total",
        "plantd_telemetry_duplicates_total",
        "plantd_telemetry_compactions_total",
        "plantd_telemetry_compacted_samples_total",
        "plantd_telemetry_chunks_merged_total",
        "plantd_telemetry_maintenance_errors_total",
        "plantd_telemetry_payloads_total",
        "plantd_telemetry_samples_accepted_total",
        "plantd_telemetry_samples_stored_total",
        "plantd_telemetry_batches_total",
        "plantd_telemetry_batch_errors_total",
    ] {
        metrics::counter!(name).absolute(0);
    }
    for reason in ["malformed", "series_limit"] {
        metrics::counter!("plantd_telemetry_payloads_rejected_total", "reason" => reason)
            .absolute(0);
    }
    metrics::gauge!("plantd_telemetry_buffered_samples").set(0.0);
}

/// Handles of the metrics touched for every payload, looked up once: `counter!` hashes and
/// finds its key in the recorder's registry on each call. The recorder is installed before
/// telemetry starts.
pub mod hot {
    use std::sync::LazyLock;

    use ::metrics::{Counter, Gauge, Histogram};

    pub static PAYLOADS: LazyLock<Counter> =
        LazyLock::new(|| ::metrics::counter!("plantd_telemetry_payloads_total"));
    pub static SAMPLES_ACCEPTED: LazyLock<Counter> =
        LazyLock::new(|| ::metrics::counter!("plantd_telemetry_samples_accepted_total"));
    pub static BUFFERED: LazyLock<Gauge> =
        LazyLock::new(|| ::metrics::gauge!("plantd_telemetry_buffered_samples"));
    pub static COMMIT_DELAY: LazyLock<Histogram> =
        LazyLock::new(|| ::metrics::histogram!("plantd_telemetry_commit_delay_seconds"));
}
