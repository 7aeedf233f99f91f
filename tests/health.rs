//! Asset health end to end, on the real binary: assets and devices attached to them,
//! rules of each kind raising alarms from MQTT telemetry, ISA-18.2 actions over HTTP,
//! suppression, maintenance, shelving expiry, no data, the backtest against live
//! evaluation, a restart with an active alarm, and the refusals (422 / 403 / 409).

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use rumqttc::QoS;
use serde_json::{json, Value};

use crate::support::eventually;
use crate::support::http::{api, token};
use crate::support::mqtt::{connect, device, Mqtt};
use crate::support::server::Server;

pub(crate) const WAIT: Duration = Duration::from_secs(10);

pub(crate) fn create(server: &Server, path: &str, body: Value) -> Value {
    let (status, out) = api(server).post(path, body.clone());
    assert_eq!(status, 201, "POST {path} {body}: {out}");
    out
}

/// A site with one pump (ISO 20816 group 2, rigid) and device `pump-1` attached to it;
/// returns (pump asset id, device password).
pub(crate) fn plant(server: &Server) -> (String, String) {
    let site = create(
        server,
        "/api/v1/assets",
        json!({"name": "Plant", "kind": "site"}),
    );
    let pump = create(
        server,
        "/api/v1/assets",
        json!({"name": "Pump P-101", "kind": "asset", "parent_id": site["id"], "criticality": "A",
               "iso20816": {"group": 2, "foundation": "rigid"}}),
    );
    let pump_id = pump["id"].as_str().expect("id").to_owned();
    let dev = create(
        server,
        "/api/v1/devices",
        json!({"id": "pump-1", "asset_id": pump_id}),
    );
    let password = dev["credentials"]["password"]
        .as_str()
        .expect("password")
        .to_owned();
    (pump_id, password)
}

/// Publishes one sample object stamped now, a millisecond after the previous one at
/// least: two samples of a series at the same millisecond are one sample (a duplicate).
pub(crate) fn publish(mqtt: &mut Mqtt, values: Value) {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = Utc::now().timestamp_millis();
    let at = LAST
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
            Some(now.max(last + 1))
        })
        .map_or(now, |last| now.max(last + 1));
    mqtt.publish(
        "devices/pump-1/telemetry",
        json!({ "ts": at, "values": values }).to_string(),
        QoS::AtLeastOnce,
    );
}

pub(crate) fn alarms(server: &Server, query: &str) -> Vec<Value> {
    let (status, page) = api(server).get(&format!("/api/v1/alarms?{query}"));
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().expect("items").clone()
}

/// Waits until exactly one alarm of the rule is in `state`; returns it.
pub(crate) fn alarm_in(server: &Server, rule: &Value, state: &str) -> Value {
    let rule_id = rule["id"].as_str().expect("rule id").to_owned();
    eventually(WAIT, &format!("an alarm of {rule_id} in {state}"), || {
        let list = alarms(server, &format!("rule_id={rule_id}"));
        list.into_iter().find(|a| a["state"] == state)
    })
}

pub(crate) fn act(server: &Server, alarm: &Value, action: &str, body: Value) -> (u16, Value) {
    api(server).post(
        &format!(
            "/api/v1/alarms/{}/{action}",
            alarm["id"].as_str().expect("id")
        ),
        body,
    )
}

fn integration(server: &Server) -> Mqtt {
    let (id, secret) = token(server, &["mqtt"]);
    let mut mqtt = connect(server, "alarm.listener", Some((&id, &secret))).expect("login");
    mqtt.subscribe("plantd/events/#");
    mqtt
}

