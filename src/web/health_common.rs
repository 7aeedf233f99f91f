//! What the asset-health pages share: the signed-in reader, the page header every
//! template needs, a message's outcome as a `Problem`, times as people read them, and
//! the asset names for links. May use `session.rs`, `edge/` and the health contract.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use plantd_contracts::health::ListAssets;
use plantd_contracts::identity::SessionView;
use plantd_contracts::DomainError;

use super::session::{self, can_change, redirect};
use crate::edge::Problem;
use crate::state::AppState;

/// The signed-in person (any role reads), or the redirect to sign in.
pub async fn reader(req: &HttpRequest, state: &AppState) -> Result<SessionView, HttpResponse> {
    match session::current(req, state).await {
        Some((_, current)) => Ok(current),
        None => Err(redirect("/login")),
    }
}

/// The fields of the navigation and the forms, for every page.
pub struct Head {
    pub username: String,
    pub role: String,
    pub csrf_token: String,
    /// Write scope: sees and may use the changing forms.
    pub can_write: bool,
}

impl Head {
    pub fn of(session: &SessionView) -> Head {
        Head {
            username: session.username.clone(),
            role: session.role.as_str().to_owned(),
            csrf_token: session.csrf_token.clone(),
            can_write: can_change(session),
        }
    }
}

/// A message's answer, with a lost mailbox as 503.
pub fn answer<T>(sent: Result<Result<T, DomainError>, actix::MailboxError>) -> Result<T, Problem> {
    sent.map_err(Problem::from)
        .and_then(|r| r.map_err(Problem::from))
}

/// A problem as a plain-text page.
pub fn plain(p: Problem) -> HttpResponse {
    HttpResponse::build(p.status)
        .content_type("text/plain; charset=utf-8")
        .body(p.detail)
}

/// A rendered page with the status of the error it shows (200 without one).
pub fn with_status(mut response: HttpResponse, status: Option<StatusCode>) -> HttpResponse {
    if let Some(status) = status {
        if response.status() == StatusCode::OK {
            *response.status_mut() = status;
        }
    }
    response
}

/// A time as the pages show it: to the second, in the plant time zone.
pub fn when(t: DateTime<Utc>) -> String {
    super::local_time::exact(t)
}

/// An optional time, or `none`.
pub fn when_or(t: Option<DateTime<Utc>>, none: &str) -> String {
    t.map(when).unwrap_or_else(|| none.to_owned())
}

/// Every asset's name by id, for links (empty when the module does not answer).
pub async fn asset_names(state: &AppState) -> HashMap<String, String> {
    match state.health.send(ListAssets).await {
        Ok(Ok(assets)) => assets.into_iter().map(|a| (a.id, a.name)).collect(),
        _ => HashMap::new(),
    }
}

/// An optional text field of a form: trimmed, `None` when empty.
pub fn filled(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// A query-string value, percent-encoded (unreserved characters kept).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A form that carries only the CSRF token (delete buttons); an absent token is refused
/// like a wrong one.
#[derive(serde::Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    pub csrf_token: String,
}
