//! Security hardening (issue 14), each test written as the attack it stops: secrets left in
//! the journal, hostile telemetry ranges, pages framed or scripted by another origin.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Child, Stdio};

use serde_json::{json, Value};

use crate::support::http::{anonymous, api, metric, provision};
use crate::support::Server;

const HOUR: i64 = 3_600_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A problem+json body with `status` (400 or 422) and a detail.
fn assert_refused_problem(status: u16, body: &Value) {
    assert!(status == 400 || status == 422, "{status}: {body}");
    assert_eq!(body["status"], status, "problem body: {body}");
    assert!(body["detail"].is_string(), "problem detail: {body}");
}

/// Stores `windows` hours of `per_window` samples of `speed` (ending an hour ago) and
/// compacts them into chunks, one per hour window.
fn store_chunks(server: &Server, device: &str, windows: i64, per_window: i64) -> i64 {
    let password = provision(server, device);
    let first = (now_ms() / HOUR - windows - 1) * HOUR;
    let samples: Vec<Value> = (0..windows * per_window)
        .map(|i| {
            let ts = first + (i / per_window) * HOUR + (i % per_window) * 1000;
            json!({"ts": ts, "values": {"speed": i as f64}})
        })
        .collect();
    for part in samples.chunks(500) {
        let (status, reply) = api(server).post_as_device(
            &format!("/api/v1/devices/{device}/telemetry"),
            device,
            &password,
            Value::Array(part.to_vec()).to_string().as_bytes(),
        );
        assert_eq!(status, 202, "{reply}");
    }
    let (status, report) = api(server).post("/api/v1/admin/telemetry/maintenance", json!({}));
    assert_eq!(status, 200, "{report}");
    first
}

/// Starts `server`'s plantd without configured admin credentials (so the first start
/// generates them), logging at info to `{data_dir}/{log}`; returns its stdout file.
fn start_generating(server: &Server, log: &str) -> (Child, std::path::PathBuf) {
    let stdout = server.data_dir.join(format!("{log}.stdout"));
    let stderr = server.data_dir.join(format!("{log}.stderr"));
    let mut cmd = server.command();
    cmd.env_remove("PLANTD_ADMIN_TOKEN")
        .env_remove("PLANTD_ADMIN_PASSWORD")
        .env("PLANTD_LOG", "info")
        .stdout(Stdio::from(
            std::fs::File::create(&stdout).expect("stdout file"),
        ))
        .stderr(Stdio::from(
            std::fs::File::create(&stderr).expect("stderr file"),
        ));
    (cmd.spawn().expect("start plantd"), stdout)
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The attack: whoever reads the journal (stdout is kept by journald, often readable by a
/// wider group) learns the admin credentials printed at the first start. The secrets must
/// also land once in a 0600 file, and the log must point there without the secret.
#[test]
fn first_start_secrets_go_to_a_private_file_named_in_the_log() {
    let mut server = Server::prepare(&[]);
    let (child, stdout) = start_generating(&server, "first");
    server.adopt(child);
    let file = server.data_dir.join("first-start-credentials.txt");
    let meta = std::fs::metadata(&file).expect("the first start writes its credentials file");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "owner only");
    let text = read(&file);
    let token = text
        .lines()
        .find_map(|l| l.strip_prefix("admin API token: "))
        .expect("token line")
        .to_owned();
    let password = text
        .lines()
        .find_map(|l| l.strip_prefix("web UI password: "))
        .expect("password line")
        .to_owned();
    assert!(!token.is_empty() && !password.is_empty(), "{text}");
    // The token in the file is the one plantd accepts.
    let (status, _) = anonymous(&server).with_token(&token).get("/api/v1/devices");
    assert_eq!(status, 200, "the file's token works");
    server.stop();
    let console = read(&stdout);
    assert!(
        console.contains(&token) && console.contains(&password),
        "console shows both once"
    );
    let log = read(&server.data_dir.join("first.stderr"));
    let line = log
        .lines()
        .find(|l| l.contains("first-start-credentials.txt"))
        .unwrap_or_else(|| panic!("a log line names the file:\n{log}"));
    assert!(line.contains(&file.display().to_string()), "{line}");
    assert!(!log.contains(&token), "no token in the log:\n{log}");
    assert!(!log.contains(&password), "no password in the log:\n{log}");

    // A second start generates nothing and leaves the file as it was.
    let before = (std::fs::metadata(&file).expect("file").ino(), read(&file));
    let (child, stdout) = start_generating(&server, "second");
    server.adopt(child);
    let (status, _) = api(&server).with_token(&token).get("/api/v1/devices");
    assert_eq!(status, 200, "the first start's token still works");
    server.stop();
    let after = (std::fs::metadata(&file).expect("file").ino(), read(&file));
    assert_eq!(before, after, "not rewritten");
    assert!(!read(&stdout).contains("first start"), "nothing printed");
    let log = read(&server.data_dir.join("second.stderr"));
    assert!(!log.contains("first-start-credentials.txt"), "{log}");
}

/// The attack: `from`/`to` far outside any real time make `to - from` overflow i64 (a panic
/// inside the telemetry actor in a debug build, a wrapped span that slips past the bucket
/// cap in release). Either form must be refused with a problem, and telemetry must still
/// answer afterwards.
#[test]
fn telemetry_ranges_that_overflow_are_refused_and_telemetry_keeps_answering() {
    let server = Server::start();
    let first = store_chunks(&server, "sec-overflow-1", 2, 10);
    let base = "/api/v1/devices/sec-overflow-1/telemetry?metric=speed";
    for attack in [
        "&from=-5000000000000000000&to=5000000000000000000&step=1&resolution=raw",
        "&from=-9223372036854775808&to=9223372036854775807&step=1&resolution=raw",
        "&from=-9223372036854775808&to=9223372036854775807&limit=5",
        // Any time outside years 1 to 9999 is refused, not wrapped.
        "&to=9223372036854775807&step=1d",
    ] {
        let (status, body) = api(&server).get(&format!("{base}{attack}"));
        assert_refused_problem(status, &body);
    }
    // The actor survived: a normal query of the stored points answers.
    let (status, body) = api(&server).get(&format!(
        "{base}&from={first}&to={}&limit=100000",
        first + 3 * HOUR
    ));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["points"].as_array().map(Vec::len), Some(20), "{body}");
    let (status, body) = api(&server).get(&format!("{base}&from={first}&step=1h"));
    assert_eq!(status, 200, "{body}");
}

