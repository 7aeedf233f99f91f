//! The REST API over real HTTP: tokens (secret shown once, scopes checked, revocation),
//! authentication and scopes on every route, devices (provisioning, conflicts, validation,
//! paging), telemetry range queries and their errors, and the operations endpoints.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::http::{
    anonymous, api, forbidden, metric, points, provision, stored_points, token,
};
use crate::support::server::ADMIN_TOKEN;
use crate::support::{eventually, Server};

/// A raw call, for what the JSON helpers hide (headers): returns status, content type and
/// body text. POSTs send `body` as JSON.
fn raw_with(
    server: &Server,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: &Value,
) -> (u16, String, String) {
    let mut req = ureq::request(method, &server.url(path)).timeout(Duration::from_secs(30));
    if let Some(secret) = bearer {
        req = req.set("Authorization", &format!("Bearer {secret}"));
    }
    let result = if method == "POST" {
        req.send_json(body.clone())
    } else {
        req.call()
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("HTTP transport error: {e}"),
    };
    let status = response.status();
    let content_type = response.header("content-type").unwrap_or("").to_owned();
    (
        status,
        content_type,
        response.into_string().unwrap_or_default(),
    )
}

fn raw(server: &Server, method: &str, path: &str, bearer: Option<&str>) -> (u16, String, String) {
    raw_with(server, method, path, bearer, &json!({}))
}

/// The field names of a problem's `errors`.
fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A well-formed RFC 9457 problem with the given status.
fn assert_problem(status: u16, body: &Value, expected: u16) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["status"], expected, "problem body: {body}");
    assert!(body["title"].is_string(), "problem has a title: {body}");
    assert!(body["detail"].is_string(), "problem has a detail: {body}");
}

#[test]
fn tokens_show_their_secret_once_check_scopes_and_revoke_at_once() {
    let server = Server::start();
    let admin = api(&server);

    let (status, created) = admin.post(
        "/api/v1/tokens",
        json!({ "name": "grafana", "scopes": ["read"] }),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(
        id.starts_with("tok."),
        "token ids carry the tok. prefix: {id}"
    );
    assert!(secret.len() >= 32, "a long random secret: {secret}");
    assert_eq!(created["name"], "grafana");
    assert_eq!(created["scopes"], json!(["read"]));

    // Listed, but never with its secret.
    let (status, _, text) = raw(&server, "GET", "/api/v1/tokens", Some(ADMIN_TOKEN));
    assert_eq!(status, 200);
    assert!(
        !text.contains(&secret),
        "GET /tokens leaks a secret: {text}"
    );
    assert!(
        !text.contains(ADMIN_TOKEN),
        "GET /tokens leaks the admin secret: {text}"
    );
    let list: Value = serde_json::from_str(&text).expect("json");
    let items = list["items"].as_array().expect("items");
    let listed = items
        .iter()
        .find(|t| t["id"] == id.as_str())
        .unwrap_or_else(|| panic!("new token listed: {list}"));
    assert_eq!(listed["name"], "grafana");
    assert!(
        items.iter().all(|t| t.get("secret").is_none()),
        "no secret field in the list: {list}"
    );
    assert!(
        items.iter().any(|t| t["id"] == "tok.admin"),
        "the bootstrap token is listed: {list}"
    );

    // The new token works for what its scope allows.
    assert_eq!(admin.with_token(&secret).get("/api/v1/devices").0, 200);

    // Unknown scopes are a 400 problem naming the field.
    let (status, problem) = admin.post(
        "/api/v1/tokens",
        json!({ "name": "bad", "scopes": ["read", "superuser"] }),
    );
    assert_problem(status, &problem, 400);
    assert_eq!(error_fields(&problem), vec!["scopes"], "{problem}");
    // No scopes at all is refused too, naming the field.
    let (status, problem) = admin.post("/api/v1/tokens", json!({ "name": "none", "scopes": [] }));
    assert!(status == 400 || status == 422, "{status} {problem}");
    assert_eq!(error_fields(&problem), vec!["scopes"], "{problem}");
    // Neither refused request created a token.
    let (_, list) = admin.get("/api/v1/tokens");
    assert_eq!(
        list["items"].as_array().expect("items").len(),
        2,
        "only tok.admin and the new one: {list}"
    );

    // Revocation takes effect at once.
    let (status, body) = admin.delete(&format!("/api/v1/tokens/{id}"));
    assert_eq!(status, 204, "{body}");
    let (status, problem) = admin.with_token(&secret).get("/api/v1/devices");
    assert_problem(status, &problem, 401);
    let (_, list) = admin.get("/api/v1/tokens");
    assert!(
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|t| t["id"] != id.as_str()),
        "a revoked token is no longer listed: {list}"
    );

    // Unknown ids, and revoking twice, are 404.
    let (status, problem) = admin.delete("/api/v1/tokens/tok.doesnotexist");
    assert_problem(status, &problem, 404);
    let (status, problem) = admin.delete(&format!("/api/v1/tokens/{id}"));
    assert_problem(status, &problem, 404);
}

