//! `/api/v1/tokens`: API tokens (admin scope).

use actix_web::{web, HttpResponse};
use plantd_contracts::identity::{CreateToken, CreatedToken, ListTokens, Scope};
use serde::Deserialize;

use super::auth::parse_scopes;
use super::{ApiResult, AppState, Caller, Page};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/tokens", web::post().to(create))
        .route("/tokens", web::get().to(list))
        .route("/tokens/{id}", web::delete().to(revoke));
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    /// What the token is for, e.g. "grafana".
    name: String,
    /// Any of read, write, admin, mqtt.
    #[schema(example = json!(["read", "mqtt"]))]
    scopes: Vec<String>,
}

/// Create an API token; its secret is shown only in this reply.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 400, description = "unknown scope"), (status = 403, description = "needs admin")),
    security(("bearer" = [])))]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<NewToken>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Admin)?;
    let body = body.into_inner();
    let scopes = parse_scopes(&body.scopes)?;
    let created = state
        .identity
        .send(CreateToken {
            name: body.name,
            scopes,
        })
        .await??;
    tracing::info!(by = %caller.principal.name, token = %created.token.id, "token created");
    Ok(HttpResponse::Created().json(created))
}

/// List active tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(Page),
    responses((status = 200, description = "`{items: [Token], next_cursor}`")), security(("bearer" = [])))]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Admin)?;
    let tokens = state.identity.send(ListTokens).await??;
    Ok(HttpResponse::Ok().json(page.apply(tokens, |t| t.id.as_str())?))
}

/// Revoke a token now; its live MQTT sessions end at their next packet.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn revoke(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Admin)?;
    let id = id.into_inner();
    let sessions = crate::edge::tokens::revoke(&state, &id).await?;
    tracing::info!(by = %caller.principal.name, token = %id, sessions, "token revoked");
    Ok(HttpResponse::NoContent().finish())
}
