//! Accessibility in a real browser: axe-core (pinned in `tests/browser/package.json`,
//! installed by `npm ci` there; `.ci/run` does it) is injected into every main page over
//! WebDriver and any serious or critical violation fails the test. Each page is saved as a
//! screenshot under `target/screenshots/`; with `PLANTD_SCREENSHOTS_DIR` set, the ones the
//! README shows are written there too. And a browser with JavaScript switched off reads the
//! pages and submits their forms. Fails, never skips, without the browser or axe.

use std::path::PathBuf;
use std::time::Duration;

use rumqttc::QoS;
use serde_json::json;

use crate::support::http::api;
use crate::support::mqtt::device;
use crate::support::server::ADMIN_PASSWORD;
use crate::support::{eventually, Server};
use crate::ui::Browser;

const WAIT: Duration = Duration::from_secs(20);

/// The pages the README shows (file names under `docs/screenshots/`).
const README_SHOTS: [&str; 4] = ["dashboard", "device", "alarms", "workorder-board"];

/// axe-core's bundle, from `npm ci` in `tests/browser`.
fn axe_source() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the accessibility test needs axe-core at {}: {e}. Run `npm ci` in tests/browser \
             (the version is pinned in its package-lock.json)",
            path.display()
        )
    })
}

fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// Saves the page as `name.png` under `target/screenshots/` (and the README's copy).
fn shoot(browser: &Browser, name: &str) {
    let path = screenshot_dir().join(format!("{name}.png"));
    browser.screenshot(path.to_str().expect("utf-8 path"));
    if let Ok(dir) = std::env::var("PLANTD_SCREENSHOTS_DIR") {
        if README_SHOTS.contains(&name) {
            std::fs::create_dir_all(&dir).expect("PLANTD_SCREENSHOTS_DIR");
            std::fs::copy(&path, PathBuf::from(dir).join(format!("{name}.png")))
                .expect("copy screenshot");
        }
    }
}

/// Runs axe on the current page; returns its serious and critical violations as lines.
fn serious_violations(browser: &Browser, axe: &str) -> Vec<String> {
    let loaded = browser.execute(&format!("{axe}\n;return typeof window.axe;"), vec![]);
    assert_eq!(loaded, "object", "axe-core did not load into the page");
    let found = browser.execute_async(
        "const done = arguments[arguments.length - 1];
         window.axe.run(document, { resultTypes: ['violations'] })
           .then(r => done(r.violations.map(v => ({
               id: v.id, impact: v.impact, help: v.help,
               nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' ' + n.html.slice(0, 160))
           }))))
           .catch(e => done([{ id: 'axe-error', impact: 'critical', help: String(e), nodes: [] }]));",
        vec![],
    );
    found
        .as_array()
        .expect("violations")
        .iter()
        .filter(|v| v["impact"] == "serious" || v["impact"] == "critical")
        .map(|v| {
            format!(
                "{} ({}): {} at {}",
                v["id"].as_str().unwrap_or("?"),
                v["impact"].as_str().unwrap_or("?"),
                v["help"].as_str().unwrap_or("?"),
                v["nodes"]
            )
        })
        .collect()
}

/// A plant with one of everything the pages show: a site and an asset, a device with
/// telemetry, a rule and its alarm, a work order, a maintenance plan.
struct Plant {
    asset: String,
    alarm: String,
    order: String,
    plan: String,
}

fn plant(server: &Server) -> Plant {
    let (_, site) = api(server).post("/api/v1/assets", json!({"name": "Plant", "kind": "site"}));
    let (status, pump) = api(server).post(
        "/api/v1/assets",
        json!({"name": "Pump P-101", "kind": "asset", "parent_id": site["id"],
               "location": "Hall 2", "criticality": "A"}),
    );
    assert_eq!(status, 201, "{pump}");
    let asset = pump["id"].as_str().expect("asset id").to_owned();
    let (status, dev) = api(server).post(
        "/api/v1/devices",
        json!({"id": "pump-1", "name": "Pump P-101 sensor", "kind": "vibration",
               "asset_id": asset, "labels": ["hall-2"]}),
    );
    assert_eq!(status, 201, "{dev}");
    let password = dev["credentials"]["password"].as_str().expect("password");
    let (status, rule) = api(server).post(
        "/api/v1/rules",
        json!({"name": "P-101 vibration high", "device_id": "pump-1", "metric": "vib",
               "kind": "threshold", "op": ">", "value": 5.0, "severity": "major",
               "create_work_order": true}),
    );
    assert_eq!(status, 201, "{rule}");
    let mut mqtt = device(server, "pump-1", password);
    let now = chrono::Utc::now().timestamp_millis();
    for (i, vib) in [2.0, 3.5, 7.5].into_iter().enumerate() {
        mqtt.publish(
            "devices/pump-1/telemetry",
            json!({"ts": now - 3000 + i as i64 * 1000, "values": {"vib": vib, "temp": 40.0 + i as f64}})
                .to_string(),
            QoS::AtLeastOnce,
        );
    }
    let rule_id = rule["id"].as_str().expect("rule id").to_owned();
    let alarm = eventually(WAIT, "the alarm", || {
        let (_, page) = api(server).get(&format!("/api/v1/alarms?rule_id={rule_id}"));
        page["items"][0]["id"].as_str().map(str::to_owned)
    });
    let (status, order) = api(server).post(
        "/api/v1/work-orders",
        json!({"title": "Replace the DE bearing", "kind": "corrective", "priority": "high",
               "asset_id": asset, "assignee": "admin", "due_at": "2030-01-10T00:00:00Z",
               "checklist": ["Isolate", "Replace", "Test run"]}),
    );
    assert_eq!(status, 201, "{order}");
    let (status, plan) = api(server).post(
        "/api/v1/maintenance-plans",
        json!({"asset_id": asset, "title": "Grease bearings", "tasks": ["grease DE", "grease NDE"],
               "calendar": {"every": 7, "unit": "days", "mode": "fixed",
                            "start": "2030-01-03T00:00:00Z"}}),
    );
    assert_eq!(status, 201, "{plan}");
    drop(mqtt);
    Plant {
        asset,
        alarm,
        order: order["id"].as_str().expect("order id").to_owned(),
        plan: plan["id"].as_str().expect("plan id").to_owned(),
    }
}

