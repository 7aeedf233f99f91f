//! Who may log in to the broker: refusals with their exact CONNACK codes (MQTT 3.1.1 and 5)
//! and the auth-failure metric; integrations with an `mqtt`-scoped token, cut off when the
//! token is revoked; keep-alive 0; MQTT 5 devices on the same port.

use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use rumqttc::{ConnectReturnCode, ConnectionError, QoS, SubscribeReasonCode};
use serde_json::Value;

use crate::support::http::{api, metric, points, provision, stored_points, token};
use crate::support::mqtt::{connect, connect_with, device, options, Mqtt};
use crate::support::{eventually, Server};

/// A refused login: what it is, client id, login, expected CONNACK code, metric reason.
type Case<'a, C> = (&'a str, &'a str, Option<(&'a str, &'a str)>, C, &'a str);

const AUTH_FAILURES: &str = "plantd_mqtt_auth_failures_total";

/// The CONNACK code of a refused login; panics if the login was accepted or failed otherwise.
fn refusal(result: Result<Mqtt, ConnectionError>) -> ConnectReturnCode {
    match result {
        Err(ConnectionError::ConnectionRefused(code)) => code,
        Err(e) => panic!("expected a CONNACK refusal, got: {e}"),
        Ok(_) => panic!("expected a CONNACK refusal, but the login was accepted"),
    }
}

fn auth_failures(server: &Server, reason: &str) -> f64 {
    metric(server, AUTH_FAILURES, &format!("reason=\"{reason}\""))
}

fn online(server: &Server, id: &str) -> Value {
    let (status, body) = api(server).get(&format!("/api/v1/devices/{id}"));
    assert_eq!(status, 200, "{body}");
    body["online"].clone()
}

#[test]
fn refused_logins_get_the_exact_connack_code_and_are_counted() {
    let server = Server::start();
    let password = provision(&server, "press-1");
    let (read_only, read_only_secret) = token(&server, &["read", "write"]);
    let (mqtt_token, _) = token(&server, &["mqtt"]);
    let total_before = metric(&server, AUTH_FAILURES, "");

    // (what, client id, login, expected code, metric reason)
    let cases: Vec<Case<'_, ConnectReturnCode>> = vec![
        (
            "anonymous",
            "press-1",
            None,
            ConnectReturnCode::NotAuthorized,
            "no credentials",
        ),
        (
            "wrong device secret",
            "press-1",
            Some(("press-1", "not-the-secret")),
            ConnectReturnCode::BadUserNamePassword,
            "bad username or password",
        ),
        (
            "unknown device",
            "ghost-9",
            Some(("ghost-9", password.as_str())),
            ConnectReturnCode::BadUserNamePassword,
            "bad username or password",
        ),
        (
            "token without the mqtt scope",
            "Dashboard.1",
            Some((read_only.as_str(), read_only_secret.as_str())),
            ConnectReturnCode::NotAuthorized,
            "token lacks the mqtt scope",
        ),
        (
            "mqtt token with a wrong secret",
            "Dashboard.1",
            Some((mqtt_token.as_str(), "not-the-secret")),
            ConnectReturnCode::BadUserNamePassword,
            "bad username or password",
        ),
        (
            "device whose client id is not its id",
            "press-2",
            Some(("press-1", password.as_str())),
            // MQTT 3.1.1 code 2, "identifier rejected" (rumqttc calls it BadClientId).
            ConnectReturnCode::BadClientId,
            "client id must equal the device id",
        ),
    ];
    for (what, client_id, login, code, reason) in &cases {
        let before = auth_failures(&server, reason);
        assert_eq!(
            refusal(connect(&server, client_id, *login)),
            *code,
            "CONNACK code for {what}"
        );
        assert_eq!(
            auth_failures(&server, reason),
            before + 1.0,
            "{AUTH_FAILURES}{{reason=\"{reason}\"}} after {what}"
        );
    }
    assert_eq!(
        metric(&server, AUTH_FAILURES, ""),
        total_before + cases.len() as f64,
        "every refusal counted once"
    );
    // None of the refused attempts put the device online; its real credentials still work.
    assert_eq!(online(&server, "press-1"), false);
    let _mqtt = device(&server, "press-1", &password);
    eventually(Duration::from_secs(5), "press-1 online", || {
        (online(&server, "press-1") == true).then_some(())
    });
    assert_eq!(
        metric(&server, AUTH_FAILURES, ""),
        total_before + cases.len() as f64,
        "an accepted login is not a failure"
    );
}

