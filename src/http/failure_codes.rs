//! `/api/v1/failure-codes`: the closing-code pick lists (failure modes, causes, actions,
//! detections). Read scope reads; admin replaces them.

use actix_web::{web, HttpResponse};
use plantd_contracts::identity::Scope;
use plantd_contracts::workorders::{GetFailureCodes, SetFailureCodes};
use serde_json::Value;

use super::{ApiResult, AppState, Caller};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/failure-codes", web::get().to(get))
        .route("/failure-codes", web::put().to(put));
}

/// The lists: `{failure_modes, causes, actions, detections}`, each `[{code, label}]`.
#[utoipa::path(get, path = "/api/v1/failure-codes", tag = "work orders",
    responses((status = 200, description = "the lists")), security(("bearer" = [])))]
pub async fn get(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let codes = state.workorders.send(GetFailureCodes).await??;
    Ok(HttpResponse::Ok().json(codes))
}

/// Replace the lists (admin): every list non-empty, codes of `a-z0-9_`, unique per list.
/// Closed orders keep the codes they were closed with.
#[utoipa::path(put, path = "/api/v1/failure-codes", tag = "work orders", request_body = Object,
    responses((status = 200, description = "the lists"), (status = 422, description = "invalid list (named)")),
    security(("bearer" = [])))]
pub async fn put(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Admin)?;
    let codes = state
        .workorders
        .send(SetFailureCodes {
            body: body.into_inner(),
            by: caller.principal.name.clone(),
        })
        .await??;
    Ok(HttpResponse::Ok().json(codes))
}
