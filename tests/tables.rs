//! The pages' tables over plain HTTP (a session cookie, no browser): sorting, filtering by
//! search text and paging give the right rows in the right order, the links carry the
//! filters, and bad values fall back instead of failing. Both backends.

use serde_json::json;

use crate::support::http::api;
use crate::support::web::{agent, sign_in, status_of};
use crate::support::Server;

/// The body of a page fetched as the signed-in admin, its `&#38;`s read as `&` (askama
/// escapes the links' ampersands).
fn page(server: &Server, cookie: &str, path: &str) -> String {
    let response = status_of(agent().get(&server.url(path)).set("Cookie", cookie).call());
    assert_eq!(response.status(), 200, "GET {path}");
    response.into_string().expect("body").replace("&#38;", "&")
}

/// The values of `attr="…"` in document order.
fn values(html: &str, attr: &str) -> Vec<String> {
    html.split(&format!("{attr}=\""))
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

fn ids(range: impl Iterator<Item = usize>, prefix: &str) -> Vec<String> {
    range.map(|i| format!("{prefix}{i:03}")).collect()
}

#[test]
fn the_device_table_sorts_searches_and_pages() {
    let server = Server::start();
    // 60 devices whose names sort the other way round from their ids.
    for i in 0..60 {
        let (status, body) = api(&server).post(
            "/api/v1/devices",
            json!({"id": format!("dev{i:03}"), "name": format!("Pump {:03}", 59 - i),
                   "kind": if i % 2 == 0 { "even" } else { "odd" }}),
        );
        assert_eq!(status, 201, "{body}");
    }
    let cookie = sign_in(&server, &agent());

    let first = page(&server, &cookie, "/devices");
    assert_eq!(
        values(&first, "data-device"),
        ids(0..50, "dev"),
        "id order, 50 a page"
    );
    assert!(first.contains("Rows 1–50 of 60"), "the count");
    assert!(
        first.contains("href=\"/devices?sort=id&dir=asc&page=2\""),
        "a next link that works without JavaScript: {}",
        &first[first.find("class=\"pager").unwrap_or(0)..]
    );
    let second = page(&server, &cookie, "/devices?sort=id&dir=asc&page=2");
    assert_eq!(values(&second, "data-device"), ids(50..60, "dev"));
    assert!(second.contains("Rows 51–60 of 60"));

    // By name ascending = ids descending.
    let by_name = page(&server, &cookie, "/devices?sort=name&dir=asc");
    assert_eq!(
        values(&by_name, "data-device"),
        ids((10..60).rev(), "dev"),
        "by name"
    );
    assert!(by_name.contains("aria-sort=\"ascending\""));
    // The header link flips the direction.
    assert!(by_name.contains("href=\"/devices?sort=name&dir=desc\""));
    let desc = page(&server, &cookie, "/devices?sort=name&dir=desc");
    assert_eq!(values(&desc, "data-device"), ids(0..50, "dev"));

    // Kind, then id within a kind: descending reverses both.
    let by_kind = page(&server, &cookie, "/devices?sort=kind&dir=desc");
    let expected: Vec<String> = (0..60)
        .rev()
        .filter(|i| i % 2 == 1)
        .chain((0..60).rev().filter(|i| i % 2 == 0))
        .take(50)
        .map(|i| format!("dev{i:03}"))
        .collect();
    assert_eq!(values(&by_kind, "data-device"), expected, "odd before even");

    // Search (name or id, any case) with a filter kept in the links.
    let found = page(&server, &cookie, "/devices?q=PUMP+05&kind=odd&sort=id");
    assert_eq!(
        values(&found, "data-device"),
        vec!["dev001", "dev003", "dev005", "dev007", "dev009"],
        "Pump 050..059 that are odd"
    );
    assert!(found.contains("Rows 1–5 of 5"));
    assert!(found.contains("href=\"/devices?kind=odd&q=PUMP+05&sort=name&dir=asc\""));

    // Hand-edited values fall back rather than fail; a page past the end is empty.
    let odd = page(&server, &cookie, "/devices?sort=secret&dir=up&page=x");
    assert_eq!(values(&odd, "data-device"), ids(0..50, "dev"));
    let past = page(&server, &cookie, "/devices?page=9");
    assert!(values(&past, "data-device").is_empty());
    assert!(past.contains("No devices match."));
}

#[test]
fn the_work_order_table_sorts_searches_and_pages() {
    let server = Server::start();
    // 55 orders: due dates run backwards, every third has no due date, every fifth no
    // assignee; titles name a machine.
    for i in 0..55 {
        let mut body = json!({
            "title": format!("{} check {i:03}", if i % 2 == 0 { "Boiler" } else { "Fan" }),
            "kind": if i % 2 == 0 { "preventive" } else { "corrective" },
        });
        if i % 3 != 0 {
            body["due_at"] = json!(format!("2030-01-{:02}T00:00:00Z", 1 + (54 - i) / 2));
        }
        if i % 5 != 0 {
            body["assignee"] = json!(format!("tech{}", i % 4));
        }
        let (status, made) = api(&server).post("/api/v1/work-orders", body);
        assert_eq!(status, 201, "{made}");
        assert_eq!(made["number"], i + 1, "numbers count from 1");
    }
    let cookie = sign_in(&server, &agent());
    let numbers = |html: &str| -> Vec<i64> {
        values(html, "data-order")
            .iter()
            .map(|id| {
                let (_, o) = api(&server).get(&format!("/api/v1/work-orders/{id}"));
                o["number"].as_i64().expect("number")
            })
            .collect()
    };

    // Default: newest first.
    let first = page(&server, &cookie, "/work-orders");
    assert_eq!(numbers(&first), (6..=55).rev().collect::<Vec<_>>());
    assert!(first.contains("Rows 1–50 of 55"));
    let second = page(&server, &cookie, "/work-orders?sort=number&dir=asc&page=2");
    assert_eq!(numbers(&second), (51..=55).collect::<Vec<_>>());

    // Due date ascending: the latest-made first (their dates run backwards), no date last.
    let due = page(&server, &cookie, "/work-orders?sort=due&dir=asc&page=2");
    let due_numbers = numbers(&due);
    assert_eq!(due_numbers.len(), 5);
    assert!(
        due_numbers.iter().all(|n| (n - 1) % 3 == 0),
        "orders without a due date come last: {due_numbers:?}"
    );
    let due_desc = page(&server, &cookie, "/work-orders?sort=due&dir=desc");
    let top = numbers(&due_desc);
    let mut latest = top[..2].to_vec();
    latest.sort();
    assert_eq!(
        latest,
        vec![2, 3],
        "the earliest made are due last: {top:?}"
    );

    // Search: text (any case) or number; with a filter.
    let boilers = page(
        &server,
        &cookie,
        "/work-orders?q=boiler&kind=preventive&sort=number&dir=asc",
    );
    let expected: Vec<i64> = (0..55).filter(|i| i % 2 == 0).map(|i| i + 1).collect();
    assert_eq!(numbers(&boilers), expected);
    assert!(boilers.contains("Rows 1–28 of 28"));
    let by_number = page(&server, &cookie, "/work-orders?q=WO-17");
    assert_eq!(numbers(&by_number), vec![17]);
    let none = page(&server, &cookie, "/work-orders?q=100%25_");
    assert!(
        values(&none, "data-order").is_empty(),
        "LIKE's wildcards are literal"
    );

    // Assignee: no assignee last in both directions.
    let assignee = page(
        &server,
        &cookie,
        "/work-orders?sort=assignee&dir=desc&page=2",
    );
    let tail = numbers(&assignee);
    assert!(
        tail.iter().rev().take(5).all(|n| (n - 1) % 5 == 0),
        "unassigned last: {tail:?}"
    );
}

/// Sends one sample over HTTP ingest with the device's Basic credentials.
fn ingest(server: &Server, id: &str, password: &str, body: serde_json::Value) {
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{password}"))
    );
    let response = status_of(
        ureq::post(&server.url(&format!("/api/v1/devices/{id}/telemetry")))
            .set("Authorization", &basic)
            .send_json(body),
    );
    assert!(
        response.status() < 300,
        "ingest {id}: {}",
        response.status()
    );
}

