//! The contract's topic rules: devices keep to the contract's topics under
//! `devices/{own id}/` (never retained), integrations read
//! everything but publish nothing under `devices/` or `plantd/`, and use every other topic as
//! a plain broker; domain events on `plantd/events/{type}`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rumqttc::{Packet, QoS, SubscribeFilter, SubscribeReasonCode};
use serde_json::{json, Value};

use crate::support::http::{api, metric, points, provision, stored_points, token};
use crate::support::mqtt::{connect, device, Mqtt};
use crate::support::raw_mqtt::RawMqtt;
use crate::support::{eventually, Server};

const DENIED_PUBLISHES: &str = "plantd_mqtt_denied_publishes_total";
const DENIED_SUBSCRIPTIONS: &str = "plantd_mqtt_denied_subscriptions_total";

/// An integration session (token with the `mqtt` scope) under `client_id` (any id: plantd
/// keeps it apart from devices' sessions by the token).
fn integration(server: &Server, client_id: &str) -> Mqtt {
    let (id, secret) = token(server, &["mqtt"]);
    connect(server, client_id, Some((&id, &secret)))
        .unwrap_or_else(|e| panic!("integration {client_id} refused: {e}"))
}

/// Every PUBLISH received until one on `topic` arrives (included); panics after `timeout`.
fn received_until(mqtt: &mut Mqtt, topic: &str, timeout: Duration) -> Vec<(String, Vec<u8>)> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while Instant::now() < deadline {
        out.extend(mqtt.received(Duration::from_millis(100)));
        if out.iter().any(|(t, _)| t == topic) {
            return out;
        }
    }
    panic!("no message on {topic} within {timeout:?}; got {out:?}")
}

fn topics(messages: &[(String, Vec<u8>)]) -> Vec<&str> {
    messages.iter().map(|(t, _)| t.as_str()).collect()
}

const FAILURE: SubscribeReasonCode = SubscribeReasonCode::Failure;
const GRANTED_1: SubscribeReasonCode = SubscribeReasonCode::Success(QoS::AtLeastOnce);

#[test]
fn a_device_cannot_subscribe_outside_its_prefix_nor_read_another_devices_data() {
    let server = Server::start();
    let p1 = provision(&server, "press-1");
    let p2 = provision(&server, "press-2");
    let mut spy = integration(&server, "Dashboard");
    assert_eq!(spy.subscribe("devices/#"), vec![GRANTED_1]);

    let mut press1 = device(&server, "press-1", &p1);
    let refused = [
        "#",
        "devices/+/telemetry",
        "devices/press-2/#",
        "devices/#",
        "plantd/events/#",
        "$share/g/devices/press-2/#",
        // Its own prefix, beyond the contract's topics.
        "devices/press-1/#",
        "devices/press-1/+/+/+",
        "devices/press-1/private/x/y",
    ];
    for filter in refused {
        assert_eq!(
            press1.subscribe(filter),
            vec![FAILURE],
            "SUBACK for {filter}"
        );
    }
    // One SUBSCRIBE with an allowed and a refused filter: each gets its own code.
    press1
        .client
        .subscribe_many([
            SubscribeFilter::new("devices/press-1/commands/+".to_owned(), QoS::AtLeastOnce),
            SubscribeFilter::new("devices/press-2/telemetry".to_owned(), QoS::AtLeastOnce),
        ])
        .expect("subscribe");
    match press1.expect(Duration::from_secs(10), "SUBACK", |p| {
        matches!(p, Packet::SubAck(_))
    }) {
        Packet::SubAck(ack) => assert_eq!(ack.return_codes, vec![GRANTED_1, FAILURE]),
        _ => unreachable!(),
    }
    assert_eq!(
        metric(&server, DENIED_SUBSCRIPTIONS, ""),
        (refused.len() + 1) as f64,
        "every refused filter counted"
    );

    let mut press2 = device(&server, "press-2", &p2);
    press2.publish(
        "devices/press-2/telemetry",
        r#"{"ts": 1000, "values": {"temperature_c": 40}}"#,
        QoS::AtLeastOnce,
    );
    press2.publish(
        "devices/press-2/state/reported",
        r#"{"mode": "auto"}"#,
        QoS::AtLeastOnce,
    );
    // Positive control: the integration sees press-2's messages ...
    let seen = received_until(
        &mut spy,
        "devices/press-2/state/reported",
        Duration::from_secs(5),
    );
    assert!(
        topics(&seen).contains(&"devices/press-2/telemetry"),
        "the integration did not get press-2's telemetry: {seen:?}"
    );
    // ... press-1 none of them (nothing may arrive: a bounded wait).
    let leaked = press1.received(Duration::from_secs(1));
    assert!(leaked.is_empty(), "press-1 received {leaked:?}");

    // press-1's allowed subscription works: its own command reaches it.
    let cmd = send_command(&server, "press-1", "selftest");
    let own = press1.collect_until(Duration::from_secs(10), "its own command", |got| {
        !got.is_empty()
    });
    assert_eq!(
        topics(&own),
        vec![format!("devices/press-1/commands/{cmd}")]
    );
}