#[test]
fn vibration_over_the_limit_raises_an_alarm_in_the_api_and_on_the_event_topic() {
    let server = Server::start();
    let (pump, password) = plant(&server);
    let rule = create(
        &server,
        "/api/v1/rules",
        json!({"name": "P-101 vibration", "asset_id": pump, "metric": "vib", "kind": "iso20816"}),
    );
    assert_eq!(rule["kind"], "iso20816");
    let mut listener = integration(&server);
    let mut dev = device(&server, "pump-1", &password);
    publish(&mut dev, json!({"vib": 2.0}));
    // Group 2 rigid: zone C from 2.8 mm/s (major), D from 4.5 (critical).
    publish(&mut dev, json!({"vib": 3.2}));
    let alarm = alarm_in(&server, &rule, "active_unack");
    assert_eq!(alarm["severity"], "major");
    assert_eq!(alarm["device_id"], "pump-1");
    assert_eq!(alarm["asset_id"], pump.as_str());
    assert_eq!(alarm["value"], 3.2);
    let raised = listener.collect_until(WAIT, "alarm.raised", |got| {
        got.iter().any(|(t, _)| t == "plantd/events/alarm.raised")
    });
    let (_, payload) = raised
        .iter()
        .find(|(t, _)| t == "plantd/events/alarm.raised")
        .expect("raised");
    let event: Value = serde_json::from_slice(payload).expect("json");
    assert_eq!(event["source"], "health");
    assert_eq!(event["data"]["alarm_id"], alarm["id"]);
    assert_eq!(event["data"]["severity"], "major");

    // Zone D escalates the same alarm.
    publish(&mut dev, json!({"vib": 5.0}));
    eventually(WAIT, "escalation to critical", || {
        let a = alarm_in(&server, &rule, "active_unack");
        (a["severity"] == "critical").then_some(())
    });
    listener.collect_until(WAIT, "alarm.severity_changed", |got| {
        got.iter()
            .any(|(t, _)| t == "plantd/events/alarm.severity_changed")
    });
    let (status, acked) = act(
        &server,
        &alarm,
        "acknowledge",
        json!({"comment": "on my way"}),
    );
    assert_eq!(status, 200, "{acked}");
    assert_eq!(acked["state"], "active_ack");
    let (status, again) = act(&server, &alarm, "acknowledge", json!({}));
    assert_eq!(status, 409, "acknowledged twice: {again}");
    // Back to zone A: cleared (it was acknowledged); one alarm for the whole episode.
    publish(&mut dev, json!({"vib": 1.0}));
    let cleared = alarm_in(&server, &rule, "cleared");
    assert_eq!(cleared["id"], alarm["id"]);
    assert_eq!(cleared["peak_severity"], "critical");
    let (status, detail) = api(&server).get(&format!(
        "/api/v1/alarms/{}",
        alarm["id"].as_str().expect("id")
    ));
    assert_eq!(status, 200);
    let actions: Vec<&str> = detail["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        [
            "raised",
            "severity_changed",
            "acknowledged",
            "returned_to_normal"
        ]
    );
    let ack = &detail["history"][2];
    assert_eq!(ack["comment"], "on my way");
    assert!(ack["by"].as_str().expect("by").contains("admin"), "{ack}");
    assert_eq!(alarms(&server, "").len(), 1, "one episode, one alarm");
    // The asset cannot go while its device is attached.
    let (status, body) = api(&server).delete(&format!("/api/v1/assets/{pump}"));
    assert_eq!(status, 409, "{body}");
    assert!(
        body["detail"].as_str().expect("detail").contains("devices"),
        "{body}"
    );
}

#[test]
fn a_stopped_pump_raises_no_low_flow_alarm_suppressed_by_design() {
    let server = Server::start();
    let (_, password) = plant(&server);
    let rule = create(
        &server,
        "/api/v1/rules",
        json!({"name": "low flow", "device_id": "pump-1", "metric": "flow", "kind": "threshold",
               "op": "<", "value": 5.0, "severity": "minor",
               "suppress_when": {"metric": "running", "op": "==", "value": false}}),
    );
    let mut listener = integration(&server);
    let mut dev = device(&server, "pump-1", &password);
    publish(&mut dev, json!({"running": false, "flow": 0.0}));
    let suppressed = alarm_in(&server, &rule, "suppressed");
    assert_eq!(suppressed["announced"], false);
    // (A window in which nothing may arrive: the alarm is already stored as suppressed.)
    let announced: Vec<String> = listener
        .received(Duration::from_millis(500))
        .into_iter()
        .map(|(t, _)| t)
        .filter(|t| t.starts_with("plantd/events/alarm."))
        .collect();
    assert!(
        announced.is_empty(),
        "nothing announced while the pump is stopped: {announced:?}"
    );
    // Running with no flow: the same episode comes into view and is announced.
    publish(&mut dev, json!({"running": true, "flow": 0.5}));
    let active = alarm_in(&server, &rule, "active_unack");
    assert_eq!(active["id"], suppressed["id"]);
    listener.collect_until(WAIT, "alarm.raised", |got| {
        got.iter().any(|(t, _)| t == "plantd/events/alarm.raised")
    });
}

