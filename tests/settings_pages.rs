//! Settings pages over real HTTP and in Chromium: times shown in the plant time zone (and
//! an unknown zone stopping start-up with exit 2); the Settings overview with each value's
//! origin and secrets masked, admins only; the SQLite backup download (a valid database
//! holding what was stored, one at a time; PostgreSQL shows `pg_dump` instead); API
//! tokens made and revoked on their page: the secret shown once, MQTT with it, its last
//! use shown and stored, revoking drops the live MQTT session; in the browser with and
//! without JavaScript.

use std::process::Stdio;
use std::sync::mpsc::channel;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rumqttc::ConnectionError;
use serde_json::{json, Value};

use crate::device_pages::sign_in as sign_in_as;
use crate::health_pages::{page, post};
use crate::support::eventually;
use crate::support::http::{anonymous, api, metric, provision, token};
use crate::support::mqtt::{connect, Mqtt};
use crate::support::server::{Server, ADMIN_PASSWORD, ADMIN_TOKEN};
use crate::support::web::{agent, assert_refused, form_token, sign_in, status_of};
use crate::ui::Browser;

const ADMINS_ONLY: &str = "only admins see the settings";

fn get(server: &Server, agent: &ureq::Agent, cookie: &str, path: &str) -> ureq::Response {
    status_of(agent.get(&server.url(path)).set("Cookie", cookie).call())
}

fn on_postgres(server: &Server) -> bool {
    server.database_url.is_some()
}

/// The text between `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

#[test]
fn pages_show_times_in_the_plant_time_zone() {
    let server = Server::start_with(&[("PLANTD_PLANT_TIME_ZONE", "Europe/Berlin")]);
    let (status, user) = api(&server).post(
        "/api/v1/users",
        json!({ "username": "erin", "password": "turbine-bearing-42", "role": "engineer" }),
    );
    assert_eq!(status, 201, "{user}");
    let created: DateTime<Utc> = user["created_at"]
        .as_str()
        .expect("created_at")
        .parse()
        .expect("RFC 3339");
    let berlin: chrono_tz::Tz = "Europe/Berlin".parse().expect("zone");
    let shown = created
        .with_timezone(&berlin)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string();
    assert!(
        shown.ends_with(" CET") || shown.ends_with(" CEST"),
        "{shown}"
    );
    let agent = agent();
    let admin = sign_in(&server, &agent);
    let users = page(&server, &agent, &admin, "/settings/users");
    assert!(
        users.contains(&format!("since {shown}")),
        "{shown} in {users}"
    );
    let settings = page(&server, &agent, &admin, "/settings");
    assert!(
        settings.contains("<dd id=\"time-zone\">Europe/Berlin (now "),
        "{settings}"
    );
    assert!(
        settings.contains(
            "<tr data-key=\"plant_time_zone\"><td><code>plant_time_zone</code></td><td>Europe/Berlin</td><td class=\"origin\">env</td></tr>"
        ),
        "{settings}"
    );

    // A device's last sign of life reads as its age, the exact Berlin time on hover.
    let password = provision(&server, "press-7");
    let _online = crate::support::mqtt::device(&server, "press-7", &password);
    let zone = if shown.ends_with(" CET") {
        "CET"
    } else {
        "CEST"
    };
    let row = eventually(Duration::from_secs(10), "press-7 seen", || {
        let list = page(&server, &agent, &admin, "/devices");
        let row = between(&list, "<tr data-device=\"press-7\"", "</tr>")?.to_owned();
        row.contains("data-age>").then_some(row)
    });
    assert!(
        row.contains(&format!(" {zone}\" data-age>just now</time>"))
            || row.contains(&format!(" {zone}\" data-age>")) && row.contains(" s ago</time>"),
        "{row}"
    );

    let device = page(&server, &agent, &admin, "/devices/press-7");
    let since = between(&device, "<dt>Connected since</dt><dd>", "</dd>").expect("connected");
    assert!(
        since.contains(&format!(" {zone} (")) && since.ends_with(" s)"),
        "the time it connected and for how long: {since}"
    );

    // The test server's default zone is UTC: the same time reads differently there.
    let utc = Server::start();
    let (_, user) = api(&utc).post(
        "/api/v1/users",
        json!({ "username": "vic", "password": "clipboard-and-coffee", "role": "viewer" }),
    );
    let created: DateTime<Utc> = user["created_at"].as_str().expect("at").parse().expect("t");
    let fresh = agent_for_another_server();
    let admin = sign_in(&utc, &fresh);
    let users = page(&utc, &fresh, &admin, "/settings/users");
    let shown = created.format("since %Y-%m-%d %H:%M:%S UTC").to_string();
    assert!(users.contains(&shown), "{shown} in {users}");
}

