//! Wills through plantd's broker over real sockets (MQTT 5, integration logins): a will
//! is published when its connection drops without a DISCONNECT, never after one, and a
//! session taken over by a new connection with the same client id publishes the OLD
//! connection's will, not the new one's (rumqttd kept one will per client id, so the
//! old connection's late close fired the new connection's will, and lost it for later).

use rumqttc::v5::mqttbytes::v5::{LastWill, Publish};
use rumqttc::v5::mqttbytes::QoS;

use crate::support::mqtt5::{integration, mqtt_token, options, text, GRANTED_1, V5};
use crate::support::Server;

/// A client `client_id` whose will is `payload` on `svc/will/{client_id}`.
fn with_will(server: &Server, login: &(String, String), client_id: &str, payload: &str) -> V5 {
    let topic = format!("svc/will/{client_id}");
    V5::connect(options(server, client_id, (&login.0, &login.1), |o| {
        o.set_last_will(LastWill::new(topic, payload, QoS::AtLeastOnce, false, None));
    }))
}

/// The payloads `watcher` received until the marker it gets published now (so every will
/// published before is among them).
fn received_until_now(server: &Server, login: &(String, String), watcher: &mut V5) -> Vec<String> {
    let mut marker = integration(server, login, "Marker");
    marker.publish("svc/will/marker", QoS::AtLeastOnce, false, "marker");
    marker.disconnect();
    watcher
        .until("marker")
        .iter()
        .map(text)
        .filter(|t| t != "marker")
        .collect()
}

fn watch(server: &Server, login: &(String, String)) -> V5 {
    let mut watcher = integration(server, login, "Watcher");
    assert_eq!(
        watcher.subscribe("svc/will/#", QoS::AtLeastOnce),
        vec![GRANTED_1]
    );
    watcher
}

fn first_will(watcher: &mut V5) -> Publish {
    watcher.next_publishes(1).remove(0)
}

#[test]
fn a_will_is_published_when_a_connection_drops_and_not_after_a_disconnect() {
    let server = Server::start();
    let login = mqtt_token(&server);
    let mut watcher = watch(&server, &login);

    let dropped = with_will(&server, &login, "Dropped", "gone-dropped");
    drop(dropped);
    let will = first_will(&mut watcher);
    assert_eq!(
        (will.topic.as_ref(), text(&will).as_str()),
        (&b"svc/will/Dropped"[..], "gone-dropped")
    );

    let polite = with_will(&server, &login, "Polite", "gone-polite");
    polite.disconnect();
    assert_eq!(
        received_until_now(&server, &login, &mut watcher),
        Vec::<String>::new(),
        "a DISCONNECT deletes the will"
    );
}

#[test]
fn a_takeover_publishes_the_old_connections_will_and_keeps_the_new_ones() {
    let server = Server::start();
    let login = mqtt_token(&server);
    let mut watcher = watch(&server, &login);

    let old = with_will(&server, &login, "Taken", "old-will");
    // The same client id again, clean start: the old connection is closed by the broker,
    // which publishes its will (as for any connection closed without a DISCONNECT).
    let new = with_will(&server, &login, "Taken", "new-will");
    assert_eq!(text(&first_will(&mut watcher)), "old-will");
    assert_eq!(
        received_until_now(&server, &login, &mut watcher),
        Vec::<String>::new(),
        "the new connection is alive: its will must not be published"
    );
    drop(old);

    // The new connection drops: now its will goes out.
    drop(new);
    assert_eq!(text(&first_will(&mut watcher)), "new-will");
}
