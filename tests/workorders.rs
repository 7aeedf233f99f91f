//! Work orders end to end, on the real binary: vibration over a rule's limit over MQTT →
//! alarm → exactly one corrective order (a second excursion comments, after done a repeat
//! failure); a stopping order in progress holds the asset (its alarms out of service, no
//! order, not in the alarm rates); a kill -9 between the alarm and its order; and the
//! REST surface (422 naming fields, 409, closing codes, filters, requests, scopes).

use serde_json::{json, Value};

use crate::events::Hold;
use crate::health::{act, alarm_in, create, plant, publish, WAIT};
use crate::support::eventually;
use crate::support::http::{anonymous, api, token};
use crate::support::mqtt::device;
use crate::support::server::Server;

fn orders(server: &Server, query: &str) -> Vec<Value> {
    let (status, page) = api(server).get(&format!("/api/v1/work-orders?{query}"));
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().expect("items").clone()
}

fn order(server: &Server, id: &Value) -> Value {
    let (status, o) = api(server).get(&format!("/api/v1/work-orders/{}", id.as_str().expect("id")));
    assert_eq!(status, 200, "{o}");
    o
}

fn transition(server: &Server, id: &Value, body: Value) -> (u16, Value) {
    api(server).post(
        &format!(
            "/api/v1/work-orders/{}/transitions",
            id.as_str().expect("id")
        ),
        body,
    )
}

fn closing() -> Value {
    json!({"failure_mode": "vibration", "cause": "misalignment", "action": "adjust", "detection": "alarm"})
}

/// The one order an alarm opened (waits for it).
fn order_of_alarm(server: &Server, alarm: &Value) -> Value {
    let id = alarm["id"].as_str().expect("alarm id");
    eventually(WAIT, &format!("the order of alarm {id}"), || {
        orders(server, &format!("alarm_id={id}")).into_iter().next()
    })
}

fn vibration_rule(server: &Server, pump: &str) -> Value {
    create(
        server,
        "/api/v1/rules",
        json!({"name": "P-101 vibration", "asset_id": pump, "metric": "vibration", "kind": "threshold",
               "op": ">", "value": 7.1, "severity": "critical", "create_work_order": true}),
    )
}

fn field(problem: &Value) -> &str {
    problem["errors"][0]["field"].as_str().unwrap_or("")
}

