//! Device commands over real MQTT and HTTP: delivered to a connected device and answered
//! (succeeded, failed, result recorded), held for an offline device until it connects,
//! expired (never sent) when their time runs out, and the API's checks.

use std::time::Duration;

use rumqttc::QoS;
use serde_json::{json, Value};

use crate::shadow::{next_on, quiet_on};
use crate::support::http::{api, metric, provision, token};
use crate::support::mqtt::{connect, device, Mqtt};
use crate::support::{eventually, Server};

const WAIT: Duration = Duration::from_secs(10);

fn send(server: &Server, id: &str, body: Value) -> Value {
    let (status, reply) = api(server).post(&format!("/api/v1/devices/{id}/commands"), body);
    assert_eq!(status, 202, "POST command: {reply}");
    reply
}

fn command(server: &Server, id: &str, cmd: &str) -> Value {
    let (status, body) = api(server).get(&format!("/api/v1/devices/{id}/commands/{cmd}"));
    assert_eq!(status, 200, "GET command: {body}");
    body
}

fn wait_state(server: &Server, id: &str, cmd: &str, state: &str) -> Value {
    eventually(WAIT, &format!("command {cmd} {state}"), || {
        let c = command(server, id, cmd);
        (c["state"] == state).then_some(c)
    })
}

/// A device connected and subscribed to its commands.
fn command_device(server: &Server, id: &str, password: &str) -> Mqtt {
    let mut mqtt = device(server, id, password);
    mqtt.subscribe(&format!("devices/{id}/commands/+"));
    mqtt
}

fn online(server: &Server, id: &str) {
    eventually(WAIT, &format!("{id} online"), || {
        let (_, d) = api(server).get(&format!("/api/v1/devices/{id}"));
        (d["online"] == true).then_some(())
    });
}

#[test]
fn a_connected_device_gets_commands_and_its_results_are_recorded() {
    let server = Server::start();
    let password = provision(&server, "press-1");
    let (token_id, secret) = token(&server, &["mqtt"]);
    let mut events = connect(&server, "events.watcher", Some((&token_id, &secret))).expect("login");
    events.subscribe("plantd/events/#");
    let mut dev = command_device(&server, "press-1", &password);
    online(&server, "press-1");

    let created = send(
        &server,
        "press-1",
        json!({"name": "reboot", "args": {"delay_s": 5}, "timeout_s": 60}),
    );
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["name"], "reboot");
    let topic = format!("devices/press-1/commands/{id}");
    let sent = next_on(&mut dev, &topic);
    assert_eq!(sent["name"], "reboot");
    assert_eq!(sent["args"], json!({"delay_s": 5}));
    assert_eq!(sent["expires_at"], created["expires_at"]);
    let delivered = wait_state(&server, "press-1", &id, "delivered");
    assert!(delivered["delivered_at"].is_string());
    assert!(delivered["completed_at"].is_null());

    dev.publish(
        &format!("{topic}/result"),
        r#"{"status": "ok", "detail": {"took_ms": 812}}"#,
        QoS::AtLeastOnce,
    );
    let done = wait_state(&server, "press-1", &id, "succeeded");
    assert_eq!(
        done["result"],
        json!({"status": "ok", "detail": {"took_ms": 812}})
    );
    assert!(done["completed_at"].is_string());

    // A second answer to a finished command changes nothing.
    dev.publish(
        &format!("{topic}/result"),
        r#"{"status": "error", "detail": "late"}"#,
        QoS::AtLeastOnce,
    );
    eventually(WAIT, "the late answer refused", || {
        (metric(&server, "plantd_command_results_rejected_total", "not_open") >= 1.0).then_some(())
    });
    assert_eq!(
        metric(&server, "plantd_command_results_rejected_total", "not_open"),
        1.0,
        "refused once"
    );
    assert_eq!(command(&server, "press-1", &id)["state"], "succeeded");

    // An error answer: failed, with the device's detail.
    let second = send(&server, "press-1", json!({"name": "calibrate"}));
    let id2 = second["id"].as_str().expect("id").to_owned();
    let topic2 = format!("devices/press-1/commands/{id2}");
    assert_eq!(next_on(&mut dev, &topic2)["args"], json!({}));
    dev.publish(
        &format!("{topic2}/result"),
        r#"{"status": "error", "detail": "sensor not ready"}"#,
        QoS::AtLeastOnce,
    );
    let failed = wait_state(&server, "press-1", &id2, "failed");
    assert_eq!(failed["result"]["detail"], "sensor not ready");

    // Malformed results and unknown commands are counted and ignored.
    dev.publish(&format!("{topic2}/result"), "nope", QoS::AtLeastOnce);
    dev.publish(
        "devices/press-1/commands/0123abcd/result",
        r#"{"status": "ok"}"#,
        QoS::AtLeastOnce,
    );
    eventually(WAIT, "bad results counted", || {
        (metric(
            &server,
            "plantd_command_results_rejected_total",
            "malformed",
        ) == 1.0
            && metric(&server, "plantd_command_results_rejected_total", "not_open") == 2.0)
            .then_some(())
    });

    // The list, newest first, pages with a cursor.
    let (status, page) = api(&server).get("/api/v1/devices/press-1/commands?limit=1");
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"][0]["id"], id2.as_str());
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let (_, page2) = api(&server).get(&format!(
        "/api/v1/devices/press-1/commands?limit=1&cursor={cursor}"
    ));
    assert_eq!(page2["items"][0]["id"], id.as_str());
    assert!(page2["next_cursor"].is_null());

    // Events for integrators.
    let kinds: Vec<String> = events
        .collect_until(WAIT, "the command events", |got| {
            ["command.created", "command.succeeded", "command.failed"]
                .iter()
                .all(|kind| {
                    got.iter()
                        .any(|(t, _)| *t == format!("plantd/events/{kind}"))
                })
        })
        .into_iter()
        .filter_map(|(t, _)| t.strip_prefix("plantd/events/").map(str::to_owned))
        .collect();
    for kind in ["command.created", "command.succeeded", "command.failed"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

#[test]
fn an_offline_device_gets_its_command_when_it_connects() {
    let server = Server::start();
    let password = provision(&server, "mixer-2");
    let created = send(
        &server,
        "mixer-2",
        json!({"name": "set_speed", "args": {"rpm": 900}}),
    );
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["state"], "pending");
    assert!(created["delivered_at"].is_null());
    assert_eq!(command(&server, "mixer-2", &id)["state"], "pending");

    let mut dev = command_device(&server, "mixer-2", &password);
    let topic = format!("devices/mixer-2/commands/{id}");
    assert_eq!(next_on(&mut dev, &topic)["args"], json!({"rpm": 900}));
    wait_state(&server, "mixer-2", &id, "delivered");
    dev.publish(
        &format!("{topic}/result"),
        r#"{"status": "ok"}"#,
        QoS::AtLeastOnce,
    );
    let done = wait_state(&server, "mixer-2", &id, "succeeded");
    assert_eq!(done["result"], json!({"status": "ok", "detail": null}));

    // Delivered once: a reconnect does not send it again.
    drop(dev);
    let mut dev = command_device(&server, "mixer-2", &password);
    assert!(quiet_on(&mut dev, &topic, Duration::from_secs(2)).is_empty());
}

