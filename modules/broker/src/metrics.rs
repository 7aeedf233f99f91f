//! The broker's metrics, described and set to zero at start so dashboards see every series
//! before the first event; `hot` keeps the handles of those counted for every message.

pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!("plantd_mqtt_connects_total", "MQTT logins accepted");
    describe_counter!(
        "plantd_mqtt_auth_failures_total",
        "MQTT logins refused, by reason"
    );
    describe_counter!(
        "plantd_mqtt_messages_in_total",
        "PUBLISH packets received from clients"
    );
    describe_counter!(
        "plantd_mqtt_denied_publishes_total",
        "publishes (and wills) outside the client's topics, dropped"
    );
    describe_counter!(
        "plantd_mqtt_denied_subscriptions_total",
        "subscriptions outside the client's topics, refused"
    );
    describe_counter!(
        "plantd_mqtt_oversized_packets_total",
        "packets over mqtt_max_packet_bytes (connection closed)"
    );
    describe_counter!(
        "plantd_gateway_messages_total",
        "device messages routed by the gateway to plantd's modules"
    );
    describe_counter!(
        "plantd_gateway_dropped_total",
        "acknowledged device messages lost because the broker's log rotated past the gateway"
    );
    describe_counter!(
        "plantd_mqtt_unacknowledged_session_ends_total",
        "device sessions ended without acknowledging a message that may not be stored, by reason: log_skipped (the broker's log skipped it), not_stored (telemetry refused it while storage was behind, or lost its batch); the device sends it again"
    );
    describe_counter!(
        "plantd_device_messages_published_total",
        "messages plantd published to devices (shadow, commands, firmware notices)"
    );
    describe_counter!(
        "plantd_device_messages_dropped_total",
        "messages to devices not published because the broker link was backed up"
    );
    describe_counter!(
        "plantd_events_published_total",
        "domain events published to plantd/events/#"
    );
    describe_counter!(
        "plantd_events_publish_failures_total",
        "domain events not published at once (broker link backed up); the outbox offers them again"
    );
    describe_counter!(
        "plantd_mqtt_sessions_cut_total",
        "MQTT sessions ended on request (credentials rotated or revoked, device disabled or deleted)"
    );
    describe_counter!(
        "plantd_mqtt_backpressure_pauses_total",
        "times ingest fell behind and device publishes were held unacknowledged"
    );
    describe_histogram!(
        "plantd_mqtt_backpressure_pause_seconds",
        Unit::Seconds,
        "how long each pause lasted (sum: time paused)"
    );
    describe_counter!(
        "plantd_mqtt_backpressure_held_total",
        "QoS 1/2 device publishes held back (acknowledged only once ingest caught up)"
    );
    describe_counter!(
        "plantd_mqtt_backpressure_disconnects_total",
        "clients disconnected for sending too much unacknowledged while paused"
    );
    describe_counter!(
        "plantd_mqtt_dropped_total",
        "device publishes dropped by plantd, by reason (backpressure_qos0: QoS 0 while paused; \
         rate: QoS 0 over mqtt_device_max_msgs_per_s)"
    );
    describe_counter!(
        "plantd_mqtt_rate_held_total",
        "QoS 1/2 device publishes held back (unacknowledged) for being over mqtt_device_max_msgs_per_s"
    );
    describe_gauge!(
        "plantd_mqtt_logins_waiting",
        "MQTT logins waiting for the device registry's or identity's answer (each on a thread of its own)"
    );
    describe_counter!(
        "plantd_mqtt_device_queue_full_total",
        "device publishes held back (QoS 1/2, unacknowledged) or dropped (QoS 0) because a module's queue for the device is full (HoldDevice), by qos"
    );
    describe_gauge!(
        "plantd_mqtt_backpressure_paused",
        "1 while device publishes are held (ingest behind), else 0"
    );
    describe_gauge!(
        "plantd_mqtt_backpressure_queued_bytes",
        Unit::Bytes,
        "device messages accepted by the broker that telemetry has not taken yet"
    );
    describe_gauge!(
        "plantd_mqtt_backpressure_backlog_samples",
        Unit::Count,
        "samples accepted by telemetry and not committed, as last reported to the broker"
    );
    describe_gauge!(
        "plantd_mqtt_backpressure_holding_connections",
        Unit::Count,
        "device connections holding publishes back"
    );
    describe_gauge!(
        "plantd_mqtt_pubacks_waiting_connections",
        Unit::Count,
        "device connections with QoS 1 telemetry PUBACKs waiting for the commit (mqtt_puback_after_commit)"
    );
    describe_gauge!(
        "plantd_mqtt_connections",
        Unit::Count,
        "live MQTT connections, by kind (device, integration)"
    );
    describe_counter!(
        "plantd_mqtt_limited_total",
        "client actions refused by a per-client limit, by limit (topic_bytes, filters_per_session, retained_per_token, sessions_per_token; keep_alive: a keep-alive lowered to the maximum)"
    );
    describe_counter!(
        "plantd_mqtt_device_retain_cleared_total",
        "device publishes whose retain flag was cleared (only plantd retains on device topics)"
    );
    describe_counter!(
        "plantd_mqtt_handshake_failures_total",
        "new connections closed before their MQTT session, by listener (tcp, tls, ws, wss) and reason (timeout: no CONNECT within mqtt_connect_timeout_ms of the accept; tls; websocket; connect: the first packet was no CONNECT)"
    );
    describe_counter!(
        "plantd_tls_reloads_total",
        "reads of the TLS certificate and key on SIGHUP, by outcome (ok; failed: the previous certificate stays in use)"
    );
    for reason in ["timeout", "connect"] {
        metrics::counter!("plantd_mqtt_handshake_failures_total", "listener" => "tcp", "reason" => reason)
            .absolute(0);
    }
    for outcome in ["ok", "failed"] {
        metrics::counter!("plantd_tls_reloads_total", "outcome" => outcome).absolute(0);
    }
    for limit in crate::limits::LIMITS {
        metrics::counter!("plantd_mqtt_limited_total", "limit" => limit).absolute(0);
    }
    for name in [
        "plantd_mqtt_device_retain_cleared_total",
        "plantd_mqtt_connects_total",
        "plantd_mqtt_messages_in_total",
        "plantd_mqtt_denied_subscriptions_total",
        "plantd_mqtt_oversized_packets_total",
        "plantd_gateway_messages_total",
        "plantd_gateway_dropped_total",
        "plantd_events_published_total",
        "plantd_events_publish_failures_total",
        "plantd_mqtt_sessions_cut_total",
        "plantd_mqtt_backpressure_pauses_total",
        "plantd_mqtt_backpressure_held_total",
        "plantd_mqtt_backpressure_disconnects_total",
        "plantd_mqtt_rate_held_total",
    ] {
        metrics::counter!(name).absolute(0);
    }
    metrics::counter!("plantd_mqtt_auth_failures_total", "reason" => "bad username or password")
        .absolute(0);
    metrics::counter!("plantd_mqtt_denied_publishes_total", "kind" => "publish").absolute(0);
    for reason in ["backpressure_qos0", "rate"] {
        metrics::counter!("plantd_mqtt_dropped_total", "reason" => reason).absolute(0);
    }
    for gauge in [
        "plantd_mqtt_backpressure_paused",
        "plantd_mqtt_backpressure_queued_bytes",
        "plantd_mqtt_backpressure_backlog_samples",
        "plantd_mqtt_backpressure_holding_connections",
        "plantd_mqtt_pubacks_waiting_connections",
    ] {
        metrics::gauge!(gauge).set(0.0);
    }
    for kind in ["device", "integration"] {
        metrics::gauge!("plantd_mqtt_connections", "kind" => kind).set(0.0);
    }
}

/// Handles of the counters touched for every MQTT message, looked up once: `counter!` hashes
/// and finds its key in the recorder's registry on each call (about 3% of plantd's CPU in
/// the QoS 0 ingest profile). The recorder is installed before the broker starts.
pub mod hot {
    use std::sync::LazyLock;

    use ::metrics::Counter;

    pub static MESSAGES_IN: LazyLock<Counter> =
        LazyLock::new(|| ::metrics::counter!("plantd_mqtt_messages_in_total"));
    pub static GATEWAY_MESSAGES: LazyLock<Counter> =
        LazyLock::new(|| ::metrics::counter!("plantd_gateway_messages_total"));
    pub static DROPPED_QOS0: LazyLock<Counter> = LazyLock::new(
        || ::metrics::counter!("plantd_mqtt_dropped_total", "reason" => "backpressure_qos0"),
    );
    pub static DROPPED_RATE: LazyLock<Counter> =
        LazyLock::new(|| ::metrics::counter!("plantd_mqtt_dropped_total", "reason" => "rate"));
    pub static BACKPRESSURE_HELD: LazyLock<Counter> =
        LazyLock::new(|| ::metrics::counter!("plantd_mqtt_backpressure_held_total"));
}
