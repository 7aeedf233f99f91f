//! The device registry over the API: CRUD with pages and filters, the tombstone of a
//! deleted id, credential rotation and disable / enable cutting a live (idle) MQTT session
//! at once with the right CONNACK codes afterwards, presence counters moving with traffic,
//! and the `device.*` events.

use std::time::Duration;

use rumqttc::{ConnectReturnCode, ConnectionError, Packet, QoS};
use serde_json::{json, Value};

use crate::support::http::{api, metric, provision, token};
use crate::support::mqtt::{connect, connect_with, options, Mqtt};
use crate::support::server::ADMIN_TOKEN;
use crate::support::{eventually, Server};

/// A session is cut "at once" if it ends well inside its keep-alive (120 s here).
const CUT_WITHIN: Duration = Duration::from_secs(3);

fn ids(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {body}"))
        .iter()
        .map(|d| d["id"].as_str().expect("id").to_owned())
        .collect()
}

/// An idle device session: no subscriptions, a long keep-alive, nothing sent after CONNECT.
fn idle_device(server: &Server, id: &str, password: &str) -> Mqtt {
    let mut opts = options(server, id, Some((id, password)));
    opts.set_keep_alive(Duration::from_secs(120));
    connect_with(opts).unwrap_or_else(|e| panic!("device {id} could not connect: {e}"))
}

fn refusal(result: Result<Mqtt, ConnectionError>) -> ConnectReturnCode {
    match result {
        Err(ConnectionError::ConnectionRefused(code)) => code,
        Err(e) => panic!("expected a CONNACK refusal, got: {e}"),
        Ok(_) => panic!("expected a CONNACK refusal, but the login was accepted"),
    }
}

fn device_json(server: &Server, id: &str) -> Value {
    let (status, body) = api(server).get(&format!("/api/v1/devices/{id}"));
    assert_eq!(status, 200, "{body}");
    body
}

/// An integration listening to `plantd/events/#`.
fn event_listener(server: &Server) -> Mqtt {
    let (id, secret) = token(server, &["mqtt"]);
    let mut mqtt = connect(server, "events.spy", Some((&id, &secret))).expect("integration login");
    mqtt.subscribe("plantd/events/#");
    mqtt
}

fn expect_event(mqtt: &mut Mqtt, kind: &str, device: &str) -> Value {
    let topic = format!("plantd/events/{kind}");
    let packet = mqtt.expect(Duration::from_secs(10), &topic, |p| {
        matches!(p, Packet::Publish(p) if p.topic == topic
            && serde_json::from_slice::<Value>(&p.payload).is_ok_and(|e| e["data"]["device_id"] == device))
    });
    let Packet::Publish(publish) = packet else {
        unreachable!()
    };
    serde_json::from_slice(&publish.payload).expect("event JSON")
}

