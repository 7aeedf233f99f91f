//! Back-pressure end to end: when storage cannot keep up, plantd holds device publishes
//! unacknowledged instead of dropping them, so every QoS 1 sample a device saw acknowledged
//! is stored, also when plantd is stopped in the middle of it. Counts on both sides: the
//! PUBACKs each client received, the points the API returns.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rumqttc::{Client, Event, Packet, QoS};

use crate::support::http::{metric, points, provision, token};
use crate::support::mqtt::{connect, options};
use crate::support::{eventually, Server};

/// Storage made slow on purpose (five samples per transaction), a small watermark and a
/// small gateway log: flat-out QoS 1 publishers outrun storage many times over.
const SLOW_STORAGE: &[(&str, &str)] = &[
    ("PLANTD_TELEMETRY_BATCH_SIZE", "5"),
    ("PLANTD_MQTT_BACKPRESSURE_SAMPLES", "50"),
    ("PLANTD_MQTT_GATEWAY_SEGMENT_BYTES", "65536"),
    ("PLANTD_MQTT_GATEWAY_SEGMENT_COUNT", "2"),
];

/// One device publishing QoS 1 samples (`seq` = 0, 1, …, each with its own timestamp) as
/// fast as its in-flight window allows, counting the PUBACKs it receives.
struct Loader {
    acked: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    publisher: JoinHandle<u64>,
    counter: JoinHandle<()>,
}

impl Loader {
    /// Publishes `limit` samples (or until stopped, or the connection ends).
    fn start(server: &Server, id: &str, password: &str, limit: u64) -> Loader {
        let (client, mut connection) = Client::new(options(server, id, Some((id, password))), 100);
        let acked = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let counter = {
            let acked = acked.clone();
            std::thread::spawn(move || {
                for event in connection.iter() {
                    match event {
                        Ok(Event::Incoming(Packet::PubAck(_))) => {
                            acked.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
            })
        };
        let topic = format!("devices/{id}/telemetry");
        let publisher = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut sent = 0u64;
                while sent < limit && !stop.load(Ordering::SeqCst) {
                    let payload = format!(
                        r#"{{"ts": {}, "values": {{"seq": {sent}, "pad": 12.5}}}}"#,
                        3_000_000 + sent
                    );
                    if client
                        .publish(topic.as_str(), QoS::AtLeastOnce, false, payload)
                        .is_err()
                    {
                        break;
                    }
                    sent += 1;
                }
                // Keep the client (and so the connection) until told to stop.
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = client.disconnect();
                sent
            })
        };
        Loader {
            acked,
            stop,
            publisher,
            counter,
        }
    }

    fn acked(&self) -> u64 {
        self.acked.load(Ordering::SeqCst)
    }

    /// Stops publishing; returns (sent, acknowledged).
    fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::SeqCst);
        let sent = self.publisher.join().expect("publisher");
        let _ = self.counter.join();
        (sent, self.acked.load(Ordering::SeqCst))
    }
}

#[test]
fn overload_holds_publishes_and_stores_every_acknowledged_sample() {
    let server = Server::start_with(SLOW_STORAGE);
    // An integration reading everything must not see back-pressure's own traffic.
    let (token_id, secret) = token(&server, &["mqtt"]);
    let mut watcher = connect(&server, "Watcher.1", Some((&token_id, &secret))).expect("login");
    watcher.subscribe("#");
    const DEVICES: usize = 4;
    const EACH: u64 = 1500;
    let loaders: Vec<(String, Loader)> = (0..DEVICES)
        .map(|i| {
            let id = format!("flood-{i}");
            let password = provision(&server, &id);
            let loader = Loader::start(&server, &id, &password, EACH);
            (id, loader)
        })
        .collect();
    eventually(
        Duration::from_secs(120),
        "every publish acknowledged",
        || loaders.iter().all(|(_, l)| l.acked() == EACH).then_some(()),
    );
    for (id, loader) in loaders {
        let (sent, acknowledged) = loader.finish();
        assert_eq!((sent, acknowledged), (EACH, EACH), "{id}");
        let stored = eventually(Duration::from_secs(30), "samples stored", || {
            let n = points(&server, &id, "seq").len() as u64;
            (n >= acknowledged).then_some(n)
        });
        assert_eq!(stored, acknowledged, "{id}: every acknowledged sample once");
    }
    assert_eq!(
        metric(&server, "plantd_gateway_dropped_total", ""),
        0.0,
        "nothing skipped by the broker's log"
    );
    assert_eq!(
        metric(
            &server,
            "plantd_telemetry_payloads_rejected_total",
            "reason=\"overloaded\""
        ),
        0.0,
        "telemetry refused nothing it was handed"
    );
    let pauses = metric(&server, "plantd_mqtt_backpressure_pauses_total", "");
    let held = metric(&server, "plantd_mqtt_backpressure_held_total", "");
    eprintln!("overload: {pauses} pauses, {held} publishes held");
    assert!(pauses > 0.0, "storage was slower: ingest must have paused");
    assert!(held > 0.0, "publishes were held while paused");
    // It may see resume ticks (documented), but it reads on, undisturbed.
    watcher.collect_until(
        Duration::from_secs(10),
        "the telemetry, read by the integration",
        |seen| seen.iter().any(|(t, _)| t.ends_with("/telemetry")),
    );
    assert_eq!(
        watcher.closed_within(Duration::from_millis(200)),
        None,
        "the integration stays connected"
    );
}

