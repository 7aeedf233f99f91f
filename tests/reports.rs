//! The maintenance report end to end on the real binary: a press whose device reports
//! `running` (90 minutes on, 30 off), a spare pump without it, work orders worked through
//! the API with recorded downtime, and `GET /reports/maintenance` (JSON and CSV) against
//! figures calculated by hand below. Runs on both backends.

use chrono::{SecondsFormat, TimeZone, Utc};
use serde_json::{json, Value};

use crate::support::http::{api, stored_points};
use crate::support::server::Server;

const MIN: i64 = 60_000;

fn create(server: &Server, path: &str, body: Value) -> Value {
    let (status, out) = api(server).post(path, body.clone());
    assert_eq!(status, 201, "POST {path} {body}: {out}");
    out
}

fn iso(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .expect("time")
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

/// Opens an order on `asset`, starts it (downtime from `down.0` when given) and closes it
/// (downtime to `down.1`) with `hours` worked; corrective orders with closing codes.
fn worked(
    server: &Server,
    asset: &str,
    kind: &str,
    due: Option<i64>,
    down: Option<(i64, i64)>,
    hours: f64,
    closing: &Value,
) {
    let mut body = json!({"title": format!("{kind} on {asset}"), "kind": kind, "asset_id": asset});
    if let Some(due) = due {
        body["due_at"] = iso(due).into();
    }
    let order = create(server, "/api/v1/work-orders", body);
    let path = format!("/api/v1/work-orders/{}/transitions", id(&order));
    let mut start = json!({"to": "in_progress"});
    let mut done = json!({"to": "done", "actual_hours": hours});
    if let Some((a, b)) = down {
        start["downtime_start"] = iso(a).into();
        done["downtime_end"] = iso(b).into();
    }
    if kind == "corrective" {
        done["closing"] = closing.clone();
    }
    for body in [start, done] {
        let (status, out) = api(server).post(&path, body.clone());
        assert_eq!(status, 200, "{body}: {out}");
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn maintenance_figures_match_a_hand_calculation() {
    let server = Server::start();
    let site = create(
        &server,
        "/api/v1/assets",
        json!({"name": "Plant", "kind": "site"}),
    );
    let press = id(&create(
        &server,
        "/api/v1/assets",
        json!({"name": "Press", "kind": "asset", "parent_id": site["id"]}),
    ));
    let spare = id(&create(
        &server,
        "/api/v1/assets",
        json!({"name": "Spare pump", "kind": "asset", "parent_id": site["id"]}),
    ));
    let device = create(
        &server,
        "/api/v1/devices",
        json!({"id": "press-1", "asset_id": press}),
    );
    let password = device["credentials"]["password"]
        .as_str()
        .expect("password")
        .to_owned();

    // t0: a whole minute three hours ago. The press runs its first 90 minutes, then stops.
    let t0 = (Utc::now().timestamp_millis() / MIN) * MIN - 180 * MIN;
    let samples: Vec<Value> = (0..120)
        .map(|k| json!({"ts": t0 + k * MIN + 30_000, "values": {"running": i32::from(k < 90)}}))
        .collect();
    let (status, out) = api(&server).post_as_device(
        "/api/v1/devices/press-1/telemetry",
        "press-1",
        &password,
        Value::Array(samples).to_string().as_bytes(),
    );
    assert_eq!(status, 202, "{out}");
    stored_points(&server, "press-1", "running", 120);

    let (status, codes) = api(&server).get("/api/v1/failure-codes");
    assert_eq!(status, 200, "{codes}");
    let first = |list: &str| codes[list][0]["code"].as_str().expect("code").to_owned();
    let closing = json!({"failure_mode": first("failure_modes"), "cause": first("causes"),
                         "action": first("actions"), "detection": first("detections")});
    // Press: two failures, down 30 and 15 minutes; two preventive orders, one due in 23 h
    // (done now: on time), one due 30 minutes after t0 (done now: late).
    worked(
        &server,
        &press,
        "corrective",
        None,
        Some((t0 + 10 * MIN, t0 + 40 * MIN)),
        1.0,
        &closing,
    );
    worked(
        &server,
        &press,
        "corrective",
        None,
        Some((t0 + 60 * MIN, t0 + 75 * MIN)),
        0.5,
        &closing,
    );
    worked(
        &server,
        &press,
        "preventive",
        Some(t0 + 23 * 60 * MIN),
        None,
        2.0,
        &closing,
    );
    worked(
        &server,
        &press,
        "preventive",
        Some(t0 + 30 * MIN),
        None,
        1.0,
        &closing,
    );
    // Spare pump (no `running`: calendar time): one failure, down two hours.
    worked(
        &server,
        &spare,
        "corrective",
        None,
        Some((t0, t0 + 120 * MIN)),
        3.0,
        &closing,
    );

    let window = format!("from={}&to={}", iso(t0), iso(t0 + 24 * 60 * MIN));
    let (status, press_report) = api(&server).get(&format!(
        "/api/v1/reports/maintenance?{window}&asset_id={press}"
    ));
    assert_eq!(status, 200, "{press_report}");
    let f = &press_report["total"];
    let num = |f: &Value, k: &str| f[k].as_f64().unwrap_or_else(|| panic!("{k} in {f}"));
    // Operating: 90 minutes of `running` = 1.5 h, measured.
    assert_eq!(f["operating_basis"], "running", "{f}");
    assert!(close(num(f, "operating_hours"), 1.5), "{f}");
    // MTBF = 1.5 h ÷ 2 failures = 0.75 h; MTTR = (0.5 h + 0.25 h) ÷ 2 = 0.375 h.
    assert_eq!(f["failures"], 2, "{f}");
    assert!(close(num(f, "mtbf_hours"), 0.75), "{f}");
    assert!(close(num(f, "mttr_hours"), 0.375), "{f}");
    // Availability = 1.5 ÷ (1.5 + 0.75).
    assert!(close(num(f, "downtime_hours"), 0.75), "{f}");
    assert!(close(num(f, "availability"), 1.5 / 2.25), "{f}");
    // PM compliance: 1 of 2 due on time; planned share 3 h of 4.5 h.
    assert_eq!(
        (f["pm_due"].clone(), f["pm_on_time"].clone()),
        (json!(2), json!(1)),
        "{f}"
    );
    assert!(close(num(f, "pm_compliance"), 0.5), "{f}");
    assert!(close(num(f, "planned_share"), 3.0 / 4.5), "{f}");
    assert_eq!(f["top_failure_modes"][0]["count"], 2, "{f}");
    assert_eq!(
        press_report["series"].as_array().map(Vec::len),
        Some(1),
        "one day"
    );
    assert!(press_report["definitions"]["mtbf_hours"].is_string());

    // The whole plant: the spare pump's calendar time (24 h less its 2 h down) joins the
    // press's 1.5 h; three failures, 2.75 h down.
    let (status, plant) = api(&server).get(&format!("/api/v1/reports/maintenance?{window}"));
    assert_eq!(status, 200, "{plant}");
    let f = &plant["total"];
    assert_eq!(f["operating_basis"], "mixed", "{f}");
    assert!(close(num(f, "operating_hours"), 23.5), "{f}");
    assert_eq!(f["failures"], 3, "{f}");
    assert!(close(num(f, "mtbf_hours"), 23.5 / 3.0), "{f}");
    assert!(close(num(f, "availability"), 23.5 / 26.25), "{f}");
    assert!(
        plant["alarms"]["alarms"].is_number(),
        "alarm figures beside: {plant}"
    );
    // The same report after a new failure: the figures' facts kept from the view before
    // (`facts_cache.rs`) are not served again.
    create(
        &server,
        "/api/v1/work-orders",
        json!({"title": "Leak", "kind": "corrective", "asset_id": spare}),
    );
    let (_, again) = api(&server).get(&format!("/api/v1/reports/maintenance?{window}"));
    assert_eq!(again["total"]["failures"], 4, "{again}");
    assert_eq!(
        again["total"]["open_orders"].as_u64(),
        f["open_orders"].as_u64().map(|n| n + 1),
        "{again}"
    );

    // CSV: a row per day and the total.
    let csv = ureq::get(&server.url(&format!(
        "/api/v1/reports/maintenance?{window}&asset_id={press}&format=csv"
    )))
    .set(
        "Authorization",
        &format!("Bearer {}", crate::support::server::ADMIN_TOKEN),
    )
    .call()
    .expect("csv")
    .into_string()
    .expect("body");
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(
        rows[0].starts_with("period,from,to,operating_hours"),
        "{csv}"
    );
    assert!(rows[2].starts_with("total,"), "{csv}");
    assert!(
        rows[2].contains(",2,0.7500,0.3750,"),
        "failures, MTBF, MTTR: {csv}"
    );

    // An unknown asset is a 404; a period the wrong way round a 400.
    let (status, _) = api(&server).get(&format!(
        "/api/v1/reports/maintenance?{window}&asset_id=nope"
    ));
    assert_eq!(status, 404);
    let (status, _) = api(&server).get(&format!(
        "/api/v1/reports/maintenance?from={}&to={}",
        iso(t0),
        iso(t0 - MIN)
    ));
    assert_eq!(status, 400);
}