#[test]
fn an_mqtt_token_logs_in_and_revoking_it_cuts_the_session_and_refuses_new_logins() {
    let server = Server::start();
    let (revoked, revoked_secret) = token(&server, &["mqtt"]);
    let (kept, kept_secret) = token(&server, &["mqtt", "read"]);
    assert!(revoked.starts_with("tok."), "token id {revoked}");

    let mut doomed = connect(&server, "Dashboard.1", Some((&revoked, &revoked_secret)))
        .unwrap_or_else(|e| panic!("mqtt-scoped token refused: {e}"));
    let mut watcher = connect(&server, "Dashboard.2", Some((&kept, &kept_secret)))
        .unwrap_or_else(|e| panic!("mqtt-scoped token refused: {e}"));
    assert_eq!(
        watcher.subscribe("plant/#"),
        vec![SubscribeReasonCode::Success(QoS::AtLeastOnce)]
    );
    // Before the revocation the session works both ways.
    doomed.publish("plant/status", "before", QoS::AtLeastOnce);
    let got = watcher.collect_until(Duration::from_secs(5), "the message", |got| !got.is_empty());
    assert_eq!(got, vec![("plant/status".to_owned(), b"before".to_vec())]);

    // A second session of it that sent no client id (the broker gives it one).
    let mut anonymous = connect(&server, "", Some((&revoked, &revoked_secret)))
        .unwrap_or_else(|e| panic!("mqtt-scoped token refused: {e}"));

    let (status, body) = api(&server).delete(&format!("/api/v1/tokens/{revoked}"));
    assert_eq!(status, 204, "revoke: {body}");

    // Both sessions are cut at once, idle as they are.
    assert!(
        doomed.closed_within(Duration::from_secs(5)).is_some(),
        "the revoked token's idle session is still open"
    );
    assert!(
        anonymous.closed_within(Duration::from_secs(5)).is_some(),
        "the revoked token's session without a client id is still open"
    );
    // Nothing may arrive: a bounded wait.
    let got = watcher.received(Duration::from_millis(500));
    assert!(
        got.is_empty(),
        "a publish of a revoked session was delivered: {got:?}"
    );

    // New logins with it are refused; the other token is untouched.
    let before = auth_failures(&server, "bad username or password");
    assert_eq!(
        refusal(connect(
            &server,
            "Dashboard.3",
            Some((&revoked, &revoked_secret))
        )),
        ConnectReturnCode::BadUserNamePassword
    );
    assert_eq!(
        auth_failures(&server, "bad username or password"),
        before + 1.0
    );
    watcher.publish("plant/status", "still here", QoS::AtLeastOnce);
    assert_eq!(
        watcher.collect_until(Duration::from_secs(5), "the message", |got| !got.is_empty()),
        vec![("plant/status".to_owned(), b"still here".to_vec())],
        "the other token's session keeps working"
    );
}

