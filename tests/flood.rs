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