#[test]
fn an_unanswered_command_is_sent_again_when_the_device_reconnects() {
    let server = Server::start();
    let password = provision(&server, "pump-7");
    let mut dev = command_device(&server, "pump-7", &password);
    online(&server, "pump-7");
    let created = send(
        &server,
        "pump-7",
        json!({"name": "flush", "timeout_s": 120}),
    );
    let id = created["id"].as_str().expect("id").to_owned();
    let topic = format!("devices/pump-7/commands/{id}");
    next_on(&mut dev, &topic);
    let first = wait_state(&server, "pump-7", &id, "delivered");

    // The connection dies before the device answers; it comes back on a clean session.
    drop(dev);
    let mut dev = command_device(&server, "pump-7", &password);
    assert_eq!(
        next_on(&mut dev, &topic)["name"],
        "flush",
        "sent again, same id"
    );
    let again = command(&server, "pump-7", &id);
    assert_eq!(again["state"], "delivered");
    assert_eq!(
        again["delivered_at"], first["delivered_at"],
        "first delivery kept"
    );
    dev.publish(
        &format!("{topic}/result"),
        r#"{"status": "ok"}"#,
        QoS::AtLeastOnce,
    );
    wait_state(&server, "pump-7", &id, "succeeded");
    // At least once: a command created within Control's 750 ms settle after the first
    // connect is also sent again by that settle, so the count is 1 or 2.
    assert!(metric(&server, "plantd_commands_redelivered_total", "") >= 1.0);
}