#[test]
fn restart_with_an_active_alarm_neither_raises_it_again_nor_loses_it() {
    let server_env: &[(&str, &str)] = &[];
    let mut server = Server::start_with(server_env);
    let (_, password) = plant(&server);
    let rule = create(
        &server,
        "/api/v1/rules",
        json!({"name": "hot", "device_id": "pump-1", "metric": "temp", "kind": "threshold",
               "op": ">", "value": 80, "severity": "major", "create_work_order": true}),
    );
    {
        let mut dev = device(&server, "pump-1", &password);
        publish(&mut dev, json!({"temp": 85}));
    }
    let before = alarm_in(&server, &rule, "active_unack");
    // A power cut, then a clean stop: neither re-raises nor loses it.
    server.kill();
    server.restart_stopped();
    server.restart();
    let mut dev = device(&server, "pump-1", &password);
    publish(&mut dev, json!({"temp": 90}));
    publish(&mut dev, json!({"temp": 91}));
    let (status, after) = api(&server).get(&format!(
        "/api/v1/alarms/{}",
        before["id"].as_str().expect("id")
    ));
    assert_eq!(status, 200);
    assert_eq!(after["state"], "active_unack");
    let (status, events) = api(&server).get("/api/v1/events?type=alarm.raised");
    assert_eq!(status, 200);
    assert_eq!(
        events["items"].as_array().expect("items").len(),
        1,
        "raised once: {events}"
    );
    publish(&mut dev, json!({"temp": 70}));
    let back = alarm_in(&server, &rule, "rtn_unack");
    assert_eq!(
        back["id"], before["id"],
        "the same episode returned to normal"
    );
    assert_eq!(back["last_value"], 70.0);
    assert_eq!(alarms(&server, "").len(), 1, "no second alarm");
}

fn ts(ms_ago: i64) -> String {
    (Utc::now() - chrono::Duration::milliseconds(ms_ago))
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[test]
fn the_backtest_returns_the_alarms_that_live_evaluation_raised() {
    let server = Server::start();
    let (_, password) = plant(&server);
    let body = json!({"name": "hot", "device_id": "pump-1", "metric": "temp", "kind": "threshold",
                      "op": ">", "value": 80, "for_s": 10, "deadband": 2, "severity": "major"});
    let rule = create(&server, "/api/v1/rules", body.clone());
    let mut dev = device(&server, "pump-1", &password);
    // One sample every 5 s over 4 minutes, in the past: two excursions long enough for the
    // 10 s on-delay, one too short, and a wobble inside the deadband.
    let values = [
        70.0, 72.0, 85.0, 86.0, 87.0, 88.0, 79.0, 79.0, 70.0, 70.0, 85.0, 70.0, 70.0, 90.0, 91.0,
        92.0, 93.0, 79.5, 81.0, 79.0, 77.0, 70.0, 70.0, 70.0,
    ];
    let n = values.len() as i64;
    let samples: Vec<Value> = values
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"ts": ts((n - i as i64) * 5_000 + 60_000), "values": {"temp": v}}))
        .collect();
    let rule_id = rule["id"].as_str().expect("id").to_owned();
    // In two payloads: the first episode returns to normal and is acknowledged (which ends
    // it) before the second begins, as an operator would; the backtest has no operator and
    // ends an episode at each return to normal.
    dev.publish(
        "devices/pump-1/telemetry",
        Value::Array(samples[..12].to_vec()).to_string(),
        QoS::AtLeastOnce,
    );
    let first = alarm_in(&server, &rule, "rtn_unack");
    let (status, _) = act(&server, &first, "acknowledge", json!({"comment": "seen"}));
    assert_eq!(status, 200);
    dev.publish(
        "devices/pump-1/telemetry",
        Value::Array(samples[12..].to_vec()).to_string(),
        QoS::AtLeastOnce,
    );
    let live = eventually(WAIT, "two live episodes", || {
        let mut list = alarms(&server, &format!("rule_id={rule_id}"));
        list.sort_by_key(|a| a["raised_at"].as_str().unwrap_or_default().to_owned());
        (list.len() == 2 && list[1]["state"] == "rtn_unack").then_some(list)
    });
    assert_eq!(live[0]["value"], 87.0, "raised after the 10 s on-delay");
    assert_eq!(live[1]["value"], 92.0);
    for saved in [json!({"rule_id": rule["id"]}), json!({"rule": body})] {
        let (status, preview) = api(&server).post("/api/v1/rules/preview", saved.clone());
        assert_eq!(status, 200, "{preview}");
        let found = preview["alarms"].as_array().expect("alarms");
        assert_eq!(found.len(), live.len(), "{saved}: {preview}");
        for (p, l) in found.iter().zip(&live) {
            assert_eq!(p["raised_at"], l["raised_at"], "{p} vs {l}");
            assert_eq!(p["value"], l["value"]);
            assert_eq!(p["device_id"], "pump-1");
            assert!(p["returned_at"].is_string(), "{p}");
        }
        assert_eq!(preview["samples"], n);
    }
}

