//! One delivery attempt over HTTP: POST the stored body with the Standard Webhooks headers,
//! no redirects followed, bounded connect and response times. Blocking (ureq): run it on a
//! blocking thread, never on an executor.

use std::io::Read;
use std::time::{Duration, Instant};

use crate::signing;
use crate::store::{AttemptRecord, Due};

/// Bytes of an error kept in the log.
const MAX_ERROR_BYTES: usize = 300;

/// The HTTP client every attempt shares: no redirects, the settings' timeouts.
pub fn agent(connect_timeout: Duration, timeout: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .redirects(0)
        .timeout_connect(connect_timeout)
        .timeout(timeout)
        .user_agent(concat!("plantd-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Sends `due` once; 2xx is success, anything else (a redirect too) a failure.
pub fn send(agent: &ureq::Agent, due: &Due) -> AttemptRecord {
    let delivery = &due.delivery;
    let started = Instant::now();
    let at = plantd_contracts::time::now_ms();
    let timestamp = at.div_euclid(1000);
    let key = match signing::key_of(&due.secret) {
        Ok(key) => key,
        Err(_) => {
            return AttemptRecord {
                response_code: None,
                error: Some("the subscription's secret is not valid".to_owned()),
                latency_ms: 0,
                at,
            }
        }
    };
    let signature = signing::sign(&key, &delivery.event_id, timestamp, &delivery.body);
    let result = agent
        .post(&due.url)
        .set("Content-Type", "application/json")
        .set("webhook-id", &delivery.event_id)
        .set("webhook-timestamp", &timestamp.to_string())
        .set("webhook-signature", &signature)
        .send_string(&delivery.body);
    let (response_code, error) = match result {
        Ok(response) if (200..300).contains(&response.status()) => {
            (Some(i32::from(response.status())), None)
        }
        Ok(response) => {
            let code = response.status();
            let why = match response.header("location") {
                Some(_) => format!("HTTP {code} (redirects are not followed)"),
                None => format!("HTTP {code}"),
            };
            (Some(i32::from(code)), Some(why))
        }
        Err(ureq::Error::Status(code, response)) => {
            let mut head = Vec::new();
            let _ = response
                .into_reader()
                .take(MAX_ERROR_BYTES as u64 + 1)
                .read_to_end(&mut head);
            let text = String::from_utf8_lossy(&head);
            let why = match text.trim() {
                "" => format!("HTTP {code}"),
                text => format!("HTTP {code}: {text}"),
            };
            (Some(i32::from(code)), Some(why))
        }
        Err(ureq::Error::Transport(t)) => (None, Some(t.to_string())),
    };
    AttemptRecord {
        response_code,
        error: error.map(clip),
        latency_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        at,
    }
}

fn clip(mut text: String) -> String {
    if text.len() > MAX_ERROR_BYTES {
        let mut end = MAX_ERROR_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}
