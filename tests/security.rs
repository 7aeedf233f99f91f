//! Security hardening written as attacks (issue 14, items 7 and 8): each test says what it
//! tries, and passes only when plantd refuses it. Live streams end when their credential
//! goes (a revoked token, a signed-out session).

use std::io::{BufRead, BufReader};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::http::{api, metric, provision, token};
use crate::support::web::{agent, form_token, sign_in, status_of};
use crate::support::Server;

/// What the reader of a live stream saw: a line, or the end of the stream.
enum Seen {
    Line(String),
    End,
}

/// Opens the live telemetry stream of `device` with one request header; a thread reads it
/// line by line until it ends. Returns once the stream's `: connected` line arrived.
fn open_live(server: &Server, device: &str, header: (&str, &str)) -> Receiver<Seen> {
    let response = ureq::get(&server.url(&format!("/api/v1/devices/{device}/telemetry/live")))
        .set(header.0, header.1)
        .timeout(Duration::from_secs(60))
        .call()
        .expect("live stream");
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_type(), "text/event-stream");
    let (tx, rx) = channel();
    thread::spawn(move || {
        for line in BufReader::new(response.into_reader()).lines() {
            match line {
                Ok(line) => {
                    if tx.send(Seen::Line(line)).is_err() {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = tx.send(Seen::End);
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Seen::Line(line)) if line == ": connected" => return rx,
            Ok(Seen::Line(_)) => continue,
            Ok(Seen::End) => panic!("the live stream ended before it was connected"),
            Err(e) => panic!("no ': connected' line from the live stream: {e:?}"),
        }
    }
}

/// Waits until the stream ends; panics if it is still open after `limit`.
fn ends_within(rx: &Receiver<Seen>, limit: Duration, what: &str) {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Seen::Line(_)) => continue,
            Ok(Seen::End) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                panic!("{what}: the live stream is still open after {limit:?}")
            }
        }
    }
}

/// Item 8 (token). Attack: a leaked read token is revoked, but whoever holds it keeps a
/// live telemetry stream open and goes on watching the plant. Before the fix the stream
/// checked the token once and streamed on (keep-alives every 15 s) for ever.
#[test]
fn a_live_stream_ends_when_its_token_is_revoked() {
    let server = Server::start();
    provision(&server, "press-1");
    let (id, secret) = token(&server, &["read"]);
    let stream = open_live(
        &server,
        "press-1",
        ("Authorization", &format!("Bearer {secret}")),
    );
    let (status, body) = api(&server).delete(&format!("/api/v1/tokens/{id}"));
    assert_eq!(status, 204, "revoke: {body}");
    ends_within(&stream, Duration::from_secs(6), "token revoked");
    assert!(metric(&server, "plantd_http_live_streams_revoked_total", "") >= 1.0);
    // And it cannot be opened again with that token.
    let again = status_of(
        ureq::get(&server.url("/api/v1/devices/press-1/telemetry/live"))
            .set("Authorization", &format!("Bearer {secret}"))
            .call(),
    );
    assert_eq!(again.status(), 401);
}

/// Item 8 (session). Attack: a person signs out of a shared control-room PC, but the
/// telemetry page's live stream (opened with the session cookie) stays open and keeps
/// delivering to whoever sits down next. Before the fix sign-out did not end it.
#[test]
fn a_live_stream_ends_when_its_session_signs_out() {
    let server = Server::start();
    provision(&server, "press-2");
    let agent = agent();
    let session = sign_in(&server, &agent);
    let stream = open_live(&server, "press-2", ("Cookie", &session));
    let dashboard = status_of(agent.get(&server.url("/")).set("Cookie", &session).call());
    assert_eq!(dashboard.status(), 200);
    let csrf = form_token(&dashboard.into_string().expect("page")).expect("a form token");
    let signed_out = status_of(
        agent
            .post(&server.url("/logout"))
            .set("Cookie", &session)
            .send_form(&[("csrf_token", &csrf)]),
    );
    assert_eq!(signed_out.status(), 303, "sign out");
    ends_within(&stream, Duration::from_secs(6), "signed out");
}
