//! A device calling over HTTP with its own MQTT credentials (`Authorization: Basic
//! base64(device-id:secret)`): HTTP ingest and firmware downloads. Asks the devices module
//! (`AuthenticateDevice`), counts and logs a refusal (never the secret).

use actix_web::HttpRequest;
use base64::Engine;
use plantd_contracts::devices::{AuthenticateDevice, DeviceAuth};
use plantd_contracts::DeviceId;

use super::{ApiResult, AppState, Problem};

/// `Authorization: Basic base64(device-id:secret)`.
fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The device whose credentials the request carries, or 401. `what` names the call and
/// `path_device` the device the path names (if any) in the log line.
pub async fn authenticate_device(
    req: &HttpRequest,
    state: &AppState,
    what: &str,
    path_device: Option<&DeviceId>,
) -> ApiResult<DeviceId> {
    let Some((username, secret)) = basic_credentials(req) else {
        return Err(Problem::unauthorized());
    };
    // The user name is not logged: a secret typed into the wrong field must not reach it.
    let verdict = state
        .devices
        .send(AuthenticateDevice {
            device_id: username.clone(),
            secret,
            certified: false,
        })
        .await?;
    match (verdict, DeviceId::parse(&username)) {
        (DeviceAuth::Accepted, Ok(device)) => Ok(device),
        _ => Err(refused(what, path_device, verdict, Problem::unauthorized())),
    }
}

/// Counts and logs a refused device call; returns `problem`.
pub fn refused(
    what: &str,
    path_device: Option<&DeviceId>,
    verdict: DeviceAuth,
    problem: Problem,
) -> Problem {
    metrics::counter!("plantd_http_auth_failures_total").increment(1);
    match path_device {
        Some(device) => plantd_contracts::warn_throttled!(
            "http_device_auth_refused",
            device = %device,
            ?verdict,
            "{what} with bad device credentials"
        ),
        None => plantd_contracts::warn_throttled!(
            "http_device_auth_refused",
            ?verdict,
            "{what} with bad device credentials"
        ),
    }
    problem
}
