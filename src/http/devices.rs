//! `/api/v1/devices`: the registry. Provision, list (filters, pages), read (with telemetry's
//! ingest counters joined in), patch, delete; rotate credentials, disable, enable.
//! `read` to look, `write` for every change (engineers enrol and manage devices).

use actix_web::{web, HttpResponse};
use plantd_contracts::devices::{
    DeleteDevice, DeviceCredentials, DeviceState, DeviceView, GetDevice, ListDevices,
    MetadataChange, PatchDevice, ProvisionDevice, ProvisionedDevice, RotateCredentials,
    SetDeviceEnabled,
};
use plantd_contracts::identity::Scope;
use plantd_contracts::telemetry::{GetTelemetryStatus, TelemetryStatus};
use plantd_contracts::DeviceId;
use serde::{Deserialize, Deserializer, Serialize};

use crate::edge::device_assets;

use super::{ApiResult, AppState, Caller, Page, Problem};

/// A reply carrying a secret must not be kept by a cache.
const NO_STORE: (actix_web::http::header::HeaderName, &str) =
    (actix_web::http::header::CACHE_CONTROL, "no-store");

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/devices", web::post().to(provision))
        .route("/devices", web::get().to(list))
        .route("/devices/{id}", web::get().to(get))
        .route("/devices/{id}", web::patch().to(patch))
        .route("/devices/{id}", web::delete().to(delete))
        .route("/devices/{id}/credentials", web::post().to(rotate))
        .route("/devices/{id}/disable", web::post().to(disable))
        .route("/devices/{id}/enable", web::post().to(enable));
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
    /// A JSON object.
    #[schema(value_type = Option<Object>)]
    metadata: Option<serde_json::Value>,
    /// `[a-z0-9][a-z0-9_.:-]{0,63}`, at most 32.
    #[serde(default)]
    labels: Vec<String>,
}

/// `PATCH` body: absent fields stay. `kind` and `asset_id` are cleared with `null` or "".
/// `metadata` is an RFC 7396 merge patch (`null` members remove keys); `labels` replaces
/// the set.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevicePatch {
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    kind: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    asset_id: Option<Option<String>>,
    #[schema(value_type = Option<Object>)]
    metadata: Option<serde_json::Value>,
    labels: Option<Vec<String>>,
}

/// Tells a present `null` (`Some(None)`) from an absent field (`None`, via `default`).
fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `GET /devices` filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeviceFilter {
    /// `online`, `offline` (enabled, not connected) or `disabled`.
    state: Option<String>,
    kind: Option<String>,
    /// Devices that carry this label.
    label: Option<String>,
}

fn parse_state(raw: &str) -> Result<DeviceState, Problem> {
    DeviceState::parse(raw)
        .ok_or_else(|| Problem::bad_request("state", "state is online, offline or disabled"))
}

/// A device with telemetry's ingest counters for it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeviceDetail {
    #[serde(flatten)]
    device: DeviceView,
    telemetry: TelemetryStatus,
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
    device_assets::known_asset(&state, body.asset_id.as_deref()).await?;
    let provisioned = state
        .devices
        .send(ProvisionDevice {
            id,
            name: body.name,
            kind: body.kind,
            asset_id: body.asset_id,
            metadata: body.metadata,
            labels: body.labels,
        })
        .await??;
    device_assets::attached(&state, &provisioned.device).await;
    tracing::info!(by = %caller.principal.name, device = %provisioned.device.id, "device provisioned");
    Ok(HttpResponse::Created()
        .insert_header(NO_STORE)
        .json(provisioned))
}

/// The registry, in id order, with presence; filters combine with "and".
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices", params(Page, DeviceFilter),
    responses((status = 200, description = "`{items: [Device], next_cursor}`"), (status = 400, description = "bad filter or limit")),
    security(("bearer" = [])))]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    page: web::Query<Page>,
    filter: web::Query<DeviceFilter>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let limit = page.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::bad_request("limit", "limit is 1 to 1000"));
    }
    let filter = filter.into_inner();
    let devices = state
        .devices
        .send(ListDevices {
            state: filter.state.as_deref().map(parse_state).transpose()?,
            kind: filter.kind,
            label: filter.label,
            after: page.cursor.clone(),
            limit: Some(limit),
        })
        .await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "items": devices.items,
        "next_cursor": devices.next_cursor,
    })))
}

