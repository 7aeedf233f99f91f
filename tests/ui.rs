//! The web UI: a real headless Chromium driven over the W3C WebDriver protocol (Debian's
//! `chromium` and `chromium-driver`), plus plain-HTTP checks of the sign-in form's CSRF
//! defence and the session cookie's attributes.
//!
//! Without the browser the browser tests fail, saying what to install;
//! `PLANTD_TEST_SKIP_BROWSER=1` opts out: they print a loud SKIPPED line and pass.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rumqttc::QoS;
use serde_json::{json, Value};

use crate::support::http::{api, forbidden, provision};
use crate::support::mqtt::device;
use crate::support::server::{free_port, ADMIN_PASSWORD};
use crate::support::web::{
    agent, assert_refused, attributes, cookie_pair, form_token, set_cookie, sign_in, status_of,
};
use crate::support::{eventually, Server};

/// Debian's paths; `PLANTD_TEST_CHROMIUM` and `PLANTD_TEST_CHROMEDRIVER` override them.
fn binary(env: &str, default: &str) -> String {
    std::env::var(env).unwrap_or_else(|_| default.to_owned())
}
const SCREENSHOT: &str = "/tmp/plantd-dashboard.png";

/// A ChromeDriver process and one browser session in it (also used by tests/telemetry.rs).
pub(crate) struct Browser {
    driver: Child,
    base: String,
    session: Option<String>,
}

impl Browser {
    /// Panics when the browser is not installed; `None` (after saying so loudly) only when
    /// `PLANTD_TEST_SKIP_BROWSER=1` opts out of the browser tests.
    pub(crate) fn start() -> Option<Browser> {
        Browser::launch(true)
    }

    /// Like [`Browser::start`], with JavaScript switched off: the pages must work without it.
    pub(crate) fn start_without_javascript() -> Option<Browser> {
        Browser::launch(false)
    }