/// Sends a command to `device` over the API; returns its id.
fn send_command(server: &Server, device: &str, name: &str) -> String {
    let (status, reply) = api(server).post(
        &format!("/api/v1/devices/{device}/commands"),
        json!({"name": name, "timeout_s": 60}),
    );
    assert_eq!(status, 202, "POST command: {reply}");
    reply["id"].as_str().expect("command id").to_owned()
}

#[test]
fn a_device_publishing_outside_its_prefix_is_dropped_and_counted() {
    let server = Server::start();
    let p1 = provision(&server, "press-1");
    provision(&server, "press-2");
    let mut spy = integration(&server, "Dashboard");
    assert_eq!(spy.subscribe("devices/#"), vec![GRANTED_1]);
    assert_eq!(spy.subscribe("plantd/events/#"), vec![GRANTED_1]);
    let denied_before = metric(&server, DENIED_PUBLISHES, "");

    let mut press1 = device(&server, "press-1", &p1);
    // Acknowledged (a QoS 1 PUBACK comes back) but dropped.
    press1.publish(
        "devices/press-2/telemetry",
        r#"{"ts": 1000, "values": {"temperature_c": 99}}"#,
        QoS::AtLeastOnce,
    );
    press1.publish(
        "plantd/events/device.connected",
        r#"{"forged": true}"#,
        QoS::AtLeastOnce,
    );
    press1.publish_retained("devices/press-2/state/desired", r#"{"forged": true}"#);
    // Under its own prefix, beyond the contract: each would be a topic rumqttd keeps.
    press1.publish_retained("devices/press-1/private/forged", r#"{"forged": true}"#);
    press1.publish(
        "devices/press-1/telemetry/extra/levels",
        r#"{"forged": true}"#,
        QoS::AtLeastOnce,
    );
    // Its own telemetry, afterwards, goes through: the session was not harmed.
    press1.publish(
        "devices/press-1/telemetry",
        r#"{"ts": 2000, "values": {"temperature_c": 21}}"#,
        QoS::AtLeastOnce,
    );
    eventually(Duration::from_secs(10), "press-1's own sample", || {
        (!points(&server, "press-1", "temperature_c").is_empty()).then_some(())
    });
    assert_eq!(
        points(&server, "press-2", "temperature_c"),
        vec![],
        "press-1 wrote telemetry for press-2"
    );
    let mut seen = received_until(
        &mut spy,
        "devices/press-1/telemetry",
        Duration::from_secs(5),
    );
    seen.extend(spy.received(Duration::from_millis(300)));
    assert!(
        seen.iter()
            .all(|(t, p)| !t.starts_with("devices/press-2/")
                && !p.windows(6).any(|w| w == b"forged")),
        "a forged message was delivered: {seen:?}"
    );
    assert!(
        seen.iter()
            .all(|(t, _)| !t.starts_with("devices/press-1/private")
                && !t.starts_with("devices/press-1/telemetry/")),
        "a publish beyond the contract was delivered: {seen:?}"
    );
    assert_eq!(
        metric(&server, DENIED_PUBLISHES, ""),
        denied_before + 5.0,
        "each dropped publish counted"
    );

    // The forged retained messages were not kept for anyone's subscribers either.
    let mut late = integration(&server, "Late");
    assert_eq!(late.subscribe("devices/#"), vec![GRANTED_1]);
    let retained = late.received(Duration::from_millis(500));
    assert!(retained.is_empty(), "retained forgery kept: {retained:?}");
}

/// The attack: a device publishes retained messages on its own contract topics; rumqttd
/// would keep each for as long as the process lives (and hand a stale `state/reported` to
/// every later subscriber). Today's code kept them.
#[test]
fn a_devices_retain_flag_is_cleared() {
    let server = Server::start();
    let password = provision(&server, "press-1");
    let cleared = "plantd_mqtt_device_retain_cleared_total";
    let before = metric(&server, cleared, "");
    let mut watcher = integration(&server, "Watcher");
    assert_eq!(watcher.subscribe("devices/press-1/#"), vec![GRANTED_1]);
    let mut press1 = device(&server, "press-1", &password);
    press1.publish_retained("devices/press-1/state/reported", r#"{"mode": "auto"}"#);
    // Delivered live (a message with its payload), ...
    let live = received_until(
        &mut watcher,
        "devices/press-1/state/reported",
        Duration::from_secs(5),
    );
    assert!(carries(&live, b"auto"), "{live:?}");
    // ... not kept for a later subscriber.
    let mut late = integration(&server, "Late");
    assert_eq!(late.subscribe("devices/press-1/#"), vec![GRANTED_1]);
    let retained = late.received(Duration::from_millis(500));
    assert!(
        retained.is_empty(),
        "a device's message was retained: {retained:?}"
    );
    assert_eq!(metric(&server, cleared, ""), before + 1.0);
}

#[test]
fn an_integration_cannot_publish_under_devices_or_plantd() {
    let server = Server::start();
    let password = provision(&server, "press-1");
    let mut writer = integration(&server, "Writer");
    let mut watcher = integration(&server, "Watcher");
    assert_eq!(watcher.subscribe("#"), vec![GRANTED_1]);
    let denied_before = metric(&server, DENIED_PUBLISHES, "");

    writer.publish(
        "devices/press-1/telemetry",
        r#"{"ts": 1000, "values": {"temperature_c": 99}}"#,
        QoS::AtLeastOnce,
    );
    writer.publish("plantd/events/x", r#"{"forged": true}"#, QoS::AtLeastOnce);
    writer.publish("plant/marker", "done", QoS::AtLeastOnce);

    let mut seen = received_until(&mut watcher, "plant/marker", Duration::from_secs(5));
    seen.extend(watcher.received(Duration::from_millis(300)));
    assert!(
        !topics(&seen)
            .iter()
            .any(|t| *t == "devices/press-1/telemetry" || *t == "plantd/events/x"),
        "an integration's publish under devices/ or plantd/ was delivered: {seen:?}"
    );
    assert!(
        !topics(&seen).iter().any(|t| t.starts_with('$')),
        "a $-topic reached a '#' subscriber: {seen:?}"
    );
    assert_eq!(
        metric(&server, DENIED_PUBLISHES, ""),
        denied_before + 2.0,
        "both dropped publishes counted"
    );

    // The device's own sample, sent afterwards, is the only one stored.
    let mut press1 = device(&server, "press-1", &password);
    press1.publish(
        "devices/press-1/telemetry",
        r#"{"ts": 2000, "values": {"temperature_c": 21}}"#,
        QoS::AtLeastOnce,
    );
    let stored = stored_points(&server, "press-1", "temperature_c", 1);
    assert_eq!(stored, vec![("1970-01-01T00:00:02Z".to_owned(), 21.0)]);
}

#[test]
fn integrations_use_other_topics_as_a_plain_broker() {
    let server = Server::start();
    let mut a = integration(&server, "svc.a");
    let mut b = integration(&server, "svc.b");

    // QoS 1 between two integrations.
    assert_eq!(b.subscribe("plant/line1/+"), vec![GRANTED_1]);
    a.publish("plant/line1/orders", "order-17", QoS::AtLeastOnce);
    match b.expect(Duration::from_secs(5), "the QoS 1 message", |p| {
        matches!(p, Packet::Publish(_))
    }) {
        Packet::Publish(p) => {
            assert_eq!(
                (p.topic.as_str(), &p.payload[..], p.qos),
                ("plant/line1/orders", &b"order-17"[..], QoS::AtLeastOnce)
            );
        }
        _ => unreachable!(),
    }

    // QoS 2 end to end.
    b.client
        .subscribe("plant/exact", QoS::ExactlyOnce)
        .expect("subscribe");
    match b.expect(Duration::from_secs(5), "SUBACK", |p| {
        matches!(p, Packet::SubAck(_))
    }) {
        Packet::SubAck(ack) => assert_eq!(
            ack.return_codes,
            vec![SubscribeReasonCode::Success(QoS::ExactlyOnce)]
        ),
        _ => unreachable!(),
    }
    a.client
        .publish("plant/exact", QoS::ExactlyOnce, false, "once")
        .expect("publish");
    a.expect(Duration::from_secs(5), "PUBCOMP", |p| {
        matches!(p, Packet::PubComp(_))
    });
    match b.expect(Duration::from_secs(5), "the QoS 2 message", |p| {
        matches!(p, Packet::Publish(_))
    }) {
        Packet::Publish(p) => assert_eq!(
            (p.topic.as_str(), &p.payload[..], p.qos),
            ("plant/exact", &b"once"[..], QoS::ExactlyOnce)
        ),
        _ => unreachable!(),
    }

    // A retained message reaches a subscriber that comes later.
    a.publish_retained("plant/config/recipe", "recipe-v3");
    let mut late = integration(&server, "svc.late");
    assert_eq!(late.subscribe("plant/config/#"), vec![GRANTED_1]);
    match late.expect(Duration::from_secs(5), "the retained message", |p| {
        matches!(p, Packet::Publish(_))
    }) {
        Packet::Publish(p) => {
            assert_eq!(
                (p.topic.as_str(), &p.payload[..]),
                ("plant/config/recipe", &b"recipe-v3"[..])
            );
            assert!(p.retain, "delivered without the retain flag");
        }
        _ => unreachable!(),
    }

    // A shared subscription: each job goes to exactly one worker of the group.
    let mut w1 = integration(&server, "worker.1");
    let mut w2 = integration(&server, "worker.2");
    assert_eq!(w1.subscribe("$share/workers/plant/jobs"), vec![GRANTED_1]);
    assert_eq!(w2.subscribe("$share/workers/plant/jobs"), vec![GRANTED_1]);
    const JOBS: usize = 10;
    for i in 0..JOBS {
        a.publish("plant/jobs", format!("job-{i}"), QoS::AtLeastOnce);
    }
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.values().sum::<usize>() < JOBS && Instant::now() < deadline {
        for w in [&mut w1, &mut w2] {
            for (topic, payload) in w.received(Duration::from_millis(100)) {
                assert_eq!(topic, "plant/jobs");
                *got.entry(String::from_utf8(payload).expect("utf-8"))
                    .or_default() += 1;
            }
        }
    }
    // Anything more (a duplicate) would show up in this window.
    for w in [&mut w1, &mut w2] {
        for (_, payload) in w.received(Duration::from_millis(300)) {
            *got.entry(String::from_utf8(payload).expect("utf-8"))
                .or_default() += 1;
        }
    }
    let expected: BTreeMap<String, usize> = (0..JOBS).map(|i| (format!("job-{i}"), 1)).collect();
    assert_eq!(
        got, expected,
        "each job delivered exactly once across the group"
    );
}

/// Waits for the next event on `plantd/events/{kind}` and checks its CloudEvents-style shape.
fn next_event(mqtt: &mut Mqtt, kind: &str) -> Value {
    let topic = format!("plantd/events/{kind}");
    let packet = mqtt.expect(
        Duration::from_secs(10),
        &topic,
        |p| matches!(p, Packet::Publish(p) if p.topic == topic),
    );
    let Packet::Publish(publish) = packet else {
        unreachable!()
    };
    assert_eq!(
        publish.qos,
        QoS::AtLeastOnce,
        "events are published at QoS 1"
    );
    let event: Value = serde_json::from_slice(&publish.payload)
        .unwrap_or_else(|e| panic!("event on {topic} is not JSON ({e}): {:?}", publish.payload));
    assert_eq!(event["type"], kind, "{event}");
    let id = event["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id: {event}"));
    let groups: Vec<usize> = id.split('-').map(str::len).collect();
    assert!(
        groups == [8, 4, 4, 4, 12] && id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()),
        "id is not a UUID: {event}"
    );
    let time = event["time"]
        .as_str()
        .unwrap_or_else(|| panic!("no time: {event}"));
    assert!(
        chrono::DateTime::parse_from_rfc3339(time).is_ok(),
        "time is not RFC 3339: {event}"
    );
    assert!(
        event["source"].as_str().is_some_and(|s| !s.is_empty()),
        "no source: {event}"
    );
    assert!(event["data"].is_object(), "no data: {event}");
    event
}

#[test]
fn integrations_see_device_events_on_plantd_events() {
    let server = Server::start();
    let mut listener = integration(&server, "Listener");
    assert_eq!(listener.subscribe("plantd/events/#"), vec![GRANTED_1]);

    let password = provision(&server, "press-1");
    let provisioned = next_event(&mut listener, "device.provisioned");
    assert_eq!(provisioned["data"]["device_id"], "press-1", "{provisioned}");

    let press1 = device(&server, "press-1", &password);
    let connected = next_event(&mut listener, "device.connected");
    assert_eq!(connected["data"]["device_id"], "press-1", "{connected}");

    press1.client.disconnect().expect("disconnect");
    let disconnected = next_event(&mut listener, "device.disconnected");
    assert_eq!(
        disconnected["data"]["device_id"], "press-1",
        "{disconnected}"
    );

    let ids = [&provisioned["id"], &connected["id"], &disconnected["id"]];
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
        "event ids are not unique: {ids:?}"
    );
    let t_connected = chrono::DateTime::parse_from_rfc3339(connected["time"].as_str().unwrap());
    let t_disconnected =
        chrono::DateTime::parse_from_rfc3339(disconnected["time"].as_str().unwrap());
    assert!(
        t_connected.unwrap() <= t_disconnected.unwrap(),
        "disconnected before connected: {connected} {disconnected}"
    );
}

/// True if any message carries `marker` in its payload.
fn carries(messages: &[(String, Vec<u8>)], marker: &[u8]) -> bool {
    messages
        .iter()
        .any(|(_, p)| p.windows(marker.len()).any(|w| w == marker))
}

#[test]
fn empty_and_non_utf8_topics_are_dropped_and_counted() {
    let server = Server::start();
    let password = provision(&server, "press-1");
    let mut watcher = integration(&server, "Watcher");
    assert_eq!(watcher.subscribe("#"), vec![GRANTED_1]);
    let denied = "kind=\"publish\"";
    let denied_before = metric(&server, DENIED_PUBLISHES, denied);

    // A raw 3.1.1 client: rumqttc cannot send a topic that is not UTF-8 (it takes topics
    // as `String`). rumqttd routes an empty topic like any other, and `#` matches it.
    let mut press1 = RawMqtt::connect(&server, "press-1", "press-1", &password);
    let forged: [(&[u8], &[u8]); 2] = [
        (b"", b"forged-empty"),
        (b"devices/press-1/\xff\xfe", b"forged-utf8"),
    ];
    for (pkid, (topic, payload)) in (1..).step_by(2).zip(forged) {
        // Acknowledged (retained, QoS 1), then dropped; the session goes on: its own
        // message, afterwards, is delivered.
        press1.publish(pkid, topic, payload, true);
        press1.publish(pkid + 1, b"devices/press-1/state/reported", b"{}", false);
        let mut seen = received_until(
            &mut watcher,
            "devices/press-1/state/reported",
            Duration::from_secs(5),
        );
        seen.extend(watcher.received(Duration::from_millis(300)));
        assert!(
            !carries(&seen, b"forged"),
            "a forged message was delivered on: {:?}",
            topics(&seen)
        );
    }
    assert_eq!(
        metric(&server, DENIED_PUBLISHES, denied),
        denied_before + 2.0,
        "both dropped publishes counted"
    );
    // Neither was kept as a retained message.
    let mut late = integration(&server, "Late");
    assert_eq!(late.subscribe("#"), vec![GRANTED_1]);
    let retained = late.received(Duration::from_millis(500));
    assert!(
        !carries(&retained, b"forged"),
        "retained forgery kept: {retained:?}"
    );
}

mod v5 {
    pub use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties};
    pub use rumqttc::v5::mqttbytes::QoS;
    pub use rumqttc::v5::{Client, Connection, Event, MqttOptions};
}