#[test]
fn an_integration_keeps_any_client_id_and_never_a_devices_session() {
    let server = Server::start();
    let (id, secret) = token(&server, &["mqtt"]);
    let (other_id, other_secret) = token(&server, &["mqtt"]);
    let persistent = |client_id: &str, login: (&str, &str)| {
        let mut opts = options(&server, client_id, Some(login));
        opts.set_clean_session(false);
        connect_with(opts).unwrap_or_else(|e| panic!("{client_id} refused: {e}"))
    };

    // Integrators bring their own ids, device-shaped ones included (`press-9` is no device
    // yet; `press-1` will be one).
    let mut watcher = persistent("press-9", (&id, &secret));
    assert_eq!(
        watcher.subscribe("devices/#"),
        vec![SubscribeReasonCode::Success(QoS::AtLeastOnce)]
    );
    let mut tool = persistent("myclientid", (&id, &secret));
    // Another token under the same id is another session: neither takes the other over.
    let mut twin = persistent("myclientid", (&other_id, &other_secret));
    assert_eq!(
        twin.subscribe("plant/#"),
        vec![SubscribeReasonCode::Success(QoS::AtLeastOnce)]
    );
    tool.publish("plant/line-3/state", "running", QoS::AtLeastOnce);
    assert_eq!(
        twin.collect_until(Duration::from_secs(5), "the other token's message", |got| {
            !got.is_empty()
        }),
        vec![("plant/line-3/state".to_owned(), b"running".to_vec())]
    );

    // The device `press-9`, provisioned later, logs in under the same client id and gets a
    // session of its own: the integration's session is neither handed over nor taken over.
    let p9 = provision(&server, "press-9");
    let p1 = provision(&server, "press-1");
    let mut press9 = persistent("press-9", ("press-9", &p9));
    let mut press1 = device(&server, "press-1", &p1);
    press1.publish(
        "devices/press-1/telemetry",
        r#"{"ts": 1000, "values": {"temperature_c": 20}}"#,
        QoS::AtLeastOnce,
    );
    let seen = watcher.collect_until(Duration::from_secs(10), "press-1's telemetry", |got| {
        got.iter()
            .any(|(topic, _)| topic == "devices/press-1/telemetry")
    });
    assert!(
        seen.iter().any(|(_, p)| p.starts_with(b"{\"ts\": 1000")),
        "the integration under `press-9` still receives: {seen:?}"
    );
    // Nothing may arrive at the device: a bounded wait.
    let leaked = press9.received(Duration::from_secs(1));
    assert!(leaked.is_empty(), "press-9 received {leaked:?}");

    // The persistent session is the integration's own: back under the same id, it is
    // resumed with its subscription.
    drop(watcher);
    let mut back = persistent("press-9", (&id, &secret));
    press1.publish(
        "devices/press-1/telemetry",
        r#"{"ts": 2000, "values": {"temperature_c": 21}}"#,
        QoS::AtLeastOnce,
    );
    let seen = back.collect_until(Duration::from_secs(10), "telemetry after resuming", |got| {
        got.iter().any(|(_, p)| p.starts_with(b"{\"ts\": 2000"))
    });
    assert!(!seen.is_empty());
}

#[test]
fn keep_alive_zero_is_accepted_as_no_keep_alive() {
    let server = Server::start();
    let password = provision(&server, "pump-3");
    let mut opts = options(&server, "pump-3", Some(("pump-3", &password)));
    // rumqttc 0.24 allows Duration::ZERO (v4 options only; its v5 options insist on >= 5 s).
    opts.set_keep_alive(Duration::ZERO);
    let mut mqtt = connect_with(opts).unwrap_or_else(|e| panic!("keep-alive 0 refused: {e}"));
    // No PINGREQ will ever come, and the session must not end for it. Proving that
    // something does not happen takes a bounded wait: 2 s is longer than the 1.5 s rumqttd
    // would allow a keep-alive of 1 s (the unit tests show 0 becomes rumqttd's maximum).
    assert_eq!(
        mqtt.closed_within(Duration::from_secs(2)),
        None,
        "the session ended without PINGREQs"
    );
    mqtt.publish(
        "devices/pump-3/telemetry",
        r#"{"ts": 1000, "values": {"flow_l_min": 12.5}}"#,
        QoS::AtLeastOnce,
    );
    let stored = stored_points(&server, "pump-3", "flow_l_min", 1);
    assert_eq!(stored, vec![("1970-01-01T00:00:01Z".to_owned(), 12.5)]);
    assert_eq!(online(&server, "pump-3"), true);
}

// --- MQTT 5 -----------------------------------------------------------------------------

mod v5 {
    pub use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode, Packet, SubscribeReasonCode};
    pub use rumqttc::v5::mqttbytes::QoS;
    pub use rumqttc::v5::{Client, ConnectionError, Event, MqttOptions};
}

/// An MQTT 5 session over rumqttc's v5 blocking client.
struct Mqtt5 {
    client: v5::Client,
    events: Receiver<Result<v5::Packet, String>>,
    /// The client id the server gave in the CONNACK, if any.
    assigned_client_id: Option<String>,
}