#[test]
fn registry_crud_pages_filters_and_a_deleted_id_is_never_reused() {
    let mut server = Server::start();
    let api = api(&server);
    // A device joins an asset that exists (an unknown one is 422: tests/health.rs).
    let (status, site) = api.post("/api/v1/assets", json!({"name": "North", "kind": "site"}));
    assert_eq!(status, 201, "{site}");
    let (status, press) = api.post(
        "/api/v1/assets",
        json!({"name": "Press line 2", "kind": "asset", "parent_id": site["id"]}),
    );
    assert_eq!(status, 201, "{press}");
    let asset = press["id"].as_str().expect("asset id").to_owned();
    let (status, created) = api.post(
        "/api/v1/devices",
        json!({"id": "press-01", "name": "Press 1", "kind": "press", "asset_id": asset,
               "metadata": {"serial": "A1", "vendor": "Acme"}, "labels": ["line-2", "site:north", "line-2"]}),
    );
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["labels"], json!(["line-2", "site:north"]));
    assert_eq!(created["metadata"]["serial"], "A1");
    assert!(created["credentials"]["password"]
        .as_str()
        .is_some_and(|p| p.len() >= 32));
    assert!(created["updated_at"].is_string(), "{created}");
    for (id, kind, labels) in [
        ("press-02", "press", json!(["line-2"])),
        ("pump-01", "pump", json!(["line-1"])),
        ("pump-02", "pump", json!([])),
        ("oven-01", "oven", json!(["line-1", "site:north"])),
    ] {
        let (status, body) = api.post(
            "/api/v1/devices",
            json!({"id": id, "name": id, "kind": kind, "labels": labels}),
        );
        assert_eq!(status, 201, "{body}");
    }

    // Pages of two, in id order, walked with the cursor.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/devices?limit=2&cursor={c}"),
            None => "/api/v1/devices?limit=2".to_owned(),
        };
        let (status, page) = api.get(&path);
        assert_eq!(status, 200, "{page}");
        let items = ids(&page);
        assert!(items.len() <= 2);
        seen.extend(items);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["oven-01", "press-01", "press-02", "pump-01", "pump-02"]
    );
    assert_eq!(api.get("/api/v1/devices?limit=0").0, 400);
    assert_eq!(api.get("/api/v1/devices?limit=1001").0, 400);
    assert_eq!(api.get("/api/v1/devices?state=sleeping").0, 400);

    // Filters, alone and together.
    assert_eq!(
        ids(&api.get("/api/v1/devices?kind=pump").1),
        ["pump-01", "pump-02"]
    );
    assert_eq!(
        ids(&api.get("/api/v1/devices?label=site:north").1),
        ["oven-01", "press-01"]
    );
    assert_eq!(
        ids(&api.get("/api/v1/devices?label=line-1&kind=oven").1),
        ["oven-01"]
    );
    assert_eq!(
        api.post("/api/v1/devices/pump-02/disable", json!({})).0,
        200
    );
    assert_eq!(
        ids(&api.get("/api/v1/devices?state=disabled").1),
        ["pump-02"]
    );
    assert_eq!(
        ids(&api.get("/api/v1/devices?state=online").1),
        Vec::<String>::new()
    );
    assert_eq!(ids(&api.get("/api/v1/devices?state=offline").1).len(), 4);

    // PATCH: metadata is a merge patch (null removes), labels are replaced, null clears kind.
    let (status, patched) = api.patch(
        "/api/v1/devices/press-01",
        json!({"name": "Press one", "kind": null, "metadata": {"vendor": null, "room": "H2"},
               "labels": ["line-3"]}),
    );
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["name"], "Press one");
    assert_eq!(patched["kind"], Value::Null);
    assert_eq!(patched["metadata"], json!({"serial": "A1", "room": "H2"}));
    assert_eq!(patched["labels"], json!(["line-3"]));
    assert_eq!(patched["asset_id"], asset.as_str(), "untouched fields stay");
    assert!(patched["updated_at"].as_str() >= created["updated_at"].as_str());
    let (status, problem) = api.patch(
        "/api/v1/devices/press-01",
        json!({"labels": ["Not A Label"]}),
    );
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("label")),
        "{problem}"
    );
    let (status, problem) = api.patch("/api/v1/devices/press-01", json!({"metadata": [1, 2]}));
    assert_eq!(status, 422, "{problem}");
    let (status, problem) = api.post(
        "/api/v1/devices",
        json!({"id": "bad-meta", "name": "x", "metadata": "text"}),
    );
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        api.patch("/api/v1/devices/nobody", json!({"name": "x"})).0,
        404
    );
    assert_eq!(api.get("/api/v1/devices/nobody").0, 404);

    // Delete: gone from the registry, and the id is never given out again.
    let (status, body) = api.delete("/api/v1/devices/press-02");
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        metric(&server, "plantd_device_changes_total", "change=\"deleted\""),
        1.0
    );
    assert_eq!(api.get("/api/v1/devices/press-02").0, 404);
    assert_eq!(api.delete("/api/v1/devices/press-02").0, 404);
    assert!(!ids(&api.get("/api/v1/devices").1).contains(&"press-02".to_owned()));
    let (status, problem) = api.post(
        "/api/v1/devices",
        json!({"id": "press-02", "name": "Impostor"}),
    );
    assert_eq!(status, 409, "{problem}");

    // What a restart must keep: fields, labels, metadata, the disabled state, the tombstone.
    server.restart();
    let api = crate::support::http::api(&server);
    let kept = device_json(&server, "press-01");
    assert_eq!(kept["name"], "Press one");
    assert_eq!(kept["metadata"], json!({"serial": "A1", "room": "H2"}));
    assert_eq!(kept["labels"], json!(["line-3"]));
    assert_eq!(device_json(&server, "pump-02")["enabled"], false);
    assert_eq!(api.get("/api/v1/devices/press-02").0, 404);
    assert_eq!(
        api.post("/api/v1/devices", json!({"id": "press-02", "name": "x"}))
            .0,
        409
    );
}

