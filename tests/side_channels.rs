//! Side channels around back-pressure (issue 14.4), written as the attack: device control
//! messages (shadow reports) do not go through telemetry's back-pressure, so a device
//! spamming small reports used to queue one registry check, one load and one save each in
//! front of every other device's shadow and every command and UI request; command results
//! and firmware status likewise, and their queues must stay bounded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::QoS;
use serde_json::{json, Map, Value};

use crate::shadow::{next_on, patch_desired, shadow};
use crate::support::http::{api, metric, provision};
use crate::support::mqtt::device;
use crate::support::server::ADMIN_TOKEN;
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
    // The counter is incremented just after the shadow is saved: wait for it, then compare.
    eventually(
        Duration::from_secs(10),
        "the report counter to settle",
        || (metric(&server, "plantd_shadow_reports_total", "") >= (SPAM + 2) as f64).then_some(()),
    );
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

const RESULTS: usize = 3_000;
const PER_DEVICE_CAP: usize = 64;

/// The attack (issue 14.4, command results and firmware status): "flood-1" publishes 3,000
/// QoS 1 command results for commands that do not exist (each costing, before the fix, a
/// registry check and a transaction in front of everyone) interleaved with QoS 0 firmware
/// status reports for a campaign that does not exist, as fast as its client's in-flight
/// window allows; the per-device rate limit is off, as in the test above. Meanwhile
/// "valve-2" gets a command, answers it and reports its state: both are applied within
/// 3 s. Control's queue stays bounded: at `device_queue_max_per_device` (64 here) the
/// flooder is held at the broker, its QoS 1 results unacknowledged, so the queue gauge
/// stays a fraction of the flood, and still every result is counted
/// exactly once (none acknowledged and then dropped), and the flooder's answer to a real
/// command after the flood is applied.
#[test]
fn attack_a_device_flooding_command_results_and_firmware_status_does_not_delay_another() {
    let server = Server::start_with(&[
        ("PLANTD_MQTT_DEVICE_MAX_MSGS_PER_S", "0"),
        (
            "PLANTD_DEVICE_QUEUE_MAX_PER_DEVICE",
            &PER_DEVICE_CAP.to_string(),
        ),
    ]);
    let flood_password = provision(&server, "flood-1");
    let valve_password = provision(&server, "valve-2");
    let mut valve = device(&server, "valve-2", &valve_password);
    valve.subscribe("devices/valve-2/commands/+");
    let mut flooder = device(&server, "flood-1", &flood_password);
    flooder.subscribe("devices/flood-1/commands/+");
    for id in ["flood-1", "valve-2"] {
        eventually(ROUND_TRIP, &format!("{id} online"), || {
            let (_, d) = api(&server).get(&format!("/api/v1/devices/{id}"));
            (d["online"] == true).then_some(())
        });
    }
    let real = send_command(&server, "flood-1");
    next_on(&mut flooder, &format!("devices/flood-1/commands/{real}"));

    // The queue gauge, sampled while the flood runs.
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (stop, url) = (stop.clone(), server.url("/metrics"));
        std::thread::spawn(move || {
            let mut highest = 0.0f64;
            while !stop.load(Ordering::Relaxed) {
                if let Some(v) = queued_gauge(&url) {
                    highest = highest.max(v);
                }
                // A sampling interval, not a wait for a condition.
                std::thread::sleep(Duration::from_millis(5));
            }
            highest
        })
    };
    let flood = std::thread::spawn(move || {
        for i in 0..RESULTS {
            let topic = format!("devices/flood-1/commands/{:016x}/result", i + 1);
            flooder
                .client
                .publish(topic, QoS::AtLeastOnce, false, r#"{"status": "ok"}"#)
                .expect("publish");
            if i % 3 == 0 {
                let status = json!({ "campaign": "c-none", "state": "downloading" });
                flooder
                    .client
                    .publish(
                        "devices/flood-1/firmware/status",
                        QoS::AtMostOnce,
                        false,
                        status.to_string(),
                    )
                    .expect("publish");
            }
        }
        flooder
    });

    let start = Instant::now();
    let cmd = send_command(&server, "valve-2");
    next_on(&mut valve, &format!("devices/valve-2/commands/{cmd}"));
    valve.publish(
        &format!("devices/valve-2/commands/{cmd}/result"),
        r#"{"status": "ok"}"#,
        QoS::AtLeastOnce,
    );
    valve.publish(
        "devices/valve-2/state/reported",
        r#"{"open": true}"#,
        QoS::AtLeastOnce,
    );
    eventually(ROUND_TRIP, "valve-2's result and report applied", || {
        let (_, c) = api(&server).get(&format!("/api/v1/devices/valve-2/commands/{cmd}"));
        (c["state"] == "succeeded" && shadow(&server, "valve-2")["reported"]["open"] == true)
            .then_some(())
    });
    let took = start.elapsed();
    assert!(took < ROUND_TRIP, "valve-2 took {took:?} behind the flood");

    let mut flooder = flood.join().expect("flood thread");
    flooder.publish(
        &format!("devices/flood-1/commands/{real}/result"),
        r#"{"status": "ok"}"#,
        QoS::AtLeastOnce,
    );
    eventually(
        Duration::from_secs(60),
        "every flooded result applied",
        || {
            let (_, c) = api(&server).get(&format!("/api/v1/devices/flood-1/commands/{real}"));
            (c["state"] == "succeeded").then_some(())
        },
    );
    stop.store(true, Ordering::Relaxed);
    let highest = sampler.join().expect("sampler");
    assert_eq!(
        metric(&server, "plantd_command_results_rejected_total", "not_open"),
        RESULTS as f64,
        "every flooded QoS 1 result was applied exactly once (none lost, none twice)"
    );
    assert!(
        metric(&server, "plantd_control_queue_full_total", "per_device") >= 1.0,
        "the flooder reached its cap"
    );
    assert!(
        metric(&server, "plantd_mqtt_device_queue_full_total", "qos=\"1\"") >= 1.0,
        "its QoS 1 results were held at the broker"
    );
    // The cap, plus what reaches Control before the hold reaches the broker: the client's
    // in-flight window (rumqttc: 100) and what arrives while another atomic handler (a
    // report batch, a command sent, expiry) keeps Control from reading its mailbox.
    // Measured: 250-330 of the 4,000 messages sent; without the hold, the whole flood.
    // Since the broker's hot path got faster (2026-12-03: cached metric handles, reused
    // log segments, boxed connection futures) more passes before the hold arrives: 922 in
    // one full CI run (the hold is asynchronous: Control tells the broker). The bound
    // proves the hold, far below the flood.
    let bound = 1_500.0;
    assert!(
        highest <= bound,
        "Control's queue reached {highest} messages (bound {bound})"
    );
    assert_eq!(queued_gauge(&server.url("/metrics")), Some(0.0));
}

/// `plantd_control_queued_messages` from `/metrics`.
fn queued_gauge(url: &str) -> Option<f64> {
    let text = ureq::get(url)
        .set("Authorization", &format!("Bearer {ADMIN_TOKEN}"))
        .call()
        .ok()?
        .into_string()
        .ok()?;
    text.lines()
        .find(|l| l.starts_with("plantd_control_queued_messages "))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Sends a command to a device; returns its id.
fn send_command(server: &Server, id: &str) -> String {
    let (status, reply) = api(server).post(
        &format!("/api/v1/devices/{id}/commands"),
        json!({ "name": "open", "timeout_s": 300 }),
    );
    assert_eq!(status, 202, "{reply}");
    reply["id"].as_str().expect("id").to_owned()
}
