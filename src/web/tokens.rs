//! Settings → API tokens (admins only): every active token with its scopes, creation time
//! and last use; the form that creates one (its secret shown once, as selectable text with
//! a copy button that the script adds) and the revoke button (which also drops the
//! token's live MQTT sessions). Every form carries the session's CSRF token; anyone but an
//! admin is refused (403). Talks to identity by message and revokes through
//! `edge::tokens`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Utc;
use plantd_contracts::identity::{CreateToken, CreatedToken, ListTokens, Scope, SessionView};
use serde::Deserialize;

use super::local_time::{exact, Stamp};
use super::session::{self, redirect};
use crate::edge::{render, Problem};
use crate::state::AppState;

const ADMINS_ONLY: &str = "only admins manage API tokens";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings/tokens", web::get().to(page))
        .route("/settings/tokens", web::post().to(create))
        .route("/settings/tokens/{id}/revoke", web::post().to(revoke));
}

pub struct TokenLine {
    pub id: String,
    pub name: String,
    pub scopes: String,
    pub created_at: String,
    pub last_used: Option<Stamp>,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    username: String,
    role: String,
    csrf_token: String,
    error: Option<String>,
    tokens: Vec<TokenLine>,
    scopes: [&'static str; 4],
    /// The token just made, with its secret: shown this once.
    created: Option<CreatedToken>,
}

async fn render_page(
    state: &AppState,
    current: SessionView,
    created: Option<CreatedToken>,
    error: Option<(StatusCode, String)>,
) -> HttpResponse {
    let tokens = match state.identity.send(ListTokens).await {
        Ok(Ok(tokens)) => tokens,
        _ => return HttpResponse::ServiceUnavailable().body("plantd is not ready; try again"),
    };
    let now = Utc::now();
    let status = error.as_ref().map(|(s, _)| *s);
    let mut response = render(&TokensPage {
        tokens: tokens
            .into_iter()
            .map(|t| TokenLine {
                scopes: t
                    .scopes
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                created_at: exact(t.created_at),
                last_used: t.last_used_at.map(|at| Stamp::new(at, now)),
                id: t.id,
                name: t.name,
            })
            .collect(),
        username: current.username,
        role: current.role.as_str().to_owned(),
        csrf_token: current.csrf_token,
        error: error.map(|(_, m)| m),
        scopes: Scope::ALL.map(Scope::as_str),
        created,
    });
    if let Some(status) = status {
        *response.status_mut() = status;
    }
    response
}

pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match session::admin(&req, &state, ADMINS_ONLY).await {
        Ok(current) => render_page(&state, current, None, None).await,
        Err(refusal) => refusal,
    }
}

#[derive(Deserialize)]
pub struct NewTokenForm {
    csrf_token: String,
    name: String,
    scope_read: Option<String>,
    scope_write: Option<String>,
    scope_admin: Option<String>,
    scope_mqtt: Option<String>,
}

impl NewTokenForm {
    fn scopes(&self) -> Vec<Scope> {
        [
            (&self.scope_read, Scope::Read),
            (&self.scope_write, Scope::Write),
            (&self.scope_admin, Scope::Admin),
            (&self.scope_mqtt, Scope::Mqtt),
        ]
        .into_iter()
        .filter(|(ticked, _)| ticked.is_some())
        .map(|(_, scope)| scope)
        .collect()
    }
}

/// Creates a token and shows its secret in the page that answers (never again).
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<NewTokenForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let current = match session::admin_form(&req, &state, &form.csrf_token, ADMINS_ONLY).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let sent = state
        .identity
        .send(CreateToken {
            scopes: form.scopes(),
            name: form.name,
        })
        .await;
    match sent
        .map_err(Problem::from)
        .and_then(|r| r.map_err(Problem::from))
    {
        Ok(created) => {
            tracing::info!(by = %current.username, token = %created.token.id, "token created");
            let mut response = render_page(&state, current, Some(created), None).await;
            // The secret is in this page only: no cache keeps it.
            response.headers_mut().insert(
                actix_web::http::header::CACHE_CONTROL,
                actix_web::http::header::HeaderValue::from_static("no-store"),
            );
            response
        }
        Err(p) => render_page(&state, current, None, Some((p.status, p.detail))).await,
    }
}

#[derive(Deserialize)]
pub struct RevokeForm {
    csrf_token: String,
}

/// Revokes a token and drops its live MQTT sessions, then the list again.
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<RevokeForm>,
) -> HttpResponse {
    let current = match session::admin_form(&req, &state, &form.csrf_token, ADMINS_ONLY).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    match crate::edge::tokens::revoke(&state, &id).await {
        Ok(sessions) => {
            tracing::info!(by = %current.username, token = %id, sessions, "token revoked");
            redirect("/settings/tokens")
        }
        Err(p) => render_page(&state, current, None, Some((p.status, p.detail))).await,
    }
}
