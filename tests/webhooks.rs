//! Webhooks against a real local HTTP receiver: signed deliveries (Standard Webhooks),
//! retries while the receiver is down (also across a plantd kill and restart), no
//! redirects, a subscription disabled after failing too long and enabled again, the
//! delivery log, manual redelivery (API and UI), validation and the admin scope.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::support::eventually;
use crate::support::http::{api, metric, provision, token};
use crate::support::server::{free_port, Server, ADMIN_PASSWORD};
use crate::support::web::{agent, assert_refused, form_token, sign_in, status_of};

/// Short retries, so a test sees several attempts in a second or two.
pub(crate) const FAST_RETRIES: [(&str, &str); 2] = [
    ("PLANTD_WEBHOOKS_RETRY_INITIAL_MS", "100"),
    ("PLANTD_WEBHOOKS_RETRY_MAX_MS", "400"),
];

/// One request as the receiver read it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: HashMap<String, String>,
    pub(crate) body: String,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
}

/// A webhook receiver: a real HTTP/1.1 server on a thread that answers every request with
/// `status` (and `location`, if set) and records what it got.
pub(crate) struct Receiver {
    port: u16,
    status: Arc<AtomicU16>,
    got: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    pub(crate) fn start(status: u16) -> Receiver {
        Receiver::start_on(free_port(), status, None)
    }

    pub(crate) fn start_on(port: u16, status: u16, location: Option<String>) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the receiver");
        let status = Arc::new(AtomicU16::new(status));
        let got = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (status, got, stop) = (status.clone(), got.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let code = status.load(Ordering::SeqCst);
                    if let Some(request) = serve(stream, code, location.as_deref()) {
                        got.lock().expect("lock").push(request);
                    }
                }
            })
        };
        Receiver {
            port,
            status,
            got,
            stop,
            thread: Some(thread),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    pub(crate) fn requests(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }

    /// Waits until `n` requests came; returns them all.
    pub(crate) fn wait_for(&self, n: usize) -> Vec<Received> {
        eventually(
            Duration::from_secs(20),
            &format!("{n} webhook request(s)"),
            || {
                let got = self.requests();
                (got.len() >= n).then_some(got)
            },
        )
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request and answers it; `None` when it was not a whole request.
fn serve(stream: TcpStream, status: u16, location: Option<&str>) -> Option<Received> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    let extra = location
        .map(|l| format!("Location: {l}\r\n"))
        .unwrap_or_default();
    let mut out = stream;
    let _ = write!(
        out,
        "HTTP/1.1 {status} Status\r\n{extra}Content-Length: 2\r\nConnection: close\r\n\r\nok"
    );
    Some(Received {
        method,
        path,
        headers,
        body: String::from_utf8(body).ok()?,
    })
}

/// Creates a webhook through the API; returns the reply (with its secret).
fn create(server: &Server, url: &str, events: &[&str]) -> Value {
    let (status, body) =
        api(server).post("/api/v1/webhooks", json!({"url": url, "events": events}));
    assert_eq!(status, 201, "{body}");
    body
}

fn deliveries(server: &Server, webhook: &str) -> Vec<Value> {
    let (status, body) = api(server).get(&format!("/api/v1/webhooks/{webhook}/deliveries"));
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().expect("items").clone()
}

/// Waits until the webhook's log holds `n` rows all in `status`; returns them.
fn wait_log(server: &Server, webhook: &str, n: usize, status: &str) -> Vec<Value> {
    eventually(
        Duration::from_secs(20),
        &format!("{n} delivery(ies) {status}"),
        || {
            let log = deliveries(server, webhook);
            (log.len() == n && log.iter().all(|d| d["status"] == status)).then_some(log)
        },
    )
}

fn stored_event(server: &Server, kind: &str, device: &str) -> Value {
    let (status, page) = api(server).get(&format!("/api/v1/events?type={kind}&limit=1000"));
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["data"]["device_id"] == device)
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} of {device}: {page}"))
}

/// A UI page as the signed-in admin sees it (200 asserted).
fn admin_page(server: &Server, agent: &ureq::Agent, cookie: &str, path: &str) -> String {
    let page = status_of(agent.get(&server.url(path)).set("Cookie", cookie).call());
    assert_eq!(page.status(), 200, "{path}");
    page.into_string().expect("html")
}

/// Checks the Standard Webhooks signature of a request with the subscription's secret.
pub(crate) fn assert_signed(request: &Received, secret: &str) {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64 key");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("key");
    mac.update(
        format!(
            "{}.{}.{}",
            request.header("webhook-id"),
            request.header("webhook-timestamp"),
            request.body
        )
        .as_bytes(),
    );
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    assert_eq!(request.header("webhook-signature"), expected, "{request:?}");
}