#[test]
fn qos0_publishes_dropped_under_pressure_are_counted() {
    let server = Server::start_with(SLOW_STORAGE);
    let password = provision(&server, "chatty-1");
    let mut mqtt = crate::support::mqtt::device(&server, "chatty-1", &password);
    const N: u64 = 3000;
    for i in 0..N {
        let payload = format!(r#"{{"ts": {}, "values": {{"n": {i}}}}}"#, 1_000_000 + i);
        mqtt.client
            .publish(
                "devices/chatty-1/telemetry",
                QoS::AtMostOnce,
                false,
                payload,
            )
            .expect("publish");
    }
    // Acknowledged once ingest caught up, so the broker has every QoS 0 message before it.
    mqtt.publish(
        "devices/chatty-1/telemetry",
        r#"{"ts": 999, "values": {"marker": 1}}"#,
        QoS::AtLeastOnce,
    );
    let (stored, dropped) = eventually(
        Duration::from_secs(60),
        "every QoS 0 message stored or counted",
        || {
            let stored = points(&server, "chatty-1", "n").len() as u64;
            let dropped = metric(
                &server,
                "plantd_mqtt_dropped_total",
                "reason=\"backpressure_qos0\"",
            ) as u64
                + metric(&server, "plantd_gateway_dropped_total", "") as u64;
            let marker = points(&server, "chatty-1", "marker").len() as u64;
            (marker == 1 && stored + dropped == N).then_some((stored, dropped))
        },
    );
    eprintln!("QoS 0 flood of {N}: {stored} stored, {dropped} counted as dropped");
    assert!(stored > 0);
}

#[test]
fn sigterm_under_back_pressure_loses_no_acknowledged_sample() {
    let mut server = Server::start_with(SLOW_STORAGE);
    let loaders: Vec<(String, Loader)> = (0..3)
        .map(|i| {
            let id = format!("stopper-{i}");
            let password = provision(&server, &id);
            let loader = Loader::start(&server, &id, &password, u64::MAX);
            (id, loader)
        })
        .collect();
    eventually(Duration::from_secs(30), "the load to be flowing", || {
        (loaders.iter().map(|(_, l)| l.acked()).sum::<u64>() > 600).then_some(())
    });
    eventually(Duration::from_secs(30), "ingest to pause", || {
        (metric(&server, "plantd_mqtt_backpressure_pauses_total", "") > 0.0).then_some(())
    });
    let status = server.stop();
    assert!(status.success(), "clean exit under load: {status}");
    let counts: Vec<(String, u64, u64)> = loaders
        .into_iter()
        .map(|(id, l)| {
            let (sent, acked) = l.finish();
            (id, sent, acked)
        })
        .collect();
    server.restart_stopped();
    for (id, sent, acknowledged) in counts {
        let stored = points(&server, &id, "seq").len() as u64;
        eprintln!("{id}: {sent} sent, {acknowledged} acknowledged, {stored} stored");
        assert!(acknowledged > 0, "{id}");
        assert!(
            stored >= acknowledged,
            "{id}: {acknowledged} acknowledged but only {stored} stored"
        );
        assert!(stored <= sent, "{id}");
    }
}
