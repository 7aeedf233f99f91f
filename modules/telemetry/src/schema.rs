//! Diesel schema of the telemetry tables (telemetry's own; nobody else reads them).

diesel::table! {
    telemetry_metrics (id) {
        id -> BigInt,
        device_id -> Text,
        metric -> Text,
        unit -> Nullable<Text>,
        first_seen -> BigInt,
        last_ts -> BigInt,
        last_value -> Double,
        compacted_to -> BigInt,
    }
}

diesel::table! {
    telemetry_recent (seq) {
        seq -> BigInt,
        series_id -> BigInt,
        ts -> BigInt,
        value -> Double,
    }
}

diesel::table! {
    telemetry_chunks (id) {
        id -> BigInt,
        series_id -> BigInt,
        window_start -> BigInt,
        t_min -> BigInt,
        t_max -> BigInt,
        points -> Integer,
        data -> Binary,
    }
}

diesel::table! {
    telemetry_rollups (series_id, resolution, bucket) {
        series_id -> BigInt,
        resolution -> BigInt,
        bucket -> BigInt,
        n -> BigInt,
        vmin -> Double,
        vmax -> Double,
        vsum -> Double,
        vlast -> Double,
        last_ts -> BigInt,
    }
}

diesel::table! {
    telemetry_state (key) {
        key -> Text,
        value -> BigInt,
    }
}