fn connect5(
    server: &Server,
    client_id: &str,
    login: Option<(&str, &str)>,
) -> Result<Mqtt5, v5::ConnectionError> {
    let (host, port) = server.mqtt_addr();
    let mut opts = v5::MqttOptions::new(client_id, host, port);
    opts.set_keep_alive(Duration::from_secs(30));
    if let Some((user, password)) = login {
        opts.set_credentials(user, password);
    }
    let (client, mut connection) = v5::Client::new(opts, 100);
    let (tx, rx) = channel();
    let (first_tx, first_rx) = channel();
    thread::spawn(move || {
        let mut first = Some(first_tx);
        for event in connection.iter() {
            match event {
                Ok(v5::Event::Incoming(v5::Packet::ConnAck(ack))) => {
                    if let Some(f) = first.take() {
                        let _ = f.send(Ok(ack));
                    }
                }
                Ok(v5::Event::Incoming(packet)) => {
                    if tx.send(Ok(packet)).is_err() {
                        break;
                    }
                }
                Ok(v5::Event::Outgoing(_)) => {}
                Err(e) => {
                    match first.take() {
                        Some(f) => {
                            let _ = f.send(Err(e));
                        }
                        None => {
                            let _ = tx.send(Err(e.to_string()));
                        }
                    }
                    break;
                }
            }
        }
    });
    match first_rx.recv_timeout(Duration::from_secs(15)) {
        Ok(Ok(ack)) => Ok(Mqtt5 {
            client,
            events: rx,
            assigned_client_id: ack.properties.and_then(|p| p.assigned_client_identifier),
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => panic!("no MQTT 5 CONNACK within 15 s"),
    }
}

impl Mqtt5 {
    fn expect(&mut self, what: &str, pred: impl Fn(&v5::Packet) -> bool) -> v5::Packet {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Ok(p)) if pred(&p) => return p,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => panic!("MQTT 5 connection failed while waiting for {what}: {e}"),
                Err(RecvTimeoutError::Timeout) => panic!("no {what} within 10 s"),
                Err(RecvTimeoutError::Disconnected) => panic!("connection ended: {what}"),
            }
        }
    }
}

fn refusal5(result: Result<Mqtt5, v5::ConnectionError>) -> v5::ConnectReturnCode {
    match result {
        Err(v5::ConnectionError::ConnectionRefused(code)) => code,
        Err(e) => panic!("expected an MQTT 5 CONNACK refusal, got: {e}"),
        Ok(_) => panic!("expected an MQTT 5 CONNACK refusal, but the login was accepted"),
    }
}

#[test]
fn an_mqtt5_device_logs_in_on_the_same_port_and_its_telemetry_is_stored() {
    let server = Server::start();
    let password = provision(&server, "mixer-5");
    let v4_password = provision(&server, "mixer-4");
    // A 3.1.1 client on the same port at the same time.
    let mut old = device(&server, "mixer-4", &v4_password);

    let mut mqtt = connect5(&server, "mixer-5", Some(("mixer-5", &password)))
        .unwrap_or_else(|e| panic!("MQTT 5 device refused: {e}"));
    mqtt.client
        .publish(
            "devices/mixer-5/telemetry",
            v5::QoS::AtLeastOnce,
            false,
            r#"{"ts": 2000, "values": {"speed_rpm": 1450, "running": true}}"#,
        )
        .expect("publish");
    mqtt.expect("PUBACK", |p| matches!(p, v5::Packet::PubAck(..)));
    old.publish(
        "devices/mixer-4/telemetry",
        r#"{"ts": 2000, "values": {"speed_rpm": 900}}"#,
        QoS::AtLeastOnce,
    );
    let stored = stored_points(&server, "mixer-5", "speed_rpm", 1);
    assert_eq!(stored, vec![("1970-01-01T00:00:02Z".to_owned(), 1450.0)]);
    assert_eq!(
        points(&server, "mixer-5", "running"),
        vec![("1970-01-01T00:00:02Z".to_owned(), 1.0)]
    );
    eventually(Duration::from_secs(10), "the MQTT 3.1.1 sample", || {
        (points(&server, "mixer-4", "speed_rpm").len() == 1).then_some(())
    });
    assert_eq!(online(&server, "mixer-5"), true);

    // The topic rules hold for MQTT 5 too, with the v5 reason code.
    mqtt.client
        .subscribe("devices/+/telemetry", v5::QoS::AtLeastOnce)
        .expect("subscribe");
    // rumqttc's v5 client turns a SUBACK failure into a connection error that names the
    // reason code; either way the code must be "not authorized".
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match mqtt.events.recv_timeout(left) {
            Ok(Ok(v5::Packet::SubAck(ack))) => {
                assert_eq!(
                    ack.return_codes,
                    vec![v5::SubscribeReasonCode::NotAuthorized]
                );
                break;
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                assert!(
                    e.contains("Subscribe failed with reason 'NotAuthorized'"),
                    "unexpected MQTT 5 error after a refused SUBSCRIBE: {e}"
                );
                break;
            }
            Err(e) => panic!("no SUBACK for a refused MQTT 5 subscription: {e}"),
        }
    }
}

