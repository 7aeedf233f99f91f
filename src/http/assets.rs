//! `/api/v1/assets`: the asset tree (site → area → asset). Read scope lists and reads;
//! write scope creates, changes, deletes and puts an asset in or out of maintenance.

use actix_web::{web, HttpResponse};
use plantd_contracts::health::*;
use plantd_contracts::identity::Scope;
use serde::Deserialize;
use serde_json::Value;

use super::{ApiResult, AppState, Caller, Page};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/assets", web::post().to(create))
        .route("/assets", web::get().to(list))
        .route("/assets/{id}", web::get().to(get))
        .route("/assets/{id}", web::patch().to(patch))
        .route("/assets/{id}", web::delete().to(delete))
        .route("/assets/{id}/maintenance", web::post().to(maintenance));
}

/// Create a site, area or asset: `{"name", "kind": "site"|"area"|"asset", "parent_id"?,
/// "criticality"?: "A"|"B"|"C", "location"?, "manufacturer"?, "model"?, "serial"?,
/// "metadata"?, "iso20816"?: {"group": 1|2, "foundation": "rigid"|"flexible", "zones"?: [a_b, b_c, c_d]}}`.
#[utoipa::path(post, path = "/api/v1/assets", tag = "assets", request_body = Object,
    responses((status = 201, description = "the asset"), (status = 422, description = "invalid field (named)")),
    security(("bearer" = [])))]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let asset = state.health.send(CreateAsset(body.into_inner())).await??;
    tracing::info!(by = %caller.principal.name, asset = %asset.id, "asset created");
    Ok(HttpResponse::Created().json(asset))
}

/// Every asset, sorted by its path from the site down.
#[utoipa::path(get, path = "/api/v1/assets", tag = "assets", params(Page),
    responses((status = 200, description = "`{items: [Asset], next_cursor}`")), security(("bearer" = [])))]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let assets = state.health.send(ListAssets).await??;
    // Pages keep the tree order: the cursor is the last id of the previous page.
    let start = match &page.cursor {
        Some(c) => assets
            .iter()
            .position(|a| &a.id == c)
            .map_or(assets.len(), |i| i + 1),
        None => 0,
    };
    let limit = page.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(super::Problem::bad_request("limit", "limit is 1 to 1000"));
    }
    let items: Vec<&Asset> = assets.iter().skip(start).take(limit).collect();
    let next_cursor = (start + limit < assets.len())
        .then(|| items.last().map(|a| a.id.clone()))
        .flatten();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items, "next_cursor": next_cursor })))
}

/// One asset with its children, attached devices and open alarm count.
#[utoipa::path(get, path = "/api/v1/assets/{id}", tag = "assets", params(("id" = String, Path)),
    responses((status = 200, description = "the asset with `children`, `devices`, `open_alarms`"), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let detail = state.health.send(GetAsset(id.into_inner())).await??;
    Ok(HttpResponse::Ok().json(detail))
}

/// Change an asset: an RFC 7396 merge patch over its fields.
#[utoipa::path(patch, path = "/api/v1/assets/{id}", tag = "assets", params(("id" = String, Path)), request_body = Object,
    responses((status = 200, description = "the asset"), (status = 404), (status = 422, description = "invalid field (named)")),
    security(("bearer" = [])))]
pub async fn patch(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let asset = state
        .health
        .send(UpdateAsset {
            id: id.into_inner(),
            patch: body.into_inner(),
        })
        .await??;
    tracing::info!(by = %caller.principal.name, asset = %asset.id, "asset changed");
    Ok(HttpResponse::Ok().json(asset))
}

/// Delete an asset; 409 while it has children, devices, rules or open alarms.
#[utoipa::path(delete, path = "/api/v1/assets/{id}", tag = "assets", params(("id" = String, Path)),
    responses((status = 204), (status = 404), (status = 409, description = "children, devices, rules or open alarms")),
    security(("bearer" = [])))]
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let id = id.into_inner();
    state.health.send(DeleteAsset(id.clone())).await??;
    tracing::info!(by = %caller.principal.name, asset = %id, "asset deleted");
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct MaintenanceBody {
    /// In maintenance (true) or back in service (false).
    active: bool,
    comment: Option<String>,
}

/// Put an asset in maintenance (its maintenance-aware alarms go out of service, anomaly
/// learning stops) or back in service.
#[utoipa::path(post, path = "/api/v1/assets/{id}/maintenance", tag = "assets", params(("id" = String, Path)),
    request_body = MaintenanceBody, responses((status = 200, description = "the asset"), (status = 404)),
    security(("bearer" = [])))]
pub async fn maintenance(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<MaintenanceBody>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let body = body.into_inner();
    let asset = state
        .health
        .send(SetAssetMaintenance {
            id: id.into_inner(),
            active: body.active,
            by: caller.principal.name.clone(),
            comment: body.comment,
        })
        .await??;
    Ok(HttpResponse::Ok().json(asset))
}
