//! `GET /api/v1/work-orders/{id}/suggested-assignees` (read scope): the order's required
//! skills from the work-order module, the engineers from identity, ranked at the edge
//! (`edge::assignees::rank`). Neither module knows the other.

use actix_web::{web, HttpResponse};
use plantd_contracts::identity::{ListUsers, Role, Scope};
use plantd_contracts::workorders::GetWorkOrder;

use super::{ApiResult, AppState, Caller};
use crate::edge::assignees::{rank, Suggestion};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/work-orders/{id}/suggested-assignees",
        web::get().to(suggested),
    );
}

/// Engineers who could do the order: those with every required skill first, then by how
/// many they have, then by name; disabled users are never offered.
#[utoipa::path(get, path = "/api/v1/work-orders/{id}/suggested-assignees", tag = "work orders",
    params(("id" = String, Path)),
    responses((status = 200, description = "`{work_order, skills, items: [Suggestion]}`"),
        (status = 404), (status = 503, description = "the work-order module is not running")),
    security(("bearer" = [])))]
pub async fn suggested(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let order = state
        .workorders
        .send(GetWorkOrder(id.into_inner()))
        .await??;
    let engineers = state
        .identity
        .send(ListUsers {
            role: Some(Role::Engineer),
            skill: None,
        })
        .await??;
    let items: Vec<Suggestion> = rank(&order.skills, &engineers);
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "work_order": order.id,
        "skills": order.skills,
        "items": items,
    })))
}