#[test]
fn no_data_raises_after_the_silence_and_recovers_when_data_returns() {
    let server = Server::start();
    let (_, password) = plant(&server);
    let mut dev = device(&server, "pump-1", &password);
    publish(&mut dev, json!({"temp": 20}));
    // 0.05 minutes = 3 s of silence.
    let rule = create(
        &server,
        "/api/v1/rules",
        json!({"name": "silent", "device_id": "pump-1", "metric": "temp", "kind": "no_data",
               "minutes": 0.05, "severity": "warning"}),
    );
    let alarm = alarm_in(&server, &rule, "active_unack");
    assert_eq!(alarm["severity"], "warning");
    publish(&mut dev, json!({"temp": 21}));
    let back = alarm_in(&server, &rule, "rtn_unack");
    assert_eq!(back["id"], alarm["id"]);
    let (status, cleared) = act(
        &server,
        &back,
        "acknowledge",
        json!({"comment": "sensor replugged"}),
    );
    assert_eq!(status, 200);
    assert_eq!(cleared["state"], "cleared");
}

#[test]
fn shelving_expires_and_maintenance_takes_alarms_out_of_service() {
    let server = Server::start();
    let (pump, password) = plant(&server);
    let rule = create(
        &server,
        "/api/v1/rules",
        json!({"name": "hot", "asset_id": pump, "metric": "temp", "kind": "threshold",
               "op": ">", "value": 80, "severity": "major", "latching": true}),
    );
    let mut dev = device(&server, "pump-1", &password);
    publish(&mut dev, json!({"temp": 85}));
    let alarm = alarm_in(&server, &rule, "active_unack");
    let (status, body) = act(&server, &alarm, "shelve", json!({"reason": ""}));
    assert_eq!(status, 422, "a shelve needs a reason: {body}");
    assert_eq!(body["errors"][0]["field"], "reason");
    let until = (Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let (status, shelved) = act(
        &server,
        &alarm,
        "shelve",
        json!({"reason": "sensor swap", "until": until}),
    );
    assert_eq!(status, 200, "{shelved}");
    assert_eq!(shelved["state"], "shelved");
    let (status, _) = act(&server, &alarm, "acknowledge", json!({}));
    assert_eq!(status, 409, "a shelved alarm is not acknowledged");
    // The shelve runs out by itself.
    let back = alarm_in(&server, &rule, "active_unack");
    assert_eq!(back["id"], alarm["id"]);
    // Maintenance: out of service, and back.
    let (status, asset) = api(&server).post(
        &format!("/api/v1/assets/{pump}/maintenance"),
        json!({"active": true}),
    );
    assert_eq!(status, 200, "{asset}");
    assert_eq!(asset["in_maintenance"], true);
    alarm_in(&server, &rule, "out_of_service");
    let (status, _) = api(&server).post(
        &format!("/api/v1/assets/{pump}/maintenance"),
        json!({"active": false}),
    );
    assert_eq!(status, 200);
    alarm_in(&server, &rule, "active_unack");
    // Latching: back to normal it stays until acknowledged and cleared by hand.
    publish(&mut dev, json!({"temp": 60}));
    eventually(WAIT, "the condition recorded as normal", || {
        let a = alarm_in(&server, &rule, "active_unack");
        (a["condition_active"] == false).then_some(())
    });
    let (status, acked) = act(&server, &alarm, "acknowledge", json!({}));
    assert_eq!((status, acked["state"].as_str()), (200, Some("active_ack")));
    let (status, cleared) = act(
        &server,
        &alarm,
        "clear",
        json!({"comment": "reset after repair"}),
    );
    assert_eq!((status, cleared["state"].as_str()), (200, Some("cleared")));
    let (status, again) = act(&server, &alarm, "clear", json!({}));
    assert_eq!(status, 409, "a cleared alarm is final: {again}");
    let (status, _) = api(&server).post("/api/v1/alarms/no-such-alarm/acknowledge", json!({}));
    assert_eq!(status, 404);
    let (status, stats) = api(&server).get("/api/v1/alarms/stats");
    assert_eq!(status, 200);
    assert_eq!(stats["alarms"], 1, "{stats}");
    assert_eq!(stats["top_rules"][0]["rule_id"], rule["id"]);
}

#[test]
fn invalid_assets_and_rules_are_422_naming_the_field_and_viewers_change_nothing() {
    let server = Server::start();
    let (pump, _) = plant(&server);
    for (body, field) in [
        (json!({"name": "Area 1", "kind": "area"}), "parent_id"),
        (json!({"name": "", "kind": "site"}), "name"),
        (
            json!({"name": "Fan", "kind": "asset", "parent_id": pump, "iso20816": {"group": 3, "foundation": "rigid"}}),
            "iso20816.group",
        ),
        (
            json!({"name": "Fan", "kind": "asset", "parent_id": "nope"}),
            "parent_id",
        ),
    ] {
        let (status, out) = api(&server).post("/api/v1/assets", body.clone());
        assert_eq!(status, 422, "{body}: {out}");
        assert_eq!(out["errors"][0]["field"], field, "{body}: {out}");
    }
    let (status, out) = api(&server).post(
        "/api/v1/devices",
        json!({"id": "fan-1", "asset_id": "no-such-asset"}),
    );
    assert_eq!(status, 422, "{out}");
    assert_eq!(out["errors"][0]["field"], "asset_id");
    let (status, _) = api(&server).get("/api/v1/devices/fan-1");
    assert_eq!(status, 404, "nothing provisioned");
    // A device moves between assets by PATCH; an unknown asset is refused.
    let (status, out) = api(&server).patch(
        "/api/v1/devices/pump-1",
        json!({"asset_id": "no-such-asset"}),
    );
    assert_eq!(status, 422, "{out}");
    assert_eq!(out["errors"][0]["field"], "asset_id");
    let spare = create(
        &server,
        "/api/v1/assets",
        json!({"name": "Spare pump", "kind": "asset", "parent_id": pump}),
    );
    let spare_id = spare["id"].as_str().expect("id").to_owned();
    let (status, out) = api(&server).patch("/api/v1/devices/pump-1", json!({"asset_id": spare_id}));
    assert_eq!(status, 200, "{out}");
    eventually(WAIT, "health to see the device on the spare pump", || {
        let (_, a) = api(&server).get(&format!("/api/v1/assets/{spare_id}"));
        (a["devices"] == json!(["pump-1"])).then_some(())
    });
    let (status, out) = api(&server).patch("/api/v1/devices/pump-1", json!({"asset_id": pump}));
    assert_eq!(status, 200, "{out}");
    eventually(WAIT, "and back on the pump", || {
        let (_, a) = api(&server).get(&format!("/api/v1/assets/{spare_id}"));
        (a["devices"] == json!([])).then_some(())
    });
    let (status, out) = api(&server).delete(&format!("/api/v1/assets/{spare_id}"));
    assert_eq!(status, 204, "an empty asset goes: {out}");
    let base = json!({"name": "r", "device_id": "pump-1", "metric": "temp", "kind": "threshold", "op": ">", "value": 1});
    let mut cases = vec![];
    let mut no_value = base.clone();
    no_value.as_object_mut().expect("obj").remove("value");
    cases.push((no_value, "value"));
    let mut typo = base.clone();
    typo["for"] = json!(10);
    cases.push((typo, "for"));
    let mut both = base.clone();
    both["asset_id"] = json!(pump);
    cases.push((both, "asset_id"));
    cases.push((
        json!({"name": "r", "device_id": "pump-1", "metric": "temp"}),
        "kind",
    ));
    cases.push((json!({"name": "r", "device_id": "pump-1", "metric": "temp", "kind": "anomaly", "tuning": {"confirm_k": 9}}), "tuning.confirm_k"));
    cases.push((
        json!({"name": "r", "asset_id": "nope", "metric": "v", "kind": "iso20816"}),
        "asset_id",
    ));
    cases.push((json!({"name": "r", "device_id": "pump-1", "metric": "v", "kind": "iso20816", "severity": "minor"}), "severity"));
    for (body, field) in cases {
        let (status, out) = api(&server).post("/api/v1/rules", body.clone());
        assert_eq!(status, 422, "{body}: {out}");
        assert_eq!(out["errors"][0]["field"], field, "{body}: {out}");
    }
    let (status, list) = api(&server).get("/api/v1/rules");
    assert_eq!(status, 200);
    assert!(
        list["items"].as_array().expect("items").is_empty(),
        "no rule saved: {list}"
    );
    // A viewer (read scope) reads but changes nothing.
    let (_, read) = token(&server, &["read"]);
    let viewer = api(&server).with_token(&read);
    viewer.assert_forbidden("POST", "/api/v1/rules", Some(base.clone()), "write");
    viewer.assert_forbidden(
        "POST",
        "/api/v1/assets",
        Some(json!({"name": "X", "kind": "site"})),
        "write",
    );
    viewer.assert_forbidden("DELETE", &format!("/api/v1/assets/{pump}"), None, "write");
    let (status, _) = viewer.get("/api/v1/assets");
    assert_eq!(status, 200);
    let (status, tree) = api(&server).get(&format!("/api/v1/assets/{pump}"));
    assert_eq!(status, 200);
    assert_eq!(tree["devices"], json!(["pump-1"]), "still there: {tree}");
    // An anomaly rule needs no more than this.
    let anomaly = create(
        &server,
        "/api/v1/rules",
        json!({"name": "vib drift", "device_id": "pump-1", "metric": "vib", "kind": "anomaly", "severity": "minor"}),
    );
    assert_eq!(anomaly["kind"], "anomaly");
    // PATCH is a merge patch, validated whole.
    let (status, out) = api(&server).patch(
        &format!("/api/v1/rules/{}", anomaly["id"].as_str().expect("id")),
        json!({"kind": "threshold"}),
    );
    assert_eq!(status, 422, "{out}");
    let (status, out) = api(&server).patch(
        &format!("/api/v1/rules/{}", anomaly["id"].as_str().expect("id")),
        json!({"name": "vibration drift"}),
    );
    assert_eq!(
        (status, out["name"].as_str()),
        (200, Some("vibration drift"))
    );
}

#[test]
fn an_alarm_reaches_a_webhook_signed_even_when_the_receiver_was_down_across_a_restart() {
    use crate::support::server::free_port;
    use crate::webhooks::{assert_signed, Receiver, FAST_RETRIES};
    let mut server = Server::start_with(&FAST_RETRIES);
    let (pump, password) = plant(&server);
    let port = free_port();
    let hook = create(
        &server,
        "/api/v1/webhooks",
        json!({"url": format!("http://127.0.0.1:{port}/plantd"), "events": ["alarm.*"]}),
    );
    let secret = hook["secret"].as_str().expect("secret").to_owned();
    create(
        &server,
        "/api/v1/rules",
        json!({"name": "P-101 vibration", "asset_id": pump, "metric": "vib", "kind": "iso20816"}),
    );
    {
        let mut dev = device(&server, "pump-1", &password);
        publish(&mut dev, json!({"vib": 7.5}));
    }
    // The receiver is down: attempts fail and are logged; then plantd restarts.
    let hook_id = hook["id"].as_str().expect("id").to_owned();
    eventually(WAIT, "a failed attempt in the delivery log", || {
        let (_, log) = api(&server).get(&format!("/api/v1/webhooks/{hook_id}/deliveries"));
        let items = log["items"].as_array()?.clone();
        items
            .iter()
            .any(|d| d["attempts"].as_u64().unwrap_or(0) >= 1 && d["status"] != "delivered")
            .then_some(())
    });
    server.restart();
    let receiver = Receiver::start_on(port, 200, None);
    let got = receiver.wait_for(1);
    let raised = got
        .iter()
        .find(|r| r.body.contains("\"alarm.raised\""))
        .expect("alarm.raised delivered");
    assert_signed(raised, &secret);
    let body: Value = serde_json::from_str(&raised.body).expect("json");
    assert_eq!(body["data"]["severity"], "critical", "zone D");
    assert_eq!(body["data"]["device_id"], "pump-1");
    let alarm = &alarms(&server, "")[0];
    assert_eq!(body["data"]["alarm_id"], alarm["id"]);
    assert_eq!(
        raised.header("webhook-id"),
        body["id"].as_str().expect("event id")
    );
}

#[test]
fn three_raises_within_a_minute_flag_the_alarm_and_its_rule_as_chattering() {
    let server = Server::start();
    let (_, password) = plant(&server);
    let rule = create(
        &server,
        "/api/v1/rules",
        json!({"name": "hot", "device_id": "pump-1", "metric": "temp", "kind": "threshold",
               "op": ">", "value": 80, "severity": "minor"}),
    );
    let mut dev = device(&server, "pump-1", &password);
    // Distinct times (samples of one series at the same millisecond are one sample).
    for (i, v) in [85, 70, 85, 70, 85].into_iter().enumerate() {
        dev.publish(
            "devices/pump-1/telemetry",
            json!({"ts": ts(10_000 - i as i64 * 1_000), "values": {"temp": v}}).to_string(),
            QoS::AtLeastOnce,
        );
    }
    let alarm = eventually(WAIT, "the alarm flagged as chattering", || {
        let a = alarm_in(&server, &rule, "active_unack");
        (a["chattering"] == true).then_some(a)
    });
    assert_eq!(alarms(&server, "").len(), 1, "one episode, re-activated");
    let (_, detail) = api(&server).get(&format!(
        "/api/v1/alarms/{}",
        alarm["id"].as_str().expect("id")
    ));
    let actions: Vec<&str> = detail["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["action"].as_str().expect("action"))
        .collect();
    assert!(actions.contains(&"chattering"), "{actions:?}");
    let (_, r) = api(&server).get(&format!(
        "/api/v1/rules/{}",
        rule["id"].as_str().expect("id")
    ));
    assert_eq!(r["chattering"], true, "{r}");
    let (_, stats) = api(&server).get("/api/v1/alarms/stats");
    assert_eq!(stats["chattering_alarms"], 1, "{stats}");
    assert_eq!(stats["chattering_rules"], json!([rule["id"]]));
}

#[test]
fn deleting_a_device_ends_its_open_alarms() {
    let server = Server::start();
    let (pump, password) = plant(&server);
    let rule = create(
        &server,
        "/api/v1/rules",
        json!({"name": "hot", "asset_id": pump, "metric": "temp", "kind": "threshold", "op": ">", "value": 80}),
    );
    {
        let mut dev = device(&server, "pump-1", &password);
        publish(&mut dev, json!({"temp": 85}));
    }
    let alarm = alarm_in(&server, &rule, "active_unack");
    let (status, _) = api(&server).delete(&format!("/api/v1/assets/{pump}"));
    assert_eq!(status, 409, "open alarms and a device keep the asset");
    let (status, _) = api(&server).delete("/api/v1/devices/pump-1");
    assert_eq!(status, 204);
    let ended = alarm_in(&server, &rule, "cleared");
    assert_eq!(ended["id"], alarm["id"]);
    let (_, detail) = api(&server).get(&format!(
        "/api/v1/alarms/{}",
        alarm["id"].as_str().expect("id")
    ));
    let last = detail["history"]
        .as_array()
        .expect("history")
        .last()
        .cloned()
        .expect("entry");
    assert_eq!(last["comment"], "device deleted");
}
