//! `/api/v1/webhooks`: webhook subscriptions, their delivery log and redelivery (admin
//! scope: they hold signing secrets and send plant data out).

use actix_web::{web, HttpResponse};
use plantd_contracts::identity::Scope;
use plantd_contracts::webhooks::{
    CreateWebhook, CreatedWebhook, DeleteWebhook, DeliveryView, GetWebhook, ListDeliveries,
    ListWebhooks, Redeliver, UpdateWebhook, WebhookView,
};
use serde::Deserialize;

use super::{ApiResult, AppState, Caller, Page, Problem};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks", web::post().to(create))
        .route("/webhooks", web::get().to(list))
        .route("/webhooks/{id}", web::get().to(get))
        .route("/webhooks/{id}", web::patch().to(patch))
        .route("/webhooks/{id}", web::delete().to(delete))
        .route("/webhooks/{id}/deliveries", web::get().to(deliveries))
        .route(
            "/webhooks/{id}/deliveries/{delivery_id}/redeliver",
            web::post().to(redeliver),
        );
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where to POST events: http:// or https:// with a host. Redirects are not followed.
    #[schema(example = "https://example.com/plantd-hook")]
    url: String,
    /// Event types (`device.provisioned`), families (`device.*`) or `*`.
    #[schema(example = json!(["device.*", "command.failed"]))]
    events: Vec<String>,
    /// `whsec_` + base64 of a 24-64 byte key; generated when absent.
    secret: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    url: Option<String>,
    events: Option<Vec<String>>,
    /// `true` re-enables a disabled webhook (its open deliveries are due at once).
    enabled: Option<bool>,
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct LogQuery {
    /// Newest deliveries to list, 1-1000 (default 50).
    limit: Option<u32>,
}

/// Subscribe a URL to events; the signing secret is shown only in this reply.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = NewWebhook,
    responses((status = 201, body = CreatedWebhook),
        (status = 422, description = "bad `url`, `events` or `secret` (named in `errors`)"),
        (status = 409, description = "`webhooks_max_subscriptions` reached"),
        (status = 403, description = "needs admin")),
    security(("bearer" = [])))]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<NewWebhook>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Admin)?;
    let body = body.into_inner();
    let created = state
        .webhooks
        .send(CreateWebhook {
            url: body.url,
            events: body.events,
            secret: body.secret,
        })
        .await??;
    tracing::info!(by = %caller.principal.name, webhook = %created.webhook.id, "webhook created");
    Ok(HttpResponse::Created().json(created))
}

/// List webhooks (secrets masked).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", params(Page),
    responses((status = 200, description = "`{items: [Webhook], next_cursor}`")), security(("bearer" = [])))]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Admin)?;
    let mut hooks = state.webhooks.send(ListWebhooks).await??;
    hooks.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(HttpResponse::Ok().json(page.apply(hooks, |w| w.id.as_str())?))
}

/// One webhook: its state, and why it was disabled if it was.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = WebhookView), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Admin)?;
    let hook = state
        .webhooks
        .send(GetWebhook {
            id: id.into_inner(),
        })
        .await??;
    Ok(HttpResponse::Ok().json(hook))
}

/// Change a webhook's URL or events, disable it, or enable it again.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    request_body = WebhookPatch,
    responses((status = 200, body = WebhookView), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn patch(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<WebhookPatch>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Admin)?;
    let body = body.into_inner();
    let hook = state
        .webhooks
        .send(UpdateWebhook {
            id: id.into_inner(),
            url: body.url,
            events: body.events,
            enabled: body.enabled,
        })
        .await??;
    tracing::info!(by = %caller.principal.name, webhook = %hook.id, enabled = hook.enabled, "webhook changed");
    Ok(HttpResponse::Ok().json(hook))
}

/// Delete a webhook and its delivery log.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Admin)?;
    let id = id.into_inner();
    state
        .webhooks
        .send(DeleteWebhook { id: id.clone() })
        .await??;
    tracing::info!(by = %caller.principal.name, webhook = %id, "webhook deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// The delivery log, newest first: status, attempts, last response code, error, latency.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path), LogQuery),
    responses((status = 200, description = "`{items: [Delivery]}`", body = Vec<DeliveryView>), (status = 404)),
    security(("bearer" = [])))]
pub async fn deliveries(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<LogQuery>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Admin)?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::bad_request("limit", "limit is 1 to 1000"));
    }
    let items = state
        .webhooks
        .send(ListDeliveries {
            webhook_id: id.into_inner(),
            limit,
        })
        .await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

/// Send a delivery again now (same `webhook-id` and body), whatever its status.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", tag = "webhooks",
    params(("id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 202, body = DeliveryView), (status = 404)), security(("bearer" = [])))]
pub async fn redeliver(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Admin)?;
    let (webhook_id, delivery_id) = path.into_inner();
    let delivery = state
        .webhooks
        .send(Redeliver {
            webhook_id,
            delivery_id,
        })
        .await??;
    tracing::info!(by = %caller.principal.name, webhook = %delivery.webhook_id, delivery = %delivery.id, "webhook redelivery requested");
    Ok(HttpResponse::Accepted().json(delivery))
}
