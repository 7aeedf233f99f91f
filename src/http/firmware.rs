//! `/api/v1/firmware` and `/api/v1/firmware-campaigns`: upload images (streamed to the
//! firmware module in chunks, `transfer.rs`), start, watch and cancel campaigns, and the
//! download a target device makes with its own credentials (Basic auth), streamed from the
//! module in chunks.

use actix_web::{web, HttpRequest, HttpResponse};
use plantd_contracts::firmware::{
    AuthorizeDownload, BeginUpload, CampaignDetail, CampaignTargets, CancelCampaign,
    DeleteFirmware, FirmwareView, GetCampaign, GetFirmware, GetSigningKey, ListCampaigns,
    ListFirmware, StartCampaign,
};
use plantd_contracts::identity::Scope;
use plantd_contracts::DeviceId;
use serde::Deserialize;

use super::device_auth::authenticate_device;
use super::{ApiResult, AppState, Caller, Page, Problem};
use crate::edge::firmware_transfer as transfer;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/firmware", web::post().to(upload))
        .route("/firmware", web::get().to(list))
        .route("/firmware/signing-key", web::get().to(signing_key))
        .route("/firmware/{id}", web::get().to(get))
        .route("/firmware/{id}", web::delete().to(delete))
        .route("/firmware/{id}/image", web::get().to(download))
        .route("/firmware-campaigns", web::post().to(start_campaign))
        .route("/firmware-campaigns", web::get().to(list_campaigns))
        .route("/firmware-campaigns/{id}", web::get().to(get_campaign))
        .route(
            "/firmware-campaigns/{id}/cancel",
            web::post().to(cancel_campaign),
        );
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The version devices report once they run the image.
    version: String,
    /// A human name (default: "firmware {version}").
    name: Option<String>,
}

/// Upload an image: the body is the image itself (`application/octet-stream`).
#[utoipa::path(post, path = "/api/v1/firmware", tag = "firmware", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the image"),
    responses((status = 201, body = FirmwareView), (status = 413), (status = 422)),
    security(("bearer" = [])))]
pub async fn upload(
    caller: Caller,
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<UploadQuery>,
    body: web::Payload,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let q = q.into_inner();
    let begin = BeginUpload {
        version: q.version,
        name: q.name,
        declared_size: declared,
        by: caller.principal.name.clone(),
    };
    let image = transfer::upload(&state.firmware, begin, body).await?;
    tracing::info!(by = %caller.principal.name, firmware = %image.id, "firmware uploaded");
    Ok(HttpResponse::Created().json(image))
}

/// Stored images, oldest first.
#[utoipa::path(get, path = "/api/v1/firmware", tag = "firmware", params(Page),
    responses((status = 200, description = "`{items: [Firmware], next_cursor}`")), security(("bearer" = [])))]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let images = state.firmware.send(ListFirmware).await??;
    Ok(HttpResponse::Ok().json(page.apply(images, |i| i.id.as_str())?))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SigningKeyView {
    /// `ed25519`.
    algorithm: &'static str,
    /// Base64 (standard, padded) of the 32-byte public key.
    public_key: String,
    /// What each signature covers.
    signs: &'static str,
}

/// The public key that verifies every image's signature (ed25519, over the raw 32-byte
/// SHA-256 digest of the image), for device makers to build into their devices.
#[utoipa::path(get, path = "/api/v1/firmware/signing-key", tag = "firmware",
    responses((status = 200, body = SigningKeyView)), security(("bearer" = [])))]
pub async fn signing_key(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let public_key = state.firmware.send(GetSigningKey).await?;
    Ok(HttpResponse::Ok().json(SigningKeyView {
        algorithm: "ed25519",
        public_key,
        signs: "sha256_digest",
    }))
}

#[utoipa::path(get, path = "/api/v1/firmware/{id}", tag = "firmware", params(("id" = String, Path)),
    responses((status = 200, body = FirmwareView), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let image = state
        .firmware
        .send(GetFirmware {
            id: id.into_inner(),
        })
        .await??;
    Ok(HttpResponse::Ok().json(image))
}

