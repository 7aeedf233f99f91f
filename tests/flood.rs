//! One device flooding plantd (issue 14.3), each test written as the attack it stops: a
//! device inventing ever more metric names (each a series in memory, rows in the database
//! and a query on the device page), and a device publishing faster than its share.

use std::time::Duration;

use rumqttc::QoS;

use crate::support::http::{api, metric, provision, stored_points};
use crate::support::mqtt::device;
use crate::support::{eventually, Server};

const WAIT: Duration = Duration::from_secs(20);

/// The attack: a device sends 300 distinct metric names, one new name per payload. Today's
/// code registers every one of them as a series. With the cap (default 256) the payloads
/// beyond it are rejected whole and counted, and a metric the device already has is still
/// stored.
#[test]
fn a_device_cannot_create_more_series_than_the_cap() {
    let server = Server::start();
    let password = provision(&server, "spammer-1");
    let mut spammer = device(&server, "spammer-1", &password);
    for i in 0..300 {
        let payload = format!(r#"{{"ts": {}, "values": {{"m{i:03}": {i}}}}}"#, 1000 + i);
        spammer.publish("devices/spammer-1/telemetry", payload, QoS::AtLeastOnce);
    }
    let rejected = eventually(WAIT, "the 44 payloads over the cap counted", || {
        let n = metric(
            &server,
            "plantd_telemetry_payloads_rejected_total",
            "reason=\"series_limit\"",
        );
        (n >= 44.0).then_some(n)
    });
    assert_eq!(rejected, 44.0, "one rejection per payload over the cap");

    // A metric the device already has keeps being accepted.
    spammer.publish(
        "devices/spammer-1/telemetry",
        r#"{"ts": 5000, "values": {"m000": 42}}"#,
        QoS::AtLeastOnce,
    );
    let points = stored_points(&server, "spammer-1", "m000", 2);
    assert_eq!(points.last().map(|p| p.1), Some(42.0));

    let (status, body) = api(&server).get("/api/v1/devices/spammer-1/metrics");
    assert_eq!(status, 200, "{body}");
    let items = body["items"].as_array().expect("items");
    assert_eq!(
        items.len(),
        256,
        "the device keeps at most the cap of series"
    );
    assert!(items.iter().all(|m| m["metric"].as_str() < Some("m256")));
    assert_eq!(body["ingest"]["payloads_rejected"], 44);
    let reason = body["ingest"]["last_rejection"].as_str().expect("reason");
    assert!(
        reason.contains("telemetry_max_series_per_device"),
        "the device page names the limit: {reason}"
    );
}

/// Server settings under which one device's flood fills ingest: small batches and a low
/// back-pressure watermark (500 samples: above a full burst of the flooder, 20 payloads of
/// 10), and a per-device rate of 10 publishes a second (bursts of 20).
fn flood_settings(rate: &'static str) -> [(&'static str, &'static str); 3] {
    [
        ("PLANTD_TELEMETRY_BATCH_SIZE", "5"),
        ("PLANTD_MQTT_BACKPRESSURE_SAMPLES", "500"),
        ("PLANTD_MQTT_DEVICE_MAX_MSGS_PER_S", rate),
    ]
}

/// Runs the attack: "flooder-1" publishes 100 QoS 0 payloads of 10 samples every 100 ms
/// (1,000 a second) while "good-1" publishes one QoS 0 sample per round, 20 in all. Today's
/// code lets the flood fill ingest past the watermark, which pauses every device, and
/// good-1's QoS 0 samples are dropped with the flood's. Returns the server once plantd
/// has read every publish.
fn flood(rate: &'static str) -> Server {
    let server = Server::start_with(&flood_settings(rate));
    let (flooder_pw, good_pw) = (
        provision(&server, "flooder-1"),
        provision(&server, "good-1"),
    );
    let mut flooder = device(&server, "flooder-1", &flooder_pw);
    let mut good = device(&server, "good-1", &good_pw);
    let values: String = (0..10)
        .map(|m| format!(r#""f{m}": 1"#))
        .collect::<Vec<_>>()
        .join(", ");
    for round in 0..20u64 {
        for n in 0..100u64 {
            let payload = format!(
                r#"{{"ts": {}, "values": {{{values}}}}}"#,
                1000 + round * 100 + n
            );
            flooder.publish("devices/flooder-1/telemetry", payload, QoS::AtMostOnce);
        }
        let payload = format!(
            r#"{{"ts": {}, "values": {{"temp": {round}}}}}"#,
            1000 + round
        );
        good.publish("devices/good-1/telemetry", payload, QoS::AtMostOnce);
        std::thread::sleep(Duration::from_millis(100));
    }
    eventually(WAIT, "plantd to read all 2,020 publishes", || {
        (metric(&server, "plantd_mqtt_messages_in_total", "") >= 2020.0).then_some(())
    });
    server
}

/// The attack above, against the per-device rate limit: the flood beyond 10 a second is
/// dropped at the flooder's own connection (counted as `rate`), ingest is never paused, and
/// every one of good-1's samples is stored.
#[test]
fn one_flooding_device_does_not_pause_the_others() {
    let server = flood("10");
    let stored = stored_points(&server, "good-1", "temp", 20);
    assert_eq!(stored.len(), 20, "every sample of the well-behaved device");
    assert_eq!(
        metric(&server, "plantd_mqtt_backpressure_pauses_total", ""),
        0.0,
        "the flood never paused ingest"
    );
    let dropped = metric(&server, "plantd_mqtt_dropped_total", "reason=\"rate\"");
    assert!(
        dropped >= 1000.0,
        "the flood is dropped and counted: {dropped}"
    );
    assert_eq!(
        metric(
            &server,
            "plantd_mqtt_dropped_total",
            "reason=\"backpressure_qos0\""
        ),
        0.0
    );
}

/// The same limit on QoS 1: a device sending 60 publishes as fast as their PUBACKs come,
/// at 10 a second allowed. Beyond its burst each one is held back, unacknowledged, until
/// the rate allows it, so nothing acknowledged is lost and nobody else is paused.
#[test]
fn a_device_over_its_rate_at_qos1_is_slowed_down_not_dropped() {
    let server = Server::start_with(&flood_settings("10"));
    let password = provision(&server, "eager-1");
    let mut eager = device(&server, "eager-1", &password);
    let started = std::time::Instant::now();
    for n in 0..60u64 {
        let payload = format!(r#"{{"ts": {}, "values": {{"v": {n}}}}}"#, 1000 + n);
        eager.publish("devices/eager-1/telemetry", payload, QoS::AtLeastOnce);
    }
    // A burst of 20, then 40 more at 10 a second.
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "acknowledged faster than the rate: {:?}",
        started.elapsed()
    );
    assert_eq!(stored_points(&server, "eager-1", "v", 60).len(), 60);
    assert!(metric(&server, "plantd_mqtt_rate_held_total", "") >= 1.0);
    assert_eq!(
        metric(&server, "plantd_mqtt_dropped_total", "reason=\"rate\""),
        0.0
    );
    assert_eq!(
        metric(&server, "plantd_mqtt_backpressure_pauses_total", ""),
        0.0
    );
}