#[test]
fn mqtt5_refusals_use_the_mqtt5_reason_codes() {
    let server = Server::start();
    let password = provision(&server, "mixer-5");
    let (read_only, read_only_secret) = token(&server, &["read"]);
    let cases: Vec<Case<'_, v5::ConnectReturnCode>> = vec![
        (
            "anonymous",
            "mixer-5",
            None,
            v5::ConnectReturnCode::NotAuthorized,
            "no credentials",
        ),
        (
            "wrong secret",
            "mixer-5",
            Some(("mixer-5", "nope")),
            v5::ConnectReturnCode::BadUserNamePassword,
            "bad username or password",
        ),
        (
            "unknown device",
            "ghost-1",
            Some(("ghost-1", password.as_str())),
            v5::ConnectReturnCode::BadUserNamePassword,
            "bad username or password",
        ),
        (
            "token without the mqtt scope",
            "Dashboard.1",
            Some((read_only.as_str(), read_only_secret.as_str())),
            v5::ConnectReturnCode::NotAuthorized,
            "token lacks the mqtt scope",
        ),
        (
            "client id mismatch",
            "mixer-6",
            Some(("mixer-5", password.as_str())),
            v5::ConnectReturnCode::ClientIdentifierNotValid,
            "client id must equal the device id",
        ),
    ];
    for (what, client_id, login, code, reason) in cases {
        let before = auth_failures(&server, reason);
        assert_eq!(
            refusal5(connect5(&server, client_id, login)),
            code,
            "MQTT 5 CONNACK code for {what}"
        );
        assert_eq!(
            auth_failures(&server, reason),
            before + 1.0,
            "refusal counted for {what}"
        );
    }
    assert_eq!(online(&server, "mixer-5"), false);
}

#[test]
fn an_mqtt5_client_without_a_client_id_is_told_the_one_it_was_given() {
    let server = Server::start();
    let (id, secret) = token(&server, &["mqtt"]);
    let first = connect5(&server, "", Some((&id, &secret))).expect("MQTT 5 login");
    let second = connect5(&server, "", Some((&id, &secret))).expect("MQTT 5 login");
    let (a, b) = (
        first
            .assigned_client_id
            .clone()
            .expect("an assigned client id"),
        second
            .assigned_client_id
            .clone()
            .expect("an assigned client id"),
    );
    assert!(!a.is_empty() && a != b, "{a} / {b}");
    // Revoking the token cuts both, idle as they are.
    let (status, _) = api(&server).delete(&format!("/api/v1/tokens/{id}"));
    assert_eq!(status, 204);
    for session in [first, second] {
        let deadline = Instant::now() + Duration::from_secs(5);
        let closed = loop {
            match session
                .events
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(Ok(_)) => {}
                Ok(Err(_)) | Err(RecvTimeoutError::Disconnected) => break true,
                Err(RecvTimeoutError::Timeout) => break false,
            }
        };
        assert!(closed, "the session of a revoked token is still open");
    }
}
