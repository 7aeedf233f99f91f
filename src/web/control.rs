//! The device-control page (`/devices/{id}/control`) and its two forms: a desired-state
//! merge patch and a new command. Session cookie and CSRF token required; viewers read,
//! admins and engineers change. Handlers only translate forms into Control messages.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use plantd_contracts::commands::{CancelCommand, SendCommand};
use plantd_contracts::identity::SessionView;
use plantd_contracts::shadow::UpdateDesired;
use plantd_contracts::{DeviceId, DomainError};
use serde::Deserialize;

use super::control_panel::ControlPanel;
use super::session;
use crate::edge::render;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "device_control.html")]
pub struct ControlPage {
    pub username: String,
    pub role: String,
    pub control: ControlPanel,
}

fn plain(status: StatusCode, text: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(text.to_owned())
}

fn failure(e: DomainError) -> HttpResponse {
    match e {
        DomainError::NotFound(_) => plain(StatusCode::NOT_FOUND, "no such device"),
        other => plain(StatusCode::SERVICE_UNAVAILABLE, &other.to_string()),
    }
}

/// The page with `edit` applied to its panel (a refused form's message), or an error.
async fn page(
    state: &AppState,
    current: SessionView,
    device_id: DeviceId,
    edit: impl FnOnce(&mut ControlPanel),
) -> HttpResponse {
    match ControlPanel::load(state, device_id, current.csrf_token.clone(), current.role).await {
        Ok(mut control) => {
            edit(&mut control);
            render(&ControlPage {
                username: current.username,
                role: current.role.as_str().to_owned(),
                control,
            })
        }
        Err(e) => failure(e),
    }
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let Some((_, current)) = session::current(&req, &state).await else {
        return session::redirect("/login");
    };
    let Ok(device_id) = DeviceId::parse(&id) else {
        return plain(StatusCode::NOT_FOUND, "no such device");
    };
    page(&state, current, device_id, |_| {}).await
}

/// The signed-in person allowed to change this device, or the response refusing them.
async fn changer(
    req: &HttpRequest,
    state: &AppState,
    id: &str,
    csrf_token: &str,
) -> Result<(SessionView, DeviceId), HttpResponse> {
    let current = session::changer(
        req,
        state,
        csrf_token,
        "viewers cannot change devices; ask an engineer or an admin",
    )
    .await?;
    let device_id =
        DeviceId::parse(id).map_err(|_| plain(StatusCode::NOT_FOUND, "no such device"))?;
    Ok((current, device_id))
}

/// Where to return after a form: the page it came from if that is one of this device's
/// pages, else the control page.
fn back_to(device_id: &DeviceId, back: &str) -> String {
    let prefix = format!("/devices/{device_id}");
    let safe = back
        .strip_prefix(&prefix)
        .is_some_and(|rest| rest.is_empty() || (rest.starts_with('/') && !rest.contains("//")))
        && !back.contains(['\\', '\r', '\n']);
    if safe {
        back.to_owned()
    } else {
        format!("{prefix}/control")
    }
}

fn refused(mut response: HttpResponse) -> HttpResponse {
    *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    response
}

#[derive(Deserialize)]
pub struct ShadowForm {
    csrf_token: String,
    patch: String,
    #[serde(default)]
    back: String,
}

pub async fn update_desired(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<ShadowForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let (current, device_id) = match changer(&req, &state, &id, &form.csrf_token).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let outcome = match serde_json::from_str::<serde_json::Value>(&form.patch) {
        Err(e) => Err(format!("not JSON: {e}")),
        Ok(patch) => match state
            .control
            .send(UpdateDesired {
                device_id: device_id.clone(),
                patch,
                by: format!("user:{}", current.username),
            })
            .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(DomainError::Invalid { message, .. })) => Err(message),
            Ok(Err(e)) => return failure(e),
            Err(_) => return failure(DomainError::Unavailable("device control".into())),
        },
    };
    match outcome {
        Ok(()) => session::redirect(&back_to(&device_id, &form.back)),
        Err(message) => refused(
            page(&state, current, device_id, |c| {
                c.shadow_error = Some(message);
                c.patch_text = form.patch;
            })
            .await,
        ),
    }
}

#[derive(Deserialize)]
pub struct CommandForm {
    csrf_token: String,
    name: String,
    #[serde(default)]
    args: String,
    #[serde(default)]
    timeout_s: String,
    #[serde(default)]
    back: String,
}

pub async fn send_command(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CommandForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let (current, device_id) = match changer(&req, &state, &id, &form.csrf_token).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let args = match form.args.trim() {
        "" => Ok(None),
        text => serde_json::from_str(text)
            .map(Some)
            .map_err(|e| format!("arguments are not JSON: {e}")),
    };
    let timeout_s = match form.timeout_s.trim() {
        "" => Ok(None),
        text => text
            .parse::<u64>()
            .map(Some)
            .map_err(|_| "the timeout is a whole number of seconds".to_owned()),
    };
    let outcome = match (args, timeout_s) {
        (Ok(args), Ok(timeout_s)) => match state
            .control
            .send(SendCommand {
                device_id: device_id.clone(),
                name: form.name.clone(),
                args,
                timeout_s,
                by: format!("user:{}", current.username),
            })
            .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(DomainError::Invalid { field, message })) => Err(format!("{field}: {message}")),
            Ok(Err(e)) => return failure(e),
            Err(_) => return failure(DomainError::Unavailable("device control".into())),
        },
        (Err(message), _) | (_, Err(message)) => Err(message),
    };
    match outcome {
        Ok(()) => session::redirect(&back_to(&device_id, &form.back)),
        Err(message) => refused(
            page(&state, current, device_id, |c| {
                c.command_error = Some(message);
            })
            .await,
        ),
    }
}

#[derive(Deserialize)]
pub struct CancelForm {
    csrf_token: String,
    #[serde(default)]
    back: String,
}

pub async fn cancel_command(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<CancelForm>,
) -> HttpResponse {
    let (id, cmd) = path.into_inner();
    let form = form.into_inner();
    let (current, device_id) = match changer(&req, &state, &id, &form.csrf_token).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let sent = state
        .control
        .send(CancelCommand {
            device_id: device_id.clone(),
            id: cmd,
            by: format!("user:{}", current.username),
        })
        .await;
    match sent {
        // Already finished: the page shows what it became.
        Ok(Ok(_)) | Ok(Err(DomainError::Conflict(_))) => {
            session::redirect(&back_to(&device_id, &form.back))
        }
        Ok(Err(e)) => failure(e),
        Err(_) => failure(DomainError::Unavailable("device control".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_return_only_to_this_devices_pages() {
        let id = DeviceId::parse("press-1").expect("id");
        assert_eq!(back_to(&id, "/devices/press-1"), "/devices/press-1");
        assert_eq!(
            back_to(&id, "/devices/press-1/control"),
            "/devices/press-1/control"
        );
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example",
            "/devices/press-10",
            "/devices/press-1//evil.example",
            "/devices/press-1/\r\nSet-Cookie: x",
        ] {
            assert_eq!(back_to(&id, bad), "/devices/press-1/control", "{bad:?}");
        }
    }
}
