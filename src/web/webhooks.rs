//! Webhook pages (admins only: they show where plant data goes and hold signing secrets):
//! the list with each subscription's state and why it was disabled, a create form (the
//! generated secret shown once), one subscription's delivery log with redeliver buttons,
//! enable again, delete. Every form carries the session's CSRF token.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use plantd_contracts::identity::SessionView;
use plantd_contracts::webhooks::{
    CreateWebhook, DeleteWebhook, DeliveryView, GetWebhook, ListDeliveries, ListWebhooks,
    Redeliver, UpdateWebhook, WebhookView,
};
use serde::Deserialize;

use super::session::{self, redirect};
use crate::edge::{render, Problem};
use crate::state::AppState;

const ADMINS_ONLY: &str = "only admins manage webhooks";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks", web::get().to(page))
        .route("/webhooks", web::post().to(create))
        .route("/webhooks/{id}", web::get().to(show))
        .route("/webhooks/{id}/enable", web::post().to(enable))
        .route("/webhooks/{id}/delete", web::post().to(delete))
        .route(
            "/webhooks/{id}/deliveries/{delivery}/redeliver",
            web::post().to(redeliver),
        );
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    username: String,
    role: String,
    csrf_token: String,
    error: Option<String>,
    /// The secret of the webhook just created, shown once.
    created: Option<(String, String)>,
    hooks: Vec<WebhookView>,
}

#[derive(Template)]
#[template(path = "webhook.html")]
struct WebhookPage {
    username: String,
    role: String,
    csrf_token: String,
    hook: WebhookView,
    deliveries: Vec<DeliveryView>,
}

/// The signed-in admin, or the response for anyone else.
async fn admin(req: &HttpRequest, state: &AppState) -> Result<SessionView, HttpResponse> {
    session::admin(req, state, ADMINS_ONLY).await
}

/// The admin who submitted a form with the session's CSRF token, or the refusal.
async fn admin_form(
    req: &HttpRequest,
    state: &AppState,
    csrf_token: &str,
) -> Result<SessionView, HttpResponse> {
    session::admin_form(req, state, csrf_token, ADMINS_ONLY).await
}

async fn render_list(
    state: &AppState,
    session: SessionView,
    error: Option<(StatusCode, String)>,
    created: Option<(String, String)>,
) -> HttpResponse {
    let hooks = match state.webhooks.send(ListWebhooks).await {
        Ok(Ok(hooks)) => hooks,
        _ => return HttpResponse::ServiceUnavailable().body("plantd is not ready; try again"),
    };
    let status = error.as_ref().map(|(s, _)| *s);
    let mut response = render(&WebhooksPage {
        username: session.username.clone(),
        role: session.role.as_str().to_owned(),
        csrf_token: session.csrf_token,
        error: error.map(|(_, m)| m),
        created,
        hooks,
    });
    if let Some(status) = status {
        *response.status_mut() = status;
    }
    response
}

pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match admin(&req, &state).await {
        Ok(current) => render_list(&state, current, None, None).await,
        Err(refusal) => refusal,
    }
}

#[derive(Deserialize)]
pub struct NewWebhookForm {
    csrf_token: String,
    url: String,
    /// Selectors separated by spaces or commas.
    events: String,
    #[serde(default)]
    secret: String,
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<NewWebhookForm>,
) -> HttpResponse {
    let current = match admin_form(&req, &state, &form.csrf_token).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let form = form.into_inner();
    let events = form
        .events
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let secret = Some(form.secret.trim().to_owned()).filter(|s| !s.is_empty());
    let created = state
        .webhooks
        .send(CreateWebhook {
            url: form.url,
            events,
            secret,
        })
        .await;
    match created
        .map_err(Problem::from)
        .and_then(|r| r.map_err(Problem::from))
    {
        Ok(created) => {
            tracing::info!(by = %current.username, webhook = %created.webhook.id, "webhook created from the UI");
            let shown = (created.webhook.id, created.secret);
            render_list(&state, current, None, Some(shown)).await
        }
        Err(p) => render_list(&state, current, Some((p.status, p.detail)), None).await,
    }
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let current = match admin(&req, &state).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    let found = (
        state.webhooks.send(GetWebhook { id: id.clone() }).await,
        state
            .webhooks
            .send(ListDeliveries {
                webhook_id: id,
                limit: 100,
            })
            .await,
    );
    match found {
        (Ok(Ok(hook)), Ok(Ok(deliveries))) => render(&WebhookPage {
            username: current.username.clone(),
            role: current.role.as_str().to_owned(),
            csrf_token: current.csrf_token,
            hook,
            deliveries,
        }),
        (Ok(Err(e)), _) | (_, Ok(Err(e))) => {
            let p = Problem::from(e);
            HttpResponse::build(p.status).body(p.detail)
        }
        _ => HttpResponse::ServiceUnavailable().body("plantd is not ready; try again"),
    }
}

#[derive(Deserialize)]
pub struct TokenForm {
    csrf_token: String,
}

/// A form's outcome: back to `to`, or the problem as plain text.
fn outcome<T>(
    sent: Result<Result<T, plantd_contracts::DomainError>, actix::MailboxError>,
    to: &str,
) -> HttpResponse {
    match sent
        .map_err(Problem::from)
        .and_then(|r| r.map_err(Problem::from))
    {
        Ok(_) => redirect(to),
        Err(p) => HttpResponse::build(p.status)
            .content_type("text/plain; charset=utf-8")
            .body(p.detail),
    }
}

pub async fn enable(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<TokenForm>,
) -> HttpResponse {
    if let Err(refusal) = admin_form(&req, &state, &form.csrf_token).await {
        return refusal;
    }
    let id = id.into_inner();
    let sent = state
        .webhooks
        .send(UpdateWebhook {
            id: id.clone(),
            enabled: Some(true),
            ..UpdateWebhook::default()
        })
        .await;
    outcome(sent, &format!("/webhooks/{id}"))
}

pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<TokenForm>,
) -> HttpResponse {
    if let Err(refusal) = admin_form(&req, &state, &form.csrf_token).await {
        return refusal;
    }
    let sent = state
        .webhooks
        .send(DeleteWebhook {
            id: id.into_inner(),
        })
        .await;
    outcome(sent, "/webhooks")
}

pub async fn redeliver(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<TokenForm>,
) -> HttpResponse {
    if let Err(refusal) = admin_form(&req, &state, &form.csrf_token).await {
        return refusal;
    }
    let (webhook_id, delivery_id) = path.into_inner();
    let to = format!("/webhooks/{webhook_id}");
    let sent = state
        .webhooks
        .send(Redeliver {
            webhook_id,
            delivery_id,
        })
        .await;
    outcome(sent, &to)
}
