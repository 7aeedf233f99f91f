//! Firmware pages: images (list, multipart upload, delete), campaigns (start for devices or
//! a label, counts per state, each device's progress, cancel). Viewers read; admins and
//! engineers change, only admins delete an image, and every form carries the session's
//! CSRF token.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use futures_util::StreamExt;
use plantd_contracts::firmware::{
    BeginUpload, CampaignDetail, CampaignTargets, CampaignView, CancelCampaign, DeleteFirmware,
    FirmwareView, GetCampaign, GetSigningKey, ListCampaigns, ListFirmware, StartCampaign,
};
use plantd_contracts::identity::{Role, SessionView};
use plantd_contracts::DeviceId;
use serde::Deserialize;

use super::session::{self, can_change, changer, forbidden, redirect};
use crate::edge::firmware_transfer as transfer;
use crate::edge::{render, Problem};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/firmware", web::get().to(page))
        .route("/firmware", web::post().to(upload))
        .route("/firmware/{id}/delete", web::post().to(delete))
        .route("/firmware/campaigns", web::post().to(start))
        .route("/firmware/campaigns/{id}", web::get().to(campaign))
        .route("/firmware/campaigns/{id}/cancel", web::post().to(cancel));
}

#[derive(Template)]
#[template(path = "firmware.html")]
struct FirmwarePage {
    username: String,
    role: String,
    csrf_token: String,
    can_change: bool,
    /// Admins may delete images.
    is_admin: bool,
    error: Option<String>,
    images: Vec<FirmwareView>,
    campaigns: Vec<CampaignView>,
    /// The firmware signing public key (base64), for device makers.
    signing_key: String,
}

#[derive(Template)]
#[template(path = "campaign.html")]
struct CampaignPage {
    username: String,
    role: String,
    csrf_token: String,
    can_change: bool,
    campaign: CampaignDetail,
}

/// The firmware page, with an error above it when a form was refused.
async fn render_page(
    state: &AppState,
    session: SessionView,
    error: Option<(StatusCode, String)>,
) -> HttpResponse {
    let (images, campaigns, signing_key) = match (
        state.firmware.send(ListFirmware).await,
        state.firmware.send(ListCampaigns).await,
        state.firmware.send(GetSigningKey).await,
    ) {
        (Ok(Ok(images)), Ok(Ok(mut campaigns)), Ok(key)) => {
            campaigns.reverse();
            (images, campaigns, key)
        }
        _ => return HttpResponse::ServiceUnavailable().body("plantd is not ready; try again"),
    };
    let status = error.as_ref().map(|(s, _)| *s);
    let mut response = render(&FirmwarePage {
        username: session.username.clone(),
        role: session.role.as_str().to_owned(),
        can_change: can_change(&session),
        is_admin: session.role == Role::Admin,
        csrf_token: session.csrf_token,
        error: error.map(|(_, m)| m),
        images,
        campaigns,
        signing_key,
    });
    if let Some(status) = status {
        *response.status_mut() = status;
    }
    response
}

fn problem_message(p: Problem) -> (StatusCode, String) {
    (p.status, p.detail)
}

pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some((_, current)) = session::current(&req, &state).await else {
        return redirect("/login");
    };
    render_page(&state, current, None).await
}

/// A text field of the upload form, at most 1 KiB.
async fn text(field: &mut actix_multipart::Field) -> Result<String, String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        if bytes.len() + chunk.len() > 1024 {
            return Err("a form field is too long".to_owned());
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| "a form field is not UTF-8".to_owned())
}

/// Multipart upload: `csrf_token`, `version` and `name` must come before the file (browsers
/// send fields in form order), so nothing is stored for a forged form and the image is
/// streamed to the firmware module as it arrives.
pub async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    mut form: Multipart,
) -> HttpResponse {
    let Some((_, current)) = session::current(&req, &state).await else {
        return redirect("/login");
    };
    if !can_change(&current) {
        return forbidden("viewers cannot upload firmware");
    }
    let (mut csrf_ok, mut version, mut name, mut stored) = (false, None, None, None);
    while let Some(field) = form.next().await {
        let mut field = match field {
            Ok(f) => f,
            Err(e) => {
                return render_page(
                    &state,
                    current,
                    Some((StatusCode::BAD_REQUEST, e.to_string())),
                )
                .await
            }
        };
        let field_name = field.name().unwrap_or("").to_owned();
        let result = match field_name.as_str() {
            "csrf_token" => text(&mut field).await.map(|t| {
                csrf_ok = plantd_secrets::same_secret(&t, &current.csrf_token);
            }),
            "version" => text(&mut field)
                .await
                .map(|t| version = Some(t.trim().to_owned())),
            "name" => text(&mut field).await.map(|t| {
                name = Some(t.trim().to_owned()).filter(|n| !n.is_empty());
            }),
            "image" if !csrf_ok => {
                return forbidden("the form expired; reload the page and try again")
            }
            "image" => {
                let begin = BeginUpload {
                    version: version.clone().unwrap_or_default(),
                    name: name.clone(),
                    declared_size: None,
                    by: format!("user:{}", current.username),
                };
                match transfer::upload(&state.firmware, begin, &mut field).await {
                    // The image is stored: what follows it in the form is not read.
                    Ok(image) => {
                        stored = Some(image);
                        break;
                    }
                    Err(p) => return render_page(&state, current, Some(problem_message(p))).await,
                }
            }
            _ => Ok(()),
        };
        if let Err(message) = result {
            return render_page(&state, current, Some((StatusCode::BAD_REQUEST, message))).await;
        }
    }
    if !csrf_ok {
        return forbidden("the form expired; reload the page and try again");
    }
    let Some(image) = stored else {
        return render_page(
            &state,
            current,
            Some((StatusCode::BAD_REQUEST, "choose an image file".to_owned())),
        )
        .await;
    };
    tracing::info!(by = %current.username, firmware = %image.id, "firmware uploaded from the UI");
    redirect("/firmware")
}