#[test]
fn vibration_over_the_limit_opens_one_order_comments_while_open_and_flags_a_repeat_failure() {
    let server = Server::start();
    let (pump, password) = plant(&server);
    let rule = vibration_rule(&server, &pump);
    let mut dev = device(&server, "pump-1", &password);
    publish(&mut dev, json!({"vibration": 2.0}));
    publish(&mut dev, json!({"vibration": 9.3}));
    let alarm = alarm_in(&server, &rule, "active_unack");
    let first = order_of_alarm(&server, &alarm);
    assert_eq!(first["rule_id"], rule["id"]);
    assert_eq!(first["priority"], "urgent", "critical → urgent");
    assert_eq!(first["kind"], "corrective");
    assert_eq!(first["status"], "open");
    assert_eq!(first["asset_id"], pump.as_str());
    assert_eq!(first["device_id"], "pump-1");
    assert_eq!(first["repeat_failure"], false);
    assert_eq!(first["created_by"], "system");
    assert!(first["title"]
        .as_str()
        .expect("title")
        .contains("P-101 vibration"));

    // Back to normal: a comment, not a close; acknowledged, the episode ends (another).
    publish(&mut dev, json!({"vibration": 2.0}));
    let back = alarm_in(&server, &rule, "rtn_unack");
    let (status, _) = act(&server, &back, "acknowledge", json!({}));
    assert_eq!(status, 200);
    alarm_in(&server, &rule, "cleared");
    eventually(WAIT, "two alarm comments on the order", || {
        (order(&server, &first["id"])["comments"].as_array()?.len() == 2).then_some(())
    });
    // A second excursion while the order is open: a comment on it, still one order.
    publish(&mut dev, json!({"vibration": 8.8}));
    let second = alarm_in(&server, &rule, "active_unack");
    assert_ne!(second["id"], alarm["id"], "a new episode");
    let o = eventually(WAIT, "a third comment", || {
        let o = order(&server, &first["id"]);
        (o["comments"].as_array()?.len() == 3).then_some(o)
    });
    assert_eq!(o["status"], "open", "comments never close it");
    let texts: Vec<&str> = o["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .map(|c| c["text"].as_str().expect("text"))
        .collect();
    assert!(texts[0].contains("returned to normal"), "{texts:?}");
    assert!(texts[1].contains("cleared"), "{texts:?}");
    assert!(texts[2].contains("raised again"), "{texts:?}");
    assert_eq!(orders(&server, "").len(), 1, "one order");

    // Done with closing codes (needed: it is corrective).
    let (status, _) = transition(&server, &first["id"], json!({"to": "in_progress"}));
    assert_eq!(status, 200);
    let (status, problem) = transition(&server, &first["id"], json!({"to": "done"}));
    assert_eq!(status, 422, "{problem}");
    assert_eq!(field(&problem), "closing.failure_mode");
    let (status, done) = transition(
        &server,
        &first["id"],
        json!({"to": "done", "closing": closing(), "actual_hours": 1.5}),
    );
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["closing"]["cause"], "misalignment");

    // The episode ends; the next one opens a new order: a repeat failure of the first.
    publish(&mut dev, json!({"vibration": 2.0}));
    let ended = alarm_in(&server, &rule, "rtn_unack");
    act(&server, &ended, "acknowledge", json!({}));
    eventually(WAIT, "no open alarm of the rule", || {
        crate::health::alarms(
            &server,
            &format!("rule_id={}&state=open", rule["id"].as_str()?),
        )
        .is_empty()
        .then_some(())
    });
    publish(&mut dev, json!({"vibration": 9.9}));
    let third = alarm_in(&server, &rule, "active_unack");
    let repeat = order_of_alarm(&server, &third);
    assert_ne!(repeat["id"], first["id"]);
    assert_eq!(repeat["repeat_failure"], true);
    assert_eq!(repeat["repeat_of"], first["id"]);
    assert_eq!(
        repeat["number"],
        first["number"].as_i64().expect("number") + 1
    );
    assert_eq!(orders(&server, "").len(), 2);
    let (status, events) = api(&server).get("/api/v1/events?type=workorder.completed");
    assert_eq!(status, 200);
    assert_eq!(events["items"][0]["data"]["work_order_id"], first["id"]);
}

#[test]
fn a_stopping_order_in_progress_holds_the_asset_its_alarms_open_no_order_nor_count() {
    let server = Server::start();
    let (pump, password) = plant(&server);
    let (status, _) = api(&server).patch(
        &format!("/api/v1/assets/{pump}"),
        json!({"location": "Hall 2, bay 4"}),
    );
    assert_eq!(status, 200);
    let rule = vibration_rule(&server, &pump);
    assert_eq!(rule["maintenance_aware"], true);
    let repair = create(
        &server,
        "/api/v1/work-orders",
        json!({"title": "Replace bearing", "asset_id": pump, "stops_asset": true, "priority": "high"}),
    );
    assert_eq!(repair["location"], "Hall 2, bay 4", "copied from the asset");
    let (status, started) = transition(&server, &repair["id"], json!({"to": "in_progress"}));
    assert_eq!(status, 200, "{started}");
    assert!(started["downtime_start"].is_string());
    eventually(WAIT, "the asset held in maintenance", || {
        let (_, a) = api(&server).get(&format!("/api/v1/assets/{pump}"));
        (a["in_maintenance"] == true).then_some(())
    });

    let mut dev = device(&server, "pump-1", &password);
    publish(&mut dev, json!({"vibration": 9.5}));
    let alarm = alarm_in(&server, &rule, "out_of_service");
    let (_, raised) = api(&server).get("/api/v1/events?type=alarm.raised");
    assert_eq!(
        raised["items"],
        json!([]),
        "not announced: nothing to order"
    );
    assert_eq!(orders(&server, "").len(), 1, "only the repair");
    let (_, stats) = api(&server).get("/api/v1/alarms/stats");
    assert_eq!(stats["alarms"], 0, "not in the alarm rates: {stats}");
    assert_eq!(stats["per_10_min"], 0.0, "{stats}");
    assert_eq!(stats["out_of_service_now"], 1, "{stats}");

    // The machine is quiet again, the repair done: the asset is released.
    publish(&mut dev, json!({"vibration": 2.0}));
    eventually(WAIT, "the out-of-service episode ended", || {
        let list = crate::health::alarms(&server, &format!("rule_id={}", rule["id"].as_str()?));
        (list.len() == 1 && list[0]["state"] == "cleared").then_some(())
    });
    let (status, done) = transition(
        &server,
        &repair["id"],
        json!({"to": "done", "closing": closing()}),
    );
    assert_eq!(status, 200, "{done}");
    assert!(done["downtime_end"].is_string());
    eventually(WAIT, "the asset released", || {
        let (_, a) = api(&server).get(&format!("/api/v1/assets/{pump}"));
        (a["in_maintenance"] == false).then_some(())
    });
    assert_eq!(alarm["asset_id"], pump.as_str());
    assert_eq!(orders(&server, "").len(), 1);
}

