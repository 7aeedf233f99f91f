//! The device page's firmware section and the read-only UI for viewers: a campaign's
//! progress as a real MQTT device reports it shows on the device page, and a viewer (a
//! user row with role `viewer`; plantd has no user management yet) sees no change form and
//! is refused a forged POST to every device, control and firmware form.

use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use serde_json::json;

use crate::support::http::{api, provision};
use crate::support::mqtt::device;
use crate::support::server::ADMIN_PASSWORD;
use crate::support::web::assert_refused;
use crate::support::{eventually, Server};

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(30))
        .build()
}

fn respond(result: Result<ureq::Response, ureq::Error>) -> ureq::Response {
    match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("HTTP transport error: {e}"),
    }
}

fn cookie(response: &ureq::Response, name: &str) -> String {
    response
        .all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("cookie {name}"))
        .split(';')
        .next()
        .expect("pair")
        .to_owned()
}

/// Signs in through the form; returns the session cookie pair.
pub(crate) fn sign_in(
    server: &Server,
    agent: &ureq::Agent,
    username: &str,
    password: &str,
) -> String {
    let form = respond(agent.get(&server.url("/login")).call());
    let login_cookie = cookie(&form, "plantd_login_csrf");
    let csrf = login_cookie.split_once('=').expect("=").1.to_owned();
    let signed_in = respond(
        agent
            .post(&server.url("/login"))
            .set("Cookie", &login_cookie)
            .send_form(&[
                ("username", username),
                ("password", password),
                ("csrf_token", &csrf),
            ]),
    );
    assert_eq!(signed_in.status(), 303, "sign-in of {username}");
    cookie(&signed_in, "plantd_session")
}

/// A page's HTML as the signed-in user sees it.
fn page(server: &Server, agent: &ureq::Agent, session: &str, path: &str) -> String {
    let response = respond(agent.get(&server.url(path)).set("Cookie", session).call());
    assert_eq!(response.status(), 200, "GET {path}");
    response.into_string().expect("html")
}

