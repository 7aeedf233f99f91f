//! Side channels around back-pressure (issue 14.4), written as the attack: device control
//! messages (shadow reports) do not go through telemetry's back-pressure, so a device
//! spamming small reports used to queue one registry check, one load and one save each in
//! front of every other device's shadow and every command and UI request.

use std::time::{Duration, Instant};

use rumqttc::QoS;
use serde_json::{json, Map, Value};

use crate::shadow::{patch_desired, shadow};
use crate::support::http::{metric, provision};
use crate::support::mqtt::device;
use crate::support::{eventually, Server};

/// How long another device's desired → delta → reported round trip may take while the
/// spam is being worked off.
const ROUND_TRIP: Duration = Duration::from_secs(3);
const SPAM: usize = 5_000;
const KEYS: usize = 50;

/// The attack: "spammer-1" publishes 5,000 small reports at once (each setting one of 50
/// keys), then "pump-2"'s operator changes its desired state. The per-device publish rate
/// is turned off here: it bounds one device, not fifty devices at the rate each, and
/// 5,000 reports from one device stand for those. Today's code applies the reports one
/// at a time, so the PATCH and pump-2's report wait behind thousands of writes; with the
/// reports of a device applied in batches the round trip completes within 3 s, and the
/// spammer's reported state is exactly what applying every report in order gives.
#[test]
fn a_device_spamming_reports_does_not_delay_another_devices_shadow() {
    let server = Server::start_with(&[("PLANTD_MQTT_DEVICE_MAX_MSGS_PER_S", "0")]);
    let spammer_password = provision(&server, "spammer-1");
    let pump_password = provision(&server, "pump-2");
    let mut spammer = device(&server, "spammer-1", &spammer_password);
    let mut pump = device(&server, "pump-2", &pump_password);
    pump.subscribe("devices/pump-2/state/delta");

    let mut expected = Map::new();
    for i in 0..SPAM {
        let key = format!("k{:02}", i % KEYS);
        let payload = json!({ key.clone(): i }).to_string();
        expected.insert(key, json!(i));
        spammer.publish("devices/spammer-1/state/reported", payload, QoS::AtMostOnce);
    }
    // The broker has every report once a QoS 1 publish after them is acknowledged.
    spammer.publish(
        "devices/spammer-1/state/reported",
        r#"{"done": true}"#,
        QoS::AtLeastOnce,
    );
    expected.insert("done".into(), json!(true));

    let start = Instant::now();
    patch_desired(&server, "pump-2", json!({ "speed_rpm": 900 }));
    let delta = pump.expect(
        ROUND_TRIP,
        "pump-2's delta",
        |p| matches!(p, rumqttc::Packet::Publish(p) if p.topic == "devices/pump-2/state/delta"),
    );
    let rumqttc::Packet::Publish(delta) = delta else {
        unreachable!()
    };
    let delta: Value = serde_json::from_slice(&delta.payload).expect("delta is JSON");
    assert_eq!(delta["state"], json!({ "speed_rpm": 900 }));
    pump.publish(
        "devices/pump-2/state/reported",
        json!({ "version": delta["version"], "state": { "speed_rpm": 900 } }).to_string(),
        QoS::AtLeastOnce,
    );
    eventually(ROUND_TRIP, "pump-2's report applied", || {
        (shadow(&server, "pump-2")["reported"]["speed_rpm"] == json!(900)).then_some(())
    });
    let took = start.elapsed();
    assert!(
        took < ROUND_TRIP,
        "pump-2's round trip took {took:?} behind the spam"
    );

    // Coalescing lost nothing: the spammer's state is every report applied in order.
    let reported = eventually(
        Duration::from_secs(60),
        "every spammer report applied",
        || {
            let s = shadow(&server, "spammer-1");
            (s["reported"]["done"] == json!(true)).then_some(s["reported"].clone())
        },
    );
    assert_eq!(reported, Value::Object(expected));
    assert_eq!(
        metric(&server, "plantd_shadow_reports_total", ""),
        (SPAM + 2) as f64,
        "every report counted as applied"
    );
    assert!(
        metric(&server, "plantd_shadow_reports_coalesced_total", "") > 0.0,
        "reports were applied in batches"
    );
}
