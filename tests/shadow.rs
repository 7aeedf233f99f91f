//! The device shadow over real MQTT and HTTP: desired → delta → reported → empty delta,
//! versions, the retained desired document for late subscribers, merge-patch deletes,
//! stale and malformed reports, the delta on reconnect, and the API's checks.

use std::time::Duration;

use rumqttc::{Packet, QoS};
use serde_json::{json, Value};

use crate::support::http::{api, metric, provision, token};
use crate::support::mqtt::{connect, device, Mqtt};
use crate::support::{eventually, Server};

const WAIT: Duration = Duration::from_secs(10);

pub fn patch_desired(server: &Server, id: &str, desired: Value) -> Value {
    let (status, body) = api(server).patch(
        &format!("/api/v1/devices/{id}/shadow"),
        json!({ "desired": desired }),
    );
    assert_eq!(status, 200, "PATCH shadow: {body}");
    body
}

pub fn shadow(server: &Server, id: &str) -> Value {
    let (status, body) = api(server).get(&format!("/api/v1/devices/{id}/shadow"));
    assert_eq!(status, 200, "GET shadow: {body}");
    body
}

/// The JSON payload of the next PUBLISH on `topic`, skipping others.
pub fn next_on(mqtt: &mut Mqtt, topic: &str) -> Value {
    match mqtt.expect(
        WAIT,
        &format!("a publish on {topic}"),
        |p| matches!(p, Packet::Publish(p) if p.topic == topic),
    ) {
        Packet::Publish(p) => serde_json::from_slice(&p.payload).expect("JSON payload"),
        _ => unreachable!(),
    }
}

/// Publishes on `topics` received within `window`: for proving that nothing arrives, so
/// `window` must outlast Control's 750 ms settle after a connect plus delivery (2 s).
pub fn quiet_on(mqtt: &mut Mqtt, topic: &str, window: Duration) -> Vec<Value> {
    mqtt.received(window)
        .into_iter()
        .filter(|(t, _)| t == topic)
        .map(|(_, p)| serde_json::from_slice(&p).unwrap_or(Value::Null))
        .collect()
}

/// A device connected and subscribed to its shadow topics.
fn shadow_device(server: &Server, id: &str, password: &str) -> Mqtt {
    let mut mqtt = device(server, id, password);
    for sub in ["state/desired", "state/delta"] {
        let codes = mqtt.subscribe(&format!("devices/{id}/{sub}"));
        assert!(
            matches!(codes[0], rumqttc::SubscribeReasonCode::Success(_)),
            "{codes:?}"
        );
    }
    mqtt
}