#[test]
fn a_viewer_token_reads_but_cannot_change_devices() {
    let server = Server::start();
    let password = provision(&server, "press-1");
    let (_, secret) = token(&server, &["read"]);
    let viewer = api(&server).with_token(&secret);
    let (status, list_before) = viewer.get("/api/v1/devices");
    assert_eq!(status, 200);
    let (status, before) = viewer.get("/api/v1/devices/press-1");
    assert_eq!(status, 200);
    for path in [
        "/api/v1/devices/press-1/credentials",
        "/api/v1/devices/press-1/disable",
        "/api/v1/devices/press-1/enable",
    ] {
        viewer.assert_forbidden("POST", path, Some(json!({})), "write");
    }
    viewer.assert_forbidden("DELETE", "/api/v1/devices/press-1", None, "write");
    viewer.assert_forbidden(
        "POST",
        "/api/v1/devices",
        Some(json!({"id": "x-1", "name": "x"})),
        "write",
    );
    // Nothing changed: the same device, the same list, and the secret still works.
    assert_eq!(device_json(&server, "press-1"), before);
    assert_eq!(api(&server).get("/api/v1/devices").1, list_before);
    connect(&server, "press-1", Some(("press-1", &password)))
        .unwrap_or_else(|e| panic!("the refused rotation changed the secret: {e}"));
}

#[test]
fn rotation_cuts_a_live_idle_session_and_only_the_new_secret_works() {
    let server = Server::start();
    let old = provision(&server, "press-1");
    let mut events = event_listener(&server);
    let mut session = idle_device(&server, "press-1", &old);
    eventually(Duration::from_secs(10), "press-1 online", || {
        (device_json(&server, "press-1")["online"] == true).then_some(())
    });

    let (status, rotated) = api(&server).post("/api/v1/devices/press-1/credentials", json!({}));
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(rotated["username"], "press-1");
    let raw = ureq::post(&server.url("/api/v1/devices/press-1/credentials"))
        .set("Authorization", &format!("Bearer {ADMIN_TOKEN}"))
        .call()
        .expect("rotate");
    assert_eq!(raw.header("cache-control"), Some("no-store"));
    let rotated: Value = raw.into_json().expect("json");
    let new = rotated["password"]
        .as_str()
        .expect("new password")
        .to_owned();
    assert_ne!(new, old);
    assert!(
        session.closed_within(CUT_WITHIN).is_some(),
        "the idle session of press-1 was not cut after rotation"
    );
    expect_event(&mut events, "device.credentials_rotated", "press-1");
    expect_event(&mut events, "device.disconnected", "press-1");

    assert_eq!(
        refusal(connect(&server, "press-1", Some(("press-1", &old)))),
        ConnectReturnCode::BadUserNamePassword
    );
    let mut again = idle_device(&server, "press-1", &new);
    again.publish(
        "devices/press-1/telemetry",
        r#"{"values": {"t": 1}}"#,
        QoS::AtLeastOnce,
    );
    assert_eq!(
        api(&server)
            .post("/api/v1/devices/nobody/credentials", json!({}))
            .0,
        404
    );
}

#[test]
fn disable_cuts_a_live_session_and_refuses_logins_until_enabled() {
    let server = Server::start();
    let password = provision(&server, "press-1");
    let mut events = event_listener(&server);
    let mut session = idle_device(&server, "press-1", &password);
    eventually(Duration::from_secs(10), "press-1 online", || {
        (device_json(&server, "press-1")["online"] == true).then_some(())
    });

    let (status, body) = api(&server).post("/api/v1/devices/press-1/disable", json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["enabled"], false);
    assert!(
        session.closed_within(CUT_WITHIN).is_some(),
        "the idle session of press-1 was not cut after disable"
    );
    expect_event(&mut events, "device.disabled", "press-1");
    assert_eq!(
        refusal(connect(&server, "press-1", Some(("press-1", &password)))),
        ConnectReturnCode::NotAuthorized
    );
    let offline = eventually(Duration::from_secs(10), "press-1 offline", || {
        let d = device_json(&server, "press-1");
        (d["online"] == false).then_some(d)
    });
    assert_eq!(offline["enabled"], false);

    // Disabling again changes nothing; enabling lets the same secret in.
    assert_eq!(
        api(&server)
            .post("/api/v1/devices/press-1/disable", json!({}))
            .0,
        200
    );
    let (status, body) = api(&server).post("/api/v1/devices/press-1/enable", json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["enabled"], true);
    expect_event(&mut events, "device.enabled", "press-1");
    idle_device(&server, "press-1", &password);
}