#[derive(Deserialize)]
pub struct CampaignForm {
    csrf_token: String,
    firmware: String,
    #[serde(default)]
    devices: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    timeout_s: String,
    #[serde(default)]
    retries: String,
}

fn optional_number<T: std::str::FromStr>(field: &str, value: &str) -> Result<Option<T>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|_| format!("{field}: give a whole number"))
}

fn targets(form: &CampaignForm) -> Result<CampaignTargets, String> {
    let ids: Vec<&str> = form
        .devices
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect();
    match (ids.is_empty(), form.label.trim()) {
        (false, "") => ids
            .into_iter()
            .map(|id| DeviceId::parse(id).map_err(|_| format!("'{id}' is not a device id")))
            .collect::<Result<_, _>>()
            .map(CampaignTargets::Devices),
        (true, label) if !label.is_empty() => Ok(CampaignTargets::Label(label.to_owned())),
        _ => Err("give either device ids or a label".to_owned()),
    }
}

pub async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CampaignForm>,
) -> HttpResponse {
    let current = match changer(
        &req,
        &state,
        &form.csrf_token,
        "viewers cannot start campaigns",
    )
    .await
    {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let parsed = targets(&form).and_then(|t| {
        Ok((
            t,
            optional_number::<u64>("timeout_s", &form.timeout_s)?,
            optional_number::<u32>("retries", &form.retries)?,
        ))
    });
    let (targets, timeout_s, retries) = match parsed {
        Ok(p) => p,
        Err(m) => {
            return render_page(&state, current, Some((StatusCode::UNPROCESSABLE_ENTITY, m))).await
        }
    };
    let started = state
        .firmware
        .send(StartCampaign {
            firmware_id: form.firmware.clone(),
            targets,
            timeout_s,
            retries,
            created_by: format!("user:{}", current.username),
        })
        .await;
    match started {
        Ok(Ok(detail)) => redirect(&format!("/firmware/campaigns/{}", detail.campaign.id)),
        Ok(Err(e)) => render_page(&state, current, Some(problem_message(Problem::from(e)))).await,
        Err(e) => render_page(&state, current, Some(problem_message(Problem::from(e)))).await,
    }
}

pub async fn campaign(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let Some((_, current)) = session::current(&req, &state).await else {
        return redirect("/login");
    };
    match state
        .firmware
        .send(GetCampaign {
            id: id.into_inner(),
        })
        .await
    {
        Ok(Ok(campaign)) => render(&CampaignPage {
            username: current.username.clone(),
            role: current.role.as_str().to_owned(),
            can_change: can_change(&current),
            csrf_token: current.csrf_token,
            campaign,
        }),
        Ok(Err(plantd_contracts::DomainError::NotFound(_))) => {
            HttpResponse::NotFound().body("no such campaign")
        }
        _ => HttpResponse::ServiceUnavailable().body("plantd is not ready; try again"),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf_token: String,
}

pub async fn cancel(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let current = match changer(
        &req,
        &state,
        &form.csrf_token,
        "viewers cannot cancel campaigns",
    )
    .await
    {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    match state
        .firmware
        .send(CancelCampaign {
            id: id.clone(),
            by: format!("user:{}", current.username),
        })
        .await
    {
        Ok(Ok(_)) => redirect(&format!("/firmware/campaigns/{id}")),
        Ok(Err(e)) => render_page(&state, current, Some(problem_message(Problem::from(e)))).await,
        Err(e) => render_page(&state, current, Some(problem_message(Problem::from(e)))).await,
    }
}

/// Deletes an image (admins only); a running campaign's image is refused with its reason.
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let current = match changer(
        &req,
        &state,
        &form.csrf_token,
        "viewers cannot delete firmware",
    )
    .await
    {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    if current.role != Role::Admin {
        return forbidden("only admins delete firmware images");
    }
    let id = id.into_inner();
    let deleted = state
        .firmware
        .send(DeleteFirmware {
            id: id.clone(),
            by: format!("user:{}", current.username),
        })
        .await;
    match deleted {
        Ok(Ok(())) => {
            tracing::info!(by = %current.username, firmware = %id, "firmware deleted in the UI");
            redirect("/firmware")
        }
        Ok(Err(e)) => render_page(&state, current, Some(problem_message(Problem::from(e)))).await,
        Err(e) => render_page(&state, current, Some(problem_message(Problem::from(e)))).await,
    }
}
