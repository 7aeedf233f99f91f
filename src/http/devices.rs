//! `/api/v1/devices`: provisioning and the registry (write to provision, read to look).

use actix_web::{web, HttpResponse};
use plantd_contracts::devices::{
    DeviceView, GetDevice, ListDevices, ProvisionDevice, ProvisionedDevice,
};
use plantd_contracts::identity::Scope;
use plantd_contracts::DeviceId;
use serde::Deserialize;

use super::{ApiResult, AppState, Caller, Page, Problem};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/devices", web::post().to(provision))
        .route("/devices", web::get().to(list))
        .route("/devices/{id}", web::get().to(get));
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// `[a-z0-9][a-z0-9_-]{0,63}`, never reused.
    #[schema(example = "press-01")]
    id: String,
    name: Option<String>,
    kind: Option<String>,
    asset_id: Option<String>,
    metadata: Option<serde_json::Value>,
}

pub fn device_id(raw: &str) -> Result<DeviceId, Problem> {
    DeviceId::parse(raw).map_err(Problem::from)
}

/// Provision a device; its MQTT password is shown only in this reply.
#[utoipa::path(post, path = "/api/v1/devices", tag = "devices", request_body = NewDevice,
    responses((status = 201, body = ProvisionedDevice), (status = 409, description = "id exists or was used"), (status = 422, description = "invalid field")),
    security(("bearer" = [])))]
pub async fn provision(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<NewDevice>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let body = body.into_inner();
    let id = device_id(&body.id)?;
    let provisioned = state
        .devices
        .send(ProvisionDevice {
            id,
            name: body.name,
            kind: body.kind,
            asset_id: body.asset_id,
            metadata: body.metadata,
        })
        .await??;
    tracing::info!(by = %caller.principal.name, device = %provisioned.device.id, "device provisioned");
    Ok(HttpResponse::Created().json(provisioned))
}

/// The registry, in id order, with presence.
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices", params(Page),
    responses((status = 200, description = "`{items: [Device], next_cursor}`")), security(("bearer" = [])))]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let devices = state.devices.send(ListDevices).await??;
    Ok(HttpResponse::Ok().json(page.apply(devices, |d| d.id.as_str())?))
}

/// One device with `online` and `last_seen`.
#[utoipa::path(get, path = "/api/v1/devices/{id}", tag = "devices", params(("id" = String, Path)),
    responses((status = 200, body = DeviceView), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let id = device_id(&id)?;
    let device = state.devices.send(GetDevice { id }).await??;
    Ok(HttpResponse::Ok().json(device))
}