/// An MQTT 5 session over rumqttc's v5 client, driven from the test's thread.
struct Mqtt5 {
    client: v5::Client,
    connection: v5::Connection,
}

impl Mqtt5 {
    /// A device's session (client id and username are the device id); waits for the CONNACK.
    fn device(server: &Server, id: &str, password: &str) -> Mqtt5 {
        let (host, port) = server.mqtt_addr();
        let mut opts = v5::MqttOptions::new(id, host, port);
        opts.set_keep_alive(Duration::from_secs(30));
        opts.set_credentials(id, password);
        let (client, connection) = v5::Client::new(opts, 10);
        let mut mqtt = Mqtt5 { client, connection };
        mqtt.expect("CONNACK", |p| matches!(p, v5::Packet::ConnAck(..)));
        mqtt
    }

    /// Runs the connection until a packet matching `pred` comes in; panics after 10 s.
    fn expect(&mut self, what: &str, pred: impl Fn(&v5::Packet) -> bool) -> v5::Packet {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.connection.recv_timeout(left) {
                Ok(Ok(v5::Event::Incoming(p))) if pred(&p) => return p,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => panic!("MQTT 5 connection failed while waiting for {what}: {e}"),
                Err(_) => panic!("no {what} within 10 s"),
            }
        }
    }

    /// Publishes at QoS 1 with a topic alias and waits for the PUBACK.
    fn publish_aliased(&mut self, topic: &str, alias: u16, payload: &str) {
        let props = v5::PublishProperties {
            topic_alias: Some(alias),
            ..Default::default()
        };
        self.client
            .publish_with_properties(
                topic,
                v5::QoS::AtLeastOnce,
                false,
                payload.to_owned(),
                props,
            )
            .expect("publish");
        self.expect("PUBACK", |p| matches!(p, v5::Packet::PubAck(..)));
    }
}