    fn launch(javascript: bool) -> Option<Browser> {
        let chromium = binary("PLANTD_TEST_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = binary("PLANTD_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
        if std::env::var("PLANTD_TEST_SKIP_BROWSER").as_deref() == Ok("1") {
            // Straight to the process's stderr: libtest's capture would hide an eprintln!.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "\n******** SKIPPED: browser test not run (PLANTD_TEST_SKIP_BROWSER=1) ********\n"
            );
            return None;
        }
        let missing: Vec<&str> = [chromium.as_str(), chromedriver.as_str()]
            .into_iter()
            .filter(|p| !Path::new(p).exists())
            .collect();
        assert!(
            missing.is_empty(),
            "the browser test cannot run: missing {}. Install them (apt-get install -y \
             chromium chromium-driver), point PLANTD_TEST_CHROMIUM / PLANTD_TEST_CHROMEDRIVER \
             at them, or set PLANTD_TEST_SKIP_BROWSER=1 to skip the browser tests",
            missing.join(" and ")
        );
        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: None,
        };
        let status_url = format!("{}/status", browser.base);
        eventually(Duration::from_secs(20), "chromedriver to be ready", || {
            ureq::get(&status_url)
                .timeout(Duration::from_secs(2))
                .call()
                .ok()?
                .into_json::<Value>()
                .ok()
                .filter(|s| s["value"]["ready"] == true)
        });
        let profile = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("plantd-chromium")
            .join(format!("{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).expect("profile dir");
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1280,800".to_owned(),
            format!("--user-data-dir={}", profile.display()),
        ];
        if !javascript {
            args.push("--blink-settings=scriptEnabled=false".to_owned());
        }
        let created = browser.call(
            "POST",
            "/session",
            Some(json!({
                "capabilities": { "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": chromium,
                        "args": args,
                        "prefs": {
                            "profile.managed_default_content_settings.javascript":
                                if javascript { 1 } else { 2 }
                        }
                    }
                }}
            })),
        );
        browser.session = Some(
            created["sessionId"]
                .as_str()
                .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
                .to_owned(),
        );
        Some(browser)
    }

    /// One WebDriver command; returns its `value`, panicking on a WebDriver error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        match self.try_call(method, path, body) {
            Ok(value) => value,
            Err(error) => panic!("{error}"),
        }
    }

    /// One WebDriver command: its `value`, or the WebDriver error as text.
    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let req = ureq::request(method, &url).timeout(Duration::from_secs(60));
        let result = match body {
            Some(body) => req.send_json(body),
            None => req.call(),
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("WebDriver {method} {path}: {e}"),
        };
        let status = response.status();
        let body: Value = response.into_json().expect("WebDriver JSON");
        if status != 200 {
            return Err(format!("WebDriver {method} {path}: {status} {body}"));
        }
        Ok(body["value"].clone())
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let session = self.session.as_deref().expect("session");
        self.call(method, &format!("/session/{session}{path}"), body)
    }

    pub(crate) fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    pub(crate) fn url(&self) -> String {
        self.session_call("GET", "/url", None)
            .as_str()
            .expect("url")
            .to_owned()
    }

    /// The path of the current page, e.g. `/login`.
    pub(crate) fn path(&self) -> String {
        let url = self.url();
        let after_scheme = url.split_once("://").map(|(_, r)| r).unwrap_or(&url);
        after_scheme
            .find('/')
            .map(|i| after_scheme[i..].to_owned())
            .unwrap_or_else(|| "/".to_owned())
    }

    /// Element ids matching a CSS selector (possibly none).
    pub(crate) fn find_all(&self, css: &str) -> Vec<String> {
        self.session_call(
            "POST",
            "/elements",
            Some(json!({ "using": "css selector", "value": css })),
        )
        .as_array()
        .expect("elements")
        .iter()
        .map(element_id)
        .collect()
    }

    /// The one element matching `css`, waiting briefly for it (pages load after clicks).
    fn find(&self, css: &str) -> String {
        eventually(Duration::from_secs(10), &format!("element {css}"), || {
            self.find_all(css).into_iter().next()
        })
    }

    /// The text of the one element matching `css`. A page that is replaced between finding
    /// the element and reading it (a form's answer loading) leaves a stale reference: the
    /// element is then found again on the new page, within the same deadline.
    pub(crate) fn text(&self, css: &str) -> String {
        let session = self.session.as_deref().expect("session");
        eventually(Duration::from_secs(10), &format!("text of {css}"), || {
            let id = self.find_all(css).into_iter().next()?;
            match self.try_call(
                "GET",
                &format!("/session/{session}/element/{id}/text"),
                None,
            ) {
                Ok(value) => Some(value.as_str().expect("text").to_owned()),
                Err(error) if error.contains("stale element reference") => None,
                Err(error) => panic!("{error}"),
            }
        })
    }

    /// An attribute of the one element matching `css` (`None`: the element has none).
    pub(crate) fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let id = self.find(css);
        self.session_call("GET", &format!("/element/{id}/attribute/{name}"), None)
            .as_str()
            .map(str::to_owned)
    }

    /// Runs `body` (a function body: `return …`) in the page; its result, read in one step
    /// (no element reference to go stale while the page changes).
    pub(crate) fn script(&self, body: &str) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({ "script": body, "args": [] })),
        )
    }

    /// Presses and releases `key` (a WebDriver key code such as `\u{E012}`, ArrowLeft) in
    /// the focused element.
    pub(crate) fn press(&self, key: &str) {
        self.session_call(
            "POST",
            "/actions",
            Some(json!({ "actions": [{
                "type": "key", "id": "keyboard",
                "actions": [{ "type": "keyDown", "value": key }, { "type": "keyUp", "value": key }]
            }]})),
        );
    }

    /// Moves the mouse over the element matching `css`, `dx` user pixels right of its
    /// centre.
    pub(crate) fn hover(&self, css: &str, dx: i64) {
        let id = self.find(css);
        let origin = json!({ "element-6066-11e4-a52e-4f735466cecf": id });
        self.session_call(
            "POST",
            "/actions",
            Some(json!({ "actions": [{
                "type": "pointer", "id": "mouse", "parameters": { "pointerType": "mouse" },
                "actions": [{ "type": "pointerMove", "duration": 0, "origin": origin, "x": dx, "y": 0 }]
            }]})),
        );
    }

    pub(crate) fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.session_call("POST", &format!("/element/{id}/clear"), Some(json!({})));
        self.session_call(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        );
    }

    pub(crate) fn click(&self, css: &str) {
        let id = self.find(css);
        self.session_call("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    /// The text of the open `alert`/`confirm` dialog, waiting briefly for one.
    pub(crate) fn dialog_text(&self) -> String {
        let session = self.session.as_deref().expect("session");
        let url = format!("{}/session/{session}/alert/text", self.base);
        eventually(Duration::from_secs(10), "a dialog", || {
            let response = ureq::get(&url)
                .timeout(Duration::from_secs(10))
                .call()
                .ok()?;
            let body: Value = response.into_json().ok()?;
            body["value"].as_str().map(str::to_owned)
        })
    }

    /// Answers the open dialog: OK (`accept`) or Cancel.
    pub(crate) fn answer_dialog(&self, accept: bool) {
        let action = if accept { "accept" } else { "dismiss" };
        self.session_call("POST", &format!("/alert/{action}"), Some(json!({})));
    }

    pub(crate) fn wait_for_path(&self, path: &str) {
        eventually(
            Duration::from_secs(10),
            &format!("the browser at {path}"),
            || (self.path() == path).then_some(()),
        );
    }

    pub(crate) fn screenshot(&self, to: &str) {
        use base64::Engine;
        let encoded = self.session_call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("base64"))
            .expect("valid base64");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(to, png).expect("write screenshot");
    }

    /// Runs a script in the page (WebDriver execute/sync) and returns its value.
    pub(crate) fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// Runs an asynchronous script (WebDriver execute/async: it calls its last argument
    /// with the result) and returns the value it passed.
    pub(crate) fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.session_call(
            "POST",
            "/execute/async",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// The trimmed text of the first element matching `css` now, read in one command (no
    /// element reference that a page load could make stale); `None` when there is none.
    pub(crate) fn text_now(&self, css: &str) -> Option<String> {
        self.execute(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : null;",
            vec![json!(css)],
        )
        .as_str()
        .map(str::to_owned)
    }

    /// Waits until the first element matching `css` reads `want` (a form's redirect may
    /// still be loading the next page).
    pub(crate) fn wait_for_text(&self, css: &str, want: &str) {
        eventually(
            Duration::from_secs(10),
            &format!("{css} to read {want:?}"),
            || (self.text_now(css).as_deref() == Some(want)).then_some(()),
        );
    }

    pub(crate) fn sign_in(&self, user: &str, password: &str) {
        self.type_into("input[name=username]", user);
        self.type_into("input[name=password]", password);
        self.click("form[action='/login'] button[type=submit]");
    }
}

/// The id inside a W3C web element reference (`{"element-6066-…": id}`).
fn element_id(reference: &Value) -> String {
    reference
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(Value::as_str)
        .expect("element reference")
        .to_owned()
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            let _ = ureq::delete(&format!("{}/session/{session}", self.base))
                .timeout(Duration::from_secs(20))
                .call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[test]
fn browser_signs_in_sees_live_devices_and_signs_out() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let server = Server::start();
    let password = provision(&server, "press-7");
    provision(&server, "spare-1");
    let mut mqtt = device(&server, "press-7", &password);
    mqtt.publish(
        "devices/press-7/telemetry",
        r#"{"values": {"vibration_rms_mm_s": 4.25, "temperature_c": 61}}"#,
        QoS::AtLeastOnce,
    );
    eventually(Duration::from_secs(10), "the latest values", || {
        let (_, latest) = api(&server).get("/api/v1/devices/press-7/metrics");
        (latest["items"].as_array().map(Vec::len) == Some(2)).then_some(())
    });

    // Signed out, the dashboard sends the browser to the sign-in page.
    browser.goto(&server.url("/"));
    browser.wait_for_path("/login");
    assert_eq!(browser.text("main h1"), "Sign in");
    assert!(browser.find_all("tr[data-device]").is_empty());

    // A wrong password: an error on the sign-in page, no way in.
    browser.sign_in("admin", "certainly-not-the-password");
    let error = browser.text("p.error");
    assert!(
        error.contains("Wrong user name or password"),
        "error shown: {error:?}"
    );
    assert_eq!(browser.path(), "/login");
    browser.goto(&server.url("/"));
    browser.wait_for_path("/login");

    // The right one: the dashboard, press-7 online of the two devices.
    browser.sign_in("admin", ADMIN_PASSWORD);
    browser.wait_for_path("/");
    assert_eq!(browser.text("main h1"), "Dashboard");
    assert!(browser.text("nav .who").contains("admin"));
    assert_eq!(browser.text("#online-count"), "1");
    assert_eq!(browser.text("#device-count"), "2");
    browser.screenshot(SCREENSHOT);

    // The offline figure leads to spare-1 alone, never seen.
    browser.click("a[href='/devices?state=offline']");
    browser.wait_for_path("/devices?state=offline");
    assert_eq!(browser.find_all("tr[data-device]").len(), 1, "spare-1 only");
    assert_eq!(
        browser
            .find_all("tr[data-device='spare-1'] .dot.offline")
            .len(),
        1,
        "spare-1 never connected: offline"
    );
    assert_eq!(
        browser.text("tr[data-device='spare-1'] td.last-seen"),
        "never"
    );

    // press-7's page shows its latest values.
    browser.goto(&server.url("/devices/press-7"));
    let vibration = browser.text("#latest tr[data-metric='vibration_rms_mm_s']");
    assert!(
        vibration.contains("4.25"),
        "latest vibration: {vibration:?}"
    );
    let temperature = browser.text("#latest tr[data-metric='temperature_c']");
    assert!(
        temperature.contains("61"),
        "latest temperature: {temperature:?}"
    );

    // Sign out: back to the sign-in page, and the dashboard is closed again.
    browser.click("form[action='/logout'] button");
    browser.wait_for_path("/login");
    assert_eq!(browser.text("main h1"), "Sign in");
    browser.goto(&server.url("/"));
    browser.wait_for_path("/login");
    drop(mqtt);
}

#[test]
fn sign_in_needs_the_csrf_pair_and_the_session_cookie_is_httponly_and_lax() {
    let server = Server::start();
    let agent = agent();
    let login = server.url("/login");

    let form = status_of(agent.get(&login).call());
    assert_eq!(form.status(), 200);
    let csrf_cookie = set_cookie(&form, "plantd_login_csrf")
        .expect("the sign-in page sets its CSRF cookie")
        .to_owned();
    assert!(attributes(&csrf_cookie).contains(&"httponly".to_owned()));
    let csrf_pair = cookie_pair(&csrf_cookie);
    let csrf = csrf_pair.split_once('=').expect("=").1.to_owned();
    let html = form.into_string().expect("html");
    assert!(
        html.contains(&format!("name=\"csrf_token\" value=\"{csrf}\"")),
        "the form carries the same token as the cookie"
    );

    // Refused: no cookie and no field; field without cookie; cookie with another field.
    let attempts: Vec<(Option<&str>, &str)> = vec![
        (None, ""),
        (None, csrf.as_str()),
        (Some(csrf_pair.as_str()), ""),
        (Some(csrf_pair.as_str()), "0000"),
    ];
    for (cookie, field) in attempts {
        let mut req = agent.post(&login);
        if let Some(cookie) = cookie {
            req = req.set("Cookie", cookie);
        }
        let response = status_of(req.send_form(&[
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("csrf_token", field),
        ]));
        assert!(
            set_cookie(&response, "plantd_session").is_none(),
            "no session for a forged sign-in (cookie {cookie:?} field {field:?})"
        );
        assert_refused(
            response,
            "the sign-in form expired; reload the page and try again",
        );
    }

    // Accepted with the pair: a session cookie that scripts cannot read, sent on
    // top-level navigation only.
    let signed_in = status_of(agent.post(&login).set("Cookie", &csrf_pair).send_form(&[
        ("username", "admin"),
        ("password", ADMIN_PASSWORD),
        ("csrf_token", &csrf),
    ]));
    assert_eq!(signed_in.status(), 303);
    assert_eq!(signed_in.header("location"), Some("/"));
    let session_cookie = set_cookie(&signed_in, "plantd_session")
        .expect("session cookie")
        .to_owned();
    let attrs = attributes(&session_cookie);
    assert!(
        attrs.contains(&"httponly".to_owned()),
        "HttpOnly: {session_cookie}"
    );
    assert!(
        attrs.contains(&"samesite=lax".to_owned()),
        "SameSite=Lax: {session_cookie}"
    );
    assert!(attrs.contains(&"path=/".to_owned()), "{session_cookie}");
    assert!(
        !attrs.contains(&"secure".to_owned()),
        "not Secure without TLS (secure_cookies=false): {session_cookie}"
    );
    let session = cookie_pair(&session_cookie);

    // The session opens the dashboard and, with its CSRF token, the API.
    let dashboard = status_of(agent.get(&server.url("/")).set("Cookie", &session).call());
    assert_eq!(dashboard.status(), 200);
    let html = dashboard.into_string().expect("html");
    assert!(html.contains("<h1>Dashboard</h1>"));
    let token = form_token(&html).expect("the sign-out form's CSRF token");
    let devices = server.url("/api/v1/devices");
    let listed = status_of(agent.get(&devices).set("Cookie", &session).call());
    assert_eq!(listed.status(), 200, "a session may read the API");
    let without = status_of(
        agent
            .post(&devices)
            .set("Cookie", &session)
            .send_json(json!({ "id": "ui-made" })),
    );
    assert_eq!(
        without.status(),
        403,
        "unsafe API calls with a session need X-CSRF-Token"
    );
    assert_eq!(without.content_type(), "application/problem+json");
    let problem: Value = without.into_json().expect("problem+json");
    assert_eq!(problem, forbidden("missing or wrong X-CSRF-Token"));
    assert_eq!(
        api(&server).get("/api/v1/devices/ui-made").0,
        404,
        "the refused call created nothing"
    );
    let with = status_of(
        agent
            .post(&devices)
            .set("Cookie", &session)
            .set("X-CSRF-Token", &token)
            .send_json(json!({ "id": "ui-made" })),
    );
    assert_eq!(with.status(), 201);

    // Sign-out needs the token too, then ends the session on the server.
    let logout = server.url("/logout");
    let forged = status_of(
        agent
            .post(&logout)
            .set("Cookie", &session)
            .send_form(&[("csrf_token", "nope")]),
    );
    assert_refused(forged, "the form expired; reload the page and try again");
    let still = status_of(agent.get(&server.url("/")).set("Cookie", &session).call());
    assert_eq!(still.status(), 200, "the forged sign-out ended nothing");
    let out = status_of(
        agent
            .post(&logout)
            .set("Cookie", &session)
            .send_form(&[("csrf_token", &token)]),
    );
    assert_eq!(out.status(), 303);
    assert_eq!(out.header("location"), Some("/login"));
    eventually(
        Duration::from_secs(5),
        "the old session cookie to stop working",
        || {
            let r = status_of(agent.get(&server.url("/")).set("Cookie", &session).call());
            (r.status() == 303 && r.header("location") == Some("/login")).then_some(())
        },
    );
}

#[test]
fn browser_provisions_a_device_sees_it_online_and_rotates_its_credentials() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let server = Server::start();
    provision(&server, "spare-1");
    browser.goto(&server.url("/devices"));
    browser.wait_for_path("/login");
    browser.sign_in("admin", ADMIN_PASSWORD);
    browser.wait_for_path("/");
    browser.click("nav a[href='/devices']");
    browser.wait_for_path("/devices");
    assert_eq!(browser.text("main h1"), "Devices");

    // Provision from the form: the device's page shows the credentials once.
    browser.type_into("#provision input[name=id]", "press-9");
    browser.type_into("#provision input[name=name]", "Press nine");
    browser.type_into("#provision input[name=kind]", "press");
    browser.type_into("#provision input[name=labels]", "line-2, site:north");
    browser.click("#provision button[type=submit]");
    let password = browser.text("#mqtt-password");
    assert_eq!(browser.text("#mqtt-username"), "press-9");
    assert!(password.len() >= 32, "password shown: {password:?}");
    assert!(browser.text("#device-labels").contains("site:north"));

    // The device logs in with them and the list shows it online.
    let mut mqtt = device(&server, "press-9", &password);
    mqtt.publish(
        "devices/press-9/telemetry",
        r#"{"values": {"temperature_c": 42}}"#,
        QoS::AtLeastOnce,
    );
    eventually(
        Duration::from_secs(10),
        "press-9 online in the list",
        || {
            browser.goto(&server.url("/devices"));
            (browser
                .find_all("tr[data-device='press-9'] .dot.online")
                .len()
                == 1)
                .then_some(())
        },
    );
    assert_eq!(
        browser
            .find_all("tr[data-device='spare-1'] .dot.offline")
            .len(),
        1
    );
    assert_eq!(
        browser.text("tr[data-device='spare-1'] .last-seen"),
        "never"
    );

    // The label filter (a GET form) keeps only press-9.
    browser.type_into("form.filters input[name=label]", "site:north");
    browser.click("form.filters button[type=submit]");
    eventually(Duration::from_secs(10), "the filtered list", || {
        (browser.find_all("tr[data-device='spare-1']").is_empty()).then_some(())
    });
    assert_eq!(browser.find_all("tr[data-device='press-9']").len(), 1);
    browser.screenshot("/tmp/plantd-devices.png");

    // Its page: presence and the latest value.
    browser.click("tr[data-device='press-9'] a");
    browser.wait_for_path("/devices/press-9");
    assert_eq!(browser.text("#presence-online"), "yes");
    // Never in a campaign: the firmware section says so.
    assert_eq!(browser.text("#firmware-reported"), "—");
    assert_eq!(browser.find_all("#firmware a[href='/firmware']").len(), 1);
    eventually(
        Duration::from_secs(10),
        "the latest value on the page",
        || {
            browser.goto(&server.url("/devices/press-9"));
            (browser
                .find_all("#latest tr[data-metric='temperature_c']")
                .len()
                == 1)
                .then_some(())
        },
    );

    // Rotate: a new password shown once, the live session cut, only the new one works.
    browser.click("#rotate");
    let rotated = eventually(Duration::from_secs(10), "the new password", || {
        browser
            .find_all("#mqtt-password")
            .first()
            .map(|_| browser.text("#mqtt-password"))
    });
    assert_ne!(rotated, password);
    browser.screenshot("/tmp/plantd-device.png");
    assert!(
        mqtt.closed_within(Duration::from_secs(5)).is_some(),
        "the session with the old password was not cut"
    );
    assert!(
        crate::support::mqtt::connect(&server, "press-9", Some(("press-9", &password))).is_err()
    );
    device(&server, "press-9", &rotated);
    browser.goto(&server.url("/devices/press-9"));
    assert!(
        browser.find_all("#mqtt-password").is_empty(),
        "the secret is shown only once"
    );
}

