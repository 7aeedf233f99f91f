//! The broker's per-client limits, each test written as the attack it stops: topic length,
//! filters per session and retained messages per integration token. Each runs a server with a small limit and checks what the attacker's
//! client gets back, what other clients see, and the counter on /metrics.

use std::time::Duration;

use rumqttc::{QoS, SubscribeReasonCode};

use crate::support::http::{metric, provision, token};
use crate::support::mqtt::{connect, device, Mqtt};
use crate::support::Server;

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