#[test]
fn an_unknown_time_zone_stops_start_up_with_exit_2_and_says_why() {
    let server = Server::prepare(&[("PLANTD_PLANT_TIME_ZONE", "Mars/Olympus_Mons")]);
    let mut child = server
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start plantd");
    let status = eventually(Duration::from_secs(30), "plantd to exit", || {
        child.try_wait().expect("wait")
    });
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("stderr");
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "PLANTD_PLANT_TIME_ZONE: 'Mars/Olympus_Mons' is not a time zone of the IANA database"
        ),
        "{stderr}"
    );
}

#[test]
fn the_settings_page_shows_values_with_their_origin_masks_secrets_and_is_for_admins_only() {
    let server = Server::start();
    let agent = agent();
    // Signed out: to the sign-in page.
    let anonymous_page = status_of(agent.get(&server.url("/settings")).call());
    assert_eq!(anonymous_page.status(), 303);
    let admin = sign_in(&server, &agent);
    let settings = page(&server, &agent, &admin, "/settings");
    for link in [
        "href=\"/settings/users\"",
        "href=\"/settings/tokens\"",
        "href=\"/webhooks\"",
    ] {
        assert!(settings.contains(link), "{link} in {settings}");
    }
    let row = |key: &str, value: &str, origin: &str| {
        format!(
            "<tr data-key=\"{key}\"><td><code>{key}</code></td><td>{value}</td><td class=\"origin\">{origin}</td></tr>"
        )
    };
    for expected in [
        row("admin_token", "••••••", "env"),
        row("admin_password", "••••••", "env"),
        row("db_pool_size", "8", "default"),
        row(
            "mqtt_addr",
            &format!("127.0.0.1:{}", server.mqtt_port),
            "env",
        ),
        row("events_retention_days", "7", "default"),
    ] {
        assert!(settings.contains(&expected), "{expected} in {settings}");
    }
    assert!(!settings.contains(ADMIN_TOKEN) && !settings.contains(ADMIN_PASSWORD));
    assert!(
        settings.contains(&format!("<code>127.0.0.1:{}</code>", server.mqtt_port)),
        "the broker listener: {settings}"
    );
    assert!(
        settings.contains(&format!(
            "<dd id=\"version\">{}</dd>",
            env!("CARGO_PKG_VERSION")
        )),
        "{settings}"
    );
    assert!(
        between(&settings, "<dd id=\"uptime\">", "</dd>")
            .is_some_and(|u| u.ends_with(" s") || u.contains("min")),
        "{settings}"
    );
    let database = between(&settings, "<dd id=\"database\">", "</dd>").expect("database");
    if on_postgres(&server) {
        assert!(database.starts_with("postgres, "), "{database}");
        assert!(
            settings.contains("<pre id=\"pg-dump\">pg_dump "),
            "{settings}"
        );
        assert!(
            !settings.contains("href=\"/settings/backup\""),
            "{settings}"
        );
        let url = server.database_url.as_deref().expect("url");
        let password = url::Url::parse(url)
            .expect("url")
            .password()
            .map(str::to_owned);
        if let Some(password) = password {
            assert!(
                !settings.contains(&format!(":{password}@")),
                "the database password is masked: {settings}"
            );
            assert!(settings.contains(":••••••@"), "{settings}");
        }
        let refused = get(&server, &agent, &admin, "/settings/backup");
        assert_eq!(refused.status(), 501);
    } else {
        assert!(
            database.starts_with("sqlite, ") && database.contains("KiB")
                || database.contains("MiB"),
            "{database}"
        );
        assert!(settings.contains("href=\"/settings/backup\""), "{settings}");
    }

    // Engineers and viewers: 403 on the page and the backup, and no link to them.
    for (name, role) in [("erin", "engineer"), ("vic", "viewer")] {
        let password = "a-long-enough-phrase";
        let (status, body) = api(&server).post(
            "/api/v1/users",
            json!({ "username": name, "password": password, "role": role }),
        );
        assert_eq!(status, 201, "{body}");
        let cookie = sign_in_as(&server, &agent, name, password);
        assert_refused(get(&server, &agent, &cookie, "/settings"), ADMINS_ONLY);
        assert_refused(
            get(&server, &agent, &cookie, "/settings/backup"),
            ADMINS_ONLY,
        );
        assert_refused(
            get(&server, &agent, &cookie, "/settings/tokens"),
            "only admins manage API tokens",
        );
    }
}

