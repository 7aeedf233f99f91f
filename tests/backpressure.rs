//! Back-pressure end to end: when storage cannot keep up, plantd holds device publishes
//! unacknowledged instead of dropping them, so every QoS 1 sample a device saw acknowledged
//! is stored, also when plantd is stopped in the middle of it. Counts on both sides: the
//! PUBACKs each client received, the points the API returns.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rumqttc::{Client, Event, Outgoing, Packet, QoS};

use crate::support::http::{metric, points, provision, token};
use crate::support::mqtt::{connect, options};
use crate::support::{eventually, Server};

/// Storage made slow on purpose (five samples per transaction), a small watermark and a
/// small gateway log: flat-out QoS 1 publishers outrun storage many times over. No
/// per-device rate limit: these tests pause ingest with one device on purpose.
const SLOW_STORAGE: &[(&str, &str)] = &[
    ("PLANTD_MQTT_DEVICE_MAX_MSGS_PER_S", "0"),
    ("PLANTD_TELEMETRY_BATCH_SIZE", "5"),
    ("PLANTD_MQTT_BACKPRESSURE_SAMPLES", "50"),
    ("PLANTD_MQTT_GATEWAY_SEGMENT_BYTES", "65536"),
    ("PLANTD_MQTT_GATEWAY_SEGMENT_COUNT", "2"),
];

/// One device publishing QoS 1 samples (`seq` = 0, 1, …, each with its own timestamp) as
/// fast as its in-flight window allows, recording which of them the broker acknowledged
/// (also used by tests/ingest.rs).
pub(crate) struct Loader {
    acked: Arc<AtomicU64>,
    stop: Sender<()>,
    publisher: JoinHandle<u64>,
    counter: JoinHandle<BTreeSet<u64>>,
}

impl Loader {
    /// Publishes `limit` samples (or until stopped, or the connection ends).
    pub(crate) fn start(server: &Server, id: &str, password: &str, limit: u64) -> Loader {
        let (client, mut connection) = Client::new(options(server, id, Some((id, password))), 100);
        let acked = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = channel::<()>();
        // Publishes go out in the order they were made, so the n-th outgoing PUBLISH is
        // `seq` n; a PUBACK names a packet id, which the client reuses once acknowledged
        // (rumqttc reports a publish that waited for its id before that id's PUBACK, hence
        // a queue per id).
        let counter = {
            let acked = acked.clone();
            std::thread::spawn(move || {
                let mut in_flight: HashMap<u16, VecDeque<u64>> = HashMap::new();
                let mut next_seq = 0u64;
                let mut acknowledged = BTreeSet::new();
                for event in connection.iter() {
                    match event {
                        Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                            in_flight.entry(pkid).or_default().push_back(next_seq);
                            next_seq += 1;
                        }
                        Ok(Event::Incoming(Packet::PubAck(ack))) => {
                            let seq = in_flight
                                .get_mut(&ack.pkid)
                                .and_then(VecDeque::pop_front)
                                .unwrap_or_else(|| {
                                    panic!("PUBACK {} for no publish in flight", ack.pkid)
                                });
                            assert!(acknowledged.insert(seq), "seq {seq} acknowledged twice");
                            acked.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                acknowledged
            })
        };
        let topic = format!("devices/{id}/telemetry");
        let publisher = std::thread::spawn(move || {
            let mut sent = 0u64;
            while sent < limit && matches!(stopped.try_recv(), Err(TryRecvError::Empty)) {
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
            let _ = stopped.recv();
            let _ = client.disconnect();
            sent
        });
        Loader {
            acked,
            stop,
            publisher,
            counter,
        }
    }

    pub(crate) fn acked(&self) -> u64 {
        self.acked.load(Ordering::SeqCst)
    }

    /// Stops publishing; returns how many were sent and the `seq` of each acknowledged one.
    pub(crate) fn finish(self) -> (u64, BTreeSet<u64>) {
        let Loader {
            stop,
            publisher,
            counter,
            ..
        } = self;
        let _ = stop.send(());
        // The publisher may have taken the message as its signal to stop publishing: it
        // then waits for the channel to close.
        drop(stop);
        let sent = publisher.join().expect("publisher");
        let acknowledged = counter.join().expect("PUBACK counter");
        (sent, acknowledged)
    }
}

/// The `seq` values stored for `device`, asserting that none is stored twice.
pub(crate) fn stored_seqs(server: &Server, device: &str) -> BTreeSet<u64> {
    let stored = points(server, device, "seq");
    let seqs: BTreeSet<u64> = stored.iter().map(|(_, v)| *v as u64).collect();
    assert_eq!(seqs.len(), stored.len(), "{device}: a sample stored twice");
    seqs
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
        assert_eq!(sent, EACH, "{id}");
        assert_eq!(
            acknowledged,
            (0..EACH).collect(),
            "{id}: every publish acknowledged"
        );
        // The last PUBACKs may come a commit ahead of storage (ARCHITECTURE.md).
        let stored = eventually(Duration::from_secs(30), "samples stored", || {
            let stored = stored_seqs(&server, &id);
            (stored.len() >= acknowledged.len()).then_some(stored)
        });
        assert_eq!(
            stored, acknowledged,
            "{id}: every acknowledged sample, once"
        );
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
    let values: BTreeSet<u64> = points(&server, "chatty-1", "n")
        .iter()
        .map(|(_, v)| *v as u64)
        .collect();
    assert_eq!(values.len() as u64, stored, "no sample stored twice");
    assert!(values.iter().all(|n| *n < N), "only samples that were sent");
    assert!(
        values.contains(&0),
        "the first sample, sent before anything was behind, is stored"
    );
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
    let counts: Vec<(String, u64, BTreeSet<u64>)> = loaders
        .into_iter()
        .map(|(id, l)| {
            let (sent, acked) = l.finish();
            (id, sent, acked)
        })
        .collect();
    server.restart_stopped();
    for (id, sent, acknowledged) in counts {
        let stored = stored_seqs(&server, &id);
        eprintln!(
            "{id}: {sent} sent, {} acknowledged, {} stored",
            acknowledged.len(),
            stored.len()
        );
        assert!(!acknowledged.is_empty(), "{id}: the load was flowing");
        let lost: Vec<&u64> = acknowledged.difference(&stored).collect();
        assert!(
            lost.is_empty(),
            "{id}: acknowledged but not stored: {lost:?} ({} of {})",
            lost.len(),
            acknowledged.len()
        );
        // Stored and not acknowledged is allowed (the PUBACK was cut off by the stop), but
        // only for samples that were sent.
        assert!(stored.iter().all(|seq| *seq < sent), "{id}: {stored:?}");
    }
}