/// The attack: a raw query with a small `limit` over a long range, repeated, made plantd
/// decode every chunk in range before the limit applied; and `resolution=raw` with a large
/// step passed the bucket cap while decoding every raw point. The first must stop at the
/// window that fills the limit (counted in decoded chunks and points), the second is
/// refused beyond `telemetry_query_max_points`.
#[test]
fn raw_queries_stop_at_their_limit_and_are_capped() {
    let server = Server::start_with(&[("PLANTD_TELEMETRY_QUERY_MAX_POINTS", "1000")]);
    let (windows, per_window) = (120, 25);
    let first = store_chunks(&server, "sec-limit-1", windows, per_window);
    let base = "/api/v1/devices/sec-limit-1/telemetry?metric=speed";
    let to = first + (windows + 1) * HOUR;
    let chunks_before = metric(&server, "plantd_telemetry_query_chunks_decoded_total", "");
    let points_before = metric(&server, "plantd_telemetry_query_points_decoded_total", "");
    let (status, body) = api(&server).get(&format!("{base}&from={first}&to={to}&limit=10"));
    assert_eq!(status, 200, "{body}");
    let values: Vec<f64> = body["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| p["value"].as_f64().expect("value"))
        .collect();
    assert_eq!(
        values,
        (0..10).map(f64::from).collect::<Vec<_>>(),
        "the first ten"
    );
    let chunks = metric(&server, "plantd_telemetry_query_chunks_decoded_total", "") - chunks_before;
    let points = metric(&server, "plantd_telemetry_query_points_decoded_total", "") - points_before;
    assert_eq!(
        chunks, 1.0,
        "one window fills the limit of 10 ({windows} stored)"
    );
    assert_eq!(points, per_window as f64, "one chunk's points decoded");

    // Large step, raw resolution: 3,000 points to decode, the cap is 1,000.
    let refused_before = metric(&server, "plantd_telemetry_queries_refused_total", "");
    let (status, body) = api(&server).get(&format!(
        "{base}&from={first}&to={to}&step=59s&resolution=raw"
    ));
    assert_refused_problem(status, &body);
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("1000 raw points"),
        "{body}"
    );
    assert_eq!(
        metric(&server, "plantd_telemetry_queries_refused_total", "") - refused_before,
        1.0
    );
    // Within the cap the same kind of query answers.
    let (status, body) = api(&server).get(&format!(
        "{base}&from={first}&to={}&step=59s&resolution=raw",
        first + 10 * HOUR
    ));
    assert_eq!(status, 200, "{body}");
}