#[test]
fn an_expired_command_is_never_sent() {
    let server = Server::start();
    let password = provision(&server, "oven-3");
    let created = send(
        &server,
        "oven-3",
        json!({"name": "preheat", "timeout_s": 1}),
    );
    let id = created["id"].as_str().expect("id").to_owned();
    let expired = wait_state(&server, "oven-3", &id, "expired");
    assert!(expired["delivered_at"].is_null(), "never delivered");
    assert!(expired["completed_at"].is_string());
    assert_eq!(
        metric(
            &server,
            "plantd_commands_completed_total",
            "state=\"expired\""
        ),
        1.0
    );

    let mut dev = command_device(&server, "oven-3", &password);
    let topic = format!("devices/oven-3/commands/{id}");
    assert!(
        quiet_on(&mut dev, &topic, Duration::from_secs(2)).is_empty(),
        "an expired command is not sent"
    );
    // A device that answers it anyway changes nothing.
    dev.publish(
        &format!("{topic}/result"),
        r#"{"status": "ok"}"#,
        QoS::AtLeastOnce,
    );
    eventually(WAIT, "the answer refused", || {
        (metric(&server, "plantd_command_results_rejected_total", "not_open") >= 1.0).then_some(())
    });
    assert_eq!(
        metric(&server, "plantd_command_results_rejected_total", "not_open"),
        1.0,
        "refused once"
    );
    assert_eq!(command(&server, "oven-3", &id)["state"], "expired");

    // Delivered but never answered: expired too, with its delivery time kept.
    online(&server, "oven-3");
    let quick = send(&server, "oven-3", json!({"name": "ping", "timeout_s": 1}));
    let quick_id = quick["id"].as_str().expect("id").to_owned();
    next_on(&mut dev, &format!("devices/oven-3/commands/{quick_id}"));
    let gone = wait_state(&server, "oven-3", &quick_id, "expired");
    assert!(gone["delivered_at"].is_string());
}

#[test]
fn a_cancelled_command_is_never_sent_and_cannot_be_cancelled_twice() {
    let server = Server::start();
    let password = provision(&server, "drill-6");
    let created = send(&server, "drill-6", json!({"name": "home"}));
    let id = created["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/devices/drill-6/commands/{id}/cancel");
    let (status, cancelled) = api(&server).post(&path, json!({}));
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["state"], "cancelled");
    assert!(cancelled["completed_at"].is_string());
    let (status, again) = api(&server).post(&path, json!({}));
    assert_eq!(status, 409, "{again}");
    assert_eq!(
        api(&server)
            .post(
                "/api/v1/devices/drill-6/commands/0123abcd/cancel",
                json!({})
            )
            .0,
        404
    );
    let (_, read) = token(&server, &["read"]);
    let before = command(&server, "drill-6", &id);
    api(&server)
        .with_token(&read)
        .assert_forbidden("POST", &path, Some(json!({})), "write");
    assert_eq!(command(&server, "drill-6", &id), before, "nothing changed");

    let mut dev = command_device(&server, "drill-6", &password);
    let topic = format!("devices/drill-6/commands/{id}");
    assert!(
        quiet_on(&mut dev, &topic, Duration::from_secs(2)).is_empty(),
        "a cancelled command is not sent"
    );
    dev.publish(
        &format!("{topic}/result"),
        r#"{"status": "ok"}"#,
        QoS::AtLeastOnce,
    );
    eventually(WAIT, "the answer refused", || {
        (metric(&server, "plantd_command_results_rejected_total", "not_open") >= 1.0).then_some(())
    });
    assert_eq!(
        metric(&server, "plantd_command_results_rejected_total", "not_open"),
        1.0,
        "refused once"
    );
    assert_eq!(command(&server, "drill-6", &id)["state"], "cancelled");
}

#[test]
fn command_api_checks_its_input_and_its_callers() {
    let server = Server::start();
    provision(&server, "lathe-5");
    let path = "/api/v1/devices/lathe-5/commands";
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "two words"}), "name"),
        (json!({"name": "x", "args": [1]}), "args"),
        (json!({"name": "x", "timeout_s": 0}), "timeout_s"),
        (json!({"name": "x", "timeout_s": 999_999_999}), "timeout_s"),
    ] {
        let (status, reply) = api(&server).post(path, body.clone());
        assert_eq!(status, 422, "{body}: {reply}");
        assert_eq!(reply["errors"][0]["field"], field, "{reply}");
    }
    assert_eq!(api(&server).post(path, json!({"args": {}})).0, 422);
    assert_eq!(
        api(&server)
            .post("/api/v1/devices/ghost/commands", json!({"name": "x"}))
            .0,
        404
    );
    assert_eq!(api(&server).get("/api/v1/devices/ghost/commands").0, 404);
    assert_eq!(api(&server).get(&format!("{path}/0123abcd")).0, 404);
    assert_eq!(api(&server).get(&format!("{path}/not-hex")).0, 404);
    assert_eq!(api(&server).get(&format!("{path}?limit=0")).0, 400);

    let (_, read) = token(&server, &["read"]);
    let reader = api(&server).with_token(&read);
    reader.assert_forbidden("POST", path, Some(json!({"name": "x"})), "write");
    let (status, list) = reader.get(path);
    assert_eq!(status, 200);
    assert_eq!(list["items"], json!([]), "nothing was created");
}
