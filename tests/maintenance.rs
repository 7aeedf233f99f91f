//! Preventive maintenance end to end, on the real binary with the test clock
//! (`PLANTD_TEST_CLOCK_FILE`): calendar plans (fixed and floating) raise exactly one
//! `maintenance.due` per occurrence at due − lead, also across a restart and clock jumps
//! (back: nothing again; forward over several: the skipped ones missed); meters counted
//! from MQTT telemetry with explicit timestamps (run hours excluding stops and gaps,
//! a counter across a reset) raise at their mark and not before; whichever comes first
//! raises once; an occurrence due while the previous order is open is missed; the REST
//! API's checks (422 naming the field, scopes), pause and the calendar.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use rumqttc::QoS;
use serde_json::{json, Value};

use crate::support::eventually;
use crate::support::http::{api, metric, token};
use crate::support::mqtt::{device, Mqtt};
use crate::support::server::Server;

const WAIT: Duration = Duration::from_secs(15);
const HOUR_MS: i64 = 3_600_000;
const MIN_MS: i64 = 60_000;

/// A plantd whose maintenance clock reads `clock` (an RFC 3339 time, or seconds added to
/// the system clock; written before the start) and checks plans every second.
struct Plant {
    server: Server,
    clock: PathBuf,
}

impl Plant {
    fn start(at: &str) -> Plant {
        let mut server = Server::prepare(&[("PLANTD_MAINTENANCE_TICK_S", "1")]);
        let clock = server.data_dir.join("maintenance-clock");
        server.extra_env.push((
            "PLANTD_TEST_CLOCK_FILE".into(),
            clock.to_str().expect("utf-8").into(),
        ));
        let plant = Plant { server, clock };
        plant.set_clock(at);
        let mut plant = plant;
        plant.spawn();
        plant
    }

    fn spawn(&mut self) {
        let child = self
            .server
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start plantd");
        self.server.adopt(child);
    }

    fn set_clock(&self, at: &str) {
        std::fs::write(&self.clock, at).expect("clock file");
    }

    /// Waits until the module has checked every plan `n` more times (against the clock
    /// as it is now).
    fn ticks(&self, n: f64) {
        let seen = metric(&self.server, "plantd_maintenance_checks_total", "");
        eventually(WAIT, "maintenance checks", || {
            (metric(&self.server, "plantd_maintenance_checks_total", "") >= seen + n).then_some(())
        });
    }

    fn create(&self, path: &str, body: Value) -> Value {
        let (status, out) = api(&self.server).post(path, body.clone());
        assert_eq!(status, 201, "POST {path} {body}: {out}");
        out
    }

    fn asset(&self) -> String {
        let site = self.create("/api/v1/assets", json!({"name": "Plant", "kind": "site"}));
        let asset = self.create(
            "/api/v1/assets",
            json!({"name": "Pump P-101", "kind": "asset", "parent_id": site["id"]}),
        );
        asset["id"].as_str().expect("id").to_owned()
    }

    /// Device `pump-1` on the asset; its MQTT session.
    fn device(&self, asset: &str) -> Mqtt {
        device(&self.server, "pump-1", &self.provision(asset))
    }

    /// Device `pump-1` on the asset; its password.
    fn provision(&self, asset: &str) -> String {
        let dev = self.create(
            "/api/v1/devices",
            json!({"id": "pump-1", "asset_id": asset}),
        );
        dev["credentials"]["password"]
            .as_str()
            .expect("password")
            .to_owned()
    }

    fn plan(&self, body: Value) -> Value {
        self.create("/api/v1/maintenance-plans", body)
    }

    fn get_plan(&self, plan: &Value) -> Value {
        let (status, out) = api(&self.server).get(&format!(
            "/api/v1/maintenance-plans/{}",
            plan["id"].as_str().expect("id")
        ));
        assert_eq!(status, 200, "{out}");
        out
    }