#[test]
fn an_event_is_delivered_signed_and_logged() {
    let server = Server::start();
    let receiver = Receiver::start(200);
    let created = create(&server, &receiver.url("/hook"), &["device.*"]);
    let id = created["id"].as_str().expect("id").to_owned();
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{created}");
    assert_eq!(STANDARD.decode(&secret[6..]).expect("base64").len(), 32);
    assert_eq!(created["events"], json!(["device.*"]));
    assert_eq!(created["enabled"], true);
    // Only the create reply carries the secret.
    let (status, shown) = api(&server).get(&format!("/api/v1/webhooks/{id}"));
    assert_eq!(status, 200, "{shown}");
    assert!(shown.get("secret").is_none(), "{shown}");
    assert_eq!(shown["secret_hint"], format!("{}…", &secret[..10]));
    // A webhook for other types gets nothing of this.
    let other = Receiver::start(200);
    create(
        &server,
        &other.url("/other"),
        &["command.*", "firmware.uploaded"],
    );

    provision(&server, "press-1");
    let got = receiver.wait_for(1);
    let event = stored_event(&server, "device.provisioned", "press-1");
    let request = &got[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/hook")
    );
    assert_eq!(request.header("content-type"), "application/json");
    let body: Value = serde_json::from_str(&request.body).expect("JSON body");
    assert_eq!(body, event, "the body is the event's CloudEvents envelope");
    assert_eq!(
        request.header("webhook-id"),
        event["id"].as_str().expect("id")
    );
    let sent_at: i64 = request
        .header("webhook-timestamp")
        .parse()
        .expect("seconds");
    let now = chrono::Utc::now().timestamp();
    assert!(
        (now - 60..=now + 1).contains(&sent_at),
        "{sent_at} vs {now}"
    );
    assert_signed(request, &secret);

    let log = wait_log(&server, &id, 1, "delivered");
    let row = &log[0];
    assert_eq!(row["event_id"], event["id"]);
    assert_eq!(row["event_type"], "device.provisioned");
    assert_eq!(row["attempts"], 1);
    assert_eq!(row["response_code"], 200);
    assert!(
        row["latency_ms"].as_i64().is_some_and(|ms| ms >= 0),
        "{row}"
    );
    assert!(row["delivered_at"].is_string(), "{row}");
    assert!(
        row["last_error"].is_null() && row["next_attempt_at"].is_null(),
        "{row}"
    );
    assert_eq!(receiver.requests().len(), 1, "delivered once");
    assert!(other.requests().is_empty(), "not a type it asked for");
    assert_eq!(
        metric(
            &server,
            "plantd_webhook_deliveries_total",
            "outcome=\"delivered\""
        ),
        1.0
    );
}