#[test]
fn delete_cuts_a_live_session_and_the_device_cannot_log_in_again() {
    let server = Server::start();
    let password = provision(&server, "press-1");
    let mut events = event_listener(&server);
    let mut session = idle_device(&server, "press-1", &password);
    eventually(Duration::from_secs(10), "press-1 online", || {
        (device_json(&server, "press-1")["online"] == true).then_some(())
    });
    assert_eq!(api(&server).delete("/api/v1/devices/press-1").0, 204);
    assert!(
        session.closed_within(CUT_WITHIN).is_some(),
        "the idle session of press-1 was not cut after delete"
    );
    expect_event(&mut events, "device.deleted", "press-1");
    assert_eq!(
        refusal(connect(&server, "press-1", Some(("press-1", &password)))),
        ConnectReturnCode::BadUserNamePassword
    );
}

#[test]
fn presence_and_counters_move_with_traffic() {
    let server = Server::start();
    let password = provision(&server, "press-1");
    let before = device_json(&server, "press-1");
    assert_eq!(before["online"], false);
    assert_eq!(before["messages_in"], 0);
    assert_eq!(before["last_seen"], Value::Null);

    let mut mqtt = idle_device(&server, "press-1", &password);
    let online = eventually(Duration::from_secs(10), "press-1 online", || {
        let d = device_json(&server, "press-1");
        (d["online"] == true).then_some(d)
    });
    assert_eq!(online["protocol_version"], 4);
    assert_eq!(metric(&server, "plantd_devices_online", ""), 1.0);
    assert_eq!(metric(&server, "plantd_devices_registered", ""), 1.0);
    assert!(online["connected_since"].is_string(), "{online}");
    let connected_seen = online["last_seen"].as_str().expect("last_seen").to_owned();

    for i in 0..3 {
        mqtt.publish(
            "devices/press-1/telemetry",
            format!(r#"{{"values": {{"temperature_c": {i}}}}}"#),
            QoS::AtLeastOnce,
        );
    }
    mqtt.publish(
        "devices/press-1/telemetry",
        r#"{"values": "not numbers"}"#,
        QoS::AtLeastOnce,
    );
    let counted = eventually(Duration::from_secs(10), "traffic counted", || {
        let d = device_json(&server, "press-1");
        (d["messages_in"] == 4 && d["telemetry"]["payloads_rejected"] == 1).then_some(d)
    });
    assert!(counted["last_message_at"].is_string(), "{counted}");
    assert!(
        counted["last_seen"].as_str().expect("last_seen") >= connected_seen.as_str(),
        "{counted}"
    );
    assert!(
        counted["telemetry"]["last_rejection"].is_string(),
        "{counted}"
    );
    assert_eq!(counted["telemetry"]["payloads_accepted"], 3);

    mqtt.client.disconnect().expect("disconnect");
    let offline = eventually(Duration::from_secs(10), "press-1 offline", || {
        let d = device_json(&server, "press-1");
        (d["online"] == false).then_some(d)
    });
    assert_eq!(offline["connected_since"], Value::Null);
    assert_eq!(metric(&server, "plantd_devices_online", ""), 0.0);
    assert!(offline["last_seen"].is_string());
}

#[test]
fn cut_sessions_leave_no_broker_connection_slot_taken() {
    // Room for plantd's own two links (the gateway and the back-pressure pacer) and two
    // devices.
    let server = Server::start_with(&[("PLANTD_MQTT_MAX_CONNECTIONS", "4")]);
    let passwords: Vec<(String, String)> = ["a-1", "a-2", "b-1", "b-2"]
        .iter()
        .map(|id| (id.to_string(), provision(&server, id)))
        .collect();
    for (id, password) in &passwords[..2] {
        let mut session = idle_device(&server, id, password);
        let (status, _) = api(&server).post(&format!("/api/v1/devices/{id}/disable"), json!({}));
        assert_eq!(status, 200);
        assert!(session.closed_within(CUT_WITHIN).is_some(), "{id} not cut");
    }
    // Both slots are free again: two other devices connect and stay.
    let mut sessions: Vec<Mqtt> = passwords[2..]
        .iter()
        .map(|(id, password)| idle_device(&server, id, password))
        .collect();
    for (session, (id, _)) in sessions.iter_mut().zip(&passwords[2..]) {
        session.publish(
            &format!("devices/{id}/telemetry"),
            r#"{"values": {"t": 1}}"#,
            QoS::AtLeastOnce,
        );
    }
}
