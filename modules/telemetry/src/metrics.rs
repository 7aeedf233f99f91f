//! Telemetry's metrics, described and set to zero at start.

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
    for name in [
        "plantd_telemetry_payloads_total",
        "plantd_telemetry_samples_accepted_total",
        "plantd_telemetry_samples_stored_total",
        "plantd_telemetry_batches_total",
        "plantd_telemetry_batch_errors_total",
    ] {
        metrics::counter!(name).absolute(0);
    }
    metrics::counter!("plantd_telemetry_payloads_rejected_total", "reason" => "malformed")
        .absolute(0);
    metrics::gauge!("plantd_telemetry_buffered_samples").set(0.0);
}