#[test]
fn bad_subscriptions_are_refused_naming_the_field_and_only_admins_may_manage() {
    let server = Server::start();
    for (body, field) in [
        (
            json!({"url": "ftp://example.com/x", "events": ["*"]}),
            "url",
        ),
        (json!({"url": "not a url", "events": ["*"]}), "url"),
        (json!({"url": "http://", "events": ["*"]}), "url"),
        (
            json!({"url": "http://example.com/", "events": ["no.such_type"]}),
            "events",
        ),
        (
            json!({"url": "http://example.com/", "events": []}),
            "events",
        ),
        (
            json!({"url": "http://example.com/", "events": ["*"], "secret": "hunter2"}),
            "secret",
        ),
        (
            json!({"url": "http://example.com/", "events": ["*"], "secret": "whsec_c2hvcnQ="}),
            "secret",
        ),
    ] {
        let (status, problem) = api(&server).post("/api/v1/webhooks", body.clone());
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
        assert_eq!(problem["status"], 422);
    }
    // A secret of its own is kept as given.
    let mine = format!("whsec_{}", STANDARD.encode([7u8; 24]));
    let (status, created) = api(&server).post(
        "/api/v1/webhooks",
        json!({"url": "https://example.com/hook", "events": ["device.*", "*"], "secret": mine}),
    );
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["secret"], mine.as_str());

    let (_, writer) = token(&server, &["read", "write"]);
    let as_writer = api(&server).with_token(&writer);
    let new = json!({"url": "http://127.0.0.1:9/x", "events": ["*"]});
    as_writer.assert_forbidden("POST", "/api/v1/webhooks", Some(new), "admin");
    as_writer.assert_forbidden("GET", "/api/v1/webhooks", None, "admin");
    let path = format!("/api/v1/webhooks/{}", created["id"].as_str().expect("id"));
    as_writer.assert_forbidden("GET", &path, None, "admin");
    as_writer.assert_forbidden("PATCH", &path, Some(json!({"enabled": false})), "admin");
    as_writer.assert_forbidden("DELETE", &path, None, "admin");
    as_writer.assert_forbidden("GET", &format!("{path}/deliveries"), None, "admin");
    let (status, list) = api(&server).get("/api/v1/webhooks");
    assert_eq!(status, 200, "{list}");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "only the admin's webhook: {list}");
    assert_eq!(items[0]["url"], "https://example.com/hook");

    // In the UI, an engineer sees no Webhooks entry, and neither the page nor its forms.
    crate::device_pages::add_user(&server, "erin", "engineer");
    let agent = agent();
    let session = crate::device_pages::sign_in(&server, &agent, "erin", ADMIN_PASSWORD);
    let home = status_of(agent.get(&server.url("/")).set("Cookie", &session).call());
    let html = home.into_string().expect("html");
    assert!(html.contains("erin (engineer)"), "{html}");
    assert!(!html.contains("href=\"/webhooks\""), "{html}");
    let csrf = form_token(&html).expect("the sign-out form's token");
    let refused = status_of(
        agent
            .get(&server.url("/webhooks"))
            .set("Cookie", &session)
            .call(),
    );
    assert_refused(refused, "only admins manage webhooks");
    let refused = status_of(
        agent
            .post(&server.url("/webhooks"))
            .set("Cookie", &session)
            .send_form(&[
                ("csrf_token", &csrf),
                ("url", "http://127.0.0.1:9/x"),
                ("events", "*"),
            ]),
    );
    assert_refused(refused, "only admins manage webhooks");
    let (_, list) = api(&server).get("/api/v1/webhooks");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");

    let (status, _) = api(&server).delete(&path);
    assert_eq!(status, 204);
    let (status, _) = api(&server).get(&path);
    assert_eq!(status, 404);
}