/// `SELECT id FROM devices_devices` of a SQLite file.
fn device_ids(path: &std::path::Path) -> Vec<String> {
    use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let mut conn = SqliteConnection::establish(&path.to_string_lossy()).expect("open backup");
    diesel::sql_query("SELECT id FROM devices_devices ORDER BY id")
        .load::<Id>(&mut conn)
        .expect("query the backup")
        .into_iter()
        .map(|row| row.id)
        .collect()
}

fn download(server: &Server, agent: &ureq::Agent, cookie: &str) -> (u16, Option<String>, Vec<u8>) {
    let response = get(server, agent, cookie, "/settings/backup");
    let status = response.status();
    let disposition = response.header("content-disposition").map(str::to_owned);
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut body).expect("body");
    (status, disposition, body)
}

#[test]
fn the_backup_is_a_sqlite_database_holding_what_was_stored_and_one_runs_at_a_time() {
    let hold = std::env::temp_dir().join(format!(
        "plantd-hold-backup-{}-{}",
        std::process::id(),
        crate::support::server::free_port()
    ));
    let _ = std::fs::remove_file(&hold);
    let server = Server::start_with(&[("PLANTD_TEST_HOLD_BACKUP", &hold.to_string_lossy())]);
    let agent = agent();
    let admin = sign_in(&server, &agent);
    provision(&server, "press-7");
    if on_postgres(&server) {
        let settings = page(&server, &agent, &admin, "/settings");
        assert!(settings.contains("pg_dump --format=custom"), "{settings}");
        assert_eq!(
            get(&server, &agent, &admin, "/settings/backup").status(),
            501
        );
        return;
    }
    let (status, disposition, body) = download(&server, &agent, &admin);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let disposition = disposition.expect("content-disposition");
    assert!(
        disposition.starts_with("attachment; filename=\"plantd-") && disposition.ends_with(".db\""),
        "{disposition}"
    );
    assert!(body.starts_with(b"SQLite format 3\0"), "a SQLite file");
    let file = server.data_dir.join("downloaded-backup.db");
    std::fs::write(&file, &body).expect("write");
    assert_eq!(device_ids(&file), ["press-7"]);
    let leftovers: Vec<_> = std::fs::read_dir(&server.data_dir)
        .expect("data dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".backup-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "the snapshot file is removed: {leftovers:?}"
    );

    // Two at once: while one is held, the other answers 409; then the first completes.
    std::fs::write(&hold, b"hold").expect("hold");
    let (tx, rx) = channel();
    for _ in 0..2 {
        let tx = tx.clone();
        let (url, cookie) = (server.url("/settings/backup"), admin.clone());
        std::thread::spawn(move || {
            let response = status_of(agent_get(&url, &cookie));
            let status = response.status();
            let mut body = Vec::new();
            let _ = std::io::Read::read_to_end(&mut response.into_reader(), &mut body);
            let _ = tx.send((status, body));
        });
    }
    let (first, text) = rx.recv_timeout(Duration::from_secs(30)).expect("an answer");
    assert_eq!(first, 409, "{}", String::from_utf8_lossy(&text));
    std::fs::remove_file(&hold).expect("release");
    let (second, body) = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the backup");
    assert_eq!(second, 200);
    assert!(body.starts_with(b"SQLite format 3\0"));
    // The slot is free again once that download's stream has ended.
    eventually(Duration::from_secs(10), "the backup slot free", || {
        (download(&server, &agent, &admin).0 == 200).then_some(())
    });
}

