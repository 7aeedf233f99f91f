//! The asset-health pages over plain HTTP with the UI's cookies and CSRF tokens (as the
//! other form tests do): assets made with the form appear in the tree, an alarm raised by
//! MQTT telemetry is listed and acknowledged through the form (the API then shows the
//! comment in its history), a viewer sees no action and is refused a forged POST, a form
//! without the token is refused, the rule editor's backtest and the stats page.

use std::time::Duration;

use rumqttc::QoS;
use serde_json::{json, Value};

use crate::device_pages::{add_user, sign_in};
use crate::support::eventually;
use crate::support::http::api;
use crate::support::mqtt::device;
use crate::support::server::{Server, ADMIN_PASSWORD};
use crate::support::web::{agent, assert_refused, form_token, status_of};

const WAIT: Duration = Duration::from_secs(10);

/// A page as the holder of `cookie` sees it (200 asserted).
pub(crate) fn page(server: &Server, agent: &ureq::Agent, cookie: &str, path: &str) -> String {
    let page = status_of(agent.get(&server.url(path)).set("Cookie", cookie).call());
    assert_eq!(page.status(), 200, "{path}");
    page.into_string().expect("html")
}

pub(crate) fn post(
    server: &Server,
    agent: &ureq::Agent,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> ureq::Response {
    status_of(
        agent
            .post(&server.url(path))
            .set("Cookie", cookie)
            .send_form(form),
    )
}

pub(crate) fn location(response: &ureq::Response) -> String {
    assert_eq!(response.status(), 303, "a redirect after the form");
    response.header("location").expect("Location").to_owned()
}

fn assets(server: &Server) -> Vec<Value> {
    let (status, list) = api(server).get("/api/v1/assets");
    assert_eq!(status, 200, "{list}");
    list["items"].as_array().expect("items").clone()
}

#[test]
fn assets_made_with_the_form_show_in_the_tree_and_a_refused_delete_says_why() {
    let server = Server::start();
    let agent = agent();
    let admin = sign_in(&server, &agent, "admin", ADMIN_PASSWORD);
    let html = page(&server, &agent, &admin, "/assets");
    assert!(
        html.contains("href=\"/assets\" aria-current=\"page\">Assets</a>"),
        "nav entry: {html}"
    );
    assert!(
        html.contains("href=\"/alarms\">Alarms</a>"),
        "nav entry: {html}"
    );
    let csrf = form_token(&html).expect("csrf");

    // Without the token: refused, nothing made.
    let refused = post(
        &server,
        &agent,
        &admin,
        "/assets",
        &[("name", "Nope"), ("kind", "site")],
    );
    assert_refused(refused, "the form expired; reload the page and try again");
    assert!(assets(&server).is_empty());

    let to = location(&post(
        &server,
        &agent,
        &admin,
        "/assets",
        &[
            ("csrf_token", &csrf),
            ("name", "North Plant"),
            ("kind", "site"),
        ],
    ));
    let site = to.strip_prefix("/assets/").expect("asset page").to_owned();
    let to = location(&post(
        &server,
        &agent,
        &admin,
        "/assets",
        &[
            ("csrf_token", &csrf),
            ("name", "Pump P-7"),
            ("kind", "asset"),
            ("parent_id", &site),
            ("criticality", "A"),
            ("location", "Hall 2"),
            ("manufacturer", "KSB"),
            ("model", "Etanorm"),
            ("serial", "SN-42"),
            ("iso_group", "2"),
            ("foundation", "flexible"),
        ],
    ));
    let pump = to.strip_prefix("/assets/").expect("asset page").to_owned();
    let stored = assets(&server);
    let p = stored
        .iter()
        .find(|a| a["id"] == pump.as_str())
        .expect("pump stored");
    assert_eq!(p["parent_id"], site.as_str());
    assert_eq!(p["criticality"], "A");
    assert_eq!(p["serial"], "SN-42");
    assert_eq!(p["iso20816"], json!({"group": 2, "foundation": "flexible"}));

    let tree = page(&server, &agent, &admin, "/assets");
    let site_row = tree
        .find(&format!("data-asset=\"{site}\" data-depth=\"0\""))
        .expect("site row");
    let pump_row = tree
        .find(&format!("data-asset=\"{pump}\" data-depth=\"1\""))
        .expect("pump row, indented");
    assert!(site_row < pump_row, "the child after its parent: {tree}");
    assert!(tree[pump_row..].contains("Pump P-7"), "{tree}");
    let shown = page(&server, &agent, &admin, &format!("/assets/{pump}"));
    assert!(shown.contains("group 2, flexible foundation"), "{shown}");
    assert!(shown.contains("SN-42"), "{shown}");

    // The site has a child: the delete is refused with the module's reason on the page.
    let refused = post(
        &server,
        &agent,
        &admin,
        &format!("/assets/{site}/delete"),
        &[("csrf_token", &csrf)],
    );
    assert_eq!(refused.status(), 409);
    let text = refused.into_string().expect("html");
    assert!(text.contains("Not deleted: "), "{text}");
    assert_eq!(assets(&server).len(), 2);
}

/// A site, a pump with device `pump-1` attached, a `vib > 5` rule on it; returns (pump
/// asset id, device password, rule).
fn plant(server: &Server) -> (String, String, Value) {
    let (_, site) = api(server).post("/api/v1/assets", json!({"name": "Plant", "kind": "site"}));
    let (_, pump) = api(server).post(
        "/api/v1/assets",
        json!({"name": "Pump P-101", "kind": "asset", "parent_id": site["id"]}),
    );
    let pump_id = pump["id"].as_str().expect("pump id").to_owned();
    let (status, dev) = api(server).post(
        "/api/v1/devices",
        json!({"id": "pump-1", "asset_id": pump_id}),
    );
    assert_eq!(status, 201, "{dev}");
    let password = dev["credentials"]["password"]
        .as_str()
        .expect("password")
        .to_owned();
    let (status, rule) = api(server).post(
        "/api/v1/rules",
        json!({"name": "P-101 vibration high", "device_id": "pump-1", "metric": "vib",
               "kind": "threshold", "op": ">", "value": 5.0, "severity": "major"}),
    );
    assert_eq!(status, 201, "{rule}");
    (pump_id, password, rule)
}

fn alarm(server: &Server, id: &str) -> Value {
    let (status, alarm) = api(server).get(&format!("/api/v1/alarms/{id}"));
    assert_eq!(status, 200, "{alarm}");
    alarm
}

#[test]
fn an_engineer_acknowledges_an_mqtt_alarm_with_a_comment_and_a_viewer_cannot() {
    let server = Server::start();
    let (pump, password, rule) = plant(&server);
    let mut dev = device(&server, "pump-1", &password);
    // Stamped a second apart: samples of a series at the same millisecond are one sample.
    let now = chrono::Utc::now().timestamp_millis();
    for (i, vib) in [2.0, 7.5].into_iter().enumerate() {
        dev.publish(
            "devices/pump-1/telemetry",
            json!({"ts": now - 1_000 + i as i64 * 1_000, "values": {"vib": vib}}).to_string(),
            QoS::AtLeastOnce,
        );
    }
    let rule_id = rule["id"].as_str().expect("rule id");
    let raised = eventually(WAIT, "the alarm", || {
        let (_, page) = api(&server).get(&format!("/api/v1/alarms?rule_id={rule_id}"));
        page["items"].as_array().and_then(|l| l.first().cloned())
    });
    let id = raised["id"].as_str().expect("alarm id").to_owned();
    assert_eq!(raised["state"], "active_unack");

    add_user(&server, "erin", "engineer");
    add_user(&server, "vic", "viewer");
    let agent = agent();
    let viewer = sign_in(&server, &agent, "vic", ADMIN_PASSWORD);
    let seen = page(
        &server,
        &agent,
        &viewer,
        "/alarms?state=open&severity=major",
    );
    assert!(seen.contains(&format!("data-alarm=\"{id}\"")), "{seen}");
    assert!(
        !seen.contains("/acknowledge\""),
        "a viewer sees no action: {seen}"
    );
    assert!(!seen.contains("/shelve\""), "{seen}");
    let viewer_csrf = form_token(&seen).expect("viewer's token");
    let forged = post(
        &server,
        &agent,
        &viewer,
        &format!("/alarms/{id}/acknowledge"),
        &[("csrf_token", &viewer_csrf), ("comment", "forged")],
    );
    assert_refused(forged, "viewers cannot act on alarms");
    let detail = page(&server, &agent, &viewer, &format!("/alarms/{id}"));
    assert!(detail.contains("Viewers read only."), "{detail}");
    assert!(
        detail.contains("id=\"alarm-chart\""),
        "the chart around the raise: {detail}"
    );
    assert!(
        detail.contains("<td>7.5</td>"),
        "the chart's values as a table: {detail}"
    );

    let engineer = sign_in(&server, &agent, "erin", ADMIN_PASSWORD);
    let list = page(
        &server,
        &agent,
        &engineer,
        &format!("/alarms?asset_id={pump}"),
    );
    assert!(
        list.contains(&format!("action=\"/alarms/{id}/acknowledge\"")),
        "{list}"
    );
    assert!(
        !list.contains(&format!("action=\"/alarms/{id}/clear\"")),
        "still active: no clear"
    );
    let csrf = form_token(&list).expect("engineer's token");
    let no_token = post(
        &server,
        &agent,
        &engineer,
        &format!("/alarms/{id}/acknowledge"),
        &[("comment", "no token")],
    );
    assert_refused(no_token, "the form expired; reload the page and try again");
    assert_eq!(
        alarm(&server, &id)["state"],
        "active_unack",
        "unchanged after refusals"
    );

    let back = location(&post(
        &server,
        &agent,
        &engineer,
        &format!("/alarms/{id}/acknowledge"),
        &[
            ("csrf_token", &csrf),
            ("comment", "bearing checked"),
            ("back", "/alarms?state=open"),
        ],
    ));
    assert_eq!(back, "/alarms?state=open");
    let acked = alarm(&server, &id);
    assert_eq!(acked["state"], "active_ack");
    let change = acked["history"]
        .as_array()
        .and_then(|h| h.iter().find(|c| c["action"] == "acknowledged"))
        .expect("acknowledged in the history");
    assert_eq!(change["by"], "erin");
    assert_eq!(change["comment"], "bearing checked");
    let detail = page(&server, &agent, &engineer, &format!("/alarms/{id}"));
    assert!(detail.contains("bearing checked"), "{detail}");
    assert!(detail.contains("active_unack → active_ack"), "{detail}");

    // The backtest of the same rule, unsaved, finds the alarm; the stats count it.
    let preview = post(
        &server,
        &agent,
        &engineer,
        "/rules/preview",
        &[
            ("csrf_token", &csrf),
            ("name", "try"),
            ("device_id", "pump-1"),
            ("metric", "vib"),
            ("kind", "threshold"),
            ("op", ">"),
            ("value", "5"),
            ("severity", "major"),
        ],
    );
    assert_eq!(preview.status(), 200);
    let preview = preview.into_string().expect("html");
    assert!(preview.contains("Backtest: 1 alarm(s)"), "{preview}");
    let raised_at = raised["raised_at"].as_str().expect("raised_at");
    // Shown in the plant time zone (UTC in tests), to the second.
    let shown = format!("{} UTC", raised_at[..19].replacen('T', " ", 1));
    assert!(preview.contains(&shown), "raised at {raised_at}: {preview}");
    assert_eq!(
        preview.matches("<line class=\"raised\"").count(),
        1,
        "the raise marked on the chart: {preview}"
    );
    let stats = page(&server, &agent, &viewer, "/alarms/stats?window=24h");
    assert!(
        stats.contains(
            "<tr data-figure=\"alarms\"><td>Alarms raised</td><td class=\"value\">1</td>"
        ),
        "{stats}"
    );
    assert!(
        stats.contains(&format!(
            "href=\"/rules/{rule_id}\">P-101 vibration high</a></td><td>1</td>"
        )),
        "{stats}"
    );

    // A 422 of the editor is shown beside its field.
    let bad = post(
        &server,
        &agent,
        &engineer,
        "/rules",
        &[
            ("csrf_token", &csrf),
            ("name", "bad"),
            ("device_id", "pump-1"),
            ("metric", "vib"),
            ("kind", "threshold"),
            ("op", ">"),
            ("value", "lots"),
        ],
    );
    assert_eq!(bad.status(), 422);
    let bad = bad.into_string().expect("html");
    assert!(
        bad.contains("data-error=\"value\">a number</span>"),
        "{bad}"
    );

    // The editor saves a change of the rule; the API has it.
    let editor = page(&server, &agent, &engineer, &format!("/rules/{rule_id}"));
    assert!(
        editor.contains("value=\"P-101 vibration high\""),
        "{editor}"
    );
    let saved = location(&post(
        &server,
        &agent,
        &engineer,
        &format!("/rules/{rule_id}"),
        &[
            ("csrf_token", &csrf),
            ("name", "P-101 vibration high"),
            ("device_id", "pump-1"),
            ("metric", "vib"),
            ("kind", "threshold"),
            ("op", ">="),
            ("value", "6.5"),
            ("for_s", "2"),
            ("severity", "minor"),
            ("latching", "on"),
        ],
    ));
    assert_eq!(saved, format!("/rules/{rule_id}"));
    let (_, stored) = api(&server).get(&format!("/api/v1/rules/{rule_id}"));
    assert_eq!(
        (
            &stored["op"],
            &stored["value"],
            &stored["for_s"],
            &stored["severity"],
            &stored["latching"]
        ),
        (
            &json!(">="),
            &json!(6.5),
            &json!(2),
            &json!("minor"),
            &json!(true)
        ),
        "{stored}"
    );
}

#[test]
fn browser_builds_the_tree_with_the_form_and_acknowledges_an_alarm() {
    let Some(browser) = crate::ui::Browser::start() else {
        return;
    };
    let server = Server::start();
    let (_, password, rule) = plant(&server);
    browser.goto(&server.url("/login"));
    browser.sign_in("admin", ADMIN_PASSWORD);
    browser.wait_for_path("/");
    browser.click("nav a[href='/assets']");
    browser.wait_for_path("/assets");
    browser.type_into("#new-asset input[name=name]", "North Plant");
    browser.click("#new-asset select[name=kind] option[value='site']");
    browser.click("#new-asset button[type=submit]");
    browser.wait_for_text("main h1", "North Plant (site)");
    let site = browser.text("main dl dd code");
    browser.click("nav a[href='/assets']");
    browser.wait_for_path("/assets");
    browser.type_into("#new-asset input[name=name]", "Fan F-3");
    browser.click(&format!(
        "#new-asset select[name=parent_id] option[value='{site}']"
    ));
    browser.click("#new-asset select[name=criticality] option[value='B']");
    browser.click("#new-asset button[type=submit]");
    browser.wait_for_text("main h1", "Fan F-3 (asset)");
    let fan = browser.text("main dl dd code");
    browser.click("nav a[href='/assets']");
    browser.wait_for_path("/assets");
    let fan = browser.text(&format!(
        "#asset-tree tr[data-asset='{fan}'][data-depth='1']"
    ));
    assert!(fan.contains("Fan F-3") && fan.contains('B'), "{fan}");

    let mut dev = device(&server, "pump-1", &password);
    dev.publish(
        "devices/pump-1/telemetry",
        json!({"values": {"vib": 9.0}}).to_string(),
        QoS::AtLeastOnce,
    );
    let rule_id = rule["id"].as_str().expect("rule id");
    let raised = eventually(WAIT, "the alarm", || {
        let (_, page) = api(&server).get(&format!("/api/v1/alarms?rule_id={rule_id}"));
        page["items"].as_array().and_then(|l| l.first().cloned())
    });
    let id = raised["id"].as_str().expect("id").to_owned();
    browser.click("nav a[href='/alarms']");
    browser.wait_for_path("/alarms");
    let row = format!("tr[data-alarm='{id}']");
    browser.type_into(
        &format!("{row} form[action$='/acknowledge'] input[name=comment]"),
        "seen from the browser",
    );
    browser.click(&format!("{row} form[action$='/acknowledge'] button"));
    eventually(WAIT, "acknowledged", || {
        (alarm(&server, &id)["state"] == "active_ack").then_some(())
    });
    browser.wait_for_text(&format!("{row} .state"), "active_ack");
    let history = alarm(&server, &id)["history"].clone();
    assert!(
        history.to_string().contains("seen from the browser"),
        "{history}"
    );
}