#[test]
fn token_list_pages_visit_every_token_exactly_once() {
    let server = Server::start();
    let mut expected: BTreeSet<String> = BTreeSet::from(["tok.admin".to_owned()]);
    for _ in 0..7 {
        expected.insert(token(&server, &["read"]).0);
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/tokens?limit=3".to_owned();
    for _ in 0..10 {
        let (status, page) = api(&server).get(&path);
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 3, "limit respected: {page}");
        seen.extend(
            items
                .iter()
                .map(|t| t["id"].as_str().expect("id").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/tokens?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    // Tokens are listed in id order, the key the cursor pages by (they were once listed by
    // creation time, and pages skipped and repeated tokens).
    assert_eq!(
        seen.len(),
        expected.len(),
        "every token once over all pages: {seen:?}"
    );
    assert_eq!(
        seen.iter().cloned().collect::<BTreeSet<_>>(),
        expected,
        "pages cover exactly the tokens that exist"
    );
}

#[test]
fn every_route_needs_a_credential_and_checks_its_scope() {
    let server = Server::start();
    provision(&server, "pump-1");
    // Well-formed requests: only the credential is wrong.
    let routes: &[(&str, &str, Value)] = &[
        ("GET", "/api/v1/tokens", json!(null)),
        (
            "POST",
            "/api/v1/tokens",
            json!({"name": "sneaky", "scopes": ["admin"]}),
        ),
        ("DELETE", "/api/v1/tokens/tok.admin", json!(null)),
        ("GET", "/api/v1/users", json!(null)),
        (
            "POST",
            "/api/v1/users",
            json!({"username": "sneaky", "password": "long-enough-to-pass", "role": "admin"}),
        ),
        ("GET", "/api/v1/users/me", json!(null)),
        ("GET", "/api/v1/users/admin", json!(null)),
        ("PATCH", "/api/v1/users/admin", json!({"role": "viewer"})),
        ("DELETE", "/api/v1/users/admin", json!(null)),
        (
            "POST",
            "/api/v1/users/me/password",
            json!({"current": "x", "new": "long-enough-to-pass"}),
        ),
        ("POST", "/api/v1/users/me/sessions/revoke", json!(null)),
        (
            "GET",
            "/api/v1/work-orders/wo-1/suggested-assignees",
            json!(null),
        ),
        ("GET", "/api/v1/devices", json!(null)),
        ("POST", "/api/v1/devices", json!({"id": "pump-9"})),
        ("GET", "/api/v1/devices/pump-1", json!(null)),
        (
            "GET",
            "/api/v1/devices/pump-1/telemetry?metric=flow",
            json!(null),
        ),
        ("GET", "/api/v1/devices/pump-1/metrics", json!(null)),
        ("GET", "/metrics", json!(null)),
    ];
    for (method, path, request) in routes {
        for bearer in [None, Some("not-a-real-token")] {
            let (status, content_type, body) = raw_with(&server, method, path, bearer, request);
            assert_eq!(status, 401, "{method} {path} with {bearer:?}: {body}");
            assert!(
                content_type.starts_with("application/problem+json"),
                "{method} {path}: content type {content_type}"
            );
            let problem: Value = serde_json::from_str(&body).expect("problem json");
            assert_eq!(problem["status"], 401, "{problem}");
            assert_eq!(problem["title"], "Unauthorized", "{problem}");
        }
    }
    // None of the refused calls changed anything.
    let (status, tokens) = api(&server).get("/api/v1/tokens");
    assert_eq!(status, 200, "the admin token was not revoked");
    assert_eq!(
        tokens["items"].as_array().expect("items").len(),
        1,
        "{tokens}"
    );
    assert_eq!(api(&server).get("/api/v1/devices/pump-9").0, 404);
    assert_eq!(
        metric(&server, "plantd_http_auth_failures_total", ""),
        routes.len() as f64,
        "each bad token counted once (missing ones are not failures of a credential)"
    );

    let (_, read_secret) = token(&server, &["read"]);
    let reader = anonymous(&server).with_token(&read_secret);
    let (status, list) = reader.get("/api/v1/devices");
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["items"][0]["id"], "pump-1");
    assert_eq!(reader.get("/api/v1/devices/pump-1").0, 200);
    assert_eq!(reader.get("/api/v1/devices/pump-1/metrics").0, 200);

    let forbidden_before = metric(&server, "plantd_http_forbidden_total", "");
    let (_, devices_before) = api(&server).get("/api/v1/devices");
    reader.assert_forbidden(
        "POST",
        "/api/v1/devices",
        Some(json!({ "id": "pump-2" })),
        "write",
    );
    assert_eq!(
        api(&server).get("/api/v1/devices/pump-2").0,
        404,
        "the refused POST created nothing"
    );
    assert_eq!(api(&server).get("/api/v1/devices").1, devices_before);
    // Token management needs admin. The list's ids (each call moves the admin token's
    // last use).
    let token_ids = || {
        let (_, list) = api(&server).get("/api/v1/tokens");
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|t| t["id"].clone())
            .collect::<Vec<_>>()
    };
    let tokens_before = token_ids();
    reader.assert_forbidden("GET", "/api/v1/tokens", None, "admin");
    reader.assert_forbidden(
        "POST",
        "/api/v1/tokens",
        Some(json!({"name": "x", "scopes": ["admin"]})),
        "admin",
    );
    assert_eq!(
        token_ids(),
        tokens_before,
        "the refused POST created no token"
    );
    assert_eq!(
        metric(&server, "plantd_http_forbidden_total", ""),
        forbidden_before + 3.0,
        "each refusal counted once"
    );

    // A write token may provision.
    let (_, write_secret) = token(&server, &["write"]);
    let (status, body) = anonymous(&server)
        .with_token(&write_secret)
        .post("/api/v1/devices", json!({ "id": "pump-2" }));
    assert_eq!(status, 201, "{body}");
}

#[test]
fn a_bad_credential_is_401_even_when_the_body_is_also_wrong() {
    let server = Server::start();
    // Credentials are checked in middleware before any body is read (the body's 422 once
    // raced the token check and won). Ask several times: every answer must be 401.
    for (path, body) in [
        ("/api/v1/tokens", json!({})),
        ("/api/v1/devices", json!({"unexpected": true})),
    ] {
        let statuses: Vec<u16> = (0..20)
            .map(|_| {
                let (status, content_type, _) =
                    raw_with(&server, "POST", path, Some("not-a-real-token"), &body);
                assert!(content_type.starts_with("application/problem+json"));
                status
            })
            .collect();
        assert!(
            statuses.iter().all(|s| *s == 401),
            "POST {path} {body} with an unknown token, 20 times: {statuses:?}"
        );
    }
}

#[test]
fn devices_are_provisioned_once_validated_and_listed_in_pages() {
    let server = Server::start();
    let admin = api(&server);

    let (status, created) = admin.post(
        "/api/v1/devices",
        json!({
            "id": "press-1",
            "name": "Press 1",
            "kind": "vibration-sensor",
            "metadata": { "line": 4 }
        }),
    );
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["id"], "press-1");
    assert_eq!(created["name"], "Press 1");
    assert_eq!(created["kind"], "vibration-sensor");
    assert_eq!(created["metadata"]["line"], 4);
    assert_eq!(created["online"], false);
    assert_eq!(created["credentials"]["username"], "press-1");
    let password = created["credentials"]["password"]
        .as_str()
        .expect("password");
    assert!(password.len() >= 32, "a long random password: {password}");

    // The credentials are shown once: the device view does not carry them.
    let (status, _, text) = raw(&server, "GET", "/api/v1/devices/press-1", Some(ADMIN_TOKEN));
    assert_eq!(status, 200);
    assert!(!text.contains(password), "GET leaks the password: {text}");
    let view: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(view["name"], "Press 1");
    assert!(view.get("credentials").is_none(), "{view}");

    // A second device with the same id is a conflict, and the first keeps its password.
    let (status, problem) = admin.post("/api/v1/devices", json!({ "id": "press-1" }));
    assert_problem(status, &problem, 409);
    let (status, body) = admin.post_as_device(
        "/api/v1/devices/press-1/telemetry",
        "press-1",
        password,
        br#"{"values": {"a": 1}}"#,
    );
    assert_eq!(status, 202, "the original credentials still work: {body}");

    // Ids that break the contract: a field error naming `id`.
    for bad in ["Bad/Id", "Press-1", "-leading-dash", "", &"x".repeat(65)] {
        let (status, problem) = admin.post("/api/v1/devices", json!({ "id": bad }));
        assert!(
            status == 400 || status == 422,
            "id {bad:?}: {status} {problem}"
        );
        assert_eq!(error_fields(&problem), vec!["id"], "id {bad:?}: {problem}");
    }
    // Unknown fields are refused, not ignored.
    let (status, problem) = admin.post(
        "/api/v1/devices",
        json!({ "id": "press-2", "colour": "red" }),
    );
    assert!(status == 400 || status == 422, "{status} {problem}");
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("colour"),
        "names the unknown field: {problem}"
    );
    // Metadata must be an object.
    let (status, problem) = admin.post(
        "/api/v1/devices",
        json!({ "id": "press-3", "metadata": [1, 2] }),
    );
    assert!(status == 400 || status == 422, "{status} {problem}");
    assert_eq!(error_fields(&problem), vec!["metadata"], "{problem}");

    let (status, problem) = admin.get("/api/v1/devices/nope");
    assert_problem(status, &problem, 404);
    for never in ["press-2", "press-3"] {
        assert_eq!(
            admin.get(&format!("/api/v1/devices/{never}")).0,
            404,
            "refused request created {never}"
        );
    }

    // Paging: five devices, two at a time, in id order, each once.
    for id in ["d-3", "d-1", "d-5", "d-2", "d-4"] {
        provision(&server, id);
    }
    let mut pages = Vec::new();
    let mut path = "/api/v1/devices?limit=2".to_owned();
    loop {
        let (status, page) = admin.get(&path);
        assert_eq!(status, 200, "{page}");
        let ids: Vec<String> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|d| d["id"].as_str().expect("id").to_owned())
            .collect();
        pages.push(ids);
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/devices?limit=2&cursor={cursor}"),
            None => {
                assert!(page["next_cursor"].is_null(), "{page}");
                break;
            }
        }
        assert!(pages.len() < 10, "paging does not end: {pages:?}");
    }
    assert_eq!(
        pages,
        vec![
            vec!["d-1", "d-2"],
            vec!["d-3", "d-4"],
            vec!["d-5", "press-1"]
        ]
    );
    let (_, all) = admin.get("/api/v1/devices");
    assert_eq!(all["items"].as_array().expect("items").len(), 6);
    assert!(all["next_cursor"].is_null(), "{all}");
    for bad_limit in ["0", "1001", "many"] {
        let (status, problem) = admin.get(&format!("/api/v1/devices?limit={bad_limit}"));
        assert_problem(status, &problem, 400);
    }
}

