//! `/api/v1/devices/{id}/shadow`: read a device's shadow (read), merge a patch into its
//! desired state (write). The Control actor does the rest.

use actix_web::{web, HttpResponse};
use plantd_contracts::identity::Scope;
use plantd_contracts::shadow::{GetShadow, ShadowView, UpdateDesired};
use serde::Deserialize;

use super::devices::device_id;
use super::{ApiResult, AppState, Caller};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/devices/{id}/shadow", web::get().to(get))
        .route("/devices/{id}/shadow", web::patch().to(patch));
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShadowPatch {
    /// A JSON merge patch (RFC 7396) for the desired state: `null` deletes a key.
    #[schema(value_type = Object, example = json!({"speed_rpm": 1200, "mode": null}))]
    desired: serde_json::Value,
}

/// The device's shadow: desired, reported, delta, version, per-key update times.
#[utoipa::path(get, path = "/api/v1/devices/{id}/shadow", tag = "shadow", params(("id" = String, Path)),
    responses((status = 200, body = ShadowView), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let device_id = device_id(&id)?;
    let shadow = state.control.send(GetShadow { device_id }).await??;
    Ok(HttpResponse::Ok().json(shadow))
}

/// Merge a patch into the desired state; the device gets the retained desired document
/// on `devices/{id}/state/desired` and, if online, the delta on `state/delta`.
#[utoipa::path(patch, path = "/api/v1/devices/{id}/shadow", tag = "shadow", params(("id" = String, Path)),
    request_body = ShadowPatch,
    responses((status = 200, body = ShadowView), (status = 404), (status = 422, description = "not an object, or too large")),
    security(("bearer" = [])))]
pub async fn patch(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<ShadowPatch>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let device_id = device_id(&id)?;
    let shadow = state
        .control
        .send(UpdateDesired {
            device_id,
            patch: body.into_inner().desired,
            by: caller.principal.name.clone(),
        })
        .await??;
    Ok(HttpResponse::Ok().json(shadow))
}