#[test]
fn an_mqtt5_topic_alias_reaches_only_the_topic_it_was_set_on() {
    let server = Server::start();
    let password = provision(&server, "mixer-5");
    provision(&server, "mixer-6");
    // An MQTT 3.1.1 subscriber: rumqttd forwards an MQTT 5 publish with its properties
    // (here the alias), which a 3.1.1 connection must not get (rumqttd's v4 codec panics).
    let mut watcher = integration(&server, "Watcher");
    assert_eq!(watcher.subscribe("devices/#"), vec![GRANTED_1]);

    let mut mixer5 = Mqtt5::device(&server, "mixer-5", &password);
    // Alias 1 set on its own telemetry topic, then used with an empty topic.
    mixer5.publish_aliased(
        "devices/mixer-5/telemetry",
        1,
        r#"{"ts": 1000, "values": {"speed_rpm": 1450}}"#,
    );
    // Alias 2 set on another device's topic: that publish is dropped, and so is every
    // later one through the alias.
    mixer5.publish_aliased(
        "devices/mixer-6/telemetry",
        2,
        r#"{"ts": 1000, "values": {"speed_rpm": 99, "forged": 1}}"#,
    );
    mixer5.publish_aliased(
        "",
        2,
        r#"{"ts": 2000, "values": {"speed_rpm": 99, "forged": 1}}"#,
    );
    mixer5.publish_aliased("", 1, r#"{"ts": 2000, "values": {"speed_rpm": 1460}}"#);

    let stored = stored_points(&server, "mixer-5", "speed_rpm", 2);
    assert_eq!(
        stored,
        vec![
            ("1970-01-01T00:00:01Z".to_owned(), 1450.0),
            ("1970-01-01T00:00:02Z".to_owned(), 1460.0)
        ]
    );
    assert_eq!(points(&server, "mixer-6", "speed_rpm"), vec![]);
    // The second allowed sample was published last: once it is seen, a forged one would
    // have been seen before it.
    let mut seen = watcher.collect_until(Duration::from_secs(5), "mixer-5's samples", |got| {
        got.iter()
            .filter(|(t, _)| t == "devices/mixer-5/telemetry")
            .count()
            == 2
    });
    seen.retain(|(t, _)| t.starts_with("devices/"));
    assert_eq!(
        topics(&seen),
        vec!["devices/mixer-5/telemetry"; 2],
        "the integration saw {seen:?}"
    );
    assert!(
        !carries(&seen, b"forged"),
        "a forged message was delivered: {seen:?}"
    );
}

#[test]
fn unsubscribing_a_refused_filter_gets_an_unsuback() {
    let server = Server::start();
    let password = provision(&server, "press-1");
    let mut press1 = device(&server, "press-1", &password);
    let unsubscribe = |mqtt: &mut Mqtt, filter: &str| {
        mqtt.client.unsubscribe(filter).expect("unsubscribe");
        mqtt.expect(
            Duration::from_secs(5),
            &format!("UNSUBACK for {filter}"),
            |p| matches!(p, Packet::UnsubAck(_)),
        );
    };
    // A refused filter, unsubscribed once and again; one never subscribed.
    assert_eq!(press1.subscribe("devices/press-2/#"), vec![FAILURE]);
    unsubscribe(&mut press1, "devices/press-2/#");
    unsubscribe(&mut press1, "devices/press-2/#");
    unsubscribe(&mut press1, "#");

    // Allowed filters still subscribe and unsubscribe for real.
    assert_eq!(
        press1.subscribe("devices/press-1/commands/+"),
        vec![GRANTED_1]
    );
    let a = send_command(&server, "press-1", "a");
    assert_eq!(
        topics(
            &press1.collect_until(Duration::from_secs(10), "the command", |got| {
                !got.is_empty()
            })
        ),
        vec![format!("devices/press-1/commands/{a}")]
    );
    unsubscribe(&mut press1, "devices/press-1/commands/+");
    // An integration watching the device's commands sees the next one sent: press-1
    // would have had it by then.
    let mut watcher = integration(&server, "Watcher");
    assert_eq!(
        watcher.subscribe("devices/press-1/commands/+"),
        vec![GRANTED_1]
    );
    let b = send_command(&server, "press-1", "b");
    received_until(
        &mut watcher,
        &format!("devices/press-1/commands/{b}"),
        Duration::from_secs(10),
    );
    assert_eq!(press1.received(Duration::from_millis(300)), vec![]);

    // MQTT 5: one reason code per filter, and rumqttc's v5 client accepts only "success".
    let password = provision(&server, "mixer-5");
    let mut mixer5 = Mqtt5::device(&server, "mixer-5", &password);
    mixer5.client.unsubscribe("devices/#").expect("unsubscribe");
    match mixer5.expect("UNSUBACK", |p| matches!(p, v5::Packet::UnsubAck(..))) {
        v5::Packet::UnsubAck(ack) => assert_eq!(ack.reasons.len(), 1, "{ack:?}"),
        _ => unreachable!(),
    }
}