#[test]
fn the_alarm_table_sorts_by_severity_and_device_and_searches() {
    let server = Server::start();
    // Three devices, each with a rule of its own severity, each crossing once.
    let severities = [
        ("b-dev", "minor"),
        ("c-dev", "critical"),
        ("a-dev", "major"),
    ];
    for (id, severity) in severities {
        let password = crate::support::http::provision(&server, id);
        let (status, rule) = api(&server).post(
            "/api/v1/rules",
            json!({"name": format!("{id} {severity} vibration"), "device_id": id,
                   "metric": "vib", "kind": "threshold", "op": ">", "value": 5.0,
                   "severity": severity}),
        );
        assert_eq!(status, 201, "{rule}");
        ingest(&server, id, &password, json!({"values": {"vib": 9.0}}));
    }
    crate::support::eventually(std::time::Duration::from_secs(20), "three alarms", || {
        let (_, page) = api(&server).get("/api/v1/alarms");
        (page["items"].as_array().map(Vec::len) == Some(3)).then_some(())
    });
    let cookie = sign_in(&server, &agent());
    let devices = |html: &str| -> Vec<String> {
        values(html, "data-alarm")
            .iter()
            .map(|id| {
                let (_, a) = api(&server).get(&format!("/api/v1/alarms/{id}"));
                a["device_id"].as_str().expect("device").to_owned()
            })
            .collect()
    };
    let by_severity = page(&server, &cookie, "/alarms?sort=severity&dir=asc");
    assert_eq!(
        devices(&by_severity),
        ["c-dev", "a-dev", "b-dev"],
        "most severe first"
    );
    assert!(by_severity.contains("Rows 1–3 of 3"));
    let by_device = page(&server, &cookie, "/alarms?sort=device&dir=desc");
    assert_eq!(devices(&by_device), ["c-dev", "b-dev", "a-dev"]);
    let found = page(&server, &cookie, "/alarms?q=MAJOR+vib&state=open");
    assert_eq!(
        devices(&found),
        ["a-dev"],
        "search in the rule name, any case"
    );
    assert!(
        found.contains(
            "name=\"back\" value=\"/alarms?state=open&q=MAJOR+vib&sort=raised&dir=desc\""
        ),
        "the action forms come back to this table"
    );
}

