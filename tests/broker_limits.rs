//! The broker's per-client limits, each test written as the attack it stops: topic length,
//! filters per session, retained messages per integration token, sessions per token and the
//! maximum keep-alive. Each runs a server with a small limit and checks what the attacker's
//! client gets back, what other clients see, and the counter on /metrics.

use std::time::{Duration, Instant};

use rumqttc::{ConnectReturnCode, ConnectionError, QoS, SubscribeReasonCode};

use crate::support::http::{metric, provision, token};
use crate::support::mqtt::{connect, device, Mqtt};
use crate::support::raw_mqtt::RawMqtt;
use crate::support::{eventually, Server};

const LIMITED: &str = "plantd_mqtt_limited_total";
const FAILURE: SubscribeReasonCode = SubscribeReasonCode::Failure;
const GRANTED_1: SubscribeReasonCode = SubscribeReasonCode::Success(QoS::AtLeastOnce);
const WAIT: Duration = Duration::from_secs(10);

fn limited(server: &Server, limit: &str) -> f64 {
    metric(server, LIMITED, &format!("limit=\"{limit}\""))
}

fn integration(server: &Server, login: &(String, String), client_id: &str) -> Mqtt {
    connect(server, client_id, Some((&login.0, &login.1)))
        .unwrap_or_else(|e| panic!("integration {client_id} refused: {e}"))
}

/// Every PUBLISH received until one on `topic` arrives (included); panics after `WAIT`.
fn received_until(mqtt: &mut Mqtt, topic: &str) -> Vec<(String, Vec<u8>)> {
    mqtt.collect_until(WAIT, topic, |got| got.iter().any(|(t, _)| t == topic))
}

/// The attack: topics and filters as long as a packet allows (here 1,000 bytes), each one
/// kept by rumqttd (its topic cache, a log per topic). Today's code took any length.
#[test]
fn topics_and_filters_longer_than_the_maximum_are_refused_and_counted() {
    let server = Server::start_with(&[("PLANTD_MQTT_MAX_TOPIC_BYTES", "128")]);
    let login = token(&server, &["mqtt"]);
    let mut watcher = integration(&server, &login, "Watcher");
    assert_eq!(watcher.subscribe("#"), vec![GRANTED_1]);
    let mut attacker = integration(&server, &login, "Attacker");
    let long = format!("plant/{}", "x".repeat(1000));
    let before = limited(&server, "topic_bytes");

    attacker.publish(&long, "forged", QoS::AtLeastOnce);
    assert_eq!(attacker.subscribe(&long), vec![FAILURE]);
    attacker.publish("plant/marker", "done", QoS::AtLeastOnce);

    let seen = received_until(&mut watcher, "plant/marker");
    assert!(
        seen.iter().all(|(t, _)| t.len() <= 128),
        "an over-long topic was delivered: {:?}",
        seen.iter().map(|(t, _)| t.len()).collect::<Vec<_>>()
    );
    assert_eq!(limited(&server, "topic_bytes"), before + 2.0);
}

/// The attack: a device subscribes to ever more `commands/{cmd}` filters (each allowed by
/// the contract), every filter a log of its own in rumqttd. Today's code granted them all.
#[test]
fn a_session_gets_at_most_the_maximum_filters() {
    let server = Server::start_with(&[("PLANTD_MQTT_MAX_FILTERS_PER_SESSION", "8")]);
    let password = provision(&server, "press-1");
    let mut press1 = device(&server, "press-1", &password);
    let before = limited(&server, "filters_per_session");
    let codes: Vec<SubscribeReasonCode> = (0..10)
        .flat_map(|i| press1.subscribe(&format!("devices/press-1/commands/c-{i}")))
        .collect();
    assert_eq!(codes[..8], [GRANTED_1; 8], "up to the maximum");
    assert_eq!(codes[8..], [FAILURE; 2], "beyond it refused");
    assert_eq!(limited(&server, "filters_per_session"), before + 2.0);
    // Unsubscribing frees a place.
    press1
        .client
        .unsubscribe("devices/press-1/commands/c-0")
        .expect("unsubscribe");
    press1.expect(WAIT, "UNSUBACK", |p| {
        matches!(p, rumqttc::Packet::UnsubAck(_))
    });
    assert_eq!(
        press1.subscribe("devices/press-1/commands/c-9"),
        vec![GRANTED_1]
    );
}