#[test]
fn telemetry_queries_take_rfc3339_or_epoch_ms_and_reject_bad_input() {
    let server = Server::start();
    let password = provision(&server, "oven-2");
    // 2025-01-01T00:00:00Z and one sample a minute after it.
    const BASE: i64 = 1_735_689_600_000;
    let samples: Vec<Value> = (0..5)
        .map(|i| json!({ "ts": BASE + i * 60_000, "values": { "temperature_c": 100 + i } }))
        .collect();
    let (status, body) = api(&server).post_as_device(
        "/api/v1/devices/oven-2/telemetry",
        "oven-2",
        &password,
        Value::Array(samples).to_string().as_bytes(),
    );
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["accepted"], 5);

    let query = |from: &str, to: &str| -> Vec<f64> {
        let (status, body) = api(&server).get(&format!(
            "/api/v1/devices/oven-2/telemetry?metric=temperature_c&from={from}&to={to}"
        ));
        assert_eq!(status, 200, "from={from} to={to}: {body}");
        assert_eq!(body["metric"], "temperature_c");
        body["points"]
            .as_array()
            .expect("points")
            .iter()
            .map(|p| p["value"].as_f64().expect("value"))
            .collect()
    };
    eventually(Duration::from_secs(10), "all 5 samples stored", || {
        (query("0", "4102444800000").len() == 5).then_some(())
    });

    // Minutes 1 to 3, both ends included, in each accepted form.
    let rfc = query("2025-01-01T00:01:00Z", "2025-01-01T00:03:00Z");
    assert_eq!(rfc, vec![101.0, 102.0, 103.0]);
    let ms = query(&(BASE + 60_000).to_string(), &(BASE + 180_000).to_string());
    assert_eq!(ms, rfc);
    let offset = query("2025-01-01T01:01:00%2B01:00", "2025-01-01T00:03:00.000Z");
    assert_eq!(offset, rfc, "an RFC 3339 offset is honoured");
    let mixed = query("2025-01-01T00:03:30Z", &(BASE + 10 * 60_000).to_string());
    assert_eq!(mixed, vec![104.0]);
    assert!(query("2024-01-01T00:00:00Z", "2024-12-31T23:59:59Z").is_empty());

    let (status, body) = api(&server)
        .get("/api/v1/devices/oven-2/telemetry?metric=temperature_c&from=0&to=4102444800000");
    assert_eq!(status, 200);
    assert_eq!(
        body["points"][1]["ts"], "2025-01-01T00:01:00Z",
        "timestamps come back as RFC 3339 UTC: {body}"
    );

    // Errors: a problem naming the parameter.
    let bad: &[(&str, &str)] = &[
        ("from=0&to=4102444800000", "metric"),
        ("metric=&from=0", "metric"),
        ("metric=temperature_c&from=yesterday", "from"),
        ("metric=temperature_c&from=0&to=2025-13-45T00:00:00Z", "to"),
    ];
    for (params, field) in bad {
        let (status, problem) =
            api(&server).get(&format!("/api/v1/devices/oven-2/telemetry?{params}"));
        assert_problem(status, &problem, 400);
        assert_eq!(error_fields(&problem), vec![*field], "{params}: {problem}");
    }
    let (status, problem) =
        api(&server).get("/api/v1/devices/ghost/telemetry?metric=temperature_c");
    assert_problem(status, &problem, 404);
}