#[test]
fn shadow_round_trip_with_a_real_mqtt_client() {
    let server = Server::start();
    let password = provision(&server, "pump-1");
    let mut dev = shadow_device(&server, "pump-1", &password);
    eventually(WAIT, "pump-1 online", || {
        let (_, d) = api(&server).get("/api/v1/devices/pump-1");
        (d["online"] == true).then_some(())
    });

    let empty = shadow(&server, "pump-1");
    assert_eq!(empty["version"], 0);
    assert_eq!(empty["desired"], json!({}));
    assert_eq!(empty["reported"], json!({}));
    assert_eq!(empty["delta"], json!({}));

    // desired → the device gets the retained desired document and the delta.
    let v1 = patch_desired(
        &server,
        "pump-1",
        json!({"speed_rpm": 1200, "mode": "auto", "led": {"color": "green"}}),
    );
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["delta"], v1["desired"]);
    assert!(v1["metadata"]["desired"]["speed_rpm"].is_string());
    let desired = next_on(&mut dev, "devices/pump-1/state/desired");
    assert_eq!(
        desired,
        json!({"version": 1, "state": {"speed_rpm": 1200, "mode": "auto", "led": {"color": "green"}}})
    );
    let delta = next_on(&mut dev, "devices/pump-1/state/delta");
    assert_eq!(delta["version"], 1);
    assert_eq!(delta["state"], desired["state"]);

    // reported (partly): the delta shrinks to what is still wanted, the version goes up.
    dev.publish(
        "devices/pump-1/state/reported",
        r#"{"version": 1, "state": {"speed_rpm": 1200, "led": {"color": "green"}, "uptime_s": 5}}"#,
        QoS::AtLeastOnce,
    );
    let v2 = eventually(WAIT, "the report applied", || {
        let s = shadow(&server, "pump-1");
        (s["version"] == 2).then_some(s)
    });
    assert_eq!(v2["delta"], json!({"mode": "auto"}));
    assert_eq!(v2["reported"]["uptime_s"], 5);
    assert!(v2["metadata"]["reported"]["uptime_s"].is_string());

    // reported (rest, plain form): the delta is empty.
    dev.publish(
        "devices/pump-1/state/reported",
        r#"{"mode": "auto"}"#,
        QoS::AtLeastOnce,
    );
    let v3 = eventually(WAIT, "the second report applied", || {
        let s = shadow(&server, "pump-1");
        (s["version"] == 3).then_some(s)
    });
    assert_eq!(v3["delta"], json!({}));
    assert_eq!(v3["reported"]["mode"], "auto");

    // A late subscriber (an integration) sees the retained desired document.
    let (token_id, secret) = token(&server, &["mqtt"]);
    let mut late = connect(&server, "late.watcher", Some((&token_id, &secret))).expect("login");
    late.subscribe("devices/pump-1/state/desired");
    assert_eq!(
        next_on(&mut late, "devices/pump-1/state/desired"),
        desired,
        "the retained desired document"
    );

    // Merge patch: null deletes a desired key; keys only reported has are no delta.
    let v4 = patch_desired(
        &server,
        "pump-1",
        json!({"mode": null, "led": {"blink": true}}),
    );
    assert_eq!(v4["version"], 4);
    assert_eq!(
        v4["desired"],
        json!({"speed_rpm": 1200, "led": {"color": "green", "blink": true}})
    );
    assert!(v4["metadata"]["desired"].get("mode").is_none());
    assert_eq!(v4["delta"], json!({"led": {"blink": true}}));
    let desired4 = next_on(&mut dev, "devices/pump-1/state/desired");
    assert_eq!(desired4["version"], 4);
    assert!(desired4["state"].get("mode").is_none());
    assert_eq!(
        next_on(&mut dev, "devices/pump-1/state/delta"),
        json!({"version": 4, "state": {"led": {"blink": true}}})
    );
    // A patch that changes nothing changes no version.
    assert_eq!(
        patch_desired(&server, "pump-1", json!({"speed_rpm": 1200}))["version"],
        4
    );

    // Persisted: the same shadow after a restart.
    drop(dev);
    drop(late);
    let before = shadow(&server, "pump-1");
    let mut server = server;
    server.restart();
    let after = shadow(&server, "pump-1");
    for key in [
        "version",
        "desired_version",
        "desired",
        "reported",
        "delta",
        "metadata",
    ] {
        assert_eq!(after[key], before[key], "{key} after restart");
    }
}