/// One device: registry fields, presence and counters (`messages_in` from the broker,
/// `telemetry.payloads_rejected` and the last rejection from telemetry).
#[utoipa::path(get, path = "/api/v1/devices/{id}", tag = "devices", params(("id" = String, Path)),
    responses((status = 200, body = DeviceDetail), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let id = device_id(&id)?;
    let device = state.devices.send(GetDevice { id: id.clone() }).await??;
    let telemetry = state
        .telemetry
        .send(GetTelemetryStatus { device_id: id })
        .await?;
    Ok(HttpResponse::Ok().json(DeviceDetail { device, telemetry }))
}

/// Change name, kind, asset id, metadata (merge patch) or labels (replaced).
#[utoipa::path(patch, path = "/api/v1/devices/{id}", tag = "devices", params(("id" = String, Path)),
    request_body = DevicePatch,
    responses((status = 200, body = DeviceView), (status = 404), (status = 422, description = "invalid field")),
    security(("bearer" = [])))]
pub async fn patch(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<DevicePatch>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let id = device_id(&id)?;
    let body = body.into_inner();
    device_assets::known_asset(&state, body.asset_id.as_ref().and_then(|a| a.as_deref())).await?;
    let device = state
        .devices
        .send(PatchDevice {
            id,
            name: body.name,
            kind: body.kind.map(Option::unwrap_or_default),
            asset_id: body.asset_id.map(Option::unwrap_or_default),
            metadata: body.metadata.map(MetadataChange::Merge),
            labels: body.labels,
        })
        .await??;
    device_assets::attached(&state, &device).await;
    tracing::info!(by = %caller.principal.name, device = %device.id, "device changed");
    Ok(HttpResponse::Ok().json(device))
}

/// Delete a device: its session is cut, it can no longer log in, and its id is never
/// given out again (provisioning it answers 409).
#[utoipa::path(delete, path = "/api/v1/devices/{id}", tag = "devices", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let id = device_id(&id)?;
    state
        .devices
        .send(DeleteDevice { id: id.clone() })
        .await??;
    tracing::info!(by = %caller.principal.name, device = %id, "device deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate the device's secret: the new one is shown only in this reply, the old one stops
/// working at once and a live session is cut.
#[utoipa::path(post, path = "/api/v1/devices/{id}/credentials", tag = "devices", params(("id" = String, Path)),
    responses((status = 200, body = DeviceCredentials), (status = 404)), security(("bearer" = [])))]
pub async fn rotate(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let id = device_id(&id)?;
    let credentials = state
        .devices
        .send(RotateCredentials { id: id.clone() })
        .await??;
    tracing::info!(by = %caller.principal.name, device = %id, "device credentials rotated");
    Ok(HttpResponse::Ok().insert_header(NO_STORE).json(credentials))
}

/// Disable: the live session is cut and logins are refused ("not authorized").
#[utoipa::path(post, path = "/api/v1/devices/{id}/disable", tag = "devices", params(("id" = String, Path)),
    responses((status = 200, body = DeviceView), (status = 404)), security(("bearer" = [])))]
pub async fn disable(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    set_enabled(caller, state, id, false).await
}

/// Enable a disabled device again.
#[utoipa::path(post, path = "/api/v1/devices/{id}/enable", tag = "devices", params(("id" = String, Path)),
    responses((status = 200, body = DeviceView), (status = 404)), security(("bearer" = [])))]
pub async fn enable(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    set_enabled(caller, state, id, true).await
}

async fn set_enabled(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    enabled: bool,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let id = device_id(&id)?;
    let device = state
        .devices
        .send(SetDeviceEnabled { id, enabled })
        .await??;
    tracing::info!(by = %caller.principal.name, device = %device.id, enabled, "device state set");
    Ok(HttpResponse::Ok().json(device))
}