fn agent_for_another_server() -> ureq::Agent {
    agent()
}

fn agent_get(url: &str, cookie: &str) -> Result<ureq::Response, ureq::Error> {
    agent().get(url).set("Cookie", cookie).call()
}

/// The row of token `id` on the tokens page, or `None`.
fn token_row<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    between(html, &format!("<tr data-token=\"{id}\">"), "</tr>")
}

fn token_listed(server: &Server, id: &str) -> Option<Value> {
    let (status, list) = api(server).get("/api/v1/tokens");
    assert_eq!(status, 200, "{list}");
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|t| t["id"] == id)
        .cloned()
}

fn refused(result: Result<Mqtt, ConnectionError>) -> bool {
    matches!(result, Err(ConnectionError::ConnectionRefused(_)))
}

#[test]
fn a_token_made_on_its_page_is_shown_once_works_for_mqtt_shows_its_last_use_and_revoking_drops_its_session(
) {
    let server = Server::start();
    let agent = agent();
    let admin = sign_in(&server, &agent);
    let tokens_page = page(&server, &agent, &admin, "/settings/tokens");
    let csrf = form_token(&tokens_page).expect("csrf");
    let created = post(
        &server,
        &agent,
        &admin,
        "/settings/tokens",
        &[
            ("csrf_token", &csrf),
            ("name", "scada"),
            ("scope_read", "on"),
            ("scope_mqtt", "on"),
        ],
    );
    assert_eq!(created.status(), 200);
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let html = created.into_string().expect("html");
    let secret = between(
        &html,
        "<code id=\"new-secret\" class=\"secret\">",
        "</code>",
    )
    .expect("the secret shown")
    .to_owned();
    assert_eq!(secret.len(), 40, "{secret}");
    let id = between(&html, "with user name <code>", "</code>")
        .expect("the token id")
        .to_owned();
    let row = token_row(&html, &id).expect("listed");
    assert!(row.contains("<td>mqtt read</td>"), "{row}");
    assert!(row.contains("<td class=\"last-used\">never</td>"), "{row}");

    // Shown once: the list again has no secret.
    let again = page(&server, &agent, &admin, "/settings/tokens");
    assert!(!again.contains(&secret), "the secret is shown once");
    assert!(token_row(&again, &id).is_some());

    // MQTT with it works; its last use shows on the page (exact time on hover) and in the API.
    let mut session = connect(&server, "Scada.1", Some((&id, &secret)))
        .unwrap_or_else(|e| panic!("the new token's MQTT login: {e}"));
    let used = eventually(Duration::from_secs(10), "the last use shown", || {
        let html = page(&server, &agent, &admin, "/settings/tokens");
        let row = token_row(&html, &id)?.to_owned();
        row.contains("<time datetime=\"").then_some(row)
    });
    assert!(
        used.contains(" UTC\" data-age>just now</time>") || used.contains(" s ago</time>"),
        "{used}"
    );
    let listed = token_listed(&server, &id).expect("listed");
    assert!(listed["last_used_at"].is_string(), "{listed}");

    // A viewer's forged revoke is refused.
    let (status, _) = api(&server).post(
        "/api/v1/users",
        json!({ "username": "vic", "password": "clipboard-and-coffee", "role": "viewer" }),
    );
    assert_eq!(status, 201);
    let viewer = sign_in_as(&server, &agent, "vic", "clipboard-and-coffee");
    let viewer_csrf = form_token(&page(&server, &agent, &viewer, "/account")).expect("csrf");
    assert_refused(
        post(
            &server,
            &agent,
            &viewer,
            &format!("/settings/tokens/{id}/revoke"),
            &[("csrf_token", &viewer_csrf)],
        ),
        "only admins manage API tokens",
    );

    // Revoked on the page: gone from the list, the live session dropped, a new login refused.
    let revoked = post(
        &server,
        &agent,
        &admin,
        &format!("/settings/tokens/{id}/revoke"),
        &[("csrf_token", &csrf)],
    );
    assert_eq!(
        (revoked.status(), revoked.header("location")),
        (303, Some("/settings/tokens"))
    );
    assert!(
        session.closed_within(Duration::from_secs(5)).is_some(),
        "the revoked token's MQTT session is still open"
    );
    assert!(refused(connect(&server, "Scada.2", Some((&id, &secret)))));
    assert!(token_listed(&server, &id).is_none());
    let after = page(&server, &agent, &admin, "/settings/tokens");
    assert!(token_row(&after, &id).is_none(), "{after}");
}

