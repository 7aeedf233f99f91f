//! Durable domain events (the outbox): an event committed with its change reaches the
//! in-process subscribers and `plantd/events/{type}` even when plantd is killed between
//! the commit and the delivery; `GET /api/v1/events` lists what an integrator missed.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::http::{anonymous, api, provision, token};
use crate::support::mqtt::{connect, Mqtt};
use crate::support::server::Server;

/// An integration listening to `plantd/events/#`.
fn listener(server: &Server) -> Mqtt {
    let (id, secret) = token(server, &["mqtt"]);
    let mut mqtt = connect(server, "events.listener", Some((&id, &secret))).expect("login");
    mqtt.subscribe("plantd/events/#");
    mqtt
}

fn events_of(server: &Server, kind: &str) -> Vec<Value> {
    let (status, page) = api(server).get(&format!("/api/v1/events?type={kind}&limit=1000"));
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().expect("items").clone()
}

/// A file whose existence holds event delivery (the test hook `PLANTD_TEST_HOLD_EVENTS`).
pub(crate) struct Hold(std::path::PathBuf);

impl Hold {
    pub(crate) fn new(name: &str) -> Hold {
        let path = std::env::temp_dir().join(format!("plantd-hold-{name}-{}", std::process::id()));
        std::fs::write(&path, b"").expect("hold file");
        Hold(path)
    }

    pub(crate) fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 path")
    }

    pub(crate) fn release(&self) {
        std::fs::remove_file(&self.0).expect("release the hold");
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn an_event_committed_before_a_kill_is_delivered_after_the_restart_exactly_once() {
    let hold = Hold::new("kill");
    let mut server = Server::start_with(&[("PLANTD_TEST_HOLD_EVENTS", hold.path())]);
    provision(&server, "press-9");
    let (status, command) = api(&server).post(
        "/api/v1/devices/press-9/commands",
        json!({"name": "reboot", "timeout_s": 3600}),
    );
    assert_eq!(status, 202, "{command}");
    let command_id = command["id"].as_str().expect("id").to_owned();
    assert_eq!(command["state"], "pending", "the device never connected");

    let mut early = listener(&server);
    let (status, body) = api(&server).delete("/api/v1/devices/press-9");
    assert_eq!(status, 204, "{body}");

    // Committed with the tombstone, not delivered: listed, but no subscriber acted on it.
    let deleted = events_of(&server, "device.deleted");
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert_eq!(deleted[0]["data"], json!({"device_id": "press-9"}));
    assert_eq!(deleted[0]["source"], "devices");
    let deleted_id = deleted[0]["id"].as_str().expect("id").to_owned();
    assert!(
        events_of(&server, "command.cancelled").is_empty(),
        "Control has not seen the deletion yet"
    );
    assert!(
        early
            .received(Duration::from_millis(1500))
            .iter()
            .all(|(topic, _)| !topic.starts_with("plantd/events/device.deleted")),
        "nothing is published while delivery is held"
    );
    drop(early);

    // A power cut between the commit and the delivery.
    server.kill();
    server.restart_stopped();
    let mut late = listener(&server);
    hold.release();

    // The broker subscriber publishes the stored event; Control, an in-process subscriber,
    // cancels the deleted device's open command and records `command.cancelled`.
    let got = late.collect_until(Duration::from_secs(15), "the held events", |got| {
        let kinds: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
        kinds.contains(&"plantd/events/device.deleted")
            && kinds.contains(&"plantd/events/command.cancelled")
    });
    // Anything published again in the next moments would show here too.
    let mut all = got;
    all.extend(late.received(Duration::from_millis(1500)));
    let mut by_id: HashMap<String, (String, Value)> = HashMap::new();
    for (topic, payload) in &all {
        let event: Value = serde_json::from_slice(payload).expect("event JSON");
        let id = event["id"].as_str().expect("id").to_owned();
        by_id.insert(id, (topic.clone(), event));
    }
    // As an idempotent consumer sees them: distinct ids, per topic.
    let on = |topic: &str| -> Vec<&Value> {
        by_id
            .values()
            .filter(|(t, _)| t == topic)
            .map(|(_, e)| e)
            .collect()
    };
    let deletions = on("plantd/events/device.deleted");
    assert_eq!(deletions.len(), 1, "one deletion, by id: {all:?}");
    assert_eq!(
        deletions[0]["id"],
        deleted_id.as_str(),
        "the event stored before the kill"
    );
    let cancellations = on("plantd/events/command.cancelled");
    assert_eq!(cancellations.len(), 1, "{all:?}");
    assert_eq!(
        cancellations[0]["data"],
        json!({"device_id": "press-9", "command_id": command_id, "name": "reboot"})
    );
    // The consumer's effect happened once: one cancellation stored, however often the
    // deletion was delivered.
    assert_eq!(events_of(&server, "command.cancelled").len(), 1);
    assert_eq!(events_of(&server, "device.deleted").len(), 1);
}

#[test]
fn stored_events_are_listed_in_order_by_page_and_type() {
    let server = Server::start();
    for n in 1..=3 {
        provision(&server, &format!("lathe-{n}"));
    }
    let (status, _) = api(&server).post("/api/v1/devices/lathe-2/disable", json!({}));
    assert_eq!(status, 200);

    let (_, first) = api(&server).get("/api/v1/events?limit=2");
    let items = first["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{first}");
    for event in items {
        let keys: Vec<&str> = event
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 5, "{event}");
        assert_eq!(event["type"], "device.provisioned");
    }
    assert_eq!(items[0]["data"]["device_id"], "lathe-1");
    assert_eq!(items[1]["data"]["device_id"], "lathe-2");
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let (_, rest) = api(&server).get(&format!("/api/v1/events?after={cursor}"));
    let rest: Vec<(String, String)> = rest["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or("").to_owned(),
                e["data"]["device_id"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rest,
        [
            ("device.provisioned".to_owned(), "lathe-3".to_owned()),
            ("device.disabled".to_owned(), "lathe-2".to_owned()),
        ]
    );
    let disabled = events_of(&server, "device.disabled");
    assert_eq!(disabled.len(), 1);

    // A viewer may read them; nobody anonymous; bad cursors are told apart.
    let (_, viewer) = token(&server, &["read"]);
    let (status, page) = api(&server)
        .with_token(&viewer)
        .get("/api/v1/events?type=device.disabled");
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"][0]["data"], json!({"device_id": "lathe-2"}));
    let (status, body) = anonymous(&server).get("/api/v1/events");
    assert_eq!(status, 401, "{body}");
    let (status, body) = api(&server).get("/api/v1/events?after=not-a-uuid");
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["field"], "after", "{body}");
    let (status, body) =
        api(&server).get("/api/v1/events?after=6f1c1b8e-9a4b-4c41-9d51-0a2f5e1e7b10");
    assert_eq!(status, 404, "{body}");
    let (status, _) = api(&server).get("/api/v1/events?limit=0");
    assert_eq!(status, 400);

    // Still there after a restart: they are stored, not held in memory.
    let mut server = server;
    server.restart();
    assert_eq!(events_of(&server, "device.provisioned").len(), 3);
}