#[test]
fn health_readiness_and_prometheus_metrics() {
    let server = Server::start();
    let (status, body) = anonymous(&server).get("/healthz");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");

    let (status, body) = anonymous(&server).get("/readyz");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["database"], "ok", "{body}");
    assert_eq!(body["broker"], "ok", "{body}");
    assert_eq!(body["status"], "ready", "{body}");

    // Something to count first: a forbidden call, which creates nothing.
    let (_, read_secret) = token(&server, &["read"]);
    anonymous(&server)
        .with_token(&read_secret)
        .assert_forbidden("POST", "/api/v1/devices", Some(json!({"id": "x"})), "write");
    assert_eq!(api(&server).get("/api/v1/devices/x").0, 404);

    // /metrics needs a read token (the counts are not for everyone).
    let (status, content_type, _) = raw(&server, "GET", "/metrics", None);
    assert_eq!(status, 401);
    assert!(content_type.starts_with("application/problem+json"));
    let (status, content_type, text) = raw(&server, "GET", "/metrics", Some(&read_secret));
    assert_eq!(status, 200, "{text}");
    assert!(
        content_type.starts_with("text/plain"),
        "Prometheus text format: {content_type}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("# TYPE plantd_")),
        "typed plantd_ metrics: {text}"
    );
    for name in [
        "plantd_build_info",
        "plantd_uptime_seconds",
        "plantd_http_forbidden_total",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "{name} missing from:\n{text}"
        );
    }
    assert!(
        text.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))),
        "build info carries the version"
    );
    assert_eq!(metric(&server, "plantd_http_forbidden_total", ""), 1.0);
    // Every sample line is `name{labels} value` with a number.
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let value = line.rsplit(' ').next().expect("value");
        assert!(
            value.parse::<f64>().is_ok() || ["NaN", "+Inf", "-Inf"].contains(&value),
            "not a sample line: {line}"
        );
    }
}

