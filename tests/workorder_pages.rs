//! The work-order and maintenance pages. In a real Chromium: an engineer opens an order
//! with the form, starts it, ticks a checklist item, comments and completes it with
//! closing codes (the REST API then has the status, the codes and the history); the plan
//! editor makes a meter plan whose progress the list shows once `running` samples arrive
//! over MQTT; the month calendar shows a fixed calendar plan on its due day. Over plain
//! HTTP (the pages without JavaScript, with the UI's cookies and CSRF tokens): a viewer
//! reports a problem from an asset's page (with its QR code), has no "new order" button
//! and a forged POST with a valid token is refused; an engineer approves the request into
//! an order and rejects another with a reason; an admin edits the failure codes (an
//! engineer may not), and the plan and order editors show a 422 beside its field.
//! Screenshots go to `target/screenshots/`.

use std::path::PathBuf;
use std::time::Duration;

use chrono::Datelike;
use rumqttc::QoS;
use serde_json::{json, Value};

use crate::device_pages::{add_user, sign_in};
use crate::health_pages::{location, page, post};
use crate::support::eventually;
use crate::support::http::api;
use crate::support::mqtt::device;
use crate::support::server::{Server, ADMIN_PASSWORD};
use crate::support::web::{agent, assert_refused, form_token};
use crate::ui::Browser;

const WAIT: Duration = Duration::from_secs(15);

/// Saves the browser's page as `target/screenshots/{name}.png`.
fn screenshot(browser: &Browser, name: &str) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target/")
        .join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    browser.screenshot(dir.join(format!("{name}.png")).to_str().expect("utf-8"));
}

/// An asset in Hall 2 of a new site.
fn asset(server: &Server, name: &str) -> String {
    let (status, site) = api(server).post(
        "/api/v1/assets",
        json!({"name": format!("Site of {name}"), "kind": "site"}),
    );
    assert_eq!(status, 201, "{site}");
    let (status, made) = api(server).post(
        "/api/v1/assets",
        json!({"name": name, "kind": "asset", "location": "Hall 2", "parent_id": site["id"]}),
    );
    assert_eq!(status, 201, "{made}");
    made["id"].as_str().expect("id").to_owned()
}

fn order(server: &Server, id: &str) -> Value {
    let (status, order) = api(server).get(&format!("/api/v1/work-orders/{id}"));
    assert_eq!(status, 200, "{order}");
    order
}

/// Waits until the text of `css` on the current page is `want` (pages load after a click).
fn wait_text(browser: &Browser, css: &str, want: &str) {
    eventually(WAIT, &format!("{css} to read {want:?}"), || {
        browser
            .find_all(css)
            .first()
            .and(Some(browser.text(css)))
            .filter(|t| t.trim() == want)
    });
}