/// Headers every answer must carry, whatever served it.
fn assert_security_headers(response: &ureq::Response, what: &str) {
    let csp = response
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"));
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(csp.contains("script-src 'self'"), "{what}: {csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{what}: {csp}"
    );
    assert_eq!(
        response.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        response.header("referrer-policy"),
        Some("same-origin"),
        "{what}"
    );
    assert_eq!(response.header("x-frame-options"), Some("DENY"), "{what}");
}

/// The attacks: another site frames a page to trick a click (clickjacking), a script
/// injected into a page runs (inline script or handler), a browser sniffs a download into
/// HTML, a URL with a secret leaks in a Referer to another site. Every response carries
/// the headers that stop them, and no page of the UI needs inline script to work.
#[test]
fn every_response_carries_the_security_headers_and_pages_have_no_inline_script() {
    use crate::support::web::{agent, sign_in, status_of};
    let server = Server::start();
    provision(&server, "sec-head-1");
    let agent = agent();
    let session = sign_in(&server, &agent);
    let pages = [
        "/",
        "/devices",
        "/devices/sec-head-1",
        "/devices/sec-head-1/control",
        "/devices/sec-head-1/telemetry",
        "/firmware",
        "/api/docs",
        "/assets",
        "/alarms",
        "/alarms/stats",
        "/rules",
        "/rules/new",
        "/work-orders",
        "/work-orders/board",
        "/work-orders/new",
        "/requests",
        "/failure-codes",
        "/maintenance",
        "/maintenance/plans/new",
        "/maintenance/calendar",
        "/settings/users",
        "/account",
    ];
    for path in pages {
        let response = status_of(agent.get(&server.url(path)).set("Cookie", &session).call());
        assert_eq!(response.status(), 200, "{path}");
        assert_security_headers(&response, path);
        let html = response.into_string().expect("html").to_ascii_lowercase();
        for (i, _) in html.match_indices("<script") {
            let tag = &html[i..html[i..].find('>').map_or(html.len(), |e| i + e)];
            assert!(
                tag.contains(" src=\"/static/"),
                "{path}: inline script {tag}"
            );
        }
        let handler = html.split(['<', ' ', '\n']).find(|w| {
            w.starts_with("on")
                && w.split_once('=')
                    .is_some_and(|(n, _)| n.len() > 2 && n.chars().all(|c| c.is_ascii_lowercase()))
        });
        assert_eq!(handler, None, "{path}: an inline event handler");
        assert!(!html.contains("javascript:"), "{path}");
        assert!(!html.contains(" style=\""), "{path}: an inline style");
    }
    let others = [
        ("/login", None),
        ("/static/plantd.js", None),
        ("/static/plantd.css", None),
        ("/healthz", None),
        ("/api/v1/devices", Some(crate::support::server::ADMIN_TOKEN)),
        (
            "/api/v1/no-such-route",
            Some(crate::support::server::ADMIN_TOKEN),
        ),
        ("/no-such-page", None),
    ];
    for (path, token) in others {
        let mut req = agent.get(&server.url(path));
        if let Some(token) = token {
            req = req.set("Authorization", &format!("Bearer {token}"));
        }
        let response = status_of(req.call());
        assert_security_headers(&response, path);
    }
}

