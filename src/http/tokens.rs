//! `/api/v1/tokens`: API tokens (admin scope).

use actix_web::{web, HttpResponse};
use plantd_contracts::broker::DisconnectClient;
use plantd_contracts::identity::{CreateToken, ListTokens, RevokeToken, Scope};
use serde::Deserialize;

use super::auth::parse_scopes;
use super::{ApiResult, AppState, Caller, Page};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/tokens", web::post().to(create))
        .route("/tokens", web::get().to(list))
        .route("/tokens/{id}", web::delete().to(revoke));
}

#[derive(Deserialize)]
struct NewToken {
    name: String,
    scopes: Vec<String>,
}

async fn create(
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

async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Admin)?;
    let tokens = state.identity.send(ListTokens).await??;
    Ok(HttpResponse::Ok().json(page.apply(tokens, |t| t.id.as_str())?))
}

async fn revoke(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Admin)?;
    let id = id.into_inner();
    state
        .identity
        .send(RevokeToken { id: id.clone() })
        .await??;
    // The token stops working now; its live MQTT sessions end at their next packet.
    let sessions = state
        .broker
        .send(DisconnectClient {
            username: id.clone(),
        })
        .await?;
    tracing::info!(by = %caller.principal.name, token = %id, sessions, "token revoked");
    Ok(HttpResponse::NoContent().finish())
}