#[test]
fn an_engineer_runs_an_order_from_the_form_to_done_with_closing_codes_in_a_browser() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let server = Server::start();
    let pump = asset(&server, "Pump P-7");
    add_user(&server, "erin", "engineer");
    browser.goto(&server.url("/login"));
    browser.sign_in("erin", ADMIN_PASSWORD);
    browser.wait_for_path("/");
    browser.click("nav a[href='/work-orders']");
    browser.wait_for_path("/work-orders");
    browser.click("#new-order-link");
    browser.wait_for_path("/work-orders/new");
    browser.type_into("#new-order input[name=title]", "Seal leaking on P-7");
    browser.click("#new-order select[name=kind] option[value='corrective']");
    browser.click("#new-order select[name=priority] option[value='high']");
    browser.click(&format!(
        "#new-order select[name=asset_id] option[value='{pump}']"
    ));
    browser.type_into(
        "#new-order textarea[name=checklist]",
        "Isolate the pump\nReplace the seal",
    );
    browser.type_into("#new-order input[name=skills]", "mechanic");
    browser.click("#new-order button[type=submit]");
    let id = eventually(WAIT, "the new order's page", || {
        let path = browser.path();
        path.strip_prefix("/work-orders/")
            .filter(|rest| !rest.is_empty() && *rest != "new")
            .map(str::to_owned)
    });
    wait_text(&browser, "#order-status", "open");
    let fields = browser.text("#order-fields");
    assert!(
        fields.contains("Pump P-7") && fields.contains("Hall 2"),
        "{fields}"
    );
    assert_eq!(browser.find_all("tr[data-item]").len(), 2);

    browser.click("form.move[data-to='in_progress'] button");
    wait_text(&browser, "#order-status", "in progress");
    browser.click("tr[data-item='0'] select[name=result] option[value='ok']");
    browser.type_into(
        "tr[data-item='0'] input[name=note]",
        "isolated and locked out",
    );
    browser.click("tr[data-item='0'] form.tick button");
    wait_text(&browser, "tr[data-item='0'] td.result", "ok");
    browser.type_into(
        "#comment-form textarea[name=text]",
        "Seal faces were scored",
    );
    browser.click("#comment-form button");
    eventually(WAIT, "the comment", || {
        browser
            .text("#comments")
            .contains("Seal faces were scored")
            .then_some(())
    });
    // Completing a corrective order asks for its closing codes.
    assert!(
        browser.find_all("form.move[data-to='done']").is_empty(),
        "no plain 'Complete' for a corrective order"
    );
    for list in ["failure_mode", "cause", "action", "detection"] {
        browser.click(&format!(
            "#closing-form select[name={list}] option:nth-child(2)"
        ));
    }
    browser.type_into("#closing-form input[name=actual_hours]", "1.5");
    screenshot(&browser, "workorder-closing");
    browser.click("#closing-form button[type=submit]");
    wait_text(&browser, "#order-status", "done");
    let shown_codes = browser.text("#closing-codes");
    screenshot(&browser, "workorder");

    let stored = order(&server, &id);
    assert_eq!(stored["status"], "done", "{stored}");
    assert_eq!(stored["kind"], "corrective");
    assert_eq!(stored["priority"], "high");
    assert_eq!(stored["asset_id"], pump.as_str());
    assert_eq!(stored["location"], "Hall 2");
    assert_eq!(stored["skills"], json!(["mechanic"]));
    assert_eq!(stored["actual_hours"], 1.5);
    assert_eq!(stored["created_by"], "erin");
    for list in ["failure_mode", "cause", "action", "detection"] {
        let code = stored["closing"][list].as_str().unwrap_or_default();
        assert!(
            !code.is_empty() && shown_codes.contains(&format!("({code})")),
            "{list}: {stored} / {shown_codes}"
        );
    }
    assert_eq!(stored["checklist"][0]["result"], "ok");
    assert_eq!(stored["checklist"][0]["by"], "erin");
    assert_eq!(stored["checklist"][0]["note"], "isolated and locked out");
    assert_eq!(stored["checklist"][1]["result"], Value::Null);
    assert!(
        stored["comments"]
            .as_array()
            .expect("comments")
            .iter()
            .any(|c| c["text"] == "Seal faces were scored" && c["by"] == "erin"),
        "{stored}"
    );
    let history = stored["history"].as_array().expect("history");
    let moves: Vec<(String, String)> = history
        .iter()
        .filter(|h| h["detail"]["to"].is_string() && h["detail"]["from"].is_string())
        .map(|h| {
            (
                h["detail"]["from"].as_str().unwrap_or_default().to_owned(),
                h["detail"]["to"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        moves,
        [
            ("open".to_owned(), "in_progress".to_owned()),
            ("in_progress".to_owned(), "done".to_owned())
        ],
        "{history:?}"
    );
    assert!(history.iter().all(|h| h["by"] == "erin"), "{history:?}");
    assert!(
        history.len() >= 5,
        "created, 2 moves, tick, comment: {history:?}"
    );
    let page_history = browser.text("#history");
    assert!(
        page_history.contains("in progress → done"),
        "{page_history}"
    );

    browser.goto(&server.url("/work-orders/board"));
    assert_eq!(
        browser
            .find_all(&format!("[data-column='done'] [data-order='{id}']"))
            .len(),
        1,
        "on the board's done column"
    );
    screenshot(&browser, "workorder-board");
    browser.goto(&server.url("/work-orders?status=done"));
    assert_eq!(browser.find_all(&format!("tr[data-order='{id}']")).len(), 1);
    screenshot(&browser, "workorders");
}

#[test]
fn a_viewer_reports_a_problem_from_the_asset_page_and_an_engineer_approves_it_without_javascript() {
    let server = Server::start();
    let pump = asset(&server, "Pump P-9");
    add_user(&server, "vic", "viewer");
    add_user(&server, "erin", "engineer");
    let agent = agent();
    let viewer = sign_in(&server, &agent, "vic", ADMIN_PASSWORD);

    // The asset page: the report form and the QR code of its own URL.
    let asset_url = server.url(&format!("/assets/{pump}"));
    let html = page(&server, &agent, &viewer, &format!("/assets/{pump}"));
    assert!(html.contains("id=\"request-form\""), "{html}");
    assert!(
        html.contains(&format!("<span data-qr-payload>{asset_url}</span>")),
        "the QR code's payload as text: {html}"
    );
    let svg = html
        .split("<figure class=\"qr-small\" id=\"asset-qr\">")
        .nth(1)
        .expect("the QR figure");
    assert!(
        svg.starts_with("<svg role=\"img\" aria-label=\"QR code of Pump P-9\""),
        "{svg}"
    );
    assert!(svg.contains("<path fill=\"#000\" d=\"M"), "{svg}");
    let print = page(&server, &agent, &viewer, &format!("/assets/{pump}/qr"));
    assert!(
        print.contains(&format!("data-qr-payload>{asset_url}<")),
        "{print}"
    );
    assert!(print.contains("<svg role=\"img\""), "{print}");
    assert!(
        !html.contains("/work-orders/new"),
        "a viewer has no 'new order' link"
    );
    let csrf = form_token(&html).expect("viewer's token");

    let back = location(&post(
        &server,
        &agent,
        &viewer,
        &format!("/assets/{pump}/requests"),
        &[
            ("csrf_token", &csrf),
            ("title", "Pump is noisy"),
            ("description", "Grinding sound since this morning"),
        ],
    ));
    let filed = back
        .split("filed=")
        .nth(1)
        .and_then(|r| r.split('#').next())
        .expect("the request's id")
        .to_owned();
    let thanked = page(&server, &agent, &viewer, &back);
    assert!(thanked.contains("your request was filed"), "{thanked}");

    // No order for viewers: no button, no form, and a forged POST is refused.
    let list = page(&server, &agent, &viewer, "/work-orders");
    assert!(!list.contains("/work-orders/new"), "{list}");
    let new = page(&server, &agent, &viewer, "/work-orders/new");
    assert!(!new.contains("action=\"/work-orders\""), "{new}");
    let forged = post(
        &server,
        &agent,
        &viewer,
        "/work-orders",
        &[
            ("csrf_token", &csrf),
            ("title", "forged"),
            ("kind", "corrective"),
        ],
    );
    assert_refused(forged, "viewers cannot change work orders");
    let (_, orders) = api(&server).get("/api/v1/work-orders");
    assert_eq!(orders["items"], json!([]), "nothing made: {orders}");
    let inbox = page(&server, &agent, &viewer, "/requests");
    assert!(inbox.contains("Pump is noisy"), "{inbox}");
    assert!(
        !inbox.contains("/approve\""),
        "a viewer decides nothing: {inbox}"
    );
    assert_refused(
        post(
            &server,
            &agent,
            &viewer,
            &format!("/requests/{filed}/approve"),
            &[("csrf_token", &csrf)],
        ),
        "viewers file requests; engineers decide them",
    );

    // The engineer approves it into an order.
    let engineer = sign_in(&server, &agent, "erin", ADMIN_PASSWORD);
    let inbox = page(&server, &agent, &engineer, "/requests");
    assert!(
        inbox.contains(&format!("action=\"/requests/{filed}/approve\"")),
        "{inbox}"
    );
    let csrf = form_token(&inbox).expect("engineer's token");
    let to = location(&post(
        &server,
        &agent,
        &engineer,
        &format!("/requests/{filed}/approve"),
        &[
            ("csrf_token", &csrf),
            ("kind", "corrective"),
            ("priority", "high"),
            ("assignee", "erin"),
        ],
    ));
    let order_id = to.strip_prefix("/work-orders/").expect("the order's page");
    let made = order(&server, order_id);
    assert_eq!(made["request_id"], filed.as_str(), "{made}");
    assert_eq!(made["title"], "Pump is noisy");
    assert_eq!(made["asset_id"], pump.as_str());
    assert_eq!(made["priority"], "high");
    assert_eq!(made["assignee"], "erin");
    assert_eq!(made["status"], "open");
    let shown = page(&server, &agent, &engineer, &to);
    assert!(
        shown.contains("Work request"),
        "linked to its request: {shown}"
    );
    let decided = page(&server, &agent, &engineer, "/requests?status=approved");
    assert!(
        decided.contains(&format!("href=\"/work-orders/{order_id}\"")),
        "{decided}"
    );

    // Another is rejected with its reason.
    let back = location(&post(
        &server,
        &agent,
        &viewer,
        &format!("/assets/{pump}/requests"),
        &[
            ("csrf_token", &form_token(&thanked).expect("token")),
            ("title", "Paint is chipped"),
        ],
    ));
    let second = back
        .split("filed=")
        .nth(1)
        .and_then(|r| r.split('#').next())
        .expect("id");
    let rejected = location(&post(
        &server,
        &agent,
        &engineer,
        &format!("/requests/{second}/reject"),
        &[("csrf_token", &csrf), ("reason", "cosmetic, next shutdown")],
    ));
    assert_eq!(rejected, "/requests");
    let list = page(&server, &agent, &engineer, "/requests?status=rejected");
    assert!(list.contains("cosmetic, next shutdown"), "{list}");
    assert!(list.contains("Paint is chipped"), "{list}");
}

#[test]
fn the_plan_editor_makes_a_meter_plan_whose_progress_shows_and_the_calendar_shows_a_fixed_plan() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let server = Server::start();
    let pump = asset(&server, "Pump P-11");
    let (status, dev) = api(&server).post(
        "/api/v1/devices",
        json!({"id": "pump-11", "asset_id": pump}),
    );
    assert_eq!(status, 201, "{dev}");
    let password = dev["credentials"]["password"].as_str().expect("password");
    add_user(&server, "erin", "engineer");
    browser.goto(&server.url("/login"));
    browser.sign_in("erin", ADMIN_PASSWORD);
    browser.wait_for_path("/");
    browser.click("nav a[href='/maintenance']");
    browser.wait_for_path("/maintenance");
    browser.click("#new-plan-link");
    browser.wait_for_path("/maintenance/plans/new");
    browser.click(&format!(
        "#plan-editor select[name=asset_id] option[value='{pump}']"
    ));
    browser.type_into("#plan-editor input[name=title]", "Grease the bearings");
    browser.type_into(
        "#plan-editor textarea[name=tasks]",
        "Grease DE bearing\nGrease NDE bearing",
    );
    browser.type_into("#plan-editor input[name=meter_device]", "pump-11");
    browser.type_into("#plan-editor input[name=meter_metric]", "running");
    browser.type_into("#plan-editor input[name=meter_every]", "500");
    browser.type_into("#plan-editor input[name=lead_meter]", "20");
    browser.click("#plan-editor button[type=submit]");
    let plan = eventually(WAIT, "the plan's page", || {
        browser
            .path()
            .strip_prefix("/maintenance/plans/")
            .filter(|rest| !rest.is_empty() && *rest != "new")
            .map(str::to_owned)
    });
    let (status, stored) = api(&server).get(&format!("/api/v1/maintenance-plans/{plan}"));
    assert_eq!(status, 200, "{stored}");
    assert_eq!(
        stored["meter"],
        json!({"device_id": "pump-11", "metric": "running", "kind": "run_hours", "every": 500.0})
    );
    assert_eq!(
        stored["tasks"],
        json!(["Grease DE bearing", "Grease NDE bearing"])
    );
    assert_eq!(stored["lead"]["meter"], 20.0);
    assert_eq!(stored["calendar"], Value::Null);

    // Two hours of running, a sample a minute, six hours ago.
    let mut mqtt = device(&server, "pump-11", password);
    let start = chrono::Utc::now().timestamp_millis() - 6 * 3_600_000;
    let samples: Vec<Value> = (0..=120)
        .map(|m| json!({"ts": start + m * 60_000, "values": {"running": 1.0}}))
        .collect();
    for chunk in samples.chunks(60) {
        mqtt.publish(
            "devices/pump-11/telemetry",
            Value::from(chunk.to_vec()).to_string(),
            QoS::AtLeastOnce,
        );
    }
    eventually(WAIT, "two run hours counted", || {
        let (_, s) = api(&server).get(&format!("/api/v1/maintenance-plans/{plan}"));
        s["meter_since_last"]
            .as_f64()
            .filter(|h| (h - 2.0).abs() < 1e-6)
    });
    browser.goto(&server.url("/maintenance"));
    let progress = browser.text(&format!("tr[data-plan='{plan}'] td.progress"));
    assert!(
        progress.starts_with("2 of 500 run hours, due in ≈ ") && progress.ends_with(" days"),
        "{progress}"
    );
    screenshot(&browser, "maintenance-plans");
    browser.goto(&server.url(&format!("/maintenance/plans/{plan}")));
    assert_eq!(browser.text("#plan-progress"), progress);

    // A fixed monthly plan due in 20 days shows on that day of its month.
    let due = chrono::Utc::now().date_naive() + chrono::Duration::days(20);
    let (status, fixed) = api(&server).post(
        "/api/v1/maintenance-plans",
        json!({"asset_id": pump, "title": "Inspect coupling", "tasks": ["Look"],
               "calendar": {"every": 1, "unit": "months", "mode": "fixed",
                            "start": format!("{due}T08:00:00Z")}}),
    );
    assert_eq!(status, 201, "{fixed}");
    let fixed_id = fixed["id"].as_str().expect("id");
    let month = due.format("%Y-%m").to_string();
    browser.goto(&server.url(&format!("/maintenance/calendar?month={month}")));
    let entry = format!("td[data-date='{due}'] a.entry.due[data-plan='{fixed_id}']");
    assert_eq!(browser.find_all(&entry).len(), 1, "{entry}");
    assert!(browser.text(&entry).contains("Inspect coupling"));
    screenshot(&browser, "maintenance-calendar");
    let next = (due.with_day(1).expect("first") + chrono::Months::new(1)).format("%Y-%m");
    browser.click("#next-month");
    eventually(WAIT, "the next month", || {
        browser
            .url()
            .ends_with(&format!("month={next}"))
            .then_some(())
    });
    assert!(browser
        .text("main h1")
        .starts_with("Maintenance calendar: "));

    browser.goto(&server.url(&format!("/assets/{pump}")));
    assert_eq!(browser.find_all("#asset-qr svg.qr").len(), 1);
    screenshot(&browser, "asset-qr");
    drop(mqtt);
}

#[test]
fn an_admin_edits_the_failure_codes_and_the_editors_show_a_422_beside_its_field() {
    let server = Server::start();
    let pump = asset(&server, "Pump P-12");
    add_user(&server, "erin", "engineer");
    let agent = agent();
    let engineer = sign_in(&server, &agent, "erin", ADMIN_PASSWORD);
    let shown = page(&server, &agent, &engineer, "/failure-codes");
    assert!(shown.contains("leakage"), "the defaults: {shown}");
    assert!(
        !shown.contains("Save the lists"),
        "only admins see the button"
    );
    let csrf = form_token(&shown).expect("token");
    let lists = [
        ("csrf_token", csrf.as_str()),
        ("failure_modes", "leak: Leakage\nseized: Seized"),
        ("causes", "wear: Wear"),
        ("actions", "replace: Replace"),
        ("detections", "operator: Operator"),
    ];
    assert_refused(
        post(&server, &agent, &engineer, "/failure-codes", &lists),
        "only admins edit the failure codes",
    );
    let admin = sign_in(&server, &agent, "admin", ADMIN_PASSWORD);
    let csrf = form_token(&page(&server, &agent, &admin, "/failure-codes")).expect("token");
    let mut lists = lists;
    lists[0].1 = &csrf;
    assert_eq!(
        location(&post(&server, &agent, &admin, "/failure-codes", &lists)),
        "/failure-codes"
    );
    let (_, codes) = api(&server).get("/api/v1/failure-codes");
    assert_eq!(
        codes["failure_modes"],
        json!([{"code": "leak", "label": "Leakage"}, {"code": "seized", "label": "Seized"}]),
        "{codes}"
    );
    assert_eq!(
        codes["detections"],
        json!([{"code": "operator", "label": "Operator"}])
    );

    // The plan editor shows the module's 422 beside its field, and keeps what was typed.
    let refused = post(
        &server,
        &agent,
        &admin,
        "/maintenance/plans",
        &[
            ("csrf_token", &csrf),
            ("asset_id", &pump),
            ("title", "No trigger"),
            ("tasks", "Look"),
        ],
    );
    assert_eq!(refused.status(), 422);
    let html = refused.into_string().expect("html");
    assert!(
        html.contains("data-error=\"calendar\">a plan needs a calendar or a meter trigger"),
        "{html}"
    );
    assert!(html.contains("value=\"No trigger\""), "{html}");
    let (_, plans) = api(&server).get("/api/v1/maintenance-plans");
    assert_eq!(plans["items"], json!([]));
    // So does the order form.
    let refused = post(
        &server,
        &agent,
        &admin,
        "/work-orders",
        &[
            ("csrf_token", &csrf),
            ("title", "x"),
            ("estimated_hours", "lots"),
        ],
    );
    assert_eq!(refused.status(), 422);
    let html = refused.into_string().expect("html");
    assert!(
        html.contains("data-error=\"estimated_hours\">a number</span>"),
        "{html}"
    );
}