#[test]
fn a_tokens_last_use_over_http_is_stored_and_survives_a_restart() {
    let mut server = Server::start();
    let (id, secret) = token(&server, &["read"]);
    assert!(token_listed(&server, &id).expect("listed")["last_used_at"].is_null());
    let writes = || metric(&server, "plantd_token_last_used_writes_total", "");
    let before = writes();
    // Three uses within the minute: memory has the latest, the row is written once.
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (status, _) = anonymous(&server)
            .with_token(&secret)
            .get("/api/v1/devices");
        assert_eq!(status, 200);
        seen.push(token_listed(&server, &id).expect("listed")["last_used_at"].clone());
    }
    assert!(seen.iter().all(Value::is_string), "{seen:?}");
    assert_eq!(writes(), before + 1.0, "one write for three uses");
    server.restart();
    let stored = token_listed(&server, &id).expect("listed")["last_used_at"].clone();
    assert!(stored.is_string(), "the last use was written: {stored}");
}

/// Creates a token named `name` on the tokens page in `browser`; answers its id and secret.
fn browser_creates_a_token(browser: &Browser, server: &Server, name: &str) -> (String, String) {
    browser.goto(&server.url("/login"));
    browser.sign_in("admin", ADMIN_PASSWORD);
    browser.wait_for_path("/");
    browser.goto(&server.url("/settings/tokens"));
    browser.type_into("#create-token input[name=name]", name);
    browser.click("#create-token input[name=scope_mqtt]");
    browser.click("#create-token button[type=submit]");
    let secret = browser.text("#new-secret");
    assert_eq!(secret.len(), 40, "{secret}");
    let (_, list) = api(server).get("/api/v1/tokens");
    let id = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|t| t["name"] == name)
        .and_then(|t| t["id"].as_str())
        .expect("the token listed")
        .to_owned();
    (id, secret)
}

fn browser_flow(browser: &Browser, javascript: bool) {
    let server = Server::start();
    let (id, secret) = browser_creates_a_token(browser, &server, "historian");
    // With the script the copy button shows; without it the secret is plain selectable text.
    let copy_buttons = browser.find_all("button[data-copy]:not([hidden])");
    assert_eq!(copy_buttons.len(), usize::from(javascript));
    let mut session = connect(&server, "Historian.1", Some((&id, &secret)))
        .unwrap_or_else(|e| panic!("the token's MQTT login: {e}"));
    browser.goto(&server.url("/settings/tokens"));
    browser.click(&format!("tr[data-token='{id}'] button.danger"));
    if javascript {
        assert!(browser.dialog_text().starts_with("Revoke historian?"));
        browser.answer_dialog(true);
    }
    eventually(
        Duration::from_secs(10),
        "the token gone from the page",
        || {
            (browser.path() == "/settings/tokens"
                && browser
                    .find_all(&format!("tr[data-token='{id}']"))
                    .is_empty())
            .then_some(())
        },
    );
    assert!(token_listed(&server, &id).is_none());
    assert!(session.closed_within(Duration::from_secs(5)).is_some());
}

#[test]
fn browser_creates_and_revokes_a_token() {
    let Some(browser) = Browser::start() else {
        return;
    };
    browser_flow(&browser, true);
}

#[test]
fn browser_without_javascript_creates_and_revokes_a_token() {
    let Some(browser) = Browser::start_without_javascript() else {
        return;
    };
    browser_flow(&browser, false);
}