#[test]
fn the_openapi_document_lists_every_route_and_every_listed_route_exists() {
    let server = Server::start();
    let (status, doc) = anonymous(&server).get("/api/v1/openapi.json");
    assert_eq!(status, 200, "the document is public");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3."));
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if !item[method].is_null() {
                operations.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    operations.sort();
    assert_eq!(
        operations,
        vec![
            "DELETE /api/v1/assets/{id}",
            "DELETE /api/v1/devices/{id}",
            "DELETE /api/v1/firmware/{id}",
            "DELETE /api/v1/maintenance-plans/{id}",
            "DELETE /api/v1/rules/{id}",
            "DELETE /api/v1/tokens/{id}",
            "DELETE /api/v1/users/{name}",
            "DELETE /api/v1/webhooks/{id}",
            "GET /api/v1/alarms",
            "GET /api/v1/alarms/stats",
            "GET /api/v1/alarms/{id}",
            "GET /api/v1/assets",
            "GET /api/v1/assets/{id}",
            "GET /api/v1/devices",
            "GET /api/v1/devices/{id}",
            "GET /api/v1/devices/{id}/commands",
            "GET /api/v1/devices/{id}/commands/{cmd}",
            "GET /api/v1/devices/{id}/metrics",
            "GET /api/v1/devices/{id}/shadow",
            "GET /api/v1/devices/{id}/telemetry",
            "GET /api/v1/devices/{id}/telemetry/live",
            "GET /api/v1/events",
            "GET /api/v1/failure-codes",
            "GET /api/v1/firmware",
            "GET /api/v1/firmware-campaigns",
            "GET /api/v1/firmware-campaigns/{id}",
            "GET /api/v1/firmware/signing-key",
            "GET /api/v1/firmware/{id}",
            "GET /api/v1/firmware/{id}/image",
            "GET /api/v1/maintenance-plans",
            "GET /api/v1/maintenance-plans/{id}",
            "GET /api/v1/maintenance/calendar",
            "GET /api/v1/reports/maintenance",
            "GET /api/v1/rules",
            "GET /api/v1/rules/{id}",
            "GET /api/v1/telemetry/health",
            "GET /api/v1/tokens",
            "GET /api/v1/users",
            "GET /api/v1/users/me",
            "GET /api/v1/users/{name}",
            "GET /api/v1/webhooks",
            "GET /api/v1/webhooks/{id}",
            "GET /api/v1/webhooks/{id}/deliveries",
            "GET /api/v1/work-orders",
            "GET /api/v1/work-orders/{id}",
            "GET /api/v1/work-orders/{id}/suggested-assignees",
            "GET /api/v1/work-requests",
            "PATCH /api/v1/assets/{id}",
            "PATCH /api/v1/devices/{id}",
            "PATCH /api/v1/devices/{id}/shadow",
            "PATCH /api/v1/maintenance-plans/{id}",
            "PATCH /api/v1/rules/{id}",
            "PATCH /api/v1/users/{name}",
            "PATCH /api/v1/webhooks/{id}",
            "PATCH /api/v1/work-orders/{id}",
            "POST /api/v1/admin/telemetry/maintenance",
            "POST /api/v1/alarms/{id}/acknowledge",
            "POST /api/v1/alarms/{id}/clear",
            "POST /api/v1/alarms/{id}/shelve",
            "POST /api/v1/alarms/{id}/unshelve",
            "POST /api/v1/assets",
            "POST /api/v1/assets/{id}/maintenance",
            "POST /api/v1/devices",
            "POST /api/v1/devices/{id}/commands",
            "POST /api/v1/devices/{id}/commands/{cmd}/cancel",
            "POST /api/v1/devices/{id}/credentials",
            "POST /api/v1/devices/{id}/disable",
            "POST /api/v1/devices/{id}/enable",
            "POST /api/v1/devices/{id}/telemetry",
            "POST /api/v1/firmware",
            "POST /api/v1/firmware-campaigns",
            "POST /api/v1/firmware-campaigns/{id}/cancel",
            "POST /api/v1/maintenance-plans",
            "POST /api/v1/rules",
            "POST /api/v1/rules/preview",
            "POST /api/v1/tokens",
            "POST /api/v1/users",
            "POST /api/v1/users/me/password",
            "POST /api/v1/users/me/sessions/revoke",
            "POST /api/v1/webhooks",
            "POST /api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
            "POST /api/v1/work-orders",
            "POST /api/v1/work-orders/{id}/checklist/{n}",
            "POST /api/v1/work-orders/{id}/comments",
            "POST /api/v1/work-orders/{id}/transitions",
            "POST /api/v1/work-requests",
            "POST /api/v1/work-requests/{id}/approve",
            "POST /api/v1/work-requests/{id}/reject",
            "PUT /api/v1/failure-codes",
        ]
    );
    // Each documented operation is served (an anonymous call is refused, not "no such route").
    for op in &operations {
        let (method, path) = op.split_once(' ').expect("method and path");
        let url = server.url(
            &path
                .replace("{id}", "press-1")
                .replace("{cmd}", "0123abcd")
                .replace("{delivery_id}", "d1")
                .replace("{name}", "admin")
                .replace("{n}", "0"),
        );
        let status = match ureq::request(method, &url).send_json(json!({})) {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(e) => panic!("{op}: {e}"),
        };
        assert_eq!(status, 401, "{op} should exist and need credentials");
    }
    let (status, page) = anonymous(&server).get("/api/docs");
    assert_eq!(status, 200);
    let page = page.as_str().expect("html").to_owned();
    assert!(
        page.contains("<code>/api/v1/devices/{id}/telemetry</code>"),
        "{page}"
    );
    assert!(page.contains("Provision a device"));
}

#[test]
fn basic_auth_is_accepted_only_for_device_ingest() {
    let server = Server::start();
    let password = provision(&server, "press-1");
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("press-1:{password}"))
    );
    // Valid device credentials open no other route.
    for (method, path) in [
        ("GET", "/api/v1/devices"),
        ("GET", "/api/v1/devices/press-1"),
        ("GET", "/api/v1/devices/press-1/telemetry?metric=a"),
        ("POST", "/api/v1/devices"),
        ("GET", "/api/v1/tokens"),
    ] {
        let status = match ureq::request(method, &server.url(path))
            .set("Authorization", &basic)
            .send_json(json!({"id": "press-2"}))
        {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        assert_eq!(
            status, 401,
            "{method} {path} with a device's Basic credentials"
        );
    }
    // A device sends only its own telemetry: another device's is refused and not stored.
    provision(&server, "press-2");
    let (status, problem) = api(&server).post_as_device(
        "/api/v1/devices/press-2/telemetry",
        "press-1",
        &password,
        br#"{"ts": 1000, "values": {"a": 1}}"#,
    );
    assert_eq!(
        (status, problem),
        (403, forbidden("a device may only send its own telemetry"))
    );
    // Its own sample, sent afterwards, is stored; the refused one never is.
    let (status, body) = api(&server).post_as_device(
        "/api/v1/devices/press-1/telemetry",
        "press-1",
        &password,
        br#"{"ts": 2000, "values": {"a": 2}}"#,
    );
    assert_eq!(status, 202, "{body}");
    stored_points(&server, "press-1", "a", 1);
    assert_eq!(points(&server, "press-2", "a"), vec![]);
    // A body is refused unread when the device's credentials are wrong, however large.
    let (status, _) = api(&server).post_as_device(
        "/api/v1/devices/press-1/telemetry",
        "press-1",
        "wrong",
        &vec![b' '; 8 * 1024 * 1024],
    );
    assert_eq!(status, 401);
    let (status, _) = api(&server).post_as_device(
        "/api/v1/devices/press-1/telemetry",
        "press-1",
        &password,
        &vec![b' '; 5 * 1024 * 1024],
    );
    assert_eq!(status, 413, "bodies over the ingest limit are refused");
}