/// The text of the element with this id (up to its first tag inside).
fn element(html: &str, id: &str) -> String {
    html.split(&format!("id=\"{id}\">"))
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// The firmware table's row of this campaign.
fn campaign_row(html: &str, campaign: &str) -> String {
    html.split(&format!("<tr data-campaign=\"{campaign}\">"))
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn device_page_shows_the_firmware_version_and_campaign_progress() {
    let server = Server::start();
    let password = provision(&server, "fw-page");
    let mut mqtt = device(&server, "fw-page", &password);
    mqtt.subscribe("devices/fw-page/firmware/available");
    let agent = agent();
    let session = sign_in(&server, &agent, "admin", ADMIN_PASSWORD);

    let html = page(&server, &agent, &session, "/devices/fw-page");
    assert!(html.contains("id=\"firmware\""), "the section is there");
    assert!(html.contains("No firmware campaign has targeted this device"));
    assert_eq!(element(&html, "firmware-reported"), "—");

    let (status, fw) = crate::firmware::upload(&server, "4.2.0", &[7u8; 4096]);
    assert_eq!(status, 201, "{fw}");
    let (status, started) = api(&server).post(
        "/api/v1/firmware-campaigns",
        json!({ "firmware": fw["id"], "devices": ["fw-page"] }),
    );
    assert_eq!(status, 201, "{started}");
    let campaign = started["id"].as_str().expect("id").to_owned();

    let html = page(&server, &agent, &session, "/devices/fw-page");
    let row = campaign_row(&html, &campaign);
    assert!(
        row.contains(&format!("href=\"/firmware/campaigns/{campaign}\"")),
        "{row}"
    );
    assert!(row.contains("<td class=\"state\">pending</td>"), "{row}");
    assert!(row.contains("4.2.0"), "the campaign's version: {row}");

    let mut report = |body: serde_json::Value| {
        mqtt.publish(
            "devices/fw-page/firmware/status",
            body.to_string(),
            rumqttc::QoS::AtLeastOnce,
        )
    };
    report(
        json!({ "campaign": campaign, "state": "downloading", "version": "4.1.0", "detail": "34%" }),
    );
    eventually(Duration::from_secs(10), "downloading on the page", || {
        let html = page(&server, &agent, &session, "/devices/fw-page");
        let row = campaign_row(&html, &campaign);
        (row.contains("<td class=\"state\">downloading</td>") && row.contains("34%")).then_some(())
    });
    report(json!({ "campaign": campaign, "state": "done", "version": "4.2.0" }));
    mqtt.publish(
        "devices/fw-page/state/reported",
        json!({ "firmware_version": "4.2.0" }).to_string(),
        rumqttc::QoS::AtLeastOnce,
    );
    let html = eventually(Duration::from_secs(10), "done on the page", || {
        let html = page(&server, &agent, &session, "/devices/fw-page");
        (campaign_row(&html, &campaign).contains("<td class=\"state\">done</td>")
            && element(&html, "firmware-shadow") == "4.2.0")
            .then_some(html)
    });
    assert!(element(&html, "firmware-reported").starts_with("4.2.0"));
    assert!(
        campaign_row(&html, &campaign).contains("finished"),
        "campaign status"
    );
}

/// Adds a UI user with `role` and the admin's password, straight into identity's table:
/// plantd has no user management yet, and identity reads users from the database at
/// every sign-in.
pub(crate) fn add_user(server: &Server, username: &str, role: &str) {
    let sql = format!(
        "INSERT INTO identity_users (username, password_hash, role, created_at) \
         SELECT '{username}', password_hash, '{role}', created_at FROM identity_users \
         WHERE username = 'admin'"
    );
    let inserted = match &server.database_url {
        Some(url) => {
            diesel::sql_query(sql).execute(&mut PgConnection::establish(url).expect("PostgreSQL"))
        }
        None => {
            let path = server.data_dir.join("plantd.db");
            let mut conn =
                SqliteConnection::establish(path.to_str().expect("path")).expect("SQLite file");
            diesel::sql_query("PRAGMA busy_timeout = 5000")
                .execute(&mut conn)
                .expect("pragma");
            diesel::sql_query(sql).execute(&mut conn)
        }
    };
    assert_eq!(inserted.expect("insert user"), 1);
}

#[test]
fn a_viewer_reads_device_control_and_firmware_pages_but_changes_nothing() {
    let server = Server::start();
    provision(&server, "ro-press");
    let (status, fw) = crate::firmware::upload(&server, "1.0.1", &[1u8; 1024]);
    assert_eq!(status, 201, "{fw}");
    let (status, started) = api(&server).post(
        "/api/v1/firmware-campaigns",
        json!({ "firmware": fw["id"], "devices": ["ro-press"] }),
    );
    assert_eq!(status, 201, "{started}");
    let campaign = started["id"].as_str().expect("id").to_owned();
    add_user(&server, "vera", "viewer");
    let agent = agent();
    let session = sign_in(&server, &agent, "vera", ADMIN_PASSWORD);

    let pages = [
        "/",
        "/devices",
        "/devices/ro-press",
        "/devices/ro-press/control",
        "/firmware",
        &format!("/firmware/campaigns/{campaign}"),
    ];
    let mut csrf = String::new();
    for path in pages {
        let html = page(&server, &agent, &session, path);
        assert!(html.contains("vera (viewer)"), "{path} names the viewer");
        // The only form that posts a viewer gets is sign-out (filters are GET forms).
        let forms: Vec<&str> = html
            .split("<form")
            .skip(1)
            .filter_map(|f| f.split('>').next())
            .filter(|f| !f.contains("method=\"get\"") && !f.contains("action=\"/logout\""))
            .collect();
        assert!(forms.is_empty(), "{path} shows no change form: {forms:?}");
        if let Some(token) = html
            .split("name=\"csrf_token\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
        {
            csrf = token.to_owned();
        }
    }
    let dashboard = page(&server, &agent, &session, "/");
    assert!(
        dashboard.contains("data-figure=\"devices_online\">0<"),
        "nobody online"
    );
    assert!(
        dashboard.contains("data-figure=\"devices_total\">1<"),
        "one device"
    );
    assert!(dashboard.contains("href=\"/devices\""));
    let devices = page(&server, &agent, &session, "/devices");
    assert!(
        devices.contains("href=\"/firmware\""),
        "Devices links Firmware"
    );
    let html = page(&server, &agent, &session, "/devices/ro-press");
    assert!(
        html.contains(&format!("data-campaign=\"{campaign}\"")),
        "viewers read firmware progress"
    );
    assert!(
        !csrf.is_empty(),
        "the sign-out form carries the session's token"
    );

    // Forged posts with the viewer's own valid CSRF token: every one is refused, saying why.
    let get = |path: &str| api(&server).get(path).1;
    let state = [
        "/api/v1/devices".to_owned(),
        "/api/v1/devices/ro-press".to_owned(),
        "/api/v1/devices/ro-press/shadow".to_owned(),
        "/api/v1/devices/ro-press/commands".to_owned(),
        format!("/api/v1/firmware-campaigns/{campaign}"),
        "/api/v1/firmware".to_owned(),
    ];
    let before: Vec<_> = state.iter().map(|path| get(path)).collect();
    let refusal = |path: &str| {
        if path.starts_with("/devices/ro-press/shadow") || path.contains("/commands") {
            "viewers cannot change devices; ask an engineer or an admin"
        } else if path.starts_with("/devices") {
            "your role may only read devices"
        } else if path.ends_with("/cancel") {
            "viewers cannot cancel campaigns"
        } else {
            "viewers cannot start campaigns"
        }
    };
    let form_posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/devices".into(), vec![("id", "ro-new"), ("name", "new")]),
        ("/devices/ro-press/edit".into(), vec![("name", "renamed")]),
        ("/devices/ro-press/credentials".into(), vec![]),
        ("/devices/ro-press/disable".into(), vec![]),
        ("/devices/ro-press/enable".into(), vec![]),
        ("/devices/ro-press/delete".into(), vec![]),
        (
            "/devices/ro-press/shadow".into(),
            vec![("patch", "{\"speed\": 1}"), ("back", "/devices/ro-press")],
        ),
        (
            "/devices/ro-press/commands".into(),
            vec![
                ("name", "ping"),
                ("args", ""),
                ("timeout_s", "60"),
                ("back", "/devices/ro-press"),
            ],
        ),
        (
            "/devices/ro-press/commands/0123456789abcdef/cancel".into(),
            vec![("back", "/devices/ro-press")],
        ),
        (
            "/firmware/campaigns".into(),
            vec![
                ("firmware", fw["id"].as_str().expect("id")),
                ("devices", "ro-press"),
            ],
        ),
        (format!("/firmware/campaigns/{campaign}/cancel"), vec![]),
    ];
    for (path, fields) in &form_posts {
        let mut fields = fields.clone();
        fields.push(("csrf_token", &csrf));
        let response = respond(
            agent
                .post(&server.url(path))
                .set("Cookie", &session)
                .send_form(&fields),
        );
        assert_refused(response, refusal(path));
    }
    let boundary = "plantd-viewer-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"version\"\r\n\r\n9.9.9\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\nxyz\r\n--{boundary}--\r\n"
    );
    let upload = respond(
        agent
            .post(&server.url("/firmware"))
            .set("Cookie", &session)
            .set(
                "Content-Type",
                &format!("multipart/form-data; boundary={boundary}"),
            )
            .send_bytes(body.as_bytes()),
    );
    assert_refused(upload, "viewers cannot upload firmware");

    // Nothing changed.
    for (path, before) in state.iter().zip(&before) {
        assert_eq!(&get(path), before, "{path} changed");
    }
    let (_, device) = api(&server).get("/api/v1/devices/ro-press");
    assert_eq!(device["name"], "Device ro-press");
    assert_eq!(device["enabled"], true);
    let (status, _) = api(&server).get("/api/v1/devices/ro-new");
    assert_eq!(status, 404);
    let (_, shadow) = api(&server).get("/api/v1/devices/ro-press/shadow");
    assert_eq!(shadow["desired"], json!({}), "{shadow}");
    let (_, commands) = api(&server).get("/api/v1/devices/ro-press/commands");
    assert_eq!(commands["items"], json!([]), "{commands}");
    let (_, after) = api(&server).get(&format!("/api/v1/firmware-campaigns/{campaign}"));
    assert_eq!(after["status"], "running");
    let (_, images) = api(&server).get("/api/v1/firmware");
    assert_eq!(images["items"].as_array().map(Vec::len), Some(1));

    // The token the refused posts carried was the session's own: it signs the viewer out.
    let signed_out = respond(
        agent
            .post(&server.url("/logout"))
            .set("Cookie", &session)
            .send_form(&[("csrf_token", &csrf)]),
    );
    assert_eq!(
        signed_out.status(),
        303,
        "the refusals were for the role, not the token"
    );
}