#[test]
fn axe_finds_no_serious_violation_on_any_main_page() {
    let axe = axe_source();
    let browser = Browser::start().expect("the accessibility test needs the browser");
    let server = Server::start();
    let plant = plant(&server);

    browser.goto(&server.url("/login"));
    let mut failures = Vec::new();
    let mut check = |name: &str, path: &str| {
        let found = serious_violations(&browser, &axe);
        shoot(&browser, name);
        if !found.is_empty() {
            failures.push(format!("{path}:\n  {}", found.join("\n  ")));
        }
    };
    check("login", "/login");
    browser.sign_in("admin", ADMIN_PASSWORD);
    browser.wait_for_path("/");

    let pages = [
        ("dashboard", "/".to_owned()),
        ("assets", "/assets".to_owned()),
        ("asset", format!("/assets/{}", plant.asset)),
        ("devices", "/devices".to_owned()),
        ("device", "/devices/pump-1".to_owned()),
        ("device-telemetry", "/devices/pump-1/telemetry".to_owned()),
        ("alarms", "/alarms".to_owned()),
        ("alarm", format!("/alarms/{}", plant.alarm)),
        ("rules", "/rules".to_owned()),
        ("workorders", "/work-orders".to_owned()),
        ("workorder-board", "/work-orders/board".to_owned()),
        ("workorder", format!("/work-orders/{}", plant.order)),
        ("maintenance", "/maintenance".to_owned()),
        ("plan", format!("/maintenance/plans/{}", plant.plan)),
        ("calendar", "/maintenance/calendar".to_owned()),
        ("reports", "/reports".to_owned()),
        ("settings", "/settings".to_owned()),
        ("settings-users", "/settings/users".to_owned()),
        ("settings-tokens", "/settings/tokens".to_owned()),
        ("account", "/account".to_owned()),
    ];
    for (name, path) in &pages {
        browser.goto(&server.url(path));
        assert_eq!(&browser.path(), path, "{name} did not load (redirected?)");
        eventually(WAIT, "the page to load", || {
            (browser.execute("return document.readyState;", vec![]) == "complete").then_some(())
        });
        check(name, path);
    }
    assert!(
        failures.is_empty(),
        "axe-core found serious or critical violations:\n{}",
        failures.join("\n")
    );
}

#[test]
fn pages_read_and_forms_submit_with_javascript_switched_off() {
    let browser =
        Browser::start_without_javascript().expect("the no-JavaScript test needs the browser");
    let server = Server::start();
    for (id, name) in [
        ("fan-1", "Fan one"),
        ("fan-2", "Fan two"),
        ("press-1", "Press"),
    ] {
        let (status, body) = api(&server).post("/api/v1/devices", json!({"id": id, "name": name}));
        assert_eq!(status, 201, "{body}");
    }
    browser.goto(&server.url("/login"));
    browser.sign_in("admin", ADMIN_PASSWORD);
    browser.wait_for_path("/");

    // Reading: the device table, filtered with its GET form and sorted by a header link.
    browser.goto(&server.url("/devices"));
    browser.type_into("form.filters input[name=q]", "fan");
    browser.click("form.filters button[type=submit]");
    eventually(WAIT, "the filtered table", || {
        (browser.find_all("#devices-table tbody tr").len() == 2).then_some(())
    });
    browser.click("th[aria-sort] a[href*='sort=name']");
    eventually(
        WAIT,
        "sorted by name, descending after a second click",
        || browser.url().contains("sort=name").then_some(()),
    );
    browser.click("th[aria-sort=ascending] a");
    eventually(WAIT, "descending", || {
        (browser.find_all("th[aria-sort=descending]").len() == 1).then_some(())
    });
    let rows = browser.find_all("#devices-table tbody tr");
    assert_eq!(rows.len(), 2, "the search is kept when sorting");
    assert!(
        browser.text("#devices-table tbody tr").contains("Fan two"),
        "Fan two first, descending"
    );

    // A form: provision a device, then delete it through the form that asks for a
    // confirmation only with JavaScript (here it submits at once: no dialog opens).
    browser.goto(&server.url("/devices"));
    browser.type_into("#provision input[name=id]", "nojs-1");
    browser.type_into("#provision input[name=name]", "Made without JavaScript");
    browser.click("#provision button[type=submit]");
    let made = eventually(WAIT, "the device made by the form", || {
        let (status, made) = api(&server).get("/api/v1/devices/nojs-1");
        (status == 200).then_some(made)
    });
    assert_eq!(made["name"], "Made without JavaScript");
    browser.goto(&server.url("/devices/nojs-1"));
    browser.click("form[action='/devices/nojs-1/delete'] button[type=submit]");
    eventually(
        WAIT,
        "the device deleted without a confirmation dialog",
        || (api(&server).get("/api/v1/devices/nojs-1").0 == 404).then_some(()),
    );
}