#[test]
fn a_receiver_that_is_down_gets_the_event_once_it_is_back() {
    let server = Server::start_with(&FAST_RETRIES);
    let port = free_port();
    let created = create(&server, &format!("http://127.0.0.1:{port}/hook"), &["*"]);
    let id = created["id"].as_str().expect("id").to_owned();
    provision(&server, "press-2");
    let failing = eventually(Duration::from_secs(20), "failed attempts", || {
        let log = deliveries(&server, &id);
        log.first()
            .filter(|d| d["status"] == "failed" && d["attempts"].as_i64() >= Some(2))
            .cloned()
    });
    assert!(failing["response_code"].is_null(), "{failing}");
    assert!(
        failing["last_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{failing}"
    );
    assert!(failing["next_attempt_at"].is_string(), "{failing}");
    assert!(
        metric(
            &server,
            "plantd_webhook_deliveries_total",
            "outcome=\"failed\""
        ) >= 2.0
    );
    let (_, hook) = api(&server).get(&format!("/api/v1/webhooks/{id}"));
    assert!(hook["failing_since"].is_string(), "{hook}");

    let receiver = Receiver::start_on(port, 200, None);
    let got = receiver.wait_for(1);
    let event = stored_event(&server, "device.provisioned", "press-2");
    assert_eq!(
        got[0].header("webhook-id"),
        event["id"].as_str().expect("id")
    );
    assert_signed(&got[0], created["secret"].as_str().expect("secret"));
    let log = wait_log(&server, &id, 1, "delivered");
    assert!(
        log[0]["attempts"].as_i64() > failing["attempts"].as_i64(),
        "{log:?}"
    );
    assert_eq!(log[0]["response_code"], 200);
    let (_, hook) = api(&server).get(&format!("/api/v1/webhooks/{id}"));
    assert!(
        hook["failing_since"].is_null(),
        "a success ends the failing streak: {hook}"
    );
    assert_eq!(receiver.requests().len(), 1);
}

#[test]
fn deliveries_survive_a_kill_and_restart_and_arrive_once() {
    let hold = std::env::temp_dir().join(format!("plantd-hold-webhooks-{}", std::process::id()));
    let _ = std::fs::remove_file(&hold);
    let mut env = FAST_RETRIES.to_vec();
    let hold_path = hold.to_str().expect("utf-8").to_owned();
    env.push(("PLANTD_TEST_HOLD_EVENTS", &hold_path));
    let mut server = Server::start_with(&env);
    let port = free_port();
    let created = create(
        &server,
        &format!("http://127.0.0.1:{port}/hook"),
        &["device.provisioned"],
    );
    let id = created["id"].as_str().expect("id").to_owned();

    // A: in the delivery log, failing while the receiver is down.
    provision(&server, "press-a");
    eventually(Duration::from_secs(20), "a failed attempt", || {
        deliveries(&server, &id)
            .first()
            .filter(|d| d["status"] == "failed")
            .cloned()
    });
    // B: committed to the outbox, not yet handed to the webhooks subscriber.
    std::fs::write(&hold, b"").expect("hold file");
    provision(&server, "press-b");
    stored_event(&server, "device.provisioned", "press-b");
    assert_eq!(
        deliveries(&server, &id).len(),
        1,
        "B is still in the outbox only"
    );

    // A power cut, then plantd comes back; later the receiver does too.
    server.kill();
    std::fs::remove_file(&hold).expect("release the hold");
    server.restart_stopped();
    let receiver = Receiver::start_on(port, 200, None);
    let log = wait_log(&server, &id, 2, "delivered");
    let got = receiver.requests();
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for request in &got {
        assert_signed(request, created["secret"].as_str().expect("secret"));
        *per_id
            .entry(request.header("webhook-id").to_owned())
            .or_default() += 1;
    }
    let expected: HashMap<String, usize> = ["press-a", "press-b"]
        .iter()
        .map(|d| {
            let event = stored_event(&server, "device.provisioned", d);
            (event["id"].as_str().expect("id").to_owned(), 1)
        })
        .collect();
    assert_eq!(per_id, expected, "each event exactly once: {log:?}");
    let _ = std::fs::remove_file(&hold);
}

#[test]
fn redirects_are_not_followed() {
    let server = Server::start_with(&FAST_RETRIES);
    let target = Receiver::start(200);
    let redirecting = Receiver::start_on(free_port(), 302, Some(target.url("/elsewhere")));
    let created = create(&server, &redirecting.url("/hook"), &["*"]);
    let id = created["id"].as_str().expect("id").to_owned();
    provision(&server, "press-3");
    let failing = eventually(Duration::from_secs(20), "a refused redirect", || {
        deliveries(&server, &id)
            .first()
            .filter(|d| d["status"] == "failed" && d["attempts"].as_i64() >= Some(2))
            .cloned()
    });
    assert_eq!(failing["response_code"], 302, "{failing}");
    assert!(
        failing["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("redirect")),
        "{failing}"
    );
    assert!(redirecting.requests().len() >= 2);
    assert!(
        target.requests().is_empty(),
        "the redirect target got nothing"
    );
}

#[test]
fn a_webhook_failing_too_long_is_disabled_and_can_be_enabled_again() {
    let mut env = FAST_RETRIES.to_vec();
    env.push(("PLANTD_WEBHOOKS_DISABLE_AFTER_S", "1"));
    let server = Server::start_with(&env);
    let receiver = Receiver::start(500);
    let created = create(&server, &receiver.url("/hook"), &["device.*"]);
    let id = created["id"].as_str().expect("id").to_owned();
    provision(&server, "press-4");
    let hook = eventually(Duration::from_secs(20), "the webhook disabled", || {
        let (_, hook) = api(&server).get(&format!("/api/v1/webhooks/{id}"));
        (hook["enabled"] == false).then_some(hook)
    });
    let reason = hook["disabled_reason"].as_str().expect("a reason");
    assert!(reason.contains("no delivery succeeded since"), "{reason}");
    assert!(reason.contains("HTTP 500"), "{reason}");
    assert_eq!(metric(&server, "plantd_webhooks_disabled_total", ""), 1.0);
    let log = deliveries(&server, &id);
    assert_eq!(log[0]["response_code"], 500, "{log:?}");
    // Disabled: no more attempts, and new events are not queued for it.
    let attempts = receiver.requests().len();
    provision(&server, "press-5");
    stored_event(&server, "device.provisioned", "press-5");
    assert_eq!(deliveries(&server, &id).len(), 1);
    // The UI says why.
    let agent = agent();
    let cookie = sign_in(&server, &agent);
    let html = admin_page(&server, &agent, &cookie, &format!("/webhooks/{id}"));
    assert!(html.contains("no delivery succeeded since"), "{html}");
    assert_eq!(
        receiver.requests().len(),
        attempts,
        "no attempt while disabled"
    );

    receiver.answer(200);
    let (status, hook) =
        api(&server).patch(&format!("/api/v1/webhooks/{id}"), json!({"enabled": true}));
    assert_eq!(status, 200, "{hook}");
    assert_eq!(hook["enabled"], true);
    assert!(hook["disabled_reason"].is_null(), "{hook}");
    let log = wait_log(&server, &id, 1, "delivered");
    assert_eq!(log[0]["response_code"], 200);
}

#[test]
fn a_delivery_is_sent_again_by_hand_with_the_same_id() {
    let server = Server::start();
    let receiver = Receiver::start(200);
    let created = create(&server, &receiver.url("/hook"), &["device.provisioned"]);
    let id = created["id"].as_str().expect("id").to_owned();
    provision(&server, "press-6");
    let first = receiver.wait_for(1);
    let log = wait_log(&server, &id, 1, "delivered");
    let delivery = log[0]["id"].as_str().expect("delivery id").to_owned();

    let (status, body) = api(&server).post(
        &format!("/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver"),
        json!({}),
    );
    assert_eq!(status, 202, "{body}");
    let got = receiver.wait_for(2);
    assert_eq!(got[1].header("webhook-id"), first[0].header("webhook-id"));
    assert_eq!(got[1].body, first[0].body);
    assert_signed(&got[1], created["secret"].as_str().expect("secret"));
    eventually(Duration::from_secs(20), "the second attempt logged", || {
        deliveries(&server, &id)
            .first()
            .filter(|d| d["status"] == "delivered" && d["attempts"] == 2)
            .cloned()
    });
    let (status, _) = api(&server).post(
        &format!("/api/v1/webhooks/{id}/deliveries/no-such-delivery/redeliver"),
        json!({}),
    );
    assert_eq!(status, 404);

    // The UI's button does the same, with the session's CSRF token only.
    let agent = agent();
    let cookie = sign_in(&server, &agent);
    let html = admin_page(&server, &agent, &cookie, &format!("/webhooks/{id}"));
    assert!(
        html.contains(&format!("/deliveries/{delivery}/redeliver")),
        "{html}"
    );
    let csrf = form_token(&html).expect("csrf token");
    let action = server.url(&format!("/webhooks/{id}/deliveries/{delivery}/redeliver"));
    let forged = status_of(
        agent
            .post(&action)
            .set("Cookie", &cookie)
            .send_form(&[("csrf_token", "wrong")]),
    );
    assert_eq!(forged.status(), 403);
    let sent = status_of(
        agent
            .post(&action)
            .set("Cookie", &cookie)
            .send_form(&[("csrf_token", &csrf)]),
    );
    assert_eq!(sent.status(), 303);
    let got = receiver.wait_for(3);
    assert!(got
        .iter()
        .all(|r| r.header("webhook-id") == first[0].header("webhook-id")));
    // The list page shows it, in the admin's Settings section.
    let html = admin_page(&server, &agent, &cookie, "/webhooks");
    assert!(html.contains(&receiver.url("/hook")), "{html}");
    assert!(
        html.contains("href=\"/settings\" aria-current=\"page\">Settings</a>"),
        "{html}"
    );

    // The create form: a bad selector is shown as the error; a good one shows the
    // generated secret once, and the new webhook gets the next event.
    let csrf = form_token(&html).expect("csrf token");
    let form = |events: &str| {
        status_of(
            agent
                .post(&server.url("/webhooks"))
                .set("Cookie", &cookie)
                .send_form(&[
                    ("csrf_token", &csrf),
                    ("url", &receiver.url("/from-ui")),
                    ("events", events),
                    ("secret", ""),
                ]),
        )
    };
    let refused = form("no.such_type");
    assert_eq!(refused.status(), 422);
    assert!(refused
        .into_string()
        .expect("html")
        .contains("unknown event type"));
    let made = form("device.deleted, device.disabled");
    assert_eq!(made.status(), 200);
    let html = made.into_string().expect("html");
    let secret = html
        .split("<code class=\"hash\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the secret on the page")
        .to_owned();
    assert!(secret.starts_with("whsec_"), "{html}");
    let (status, _) = api(&server).post("/api/v1/devices/press-6/disable", json!({}));
    assert_eq!(status, 200);
    let got = receiver.wait_for(4);
    let from_ui = got
        .iter()
        .find(|r| r.path == "/from-ui")
        .expect("the UI's webhook");
    assert_signed(from_ui, &secret);
    assert!(from_ui.body.contains("device.disabled"), "{from_ui:?}");
}