#[test]
fn stale_and_malformed_reports_are_not_applied() {
    let server = Server::start();
    let password = provision(&server, "fan-2");
    let mut dev = shadow_device(&server, "fan-2", &password);
    patch_desired(&server, "fan-2", json!({"speed": 20}));
    next_on(&mut dev, "devices/fan-2/state/delta");
    dev.publish(
        "devices/fan-2/state/reported",
        r#"{"version": 1, "state": {"speed": 20}}"#,
        QoS::AtLeastOnce,
    );
    eventually(WAIT, "report applied", || {
        (shadow(&server, "fan-2")["version"] == 2).then_some(())
    });
    patch_desired(&server, "fan-2", json!({"speed": 30}));
    assert_eq!(
        next_on(&mut dev, "devices/fan-2/state/delta"),
        json!({"version": 3, "state": {"speed": 30}})
    );

    // The device answers the old delta late: stale, not applied, current delta re-sent.
    dev.publish(
        "devices/fan-2/state/reported",
        r#"{"version": 1, "state": {"speed": 25}}"#,
        QoS::AtLeastOnce,
    );
    assert_eq!(
        next_on(&mut dev, "devices/fan-2/state/delta"),
        json!({"version": 3, "state": {"speed": 30}}),
        "the current delta is sent again"
    );
    let s = shadow(&server, "fan-2");
    assert_eq!(s["reported"]["speed"], 20, "stale report not applied");
    assert_eq!(s["version"], 3);
    assert_eq!(
        metric(
            &server,
            "plantd_shadow_reports_rejected_total",
            "reason=\"stale\""
        ),
        1.0
    );

    // Malformed, not an object, a version plantd never sent, too large: counted, ignored.
    dev.publish("devices/fan-2/state/reported", "not json", QoS::AtLeastOnce);
    dev.publish("devices/fan-2/state/reported", "[1, 2]", QoS::AtLeastOnce);
    dev.publish(
        "devices/fan-2/state/reported",
        r#"{"version": 99, "state": {"speed": 1}}"#,
        QoS::AtLeastOnce,
    );
    let big = format!(r#"{{"blob": "{}"}}"#, "x".repeat(70 * 1024));
    dev.publish("devices/fan-2/state/reported", big, QoS::AtLeastOnce);
    eventually(WAIT, "four rejections counted", || {
        let by = |r: &str| {
            metric(
                &server,
                "plantd_shadow_reports_rejected_total",
                &format!("reason=\"{r}\""),
            )
        };
        (by("malformed") == 1.0
            && by("not_object") == 1.0
            && by("version_ahead") == 1.0
            && by("too_large") == 1.0)
            .then_some(())
    });
    let s = shadow(&server, "fan-2");
    assert_eq!(s["version"], 3);
    assert_eq!(s["reported"], json!({"speed": 20}));

    // The current version is accepted, and the device is still connected.
    dev.publish(
        "devices/fan-2/state/reported",
        r#"{"version": 3, "state": {"speed": 30}}"#,
        QoS::AtLeastOnce,
    );
    eventually(WAIT, "current report applied", || {
        let s = shadow(&server, "fan-2");
        (s["version"] == 4 && s["delta"] == json!({})).then_some(())
    });
}

#[test]
fn a_device_that_connects_gets_the_current_delta() {
    let server = Server::start();
    let password = provision(&server, "valve-3");
    // Desired changes while the device has never been connected.
    patch_desired(&server, "valve-3", json!({"open_pct": 40}));
    patch_desired(
        &server,
        "valve-3",
        json!({"open_pct": 60, "mode": "manual"}),
    );

    let mut dev = shadow_device(&server, "valve-3", &password);
    assert_eq!(
        next_on(&mut dev, "devices/valve-3/state/delta"),
        json!({"version": 2, "state": {"open_pct": 60, "mode": "manual"}}),
        "the delta on connect"
    );
    dev.publish(
        "devices/valve-3/state/reported",
        r#"{"open_pct": 60}"#,
        QoS::AtLeastOnce,
    );
    eventually(WAIT, "report applied", || {
        (shadow(&server, "valve-3")["version"] == 3).then_some(())
    });
    drop(dev);

    // Reconnect: what is still wanted, with the current version.
    let mut dev = shadow_device(&server, "valve-3", &password);
    assert_eq!(
        next_on(&mut dev, "devices/valve-3/state/delta"),
        json!({"version": 3, "state": {"mode": "manual"}})
    );
    // An empty report asks for the delta again.
    dev.publish("devices/valve-3/state/reported", "{}", QoS::AtLeastOnce);
    assert_eq!(
        next_on(&mut dev, "devices/valve-3/state/delta"),
        json!({"version": 3, "state": {"mode": "manual"}})
    );
    // In sync: no delta on connect.
    dev.publish(
        "devices/valve-3/state/reported",
        r#"{"mode": "manual"}"#,
        QoS::AtLeastOnce,
    );
    eventually(WAIT, "in sync", || {
        (shadow(&server, "valve-3")["delta"] == json!({})).then_some(())
    });
    drop(dev);
    let mut dev = shadow_device(&server, "valve-3", &password);
    assert!(
        quiet_on(
            &mut dev,
            "devices/valve-3/state/delta",
            Duration::from_secs(2)
        )
        .is_empty(),
        "nothing to do, no delta"
    );
}

#[test]
fn shadow_api_checks_its_input_and_its_callers() {
    let server = Server::start();
    provision(&server, "belt-4");
    let path = "/api/v1/devices/belt-4/shadow";
    for bad in [json!({"desired": [1, 2]}), json!({"desired": "on"})] {
        let (status, body) = api(&server).patch(path, bad.clone());
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["errors"][0]["field"], "desired");
    }
    let (status, _) = api(&server).patch(path, json!({"reported": {}}));
    assert!(status == 400 || status == 422, "unknown field: {status}");
    let big = json!({"desired": {"blob": "x".repeat(70 * 1024)}});
    assert_eq!(api(&server).patch(path, big).0, 413);
    let (status, body) = api(&server).patch(
        "/api/v1/devices/nobody/shadow",
        json!({"desired": {"a": 1}}),
    );
    assert_eq!(status, 404, "{body}");
    assert_eq!(api(&server).get("/api/v1/devices/nobody/shadow").0, 404);
    assert_eq!(api(&server).get("/api/v1/devices/Not_An_Id/shadow").0, 422);

    let (_, read) = token(&server, &["read"]);
    let (status, before) = api(&server).with_token(&read).get(path);
    assert_eq!(status, 200);
    api(&server).with_token(&read).assert_forbidden(
        "PATCH",
        path,
        Some(json!({"desired": {"a": 1}})),
        "write",
    );
    assert_eq!(crate::support::http::anonymous(&server).get(path).0, 401);
    assert_eq!(shadow(&server, "belt-4"), before, "nothing changed");
    assert_eq!(before["version"], 0);
}