/// The attack: an integration retains a message on ever new topics, each kept by rumqttd
/// for as long as the process lives. Today's code retained every one.
#[test]
fn an_integration_token_retains_at_most_the_maximum() {
    let server = Server::start_with(&[("PLANTD_MQTT_MAX_RETAINED_PER_TOKEN", "2")]);
    let login = token(&server, &["mqtt"]);
    let mut a = integration(&server, &login, "svc.a");
    let before = limited(&server, "retained_per_token");
    a.publish_retained("plant/1", "one");
    a.publish_retained("plant/2", "two");
    a.publish_retained("plant/3", "three");
    // Another session of the same token draws on the same places.
    let mut b = integration(&server, &login, "svc.b");
    b.publish_retained("plant/4", "four");

    let retained = |name: &str| {
        let mut late = integration(&server, &login, name);
        assert_eq!(late.subscribe("plant/#"), vec![GRANTED_1]);
        let mut got: Vec<String> = late
            .received(Duration::from_millis(500))
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        got.sort();
        got
    };
    assert_eq!(retained("late.1"), ["plant/1", "plant/2"]);
    assert_eq!(limited(&server, "retained_per_token"), before + 2.0);

    // Clearing one (an empty retained payload) frees its place.
    a.publish_retained("plant/1", "");
    a.publish_retained("plant/3", "three");
    assert_eq!(retained("late.2"), ["plant/2", "plant/3"]);
}

/// The attack: one `mqtt` token opens session after session, up to the broker's whole
/// connection limit. Today's code let every one in.
#[test]
fn a_token_gets_at_most_the_maximum_sessions() {
    let server = Server::start_with(&[("PLANTD_MQTT_MAX_SESSIONS_PER_TOKEN", "2")]);
    let login = token(&server, &["mqtt"]);
    let other = token(&server, &["mqtt"]);
    let before = limited(&server, "sessions_per_token");
    let first = integration(&server, &login, "svc.1");
    let _second = integration(&server, &login, "svc.2");

    match connect(&server, "svc.3", Some((&login.0, &login.1))) {
        Err(ConnectionError::ConnectionRefused(code)) => {
            assert_eq!(code, ConnectReturnCode::NotAuthorized)
        }
        Err(e) => panic!("expected a CONNACK refusal, got {e}"),
        Ok(_) => panic!("a third session of the token was let in"),
    }
    // MQTT 5 says why.
    let (host, port) = server.mqtt_addr();
    let mut opts = rumqttc::v5::MqttOptions::new("svc.5", host, port);
    opts.set_credentials(&login.0, &login.1);
    let (_client, mut connection) = rumqttc::v5::Client::new(opts, 10);
    match connection.recv_timeout(WAIT) {
        Ok(Err(rumqttc::v5::ConnectionError::ConnectionRefused(code))) => assert_eq!(
            code,
            rumqttc::v5::mqttbytes::v5::ConnectReturnCode::QuotaExceeded
        ),
        other => panic!("expected a quota refusal, got {other:?}"),
    }
    assert_eq!(limited(&server, "sessions_per_token"), before + 2.0);

    // Another token is not affected; a takeover of one's own client id is no new session.
    integration(&server, &other, "svc.3");
    let _again = integration(&server, &login, "svc.2");
    // A session that ends frees its place.
    first.client.disconnect().expect("disconnect");
    eventually(WAIT, "a place freed", || {
        connect(&server, "svc.3", Some((&login.0, &login.1))).ok()
    });
}

/// The attack: keep-alive 0 ("none"; plantd made it 65,535 s), then silence: the session
/// and everything it holds would outlive the client by 18 hours. Today's code kept it open.
#[test]
fn a_silent_client_is_held_to_the_maximum_keep_alive() {
    let server = Server::start_with(&[("PLANTD_MQTT_MAX_KEEP_ALIVE_S", "1")]);
    let (id, secret) = token(&server, &["mqtt"]);
    let before = limited(&server, "keep_alive");
    let started = Instant::now();
    let mut silent = RawMqtt::connect_with_keep_alive(&server, "Silent", &id, &secret, 0);
    // rumqttd ends a session after 1.5 keep-alives of silence.
    let closed = silent.closed_within(Duration::from_secs(10));
    assert!(
        closed.is_some_and(|t| t >= Duration::from_millis(1000)),
        "closed after {closed:?} (connected {:?} ago)",
        started.elapsed()
    );
    assert_eq!(limited(&server, "keep_alive"), before + 1.0);

    // An MQTT 5 client is told the keep-alive it is held to.
    let (host, port) = server.mqtt_addr();
    let mut opts = rumqttc::v5::MqttOptions::new("Told", host, port);
    opts.set_credentials(&id, &secret);
    opts.set_keep_alive(Duration::from_secs(60));
    let (_client, mut connection) = rumqttc::v5::Client::new(opts, 10);
    match connection.recv_timeout(WAIT) {
        Ok(Ok(rumqttc::v5::Event::Incoming(rumqttc::v5::mqttbytes::v5::Packet::ConnAck(ack)))) => {
            assert_eq!(
                ack.properties.and_then(|p| p.server_keep_alive),
                Some(1),
                "server keep-alive in the CONNACK"
            )
        }
        other => panic!("expected a CONNACK, got {other:?}"),
    }
}