#[test]
fn the_user_table_filters_by_role_searches_and_sorts() {
    let server = Server::start();
    for (name, role, skills) in [
        ("walt", "engineer", vec!["vibration"]),
        ("erin", "engineer", vec!["electrical"]),
        ("vic", "viewer", vec![]),
        ("carla", "admin", vec![]),
    ] {
        let (status, user) = api(&server).post(
            "/api/v1/users",
            json!({"username": name, "password": "turbine-bearing-42", "role": role,
                   "skills": skills}),
        );
        assert_eq!(status, 201, "{user}");
    }
    let cookie = sign_in(&server, &agent());
    let users = |path: &str| values(&page(&server, &cookie, path), "data-user");
    assert_eq!(
        users("/settings/users"),
        ["admin", "carla", "erin", "vic", "walt"]
    );
    assert_eq!(
        users("/settings/users?sort=role&dir=desc"),
        ["vic", "walt", "erin", "carla", "admin"],
        "viewer, engineers, admins; names reversed within"
    );
    assert_eq!(users("/settings/users?role=engineer"), ["erin", "walt"]);
    assert_eq!(
        users("/settings/users?q=VIBR"),
        ["walt"],
        "skills are searched"
    );
    // Only admin has signed in: never signed in sorts first.
    assert_eq!(
        users("/settings/users?sort=last_sign_in&dir=asc")
            .last()
            .map(String::as_str),
        Some("admin")
    );
}

/// The order and alarm tables search the words a person sees (kept lower case beside
/// each row), not their stored JSON: a key like `status` or `peak_severity` finds nothing,
/// and a title or rule name with a non-ASCII capital is found in lower case on both
/// backends (SQLite's `lower()` folds ASCII only; the text is lowered in Rust).
#[test]
fn searches_match_what_people_see_not_the_stored_json() {
    let server = Server::start();
    for title in ["Überdruck im Kessel", "Fan check"] {
        let (status, made) = api(&server).post(
            "/api/v1/work-orders",
            json!({"title": title, "kind": "corrective", "assignee": "Ærling"}),
        );
        assert_eq!(status, 201, "{made}");
    }
    let password = crate::support::http::provision(&server, "kessel-1");
    let (status, rule) = api(&server).post(
        "/api/v1/rules",
        json!({"name": "Überdruck Dampf", "device_id": "kessel-1", "metric": "bar",
               "kind": "threshold", "op": ">", "value": 5.0, "severity": "major"}),
    );
    assert_eq!(status, 201, "{rule}");
    ingest(
        &server,
        "kessel-1",
        &password,
        json!({"values": {"bar": 9.0}}),
    );
    crate::support::eventually(std::time::Duration::from_secs(20), "the alarm", || {
        let (_, page) = api(&server).get("/api/v1/alarms");
        (page["items"].as_array().map(Vec::len) == Some(1)).then_some(())
    });
    let cookie = sign_in(&server, &agent());
    let titles = |path: &str| -> Vec<String> {
        values(&page(&server, &cookie, path), "data-order")
            .iter()
            .map(|id| {
                let (_, o) = api(&server).get(&format!("/api/v1/work-orders/{id}"));
                o["title"].as_str().expect("title").to_owned()
            })
            .collect()
    };
    assert_eq!(
        titles("/work-orders?q=%C3%BCberdruck"),
        ["Überdruck im Kessel"],
        "\"überdruck\" finds \"Überdruck\""
    );
    assert_eq!(
        titles("/work-orders?q=%C3%9CBERDRUCK+IM"),
        ["Überdruck im Kessel"],
        "any case"
    );
    assert_eq!(
        titles("/work-orders?q=%C3%A6rling").len(),
        2,
        "the assignee"
    );
    assert_eq!(titles("/work-orders?q=wo-2"), ["Fan check"], "the number");
    for key in ["status", "%22title%22", "created_by", "null"] {
        assert!(
            titles(&format!("/work-orders?q={key}")).is_empty(),
            "{key}: a key or value of the JSON only"
        );
    }

    let alarms = |path: &str| values(&page(&server, &cookie, path), "data-alarm").len();
    assert_eq!(alarms("/alarms?q=%C3%BCberdruck"), 1, "the rule name");
    assert_eq!(alarms("/alarms?q=KESSEL-1"), 1, "the device");
    for key in [
        "peak_severity",
        "condition_active",
        "%22rule_name%22",
        "false",
    ] {
        assert_eq!(alarms(&format!("/alarms?q={key}")), 0, "{key}: JSON only");
    }
}
