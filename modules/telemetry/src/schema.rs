//! Diesel schema of the telemetry tables (telemetry's own; nobody else reads them).

diesel::table! {
    telemetry_samples (device_id, metric, ts) {
        device_id -> Text,
        metric -> Text,
        ts -> BigInt,
        value -> Double,
    }
}

diesel::table! {
    telemetry_series (device_id, metric) {
        device_id -> Text,
        metric -> Text,
        first_seen -> BigInt,
        last_ts -> BigInt,
        last_value -> Double,
    }
}