#[test]
fn an_alarm_committed_before_a_kill_opens_exactly_one_order_after_the_restart() {
    let hold = Hold::new("workorders");
    let mut server = Server::start_with(&[("PLANTD_TEST_HOLD_EVENTS", hold.path())]);
    let (pump, password) = plant(&server);
    let rule = vibration_rule(&server, &pump);
    let mut dev = device(&server, "pump-1", &password);
    publish(&mut dev, json!({"vibration": 9.0}));
    let alarm = alarm_in(&server, &rule, "active_unack");
    let (_, raised) = api(&server).get("/api/v1/events?type=alarm.raised");
    assert_eq!(
        raised["items"].as_array().expect("items").len(),
        1,
        "committed"
    );
    assert!(orders(&server, "").is_empty(), "not delivered yet");
    drop(dev);

    server.kill();
    server.restart_stopped();
    hold.release();
    let o = order_of_alarm(&server, &alarm);
    // A clean restart redelivers nothing new: still one order, created once.
    server.restart();
    let list = orders(&server, "");
    assert_eq!(list.len(), 1, "{list:?}");
    let detail = order(&server, &o["id"]);
    let created: Vec<&Value> = detail["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter(|h| h["action"] == "created")
        .collect();
    assert_eq!(created.len(), 1);
    let (_, events) = api(&server).get("/api/v1/events?type=workorder.created");
    assert_eq!(events["items"].as_array().expect("items").len(), 1);
}

#[test]
fn the_rest_api_checks_fields_moves_filters_and_turns_requests_into_orders() {
    let server = Server::start();
    let (pump, _) = plant(&server);
    let path = "/api/v1/work-orders";
    for (body, name) in [
        (json!({"description": "no title"}), "title"),
        (
            json!({"title": "x", "estimated_hours": -1}),
            "estimated_hours",
        ),
        (json!({"title": "x", "priority": "asap"}), "priority"),
        (json!({"title": "x", "colour": "red"}), "colour"),
        (
            json!({"title": "x", "asset_id": "no-such-asset"}),
            "asset_id",
        ),
        (json!({"title": "x", "due_at": "soon"}), "due_at"),
    ] {
        let (status, problem) = api(&server).post(path, body.clone());
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(field(&problem), name, "{body}: {problem}");
    }
    assert!(
        orders(&server, "").is_empty(),
        "nothing created by a refusal"
    );
    let late = create(
        &server,
        path,
        json!({"title": "Check seal", "asset_id": pump, "assignee": "eve",
               "due_at": "2020-01-01T00:00:00Z", "checklist": ["Inspect", "Measure"],
               "kind": "inspection"}),
    );
    assert_eq!(late["number"], 1);
    assert_eq!(late["overdue"], true);
    let other = create(&server, path, json!({"title": "Paint rail"}));
    assert_eq!(other["kind"], "corrective");
    assert_eq!(other["priority"], "medium");

    let ids =
        |q: &str| -> Vec<Value> { orders(&server, q).iter().map(|o| o["id"].clone()).collect() };
    assert_eq!(
        ids(""),
        [other["id"].clone(), late["id"].clone()],
        "newest first"
    );
    assert_eq!(ids(&format!("asset_id={pump}")), [late["id"].clone()]);
    assert_eq!(ids("assignee=eve"), [late["id"].clone()]);
    assert_eq!(ids("overdue=true"), [late["id"].clone()]);
    assert_eq!(ids("overdue=false"), [other["id"].clone()]);
    assert_eq!(ids("type=inspection"), [late["id"].clone()]);
    let (status, problem) = api(&server).get("/api/v1/work-orders?status=finished");
    assert_eq!(status, 400, "{problem}");
    let (status, page) = api(&server).get("/api/v1/work-orders?limit=1");
    assert_eq!(status, 200);
    let cursor = page["next_cursor"].as_str().expect("a next page");
    assert_eq!(
        ids(&format!("limit=1&cursor={cursor}")),
        [late["id"].clone()]
    );

    // Illegal moves are 409 and change nothing; status is not patchable.
    let (status, problem) = transition(&server, &other["id"], json!({"to": "done"}));
    assert_eq!(status, 409, "{problem}");
    let (status, problem) = api(&server).patch(
        &format!("{path}/{}", other["id"].as_str().expect("id")),
        json!({"status": "done"}),
    );
    assert_eq!((status, field(&problem)), (422, "status"), "{problem}");
    let (status, patched) = api(&server).patch(
        &format!("{path}/{}", other["id"].as_str().expect("id")),
        json!({"priority": "high", "assignee": "bob"}),
    );
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        (patched["priority"].as_str(), patched["assignee"].as_str()),
        (Some("high"), Some("bob"))
    );
    let (status, _) = transition(&server, &other["id"], json!({"to": "in_progress"}));
    assert_eq!(status, 200);
    let (status, problem) = transition(
        &server,
        &other["id"],
        json!({"to": "done", "closing": {"failure_mode": "noise", "cause": "gremlins", "action": "repair", "detection": "operator"}}),
    );
    assert_eq!(
        (status, field(&problem)),
        (422, "closing.cause"),
        "{problem}"
    );
    // An inspection is done without codes; a comment and a ticked item on the way.
    let (status, _) = api(&server).post(
        &format!("{path}/{}/comments", late["id"].as_str().expect("id")),
        json!({"text": "seal weeping"}),
    );
    assert_eq!(status, 200);
    let (status, ticked) = api(&server).post(
        &format!("{path}/{}/checklist/0", late["id"].as_str().expect("id")),
        json!({"result": "failed", "note": "seal worn", "follow_up": true}),
    );
    assert_eq!(status, 200, "{ticked}");
    let follow_up = ticked["checklist"][0]["follow_up_id"].clone();
    let child = order(&server, &follow_up);
    assert_eq!(child["parent_id"], late["id"]);
    assert_eq!(child["asset_id"], pump.as_str());
    transition(&server, &late["id"], json!({"to": "in_progress"}));
    let (status, done) = transition(&server, &late["id"], json!({"to": "done"}));
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["overdue"], false, "done is never overdue");
    assert_eq!(ids("status=done"), [late["id"].clone()]);
    assert_eq!(ids("status=open,in_progress").len(), 2);
    let history: Vec<String> = order(&server, &late["id"])["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["action"].as_str().expect("action").to_owned())
        .collect();
    assert_eq!(
        history,
        [
            "created",
            "comment",
            "checklist",
            "linked",
            "status",
            "status"
        ]
    );
    let (_, changed) = api(&server).get("/api/v1/events?type=workorder.status_changed");
    let last = changed["items"]
        .as_array()
        .expect("items")
        .last()
        .cloned()
        .expect("one");
    assert_eq!(last["data"]["previous_status"], "in_progress");
    assert_eq!(last["data"]["status"], "done");

    // Closing codes: defaults, admin-only edits.
    let (status, codes) = api(&server).get("/api/v1/failure-codes");
    assert_eq!(status, 200);
    assert_eq!(codes["failure_modes"].as_array().expect("list").len(), 8);
    assert_eq!(codes["detections"][1]["code"], "preventive_check");
    let mut edited = codes.clone();
    edited["causes"]
        .as_array_mut()
        .expect("causes")
        .push(json!({"code": "corrosion", "label": "Corrosion"}));
    let (_, write) = token(&server, &["write"]);
    let engineer = anonymous(&server).with_token(&write);
    engineer.assert_forbidden(
        "PUT",
        "/api/v1/failure-codes",
        Some(edited.clone()),
        "admin",
    );
    let put = |body: &Value| -> (u16, Value) {
        match ureq::put(&server.url("/api/v1/failure-codes"))
            .set(
                "Authorization",
                &format!("Bearer {}", crate::support::server::ADMIN_TOKEN),
            )
            .send_json(body.clone())
        {
            Ok(r) => (r.status(), r.into_json().expect("json")),
            Err(ureq::Error::Status(code, r)) => (code, r.into_json().expect("json")),
            Err(e) => panic!("{e}"),
        }
    };
    let (status, problem) =
        put(&json!({"failure_modes": [], "causes": [], "actions": [], "detections": []}));
    assert_eq!(
        (status, field(&problem)),
        (422, "failure_modes"),
        "{problem}"
    );
    let (status, saved) = put(&edited);
    assert_eq!(status, 200, "{saved}");
    assert_eq!(api(&server).get("/api/v1/failure-codes").1, edited);

    // Requests: a viewer files one, may not open an order; an engineer decides.
    let (_, read) = token(&server, &["read"]);
    let viewer = anonymous(&server).with_token(&read);
    viewer.assert_forbidden("POST", path, Some(json!({"title": "x"})), "write");
    let (status, request) = viewer.post(
        "/api/v1/work-requests",
        json!({"title": "Pump noisy", "asset_id": pump, "description": "grinding"}),
    );
    assert_eq!(status, 201, "{request}");
    assert_eq!(request["status"], "pending");
    viewer.assert_forbidden(
        "POST",
        &format!(
            "/api/v1/work-requests/{}/approve",
            request["id"].as_str().expect("id")
        ),
        Some(json!({})),
        "write",
    );
    let (status, approved) = api(&server).post(
        &format!(
            "/api/v1/work-requests/{}/approve",
            request["id"].as_str().expect("id")
        ),
        json!({"priority": "high"}),
    );
    assert_eq!(status, 201, "{approved}");
    assert_eq!(approved["request_id"], request["id"]);
    assert_eq!(approved["kind"], "request");
    assert_eq!(approved["title"], "Pump noisy");
    assert_eq!(approved["priority"], "high");
    let (status, _) = api(&server).post(
        &format!(
            "/api/v1/work-requests/{}/approve",
            request["id"].as_str().expect("id")
        ),
        json!({}),
    );
    assert_eq!(status, 409, "decided once");
    let (_, second) = viewer.post(
        "/api/v1/work-requests",
        json!({"title": "Leak under P-101"}),
    );
    let reject = format!(
        "/api/v1/work-requests/{}/reject",
        second["id"].as_str().expect("id")
    );
    let (status, problem) = api(&server).post(&reject, json!({"reason": " "}));
    assert_eq!((status, field(&problem)), (422, "reason"), "{problem}");
    let (status, rejected) = api(&server).post(&reject, json!({"reason": "duplicate of WO-4"}));
    assert_eq!(status, 200, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["reject_reason"], "duplicate of WO-4");
    let (_, list) = viewer.get("/api/v1/work-requests?status=approved");
    assert_eq!(list["items"][0]["work_order_id"], approved["id"]);
    let (_, filed) = api(&server).get("/api/v1/events?type=workrequest.created");
    assert_eq!(filed["items"].as_array().expect("items").len(), 2);
}