/// The attacks: with TLS, a session cookie without `Secure` is sent over a plain-HTTP
/// request an attacker provokes; a cookie without the `__Host-` prefix can be planted by a
/// sibling host or over HTTP (session fixation). With `secure_cookies` both cookies are
/// `__Host-` and `Secure`, and a session offered under the old name is not accepted.
#[test]
fn secure_cookies_are_host_prefixed_and_secure() {
    use crate::support::web::{agent, attributes, cookie_pair, set_cookie, status_of};
    let server = Server::start_with(&[("PLANTD_SECURE_COOKIES", "true")]);
    let agent = agent();
    let form = status_of(agent.get(&server.url("/login")).call());
    assert!(
        set_cookie(&form, "plantd_login_csrf").is_none(),
        "no unprefixed cookie"
    );
    let csrf_cookie = set_cookie(&form, "__Host-plantd_login_csrf")
        .expect("the __Host- sign-in CSRF cookie")
        .to_owned();
    for attr in ["secure", "httponly", "path=/"] {
        assert!(
            attributes(&csrf_cookie).contains(&attr.to_owned()),
            "{attr}: {csrf_cookie}"
        );
    }
    assert!(
        !attributes(&csrf_cookie)
            .iter()
            .any(|a| a.starts_with("domain")),
        "{csrf_cookie}"
    );
    let csrf_pair = cookie_pair(&csrf_cookie);
    let csrf = csrf_pair.split_once('=').expect("=").1.to_owned();
    // (The test client sends the cookie over plain HTTP itself; a browser would not.)
    let signed_in = status_of(
        agent
            .post(&server.url("/login"))
            .set("Cookie", &csrf_pair)
            .send_form(&[
                ("username", "admin"),
                ("password", crate::support::server::ADMIN_PASSWORD),
                ("csrf_token", &csrf),
            ]),
    );
    assert_eq!(signed_in.status(), 303);
    assert!(
        set_cookie(&signed_in, "plantd_session").is_none(),
        "no unprefixed session"
    );
    let session_cookie = set_cookie(&signed_in, "__Host-plantd_session")
        .expect("the __Host- session cookie")
        .to_owned();
    let attrs = attributes(&session_cookie);
    for attr in ["secure", "httponly", "samesite=lax", "path=/"] {
        assert!(attrs.contains(&attr.to_owned()), "{attr}: {session_cookie}");
    }
    assert!(
        !attrs.iter().any(|a| a.starts_with("domain")),
        "{session_cookie}"
    );
    let removed = set_cookie(&signed_in, "__Host-plantd_login_csrf").expect("CSRF cookie removed");
    assert!(
        attributes(removed).contains(&"secure".to_owned()),
        "{removed}"
    );

    let session = cookie_pair(&session_cookie);
    let dashboard = status_of(agent.get(&server.url("/")).set("Cookie", &session).call());
    assert_eq!(
        dashboard.status(),
        200,
        "the __Host- session opens the dashboard"
    );
    let api_call = status_of(
        agent
            .get(&server.url("/api/v1/devices"))
            .set("Cookie", &session)
            .call(),
    );
    assert_eq!(api_call.status(), 200, "and reads the API");
    // The same secret planted under the unprefixed name opens nothing.
    let planted = session.replacen("__Host-", "", 1);
    let dashboard = status_of(agent.get(&server.url("/")).set("Cookie", &planted).call());
    assert_eq!(dashboard.status(), 303, "to the sign-in page");
    let api_call = status_of(
        agent
            .get(&server.url("/api/v1/devices"))
            .set("Cookie", &planted)
            .call(),
    );
    assert_eq!(api_call.status(), 401);
}

/// Under the CSP the UI still works in a browser: the delete form asks first (its
/// confirmation was an inline handler, which the CSP now blocks), Cancel keeps the
/// device, OK deletes it.
#[test]
fn browser_confirms_a_delete_under_the_content_security_policy() {
    use crate::support::server::ADMIN_PASSWORD;
    use crate::ui::Browser;
    let Some(browser) = Browser::start() else {
        return;
    };
    let server = Server::start();
    provision(&server, "sec-del-1");
    browser.goto(&server.url("/devices/sec-del-1"));
    browser.wait_for_path("/login");
    browser.sign_in("admin", ADMIN_PASSWORD);
    browser.wait_for_path("/");
    browser.goto(&server.url("/devices/sec-del-1"));
    browser.wait_for_path("/devices/sec-del-1");
    browser.click("#delete");
    assert_eq!(
        browser.dialog_text(),
        "Delete sec-del-1? Its id is never given out again."
    );
    browser.answer_dialog(false);
    let (status, _) = api(&server).get("/api/v1/devices/sec-del-1");
    assert_eq!(status, 200, "Cancel keeps the device");
    browser.click("#delete");
    browser.dialog_text();
    browser.answer_dialog(true);
    crate::support::eventually(
        std::time::Duration::from_secs(10),
        "the device deleted",
        || (api(&server).get("/api/v1/devices/sec-del-1").0 == 404).then_some(()),
    );
}