#[test]
fn device_forms_need_the_session_csrf_token() {
    let server = Server::start();
    provision(&server, "press-1");
    let agent = agent();
    let session = sign_in(&server, &agent);
    // Signed out, the pages send you to sign in; forms do nothing.
    let anonymous = status_of(agent.get(&server.url("/devices")).call());
    assert_eq!(anonymous.status(), 303);
    let anonymous = status_of(
        agent
            .post(&server.url("/devices/press-1/disable"))
            .send_form(&[("csrf_token", "x")]),
    );
    assert_eq!(anonymous.status(), 303);
    let (_, before) = api(&server).get("/api/v1/devices/press-1");
    for path in [
        "/devices/press-1/disable",
        "/devices/press-1/credentials",
        "/devices/press-1/delete",
    ] {
        let forged = status_of(
            agent
                .post(&server.url(path))
                .set("Cookie", &session)
                .send_form(&[("csrf_token", "forged")]),
        );
        assert_refused(forged, "the form expired; reload the page and try again");
    }
    let (_, device) = api(&server).get("/api/v1/devices/press-1");
    assert_eq!(device, before, "nothing changed (not even updated_at)");
    assert_eq!(device["enabled"], true, "nothing changed: {device}");

    // With the token: disable redirects back to the page, which says so.
    let page = status_of(
        agent
            .get(&server.url("/devices/press-1"))
            .set("Cookie", &session)
            .call(),
    );
    assert_eq!(page.status(), 200);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let html = page.into_string().expect("html");
    let token = form_token(&html).expect("a form's CSRF token");
    let done = status_of(
        agent
            .post(&server.url("/devices/press-1/disable"))
            .set("Cookie", &session)
            .send_form(&[("csrf_token", &token)]),
    );
    assert_eq!(done.status(), 303);
    assert_eq!(done.header("location"), Some("/devices/press-1"));
    let (_, device) = api(&server).get("/api/v1/devices/press-1");
    assert_eq!(device["enabled"], false, "{device}");

    // A bad edit: the page again with the error, nothing stored.
    let bad = status_of(
        agent
            .post(&server.url("/devices/press-1/edit"))
            .set("Cookie", &session)
            .send_form(&[
                ("csrf_token", &token),
                ("name", "Press"),
                ("labels", "Not Valid"),
                ("metadata", "{}"),
            ]),
    );
    assert_eq!(bad.status(), 422);
    assert!(bad.into_string().expect("html").contains("class=\"error\""));
    let bad = status_of(
        agent
            .post(&server.url("/devices/press-1/edit"))
            .set("Cookie", &session)
            .send_form(&[
                ("csrf_token", &token),
                ("name", "Press"),
                ("metadata", "[1]"),
            ]),
    );
    assert_eq!(bad.status(), 422);
    let good = status_of(
        agent
            .post(&server.url("/devices/press-1/edit"))
            .set("Cookie", &session)
            .send_form(&[
                ("csrf_token", &token),
                ("name", "Press one"),
                ("kind", "press"),
                ("labels", "line-1 line-2"),
                ("metadata", r#"{"serial": "Z9"}"#),
            ]),
    );
    assert_eq!(good.status(), 303);
    let (_, device) = api(&server).get("/api/v1/devices/press-1");
    assert_eq!(device["name"], "Press one");
    assert_eq!(device["labels"], json!(["line-1", "line-2"]));
    assert_eq!(device["metadata"], json!({"serial": "Z9"}));
}

/// The text of the first element matching `css`, read in one WebDriver command, so a page
/// that a form's redirect replaces meanwhile cannot leave a stale element behind.
fn settled_text(browser: &Browser, css: &str) -> Option<String> {
    browser
        .session_call(
            "POST",
            "/execute/sync",
            Some(json!({
                "script": "const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : null;",
                "args": [css],
            })),
        )
        .as_str()
        .map(str::to_owned)
}

#[test]
fn browser_edits_desired_state_and_sends_a_command_on_the_control_page() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let server = Server::start();
    let password = provision(&server, "press-9");

    // Signed out: the control page sends the browser to sign in.
    browser.goto(&server.url("/devices/press-9/control"));
    browser.wait_for_path("/login");
    browser.sign_in("admin", ADMIN_PASSWORD);
    browser.wait_for_path("/");
    browser.goto(&server.url("/devices/press-9/control"));
    assert_eq!(browser.text("#shadow-version"), "0");
    assert!(browser.text("#shadow-delta").contains("in sync"));

    // A merge patch typed into the desired editor: version 1, shown as desired and delta.
    browser.type_into(
        "form.shadow-edit textarea[name=patch]",
        r#"{"speed_rpm": 1200, "mode": "auto"}"#,
    );
    browser.click("form.shadow-edit button[type=submit]");
    eventually(Duration::from_secs(10), "version 1 shown", || {
        (settled_text(&browser, "#shadow-version").as_deref() == Some("1")).then_some(())
    });
    assert_eq!(browser.path(), "/devices/press-9/control");
    assert!(browser.text("#shadow-desired").contains("1200"));
    assert!(browser.text("#shadow-delta").contains("speed_rpm"));
    let (_, shadow) = api(&server).get("/api/v1/devices/press-9/shadow");
    assert_eq!(
        shadow["desired"],
        json!({"speed_rpm": 1200, "mode": "auto"})
    );

    // null deletes a key: version 2.
    browser.type_into("form.shadow-edit textarea[name=patch]", r#"{"mode": null}"#);
    browser.click("form.shadow-edit button[type=submit]");
    eventually(Duration::from_secs(10), "version 2 shown", || {
        (settled_text(&browser, "#shadow-version").as_deref() == Some("2")).then_some(())
    });
    assert!(!browser.text("#shadow-desired").contains("mode"));

    // Not JSON: refused on the page, what was typed kept, nothing changed.
    browser.type_into("form.shadow-edit textarea[name=patch]", "{speed: fast}");
    browser.click("form.shadow-edit button[type=submit]");
    let error = eventually(Duration::from_secs(10), "the refusal shown", || {
        settled_text(&browser, "#shadow p.error")
    });
    assert!(error.contains("not JSON"), "{error}");
    assert_eq!(browser.text("#shadow-version"), "2");

    // A command to the offline device: listed as pending; delivered when it connects.
    browser.type_into("form.command-send input[name=name]", "reboot");
    browser.type_into("form.command-send textarea[name=args]", r#"{"delay_s": 3}"#);
    browser.click("form.command-send button[type=submit]");
    eventually(
        Duration::from_secs(10),
        "the pending command listed",
        || {
            (settled_text(&browser, "table.command-list tbody tr .state").as_deref()
                == Some("pending"))
            .then_some(())
        },
    );
    let mut mqtt = device(&server, "press-9", &password);
    mqtt.subscribe("devices/press-9/commands/+");
    mqtt.expect(Duration::from_secs(10), "the command", |p| {
        matches!(p, rumqttc::Packet::Publish(p) if p.topic.starts_with("devices/press-9/commands/"))
    });
    eventually(Duration::from_secs(10), "delivered shown", || {
        browser.goto(&server.url("/devices/press-9/control"));
        (browser.text("table.command-list tbody tr .state") == "delivered").then_some(())
    });
    browser.screenshot("/tmp/plantd-device-control.png");

    // Cancel it from the list: cancelled, and no cancel button any more.
    browser.click("table.command-list tbody tr form.command-cancel button");
    eventually(Duration::from_secs(10), "cancelled shown", || {
        (settled_text(&browser, "table.command-list tbody tr .state").as_deref()
            == Some("cancelled"))
        .then_some(())
    });
    assert!(browser.find_all("form.command-cancel").is_empty());
}

#[test]
fn control_forms_need_a_session_and_its_csrf_token() {
    let server = Server::start();
    provision(&server, "press-8");
    let agent = agent();
    let session = sign_in(&server, &agent);
    let page = status_of(
        agent
            .get(&server.url("/devices/press-8/control"))
            .set("Cookie", &session)
            .call(),
    );
    assert_eq!(page.status(), 200);
    let html = page.into_string().expect("html");
    let token = form_token(&html).expect("a form's CSRF token");
    let shadow_form = server.url("/devices/press-8/shadow");
    let patch = [
        ("patch", r#"{"a": 1}"#),
        ("back", "https://elsewhere.example/"),
    ];
    let (_, shadow_before) = api(&server).get("/api/v1/devices/press-8/shadow");

    let no_session = status_of(
        agent
            .post(&shadow_form)
            .send_form(&[("csrf_token", token.as_str()), patch[0]]),
    );
    assert_eq!(no_session.status(), 303);
    assert_eq!(no_session.header("location"), Some("/login"));
    let forged = status_of(
        agent
            .post(&shadow_form)
            .set("Cookie", &session)
            .send_form(&[("csrf_token", "forged"), patch[0]]),
    );
    assert_refused(forged, "the form expired; reload the page and try again");
    let (_, shadow) = api(&server).get("/api/v1/devices/press-8/shadow");
    assert_eq!(shadow, shadow_before, "refused forms change nothing");
    assert_eq!(shadow["version"], 0, "refused forms change nothing");

    let accepted = status_of(
        agent
            .post(&shadow_form)
            .set("Cookie", &session)
            .send_form(&[("csrf_token", token.as_str()), patch[0], patch[1]]),
    );
    assert_eq!(accepted.status(), 303);
    assert_eq!(
        accepted.header("location"),
        Some("/devices/press-8/control"),
        "never back to another site"
    );
    let (_, shadow) = api(&server).get("/api/v1/devices/press-8/shadow");
    assert_eq!(shadow["version"], 1);

    let command_form = server.url("/devices/press-8/commands");
    let forged = status_of(
        agent
            .post(&command_form)
            .set("Cookie", &session)
            .send_form(&[("csrf_token", "forged"), ("name", "reboot")]),
    );
    assert_refused(forged, "the form expired; reload the page and try again");
    let (_, list) = api(&server).get("/api/v1/devices/press-8/commands");
    assert_eq!(list["items"], json!([]), "the forged form sent nothing");
    let bad = status_of(
        agent
            .post(&command_form)
            .set("Cookie", &session)
            .send_form(&[
                ("csrf_token", token.as_str()),
                ("name", "reboot"),
                ("args", "[1]"),
            ]),
    );
    assert_eq!(bad.status(), 422);
    assert!(bad
        .into_string()
        .expect("html")
        .contains("must be a JSON object"));
    let (_, list) = api(&server).get("/api/v1/devices/press-8/commands");
    assert_eq!(list["items"], json!([]));
    let missing = status_of(
        agent
            .get(&server.url("/devices/nobody/control"))
            .set("Cookie", &session)
            .call(),
    );
    assert_eq!(missing.status(), 404);
}