    /// The data of the stored events of `kind` for `plan`, oldest first.
    fn events(&self, kind: &str, plan: &Value) -> Vec<Value> {
        let (status, page) =
            api(&self.server).get(&format!("/api/v1/events?type={kind}&limit=1000"));
        assert_eq!(status, 200, "{page}");
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|e| e["data"].clone())
            .filter(|d| d["plan_id"] == plan["id"])
            .collect()
    }

    fn occurrences(&self, kind: &str, plan: &Value) -> Vec<i64> {
        self.events(kind, plan)
            .iter()
            .map(|d| d["occurrence"].as_i64().expect("occurrence"))
            .collect()
    }

    /// Waits until `plan` has `n` events of `kind`; returns their data.
    fn wait_events(&self, kind: &str, plan: &Value, n: usize) -> Vec<Value> {
        eventually(WAIT, &format!("{n} {kind} of the plan"), || {
            let list = self.events(kind, plan);
            (list.len() >= n).then_some(list)
        })
    }
}

/// Publishes `(minute, value)` samples of `metric` at `start + minute`, 60 to a message.
fn publish_minutes(dev: &mut Mqtt, metric: &str, start: i64, samples: &[(i64, f64)]) {
    for chunk in samples.chunks(60) {
        let payload: Vec<Value> = chunk
            .iter()
            .map(|(m, v)| json!({"ts": start + m * MIN_MS, "values": {metric: v}}))
            .collect();
        dev.publish(
            "devices/pump-1/telemetry",
            Value::from(payload).to_string(),
            QoS::AtLeastOnce,
        );
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[test]
fn calendar_plans_raise_once_per_occurrence_at_their_lead_across_a_restart_and_clock_jumps() {
    let mut plant = Plant::start("2030-01-01T00:00:00Z");
    let asset = plant.asset();
    let fixed = plant.plan(json!({"asset_id": asset, "title": "Grease bearings",
        "tasks": ["grease DE bearing", "grease NDE bearing"], "estimated_hours": 0.5,
        "calendar": {"every": 1, "unit": "days", "mode": "fixed", "start": "2030-01-03T00:00:00Z"},
        "lead": {"days": 0.5}}));
    let floating = plant.plan(json!({"asset_id": asset, "title": "Inspect coupling", "tasks": ["inspect"],
        "calendar": {"every": 2, "unit": "days", "mode": "floating", "start": "2030-01-03T06:00:00Z"}}));
    assert_eq!(fixed["calendar_due_at"], "2030-01-03T00:00:00Z");
    assert_eq!(fixed["next_due_basis"], "calendar");
    assert_eq!(fixed["occurrence"], 1);

    // A minute before due − lead: nothing.
    plant.set_clock("2030-01-02T11:59:00Z");
    plant.ticks(2.0);
    assert!(plant.events("maintenance.due", &fixed).is_empty());
    // At due − lead: exactly one, with the plan's tasks.
    plant.set_clock("2030-01-02T12:00:00Z");
    let due = plant.wait_events("maintenance.due", &fixed, 1);
    assert_eq!(due[0]["occurrence"], 1);
    assert_eq!(due[0]["trigger"], "calendar");
    assert_eq!(due[0]["due_at"], "2030-01-03T00:00:00Z");
    assert_eq!(
        due[0]["tasks"],
        json!(["grease DE bearing", "grease NDE bearing"])
    );
    assert_eq!(due[0]["asset_id"], asset.as_str());
    assert_eq!(due[0]["interval_days"], 1.0);
    // The floating plan is due at its start.
    plant.set_clock("2030-01-03T06:00:00Z");
    let fdue = plant.wait_events("maintenance.due", &floating, 1);
    assert_eq!(fdue[0]["due_at"], "2030-01-03T06:00:00Z");
    plant.ticks(2.0);
    assert_eq!(plant.occurrences("maintenance.due", &fixed), vec![1]);
    assert_eq!(plant.occurrences("maintenance.due", &floating), vec![1]);

    // Stop, move the clock back, start again: nothing is raised again.
    assert!(plant.server.stop().success());
    plant.set_clock("2030-01-01T00:00:00Z");
    plant.spawn();
    plant.ticks(2.0);
    assert_eq!(plant.occurrences("maintenance.due", &fixed), vec![1]);
    assert!(plant.occurrences("maintenance.missed", &fixed).is_empty());
    let status = plant.get_plan(&fixed);
    assert_eq!(status["occurrence"], 2, "{status}");
    assert_eq!(status["calendar_due_at"], "2030-01-04T00:00:00Z");

    // The next occurrence comes at its time (its order is still open: missed, not
    // stacked), and not before.
    plant.set_clock("2030-01-03T11:59:00Z");
    plant.ticks(2.0);
    assert!(plant.events("maintenance.missed", &fixed).is_empty());
    plant.set_clock("2030-01-03T12:00:00Z");
    let missed = plant.wait_events("maintenance.missed", &fixed, 1);
    assert_eq!(missed[0]["occurrence"], 2);
    assert_eq!(missed[0]["due_at"], "2030-01-04T00:00:00Z");
    // Floating: counts from the last due point while no completion came (6 Jan 06:00).
    plant.set_clock("2030-01-05T05:00:00Z");
    plant.ticks(2.0);
    assert!(plant.events("maintenance.missed", &floating).is_empty());
    assert_eq!(
        plant.get_plan(&floating)["calendar_due_at"],
        "2030-01-05T06:00:00Z"
    );

    // Forward over several occurrences at once: each passed one once, none due again.
    plant.set_clock("2030-01-07T12:00:00Z");
    let missed = plant.wait_events("maintenance.missed", &fixed, 5);
    plant.ticks(2.0);
    assert_eq!(
        plant.occurrences("maintenance.missed", &fixed),
        vec![2, 3, 4, 5, 6]
    );
    assert_eq!(missed[4]["due_at"], "2030-01-08T00:00:00Z");
    assert_eq!(plant.occurrences("maintenance.due", &fixed), vec![1]);
    let status = plant.get_plan(&fixed);
    assert_eq!(status["missed"], 5);
    assert_eq!(
        status["overdue"], true,
        "occurrence 1 is past due and its order open"
    );
    // Floating: due 5 Jan 06:00 and 7 Jan 06:00 passed, each counted from the one before.
    assert_eq!(
        plant.occurrences("maintenance.missed", &floating),
        vec![2, 3]
    );
}

#[test]
fn a_run_hours_plan_is_due_at_its_run_hour_mark_counting_neither_stops_nor_gaps() {
    // The system clock (offset 0): the rate is over the samples' own recent days.
    let plant = Plant::start("0");
    let asset = plant.asset();
    let mut dev = plant.device(&asset);
    let plan = plant.plan(
        json!({"asset_id": asset, "title": "Change oil", "tasks": ["drain", "fill"],
        "meter": {"device_id": "pump-1", "metric": "running", "kind": "run_hours", "every": 2}}),
    );
    assert_eq!(plan["meter_total"], 0.0);
    // One sample a simulated minute, six hours ago: 60 min running; 30 stopped (the
    // first minute still ran); 10 running; a 30-minute gap while running (counts
    // nothing, over the 5-minute setting); then running to the 2-hour mark.
    let start = now_ms() - 6 * HOUR_MS;
    let mut samples: Vec<(i64, f64)> = (0..=60).map(|m| (m, 1.0)).collect();
    samples.extend((61..=90).map(|m| (m, 0.0)));
    samples.extend((91..=100).map(|m| (m, 1.0)));
    // 61 + 9 = 70 minutes so far; after the gap 130 → 179 adds 49: 119 minutes.
    samples.extend((130..=179).map(|m| (m, 1.0)));
    publish_minutes(&mut dev, "running", start, &samples);
    let status = eventually(WAIT, "119 run minutes counted", || {
        let s = plant.get_plan(&plan);
        (s["meter_total"]
            .as_f64()
            .is_some_and(|t| (t - 119.0 / 60.0).abs() < 1e-6))
        .then_some(s)
    });
    assert_eq!(status["meter_due_at"], 2.0);
    assert!(
        status["meter_rate_per_day"]
            .as_f64()
            .is_some_and(|r| r > 0.0),
        "{status}"
    );
    assert_eq!(status["next_due_basis"], "projected");
    assert!(status["meter_projected_at"].is_string());
    plant.ticks(2.0);
    assert!(
        plant.events("maintenance.due", &plan).is_empty(),
        "not before the mark"
    );
    // A duplicate and an out-of-order sample (in the gap, never sent) count nothing.
    publish_minutes(&mut dev, "running", start, &[(179, 1.0), (110, 1.0)]);
    publish_minutes(&mut dev, "running", start, &[(180, 1.0)]);
    let due = plant.wait_events("maintenance.due", &plan, 1);
    assert_eq!(due[0]["trigger"], "meter");
    assert_eq!(due[0]["due_meter"], 2.0);
    assert_eq!(due[0]["tasks"], json!(["drain", "fill"]));
    let status = plant.get_plan(&plan);
    assert!(
        (status["meter_total"].as_f64().expect("total") - 2.0).abs() < 1e-6,
        "{status}"
    );
    assert_eq!(status["meter_due_at"], 4.0);
    assert_eq!(status["occurrence"], 2);
    // The duplicate is one sample to telemetry already; the out-of-order one is ignored here.
    let stale = metric(
        &plant.server,
        "plantd_maintenance_samples_ignored_total",
        "stale",
    );
    assert!(stale >= 1.0, "{stale}");
}

#[test]
fn a_counter_plan_counts_across_a_counter_reset() {
    let mut plant = Plant::start("2030-01-01T00:00:00Z");
    let asset = plant.asset();
    let password = plant.provision(&asset);
    let mut dev = device(&plant.server, "pump-1", &password);
    let plan = plant.plan(
        json!({"asset_id": asset, "title": "Replace seals", "tasks": ["seals"],
        "meter": {"device_id": "pump-1", "metric": "cycles", "kind": "counter", "every": 100}}),
    );
    let start = now_ms() - HOUR_MS;
    // 1000 → 1080: 80; reset to 10: 90; 15, 19: 99.
    let samples = [
        (0, 1000.0),
        (1, 1040.0),
        (2, 1080.0),
        (3, 10.0),
        (4, 15.0),
        (5, 19.0),
    ];
    publish_minutes(&mut dev, "cycles", start, &samples);
    eventually(WAIT, "99 cycles counted", || {
        (plant.get_plan(&plan)["meter_total"] == 99.0).then_some(())
    });
    assert_eq!(plant.get_plan(&plan)["meter_since_last"], 99.0);
    // The meter is kept across a restart.
    plant.server.restart();
    assert_eq!(plant.get_plan(&plan)["meter_total"], 99.0);
    plant.ticks(1.0);
    assert!(plant.events("maintenance.due", &plan).is_empty());
    drop(dev);
    let mut dev = device(&plant.server, "pump-1", &password);
    publish_minutes(&mut dev, "cycles", start, &[(6, 20.0)]);
    let due = plant.wait_events("maintenance.due", &plan, 1);
    assert_eq!(due[0]["trigger"], "meter");
    assert_eq!(due[0]["due_meter"], 100.0);
}

#[test]
fn whichever_comes_first_raises_the_occurrence_once_and_names_its_trigger() {
    let plant = Plant::start("2030-01-01T00:00:00Z");
    let asset = plant.asset();
    let mut dev = plant.device(&asset);
    let plan = plant.plan(
        json!({"asset_id": asset, "title": "Overhaul", "tasks": ["overhaul"],
        "calendar": {"every": 30, "unit": "days", "mode": "fixed", "start": "2030-01-11T00:00:00Z"},
        "meter": {"device_id": "pump-1", "metric": "cycles", "kind": "counter", "every": 50}}),
    );
    let start = now_ms() - HOUR_MS;
    publish_minutes(&mut dev, "cycles", start, &[(0, 0.0), (1, 30.0), (2, 50.0)]);
    let due = plant.wait_events("maintenance.due", &plan, 1);
    assert_eq!(due[0]["trigger"], "meter");
    assert_eq!(due[0]["occurrence"], 1);
    // The calendar's point of that occurrence passes: no second order for it.
    plant.set_clock("2030-01-11T00:00:00Z");
    plant.ticks(2.0);
    assert_eq!(plant.occurrences("maintenance.due", &plan), vec![1]);
    assert!(plant.events("maintenance.missed", &plan).is_empty());
    let status = plant.get_plan(&plan);
    assert_eq!(
        status["calendar_due_at"], "2030-02-10T00:00:00Z",
        "{status}"
    );
    assert_eq!(status["meter_due_at"], 100.0);

    // The calendar first: a plan whose meter lags.
    let second = plant.plan(
        json!({"asset_id": asset, "title": "Inspect", "tasks": ["inspect"],
        "calendar": {"every": 7, "unit": "days", "mode": "fixed", "start": "2030-01-12T00:00:00Z"},
        "meter": {"device_id": "pump-1", "metric": "cycles", "kind": "counter", "every": 1000}}),
    );
    plant.set_clock("2030-01-12T00:00:00Z");
    let due = plant.wait_events("maintenance.due", &second, 1);
    assert_eq!(due[0]["trigger"], "calendar");
    assert_eq!(due[0]["due_at"], "2030-01-12T00:00:00Z");
}

#[test]
fn an_occurrence_due_while_the_previous_order_is_open_is_missed_not_stacked() {
    let plant = Plant::start("2030-01-01T00:00:00Z");
    let asset = plant.asset();
    let mut dev = plant.device(&asset);
    let plan = plant.plan(
        json!({"asset_id": asset, "title": "Clean filter", "tasks": ["clean"],
        "meter": {"device_id": "pump-1", "metric": "cycles", "kind": "counter", "every": 10}}),
    );
    let start = now_ms() - HOUR_MS;
    publish_minutes(&mut dev, "cycles", start, &[(0, 0.0), (1, 10.0)]);
    plant.wait_events("maintenance.due", &plan, 1);
    publish_minutes(&mut dev, "cycles", start, &[(2, 20.0)]);
    let missed = plant.wait_events("maintenance.missed", &plan, 1);
    assert_eq!(missed[0]["occurrence"], 2);
    assert_eq!(missed[0]["title"], "Clean filter");
    plant.ticks(2.0);
    assert_eq!(plant.occurrences("maintenance.due", &plan), vec![1]);
    let status = plant.get_plan(&plan);
    assert_eq!(status["missed"], 1);
    assert_eq!(status["overdue"], true);
    assert!(metric(&plant.server, "plantd_maintenance_missed_total", "") >= 1.0);
}

#[test]
fn plans_are_checked_paused_listed_deleted_and_shown_in_the_calendar() {
    let plant = Plant::start("2030-01-01T00:00:00Z");
    let asset = plant.asset();
    let mut dev = plant.device(&asset);
    let client = api(&plant.server);
    let body = json!({"asset_id": asset, "title": "Grease", "tasks": ["grease"],
        "calendar": {"every": 1, "unit": "weeks", "mode": "fixed", "start": "2030-01-07T00:00:00Z"}});
    let field = |body: Value| {
        let (status, out) = client.post("/api/v1/maintenance-plans", body);
        assert_eq!(status, 422, "{out}");
        out["errors"][0]["field"]
            .as_str()
            .expect("field")
            .to_owned()
    };
    let mut bad = body.clone();
    bad["asset_id"] = json!("no-such-asset");
    assert_eq!(field(bad), "asset_id");
    let mut bad = body.clone();
    bad["meter"] =
        json!({"device_id": "nobody", "metric": "running", "kind": "run_hours", "every": 10});
    assert_eq!(field(bad), "meter.device_id");
    let mut bad = body.clone();
    bad.as_object_mut().expect("object").remove("calendar");
    assert_eq!(field(bad), "calendar");
    let mut bad = body.clone();
    bad["calendar"]["mode"] = json!("sometimes");
    assert_eq!(field(bad), "calendar");
    let (_, secret) = token(&plant.server, &["read"]);
    client.with_token(&secret).assert_forbidden(
        "POST",
        "/api/v1/maintenance-plans",
        Some(body.clone()),
        "write",
    );

    let plan = plant.plan(
        json!({"asset_id": asset, "title": "Grease", "tasks": ["grease"],
        "calendar": {"every": 1, "unit": "weeks", "mode": "fixed", "start": "2030-01-07T00:00:00Z"},
        "meter": {"device_id": "pump-1", "metric": "cycles", "kind": "counter", "every": 10}}),
    );
    let id = plan["id"].as_str().expect("id").to_owned();
    let (status, list) = client
        .with_token(&secret)
        .get(&format!("/api/v1/maintenance-plans?asset_id={asset}"));
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    let (_, none) = client.get("/api/v1/maintenance-plans?asset_id=other");
    assert_eq!(none["items"], json!([]));

    // Paused: raises nothing, its meter still counts.
    let (status, paused) = client.patch(
        &format!("/api/v1/maintenance-plans/{id}"),
        json!({"paused": true}),
    );
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused["paused"], true);
    assert_eq!(
        paused["calendar"]["unit"], "weeks",
        "a merge patch keeps the rest"
    );
    let start = now_ms() - HOUR_MS;
    publish_minutes(&mut dev, "cycles", start, &[(0, 0.0), (1, 12.0)]);
    eventually(WAIT, "the paused plan's meter counts", || {
        (plant.get_plan(&plan)["meter_total"] == 12.0).then_some(())
    });
    plant.ticks(2.0);
    assert!(plant.events("maintenance.due", &plan).is_empty());
    let (status, _) = client.patch(
        &format!("/api/v1/maintenance-plans/{id}"),
        json!({"paused": false}),
    );
    assert_eq!(status, 200);
    let due = plant.wait_events("maintenance.due", &plan, 1);
    assert_eq!(due[0]["trigger"], "meter");

    // The calendar: the open occurrence (overdue: its meter point is passed) and the
    // weekly points ahead.
    let (status, cal) = client
        .get("/api/v1/maintenance/calendar?from=2030-01-01T00:00:00Z&to=2030-01-22T00:00:00Z");
    assert_eq!(status, 200, "{cal}");
    let kinds: Vec<(String, String)> = cal["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or("").to_owned(),
                e["at"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("overdue".into(), "2030-01-01T00:00:00Z".into())),
        "{cal}"
    );
    assert!(
        kinds.contains(&("due".into(), "2030-01-14T00:00:00Z".into())),
        "{cal}"
    );
    assert!(
        kinds.contains(&("due".into(), "2030-01-21T00:00:00Z".into())),
        "{cal}"
    );
    let (status, _) = client
        .get("/api/v1/maintenance/calendar?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z");
    assert_eq!(status, 400);

    let (status, _) = client.delete(&format!("/api/v1/maintenance-plans/{id}"));
    assert_eq!(status, 204);
    let (status, _) = client.get(&format!("/api/v1/maintenance-plans/{id}"));
    assert_eq!(status, 404);
}

/// The work orders of `plan`, oldest first.
fn plan_orders(plant: &Plant, plan: &Value) -> Vec<Value> {
    let (status, page) = api(&plant.server).get(&format!(
        "/api/v1/work-orders?plan_id={}&limit=1000",
        plan["id"].as_str().expect("id")
    ));
    assert_eq!(status, 200, "{page}");
    let mut items = page["items"].as_array().expect("items").clone();
    items.sort_by_key(|o| o["number"].as_i64());
    items
}

fn finish(plant: &Plant, order: &Value) -> Value {
    for to in ["in_progress", "done"] {
        let (status, out) = api(&plant.server).post(
            &format!(
                "/api/v1/work-orders/{}/transitions",
                order["id"].as_str().expect("id")
            ),
            json!({"to": to}),
        );
        assert_eq!(status, 200, "{to}: {out}");
    }
    let (_, done) = api(&plant.server).get(&format!(
        "/api/v1/work-orders/{}",
        order["id"].as_str().expect("id")
    ));
    done
}

fn ms(v: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().expect("time"))
        .expect("rfc 3339")
        .timestamp_millis()
}

