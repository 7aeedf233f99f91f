//! `/api/v1/devices/{id}/commands`: send a command to a device (write), follow it and list
//! a device's commands (read). The command's id is the `{cmd}` of its MQTT topics.

use actix_web::{web, HttpResponse};
use plantd_contracts::commands::{
    CancelCommand, CommandView, GetCommand, ListCommands, SendCommand,
};
use plantd_contracts::identity::Scope;
use serde::Deserialize;
use serde_json::json;

use super::devices::device_id;
use super::{ApiResult, AppState, Caller, Page, Problem};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/devices/{id}/commands", web::post().to(send))
        .route("/devices/{id}/commands", web::get().to(list))
        .route("/devices/{id}/commands/{cmd}", web::get().to(get))
        .route(
            "/devices/{id}/commands/{cmd}/cancel",
            web::post().to(cancel),
        );
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCommand {
    /// 1-64 characters of A-Z, a-z, 0-9, `_`, `-`, `.`.
    #[schema(example = "reboot")]
    name: String,
    /// A JSON object (default `{}`).
    #[schema(value_type = Option<Object>)]
    args: Option<serde_json::Value>,
    /// Seconds until the command expires if not delivered and answered (default 300).
    timeout_s: Option<u64>,
}

/// Send a command: published now if the device is online, else when it connects, unless
/// it expires first.
#[utoipa::path(post, path = "/api/v1/devices/{id}/commands", tag = "commands", params(("id" = String, Path)),
    request_body = NewCommand,
    responses((status = 202, body = CommandView), (status = 404), (status = 422, description = "invalid field")),
    security(("bearer" = [])))]
pub async fn send(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<NewCommand>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let device_id = device_id(&id)?;
    let body = body.into_inner();
    let command = state
        .control
        .send(SendCommand {
            device_id,
            name: body.name,
            args: body.args,
            timeout_s: body.timeout_s,
            by: caller.principal.name.clone(),
        })
        .await??;
    Ok(HttpResponse::Accepted().json(command))
}

/// One command with its state and the device's result.
#[utoipa::path(get, path = "/api/v1/devices/{id}/commands/{cmd}", tag = "commands",
    params(("id" = String, Path), ("cmd" = String, Path)),
    responses((status = 200, body = CommandView), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let (id, cmd) = path.into_inner();
    let device_id = device_id(&id)?;
    let command = state
        .control
        .send(GetCommand { device_id, id: cmd })
        .await??;
    Ok(HttpResponse::Ok().json(command))
}

/// A device's commands, newest first; `cursor` is the previous page's `next_cursor`.
#[utoipa::path(get, path = "/api/v1/devices/{id}/commands", tag = "commands",
    params(("id" = String, Path), Page),
    responses((status = 200, description = "`{items: [Command], next_cursor}`"), (status = 404)),
    security(("bearer" = [])))]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let device_id = device_id(&id)?;
    let limit = page.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::bad_request("limit", "limit is 1 to 1000"));
    }
    let mut items = state
        .control
        .send(ListCommands {
            device_id,
            limit: limit + 1,
            before: page.cursor.clone(),
        })
        .await??;
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = more.then(|| items.last().map(|c| c.id.clone())).flatten();
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next_cursor": next_cursor })))
}

/// Cancel a pending or delivered command: a pending one is never sent, a delivered one's
/// result is no longer recorded. 409 if it already finished.
#[utoipa::path(post, path = "/api/v1/devices/{id}/commands/{cmd}/cancel", tag = "commands",
    params(("id" = String, Path), ("cmd" = String, Path)),
    responses((status = 200, body = CommandView), (status = 404), (status = 409, description = "the command already finished")),
    security(("bearer" = [])))]
pub async fn cancel(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let (id, cmd) = path.into_inner();
    let device_id = device_id(&id)?;
    let command = state
        .control
        .send(CancelCommand {
            device_id,
            id: cmd,
            by: caller.principal.name.clone(),
        })
        .await??;
    Ok(HttpResponse::Ok().json(command))
}
