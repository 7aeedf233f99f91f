//! The dashboard over real HTTP, MQTT and a real browser: a fresh server's empty states,
//! figures that match stored state (a device connected over MQTT, an alarm raised by its
//! telemetry, an overdue work order, a plan due this week) and links that lead to lists of
//! exactly those rows, the navigation marking the current section, the live stream
//! (`/dashboard/live`) sending a changed figure, its session check and client limit (503),
//! and in Chromium a figure that changes without a reload when a device connects.

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::health_pages::page;
use crate::support::eventually;
use crate::support::http::{api, metric, provision};
use crate::support::mqtt::device;
use crate::support::server::{Server, ADMIN_PASSWORD};
use crate::support::web::{agent, sign_in, status_of};
use crate::ui::Browser;

const WAIT: Duration = Duration::from_secs(15);

/// The text of `<… data-figure="key">text<` on the page.
fn figure(html: &str, key: &str) -> String {
    let marker = format!("data-figure=\"{key}\">");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("figure {key} on the page"))
        + marker.len();
    html[start..]
        .split('<')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The values of `attr="…"` on the page, in order.
fn attr_values(html: &str, attr: &str) -> Vec<String> {
    let marker = format!("{attr}=\"");
    html.split(&marker)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// The dashboard once `key` shows `want` (the modules answer from their own state).
fn dashboard_showing(
    server: &Server,
    agent: &ureq::Agent,
    cookie: &str,
    key: &str,
    want: &str,
) -> String {
    eventually(WAIT, &format!("dashboard {key} = {want}"), || {
        let html = page(server, agent, cookie, "/");
        (figure(&html, key) == want).then_some(html)
    })
}

#[test]
fn a_fresh_dashboard_tells_a_new_user_the_next_step() {
    let server = Server::start();
    let agent = agent();
    let cookie = sign_in(&server, &agent);
    let html = page(&server, &agent, &cookie, "/");
    assert!(html.contains("<h1>Dashboard</h1>"), "{html}");
    for key in [
        "devices_total",
        "devices_online",
        "alarms_total",
        "orders_open",
        "orders_overdue",
        "plans_due",
    ] {
        assert_eq!(figure(&html, key), "0", "{key}");
    }
    assert!(
        html.contains("No devices yet — <a href=\"/devices#provision\">add one</a>, or run <code>plantd simulate</code>."),
        "the next step for a new user: {html}"
    );
    // The empty states of zero figures show; none is hidden.
    for empty in ["devices_total", "alarms_total", "orders_open", "plans_due"] {
        assert!(
            html.contains(&format!("data-empty=\"{empty}\">")),
            "{empty} empty state shown"
        );
    }
    // The events list says what records one (a fresh server has recorded none).
    assert!(html.contains("No events yet."), "{html}");

    // The navigation: the sections in order, the dashboard marked as the current page,
    // Settings for an admin; Firmware, Requests and Webhooks live in their sections.
    let nav = html
        .split("<nav")
        .nth(1)
        .and_then(|n| n.split("</nav>").next())
        .expect("nav");
    let links = attr_values(nav, "href");
    assert_eq!(
        links,
        [
            "/",
            "/assets",
            "/devices",
            "/alarms",
            "/work-orders",
            "/maintenance",
            "/reports",
            "/settings",
            "/account"
        ],
        "{nav}"
    );
    assert!(
        nav.contains("<a href=\"/\" aria-current=\"page\">Dashboard</a>"),
        "{nav}"
    );
    assert_eq!(nav.matches("aria-current").count(), 1, "{nav}");
    let devices = page(&server, &agent, &cookie, "/devices");
    assert!(devices.contains("<a href=\"/devices\" aria-current=\"page\">Devices</a>"));
    assert!(
        devices.contains("href=\"/firmware\""),
        "Devices links Firmware"
    );
    let orders = page(&server, &agent, &cookie, "/work-orders");
    assert!(orders.contains("<a href=\"/work-orders\" aria-current=\"page\">Work orders</a>"));
    assert!(
        orders.contains("href=\"/requests\""),
        "Work orders links Requests"
    );
    let users = page(&server, &agent, &cookie, "/settings/users");
    assert!(users.contains("<a href=\"/settings\" aria-current=\"page\">Settings</a>"));
    assert!(
        users.contains("href=\"/webhooks\""),
        "Settings links Webhooks"
    );
}

#[test]
fn a_viewer_sees_no_settings_and_is_told_an_engineer_adds_devices() {
    let server = Server::start();
    crate::device_pages::add_user(&server, "vera", "viewer");
    let agent = agent();
    let cookie = crate::device_pages::sign_in(&server, &agent, "vera", ADMIN_PASSWORD);
    let html = page(&server, &agent, &cookie, "/");
    assert!(
        !html.contains("href=\"/settings\""),
        "no Settings for a viewer"
    );
    assert!(
        !html.contains("/devices#provision"),
        "no provision link for a viewer"
    );
    assert!(html.contains("an engineer can add one"), "{html}");
}

#[test]
fn figures_match_stored_state_and_link_to_lists_of_exactly_those_rows() {
    let server = Server::start();
    let agent = agent();
    let cookie = sign_in(&server, &agent);
    let password = provision(&server, "press-7");
    provision(&server, "spare-1");

    // press-7 connects and sends a vibration over its rule's threshold: a major alarm.
    let (status, rule) = api(&server).post(
        "/api/v1/rules",
        json!({"name": "press-7 vibration high", "device_id": "press-7", "metric": "vib",
               "kind": "threshold", "op": ">", "value": 5.0, "severity": "major"}),
    );
    assert_eq!(status, 201, "{rule}");
    let mut mqtt = device(&server, "press-7", &password);
    mqtt.publish(
        "devices/press-7/telemetry",
        r#"{"values": {"vib": 9.5}}"#,
        rumqttc::QoS::AtLeastOnce,
    );
    let alarm_id = eventually(WAIT, "the alarm raised", || {
        let (_, alarms) = api(&server).get("/api/v1/alarms?state=open");
        alarms["items"][0]["id"].as_str().map(str::to_owned)
    });

    // Two open orders, one past its due time.
    let (status, overdue) = api(&server).post(
        "/api/v1/work-orders",
        json!({"title": "Replace worn belt", "due_at": "2020-01-01T00:00:00Z"}),
    );
    assert_eq!(status, 201, "{overdue}");
    let (status, later) = api(&server).post(
        "/api/v1/work-orders",
        json!({"title": "Paint the guard", "due_at": "2099-01-01T00:00:00Z"}),
    );
    assert_eq!(status, 201, "{later}");

    // Two plans: one due in 3 days, one in 20.
    let (status, site) =
        api(&server).post("/api/v1/assets", json!({"name": "Hall 2", "kind": "site"}));
    assert_eq!(status, 201, "{site}");
    let (status, asset) = api(&server).post(
        "/api/v1/assets",
        json!({"name": "Press 7", "kind": "asset", "parent_id": site["id"]}),
    );
    assert_eq!(status, 201, "{asset}");
    let plan = |title: &str, days: i64| -> Value {
        let start = chrono::Utc::now() + chrono::Duration::days(days);
        let (status, plan) = api(&server).post(
            "/api/v1/maintenance-plans",
            json!({"asset_id": asset["id"], "title": title, "tasks": ["look"],
                   "calendar": {"every": 3, "unit": "months", "mode": "fixed",
                                "start": start.to_rfc3339()},
                   "lead": {"days": 0}}),
        );
        assert_eq!(status, 201, "{plan}");
        plan
    };
    let soon = plan("Grease bearings", 3);
    plan("Inspect coupling", 20);

    let html = dashboard_showing(&server, &agent, &cookie, "devices_online", "1");
    assert_eq!(figure(&html, "devices_total"), "2");
    assert_eq!(figure(&html, "devices_offline"), "1");
    let html = dashboard_showing(&server, &agent, &cookie, "alarms_major", "1");
    assert_eq!(figure(&html, "alarms_total"), "1");
    assert_eq!(figure(&html, "alarms_critical"), "0");
    assert_eq!(figure(&html, "orders_open"), "2");
    assert_eq!(figure(&html, "orders_overdue"), "1");
    assert_eq!(figure(&html, "plans_due"), "1");
    assert_eq!(figure(&html, "plans_overdue"), "0");
    assert!(
        html.contains("data-empty=\"devices_total\" hidden>"),
        "the empty state hidden with devices"
    );
    // Recent events: the newest first, linked to their subjects.
    assert!(
        html.contains("<code>workorder.created</code> <a href=\"/work-orders/"),
        "{html}"
    );
    assert!(
        html.contains("<a href=\"/devices/press-7\">press-7</a>"),
        "{html}"
    );

    // Every figure's link leads to a list of exactly the rows it counts.
    for (link, attr, want) in [
        (
            "/devices?state=online",
            "data-device",
            vec!["press-7".to_owned()],
        ),
        (
            "/devices?state=offline",
            "data-device",
            vec!["spare-1".to_owned()],
        ),
        (
            "/alarms?state=open&amp;severity=major",
            "data-alarm",
            vec![alarm_id.clone()],
        ),
        (
            "/work-orders?status=open&amp;overdue=1",
            "data-order",
            vec![overdue["id"].as_str().expect("id").to_owned()],
        ),
        (
            "/maintenance?due=week",
            "data-plan",
            vec![soon["id"].as_str().expect("id").to_owned()],
        ),
    ] {
        assert!(
            html.contains(&format!("href=\"{link}\"")),
            "{link} linked: {html}"
        );
        let list = page(&server, &agent, &cookie, &link.replace("&amp;", "&"));
        assert_eq!(attr_values(&list, attr), want, "{link}");
    }
    let open = page(&server, &agent, &cookie, "/work-orders?status=open");
    assert_eq!(attr_values(&open, "data-order").len(), 2);
    let critical = page(
        &server,
        &agent,
        &cookie,
        "/alarms?state=open&severity=critical",
    );
    assert!(attr_values(&critical, "data-alarm").is_empty());
    drop(mqtt);
}

/// Reads a server-sent event stream on a thread; `figures` events' data arrive parsed.
fn figures_stream(server: &Server, cookie: &str) -> mpsc::Receiver<Value> {
    let response = status_of(
        ureq::AgentBuilder::new()
            .timeout_read(Duration::from_secs(60))
            .build()
            .get(&server.url("/dashboard/live"))
            .set("Cookie", cookie)
            .call(),
    );
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_type(), "text/event-stream");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut event = String::new();
        for line in BufReader::new(response.into_reader()).lines() {
            let Ok(line) = line else { return };
            if let Some(name) = line.strip_prefix("event: ") {
                event = name.to_owned();
            } else if let Some(data) = line.strip_prefix("data: ") {
                if event == "figures" {
                    let Ok(value) = serde_json::from_str::<Value>(data) else {
                        return;
                    };
                    if tx.send(value).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

/// The first event from the stream whose figure `key` is `want`, within `WAIT`.
fn figures_until(rx: &mpsc::Receiver<Value>, key: &str, want: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(v) if v["values"][key] == want => return v,
            Ok(_) => {}
            Err(e) => panic!("no live figures with {key} = {want}: {e}"),
        }
    }
}

#[test]
fn the_live_stream_sends_the_changed_figure_after_a_device_connects() {
    let server = Server::start_with(&[("PLANTD_DASHBOARD_REFRESH_MS", "300")]);
    let agent = agent();
    let cookie = sign_in(&server, &agent);
    let password = provision(&server, "press-7");
    let rx = figures_stream(&server, &cookie);
    let first = figures_until(&rx, "devices_total", "1");
    assert_eq!(first["values"]["devices_online"], "0", "{first}");
    let mqtt = device(&server, "press-7", &password);
    let live = figures_until(&rx, "devices_online", "1");
    assert_eq!(live["values"]["devices_total"], "1", "{live}");
    let events = live["events"].as_array().expect("events");
    assert_eq!(events[0]["kind"], "device.connected", "{live}");
    assert_eq!(events[0]["href"], "/devices/press-7", "{live}");
    drop(mqtt);
}

#[test]
fn the_live_stream_needs_a_session_and_answers_503_beyond_its_client_limit() {
    let server = Server::start_with(&[
        ("PLANTD_DASHBOARD_LIVE_MAX_CLIENTS", "1"),
        ("PLANTD_DASHBOARD_REFRESH_MS", "200"),
    ]);
    let agent = agent();
    let anonymous = status_of(agent.get(&server.url("/dashboard/live")).call());
    assert_eq!(anonymous.status(), 401);
    let cookie = sign_in(&server, &agent);
    let first = figures_stream(&server, &cookie);
    figures_until(&first, "devices_total", "0");
    let refused = status_of(
        agent
            .get(&server.url("/dashboard/live"))
            .set("Cookie", &cookie)
            .call(),
    );
    assert_eq!(refused.status(), 503);
    assert!(refused.header("retry-after").is_some());
    assert!(metric(&server, "plantd_dashboard_live_refused_total", "") >= 1.0);
    assert_eq!(metric(&server, "plantd_dashboard_live_clients", ""), 1.0);
    // The page itself is still served whole.
    let html = page(&server, &agent, &cookie, "/");
    assert_eq!(figure(&html, "devices_total"), "0");

    // The stream ends with its session: signing out frees the place.
    let token = crate::support::web::form_token(&html).expect("csrf");
    let out = status_of(
        agent
            .post(&server.url("/logout"))
            .set("Cookie", &cookie)
            .send_form(&[("csrf_token", &token)]),
    );
    assert_eq!(out.status(), 303);
    eventually(
        Duration::from_secs(30),
        "the ended session's stream closed",
        || (metric(&server, "plantd_dashboard_live_clients", "") == 0.0).then_some(()),
    );
    // Nobody listens: the hub stops computing (its task ends after its current period).
    let computations = || metric(&server, "plantd_dashboard_live_computations_total", "");
    let idle = eventually(WAIT, "the hub idle", || {
        let before = computations();
        // An observation window of several periods: a running hub would count in it.
        std::thread::sleep(Duration::from_millis(1000));
        (computations() == before).then_some(before)
    });
    assert!(idle >= 1.0, "it computed while the stream was open");
    let again = sign_in(&server, &agent);
    let second = figures_stream(&server, &again);
    figures_until(&second, "devices_total", "0");
    eventually(WAIT, "a new stream starts the hub again", || {
        (computations() > idle).then_some(())
    });
    drop(first);
}

#[test]
fn browser_dashboard_figure_changes_without_reload_when_a_device_connects() {
    let browser = Browser::start().expect("the browser (PLANTD_TEST_SKIP_BROWSER=1 skipped it)");
    let server = Server::start_with(&[("PLANTD_DASHBOARD_REFRESH_MS", "300")]);
    let password = provision(&server, "press-7");
    browser.goto(&server.url("/login"));
    browser.sign_in("admin", ADMIN_PASSWORD);
    browser.wait_for_path("/");
    assert_eq!(browser.text("#online-count"), "0");
    eventually(WAIT, "the live stream open", || {
        (!browser
            .find_all("#figures[data-connected='true']")
            .is_empty())
        .then_some(())
    });
    let element = browser.find_all("#online-count");
    let mqtt = device(&server, "press-7", &password);
    eventually(WAIT, "the figure updated in place", || {
        (browser.text("#online-count") == "1").then_some(())
    });
    // The same element of the same document: no reload happened.
    assert_eq!(browser.find_all("#online-count"), element);
    assert!(browser.text("#event-list").contains("device.connected"));
    assert!(browser.text("#live-note").starts_with("Live"));
    drop(mqtt);
}