#[test]
fn completion_moves_a_floating_plan_and_a_meter_plan_and_each_occurrence_is_one_order() {
    // The system clock (the orders are completed at the real time), moved by offsets.
    let plant = Plant::start("0");
    let asset = plant.asset();
    let mut dev = plant.device(&asset);
    let start = now_ms() + HOUR_MS;
    let floating = plant.plan(json!({"asset_id": asset, "title": "Inspect coupling",
        "tasks": ["check alignment", "check wear"],
        "calendar": {"every": 1, "unit": "days", "mode": "floating",
                     "start": chrono::DateTime::from_timestamp_millis(start).expect("time").to_rfc3339()}}));
    let metered = plant.plan(
        json!({"asset_id": asset, "title": "Clean strainer", "tasks": ["clean"],
        "meter": {"device_id": "pump-1", "metric": "cycles", "kind": "counter", "every": 10}}),
    );

    // Due: one preventive order each, with the tasks as its checklist.
    plant.set_clock("3660");
    let order = eventually(WAIT, "the floating plan's order", || {
        plan_orders(&plant, &floating).pop()
    });
    assert_eq!(order["kind"], "preventive");
    assert_eq!(order["occurrence"], 1);
    assert_eq!(
        order["checklist"].as_array().map(Vec::len),
        Some(2),
        "{order}"
    );
    eventually(WAIT, "the plan to know its order", || {
        (plant.get_plan(&floating)["open_work_order_id"] == order["id"]).then_some(())
    });
    let t0 = now_ms() - HOUR_MS;
    publish_minutes(&mut dev, "cycles", t0, &[(0, 0.0), (1, 10.0)]);
    let morder = eventually(WAIT, "the meter plan's order", || {
        plan_orders(&plant, &metered).pop()
    });
    publish_minutes(&mut dev, "cycles", t0, &[(2, 13.0)]);
    eventually(WAIT, "13 cycles", || {
        (plant.get_plan(&metered)["meter_total"] == 13.0).then_some(())
    });

    // Done: the floating plan is next due a day after the completion, the meter 10
    // cycles after its total at completion.
    let done = finish(&plant, &order);
    let completed = ms(&done["completed_at"]);
    let status = eventually(WAIT, "the completion to reach the plan", || {
        let s = plant.get_plan(&floating);
        s["last_completed_at"].is_string().then_some(s)
    });
    assert_eq!(ms(&status["last_completed_at"]), completed);
    assert_eq!(
        ms(&status["calendar_due_at"]),
        completed + 24 * HOUR_MS,
        "{status}"
    );
    assert!(status["open_work_order_id"].is_null());
    assert_eq!(status["overdue"], false);
    finish(&plant, &morder);
    let status = eventually(WAIT, "the meter plan's completion", || {
        let s = plant.get_plan(&metered);
        s["last_completed_at"].is_string().then_some(s)
    });
    assert_eq!(status["meter_due_at"], 23.0, "{status}");
    assert_eq!(status["meter_since_last"], 0.0);

    // The next occurrence comes at its time as a second order, not before.
    let ahead = |at: i64| ((at - now_ms()) / 1000).to_string();
    plant.set_clock(&ahead(completed + 24 * HOUR_MS - 120_000));
    plant.ticks(2.0);
    assert_eq!(plant.occurrences("maintenance.due", &floating), vec![1]);
    plant.set_clock(&ahead(completed + 24 * HOUR_MS + 60_000));
    plant.wait_events("maintenance.due", &floating, 2);
    let orders = eventually(WAIT, "the second order", || {
        let o = plan_orders(&plant, &floating);
        (o.len() == 2).then_some(o)
    });
    assert_eq!(orders[1]["occurrence"], 2);
    publish_minutes(&mut dev, "cycles", t0, &[(3, 22.0)]);
    plant.ticks(2.0);
    assert_eq!(plan_orders(&plant, &metered).len(), 1, "22 of 23: not yet");
    publish_minutes(&mut dev, "cycles", t0, &[(4, 23.0)]);
    let orders = eventually(WAIT, "the meter plan's second order", || {
        let o = plan_orders(&plant, &metered);
        (o.len() == 2).then_some(o)
    });
    assert_eq!(orders[1]["occurrence"], 2);
    assert!(plant.events("maintenance.missed", &floating).is_empty());
    assert!(plant.events("maintenance.missed", &metered).is_empty());
}