/// Delete an image (admin): its bytes are removed and it is no longer listed or offered;
/// campaigns that used it stay readable. 409 while a running campaign offers it.
#[utoipa::path(delete, path = "/api/v1/firmware/{id}", tag = "firmware", params(("id" = String, Path)),
    responses((status = 204), (status = 404), (status = 409, description = "a running campaign uses it")),
    security(("bearer" = [])))]
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Admin)?;
    let id = id.into_inner();
    state
        .firmware
        .send(DeleteFirmware {
            id: id.clone(),
            by: caller.principal.name.clone(),
        })
        .await??;
    tracing::info!(by = %caller.principal.name, firmware = %id, "firmware deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// The image, for a device a running campaign offers it to (its own Basic credentials).
/// Any other device gets 404.
#[utoipa::path(get, path = "/api/v1/firmware/{id}/image", tag = "firmware", params(("id" = String, Path)),
    responses((status = 200, description = "the image (application/octet-stream)"), (status = 401), (status = 404)),
    security(("device" = [])))]
pub async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let device = authenticate_device(&req, &state, "firmware download", None).await?;
    let image = state
        .firmware
        .send(AuthorizeDownload {
            firmware_id: id.into_inner(),
            device_id: device,
        })
        .await??;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header(("x-checksum-sha256", image.sha256.clone()))
        .no_chunking(image.size)
        .streaming(transfer::ImageBody::new(state.firmware.clone(), image)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCampaign {
    /// The firmware image's id.
    firmware: String,
    /// Target devices by id…
    devices: Option<Vec<String>>,
    /// …or every device with this label, resolved once at the start.
    label: Option<String>,
    /// Seconds a device has to progress in each state (default: firmware_step_timeout_s).
    timeout_s: Option<u64>,
    /// Offers made again after a timeout (default: firmware_retries).
    retries: Option<u32>,
}

/// Start a campaign: each target gets the retained `firmware/available` notice.
#[utoipa::path(post, path = "/api/v1/firmware-campaigns", tag = "firmware", request_body = NewCampaign,
    responses((status = 201, body = CampaignDetail), (status = 409, description = "a device is in another running campaign"), (status = 422)),
    security(("bearer" = [])))]
pub async fn start_campaign(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<NewCampaign>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let body = body.into_inner();
    let targets = match (body.devices, body.label) {
        (Some(devices), None) => CampaignTargets::Devices(
            devices
                .iter()
                .map(|d| DeviceId::parse(d))
                .collect::<Result<_, _>>()?,
        ),
        (None, Some(label)) => CampaignTargets::Label(label),
        _ => {
            return Err(Problem::from(plantd_contracts::DomainError::invalid(
                "devices",
                "give either devices or label",
            )))
        }
    };
    let detail = state
        .firmware
        .send(StartCampaign {
            firmware_id: body.firmware,
            targets,
            timeout_s: body.timeout_s,
            retries: body.retries,
            created_by: caller.principal.name.clone(),
        })
        .await??;
    Ok(HttpResponse::Created().json(detail))
}

/// Campaigns, oldest first, with counts per state.
#[utoipa::path(get, path = "/api/v1/firmware-campaigns", tag = "firmware", params(Page),
    responses((status = 200, description = "`{items: [Campaign], next_cursor}`")), security(("bearer" = [])))]
pub async fn list_campaigns(
    caller: Caller,
    state: web::Data<AppState>,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let campaigns = state.firmware.send(ListCampaigns).await??;
    Ok(HttpResponse::Ok().json(page.apply(campaigns, |c| c.id.as_str())?))
}

/// A campaign with counts per state and every device's progress.
#[utoipa::path(get, path = "/api/v1/firmware-campaigns/{id}", tag = "firmware", params(("id" = String, Path)),
    responses((status = 200, body = CampaignDetail), (status = 404)), security(("bearer" = [])))]
pub async fn get_campaign(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let detail = state
        .firmware
        .send(GetCampaign {
            id: id.into_inner(),
        })
        .await??;
    Ok(HttpResponse::Ok().json(detail))
}

/// Cancel a running campaign: unfinished devices are marked cancelled, their notices cleared.
#[utoipa::path(post, path = "/api/v1/firmware-campaigns/{id}/cancel", tag = "firmware", params(("id" = String, Path)),
    responses((status = 200, body = CampaignDetail), (status = 404), (status = 409, description = "not running")),
    security(("bearer" = [])))]
pub async fn cancel_campaign(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let detail = state
        .firmware
        .send(CancelCampaign {
            id: id.into_inner(),
            by: caller.principal.name.clone(),
        })
        .await??;
    Ok(HttpResponse::Ok().json(detail))
}
