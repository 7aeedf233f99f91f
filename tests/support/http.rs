//! HTTP helpers: JSON calls with a bearer token, returning status and body.

use std::time::Duration;

use serde_json::Value;

use super::server::{Server, ADMIN_TOKEN};

pub struct Api {
    base: String,
    token: Option<String>,
}

pub fn api(server: &Server) -> Api {
    Api {
        base: server.url(""),
        token: Some(ADMIN_TOKEN.to_owned()),
    }
}

pub fn anonymous(server: &Server) -> Api {
    Api {
        base: server.url(""),
        token: None,
    }
}

fn finish(result: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("HTTP transport error: {e}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

impl Api {
    pub fn with_token(&self, token: &str) -> Api {
        Api {
            base: self.base.clone(),
            token: Some(token.to_owned()),
        }
    }

    fn request(&self, method: &str, path: &str) -> ureq::Request {
        let mut req =
            ureq::request(method, &format!("{}{path}", self.base)).timeout(Duration::from_secs(30));
        if let Some(token) = &self.token {
            req = req.set("Authorization", &format!("Bearer {token}"));
        }
        req
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        finish(self.request("GET", path).call())
    }

    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        finish(self.request("POST", path).send_json(body))
    }

    pub fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        finish(self.request("PATCH", path).send_json(body))
    }

    pub fn delete(&self, path: &str) -> (u16, Value) {
        finish(self.request("DELETE", path).call())
    }

    /// Calls `method path` (with a JSON `body`) and asserts the API's refusal for want of
    /// `scope`: 403 and the whole problem+json answer, media type included.
    pub fn assert_forbidden(&self, method: &str, path: &str, body: Option<Value>, scope: &str) {
        let request = self.request(method, path);
        let result = match body {
            Some(body) => request.send_json(body),
            None => request.call(),
        };
        let response = match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("HTTP transport error: {e}"),
        };
        let status = response.status();
        let content_type = response.content_type().to_owned();
        let text = response.into_string().unwrap_or_default();
        assert_eq!(status, 403, "{method} {path}: {text}");
        assert_eq!(
            content_type, "application/problem+json",
            "{method} {path}: {text}"
        );
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"));
        assert_eq!(
            body,
            forbidden(&format!("this needs the '{scope}' scope")),
            "{method} {path}"
        );
    }

    /// POST of raw bytes with Basic auth (the device's own credentials).
    pub fn post_as_device(
        &self,
        path: &str,
        user: &str,
        password: &str,
        body: &[u8],
    ) -> (u16, Value) {
        use base64::Engine;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        finish(
            ureq::post(&format!("{}{path}", self.base))
                .timeout(Duration::from_secs(30))
                .set("Authorization", &format!("Basic {auth}"))
                .set("Content-Type", "application/json")
                .send_bytes(body),
        )
    }
}

/// The problem+json body of a 403 with `detail`.
pub fn forbidden(detail: &str) -> Value {
    serde_json::json!({
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
        "detail": detail,
    })
}

/// Provisions a device through the API; returns its MQTT password.
pub fn provision(server: &Server, id: &str) -> String {
    let (status, body) = api(server).post(
        "/api/v1/devices",
        serde_json::json!({ "id": id, "name": format!("Device {id}") }),
    );
    assert_eq!(status, 201, "provision {id}: {body}");
    assert_eq!(body["credentials"]["username"], id);
    body["credentials"]["password"]
        .as_str()
        .expect("password")
        .to_owned()
}

/// Creates an API token with the given scopes; returns (id, secret).
pub fn token(server: &Server, scopes: &[&str]) -> (String, String) {
    let (status, body) = api(server).post(
        "/api/v1/tokens",
        serde_json::json!({ "name": "test", "scopes": scopes }),
    );
    assert_eq!(status, 201, "create token: {body}");
    (
        body["id"].as_str().expect("id").to_owned(),
        body["secret"].as_str().expect("secret").to_owned(),
    )
}

/// Points of one metric of one device over all time.
pub fn points(server: &Server, device: &str, metric: &str) -> Vec<(String, f64)> {
    let (status, body) = api(server).get(&format!(
        "/api/v1/devices/{device}/telemetry?metric={metric}&from=0&to=4102444800000"
    ));
    assert_eq!(status, 200, "{body}");
    body["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| {
            (
                p["ts"].as_str().expect("ts").to_owned(),
                p["value"].as_f64().expect("value"),
            )
        })
        .collect()
}

/// Waits until at least `at_least` points of the metric are stored, and returns them all.
pub fn stored_points(
    server: &Server,
    device: &str,
    metric: &str,
    at_least: usize,
) -> Vec<(String, f64)> {
    super::eventually(
        std::time::Duration::from_secs(10),
        &format!("{at_least} point(s) of {device}/{metric}"),
        || {
            let p = points(server, device, metric);
            (p.len() >= at_least).then_some(p)
        },
    )
}

/// The value of a Prometheus counter or gauge (summed over label sets that contain `labels`).
pub fn metric(server: &Server, name: &str, labels: &str) -> f64 {
    let text = ureq::get(&server.url("/metrics"))
        .set("Authorization", &format!("Bearer {ADMIN_TOKEN}"))
        .call()
        .expect("metrics")
        .into_string()
        .expect("text");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.starts_with(name)
                && (l[name.len()..].starts_with(' ') || l[name.len()..].starts_with('{'))
        })
        .filter(|l| labels.is_empty() || l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
