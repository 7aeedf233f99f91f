//! Work requests: the "report a problem" form of an asset's page (any signed-in role:
//! operators are viewers), and the inbox where an engineer approves a request into a work
//! order (optional priority and assignee) or rejects it with a reason. Talks to the
//! work-order module by message only.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use plantd_contracts::identity::SessionView;
use plantd_contracts::workorders::{
    ApproveWorkRequest, CreateWorkRequest, ListWorkRequests, Priority, RejectWorkRequest,
    RequestStatus, WorkOrderType,
};
use plantd_contracts::DomainError;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::health_common::{answer, asset_names, encode, filled, plain, reader, when, when_or};
use super::health_common::{with_status, Head};
use super::session::{changer, poster, redirect};
use crate::edge::device_assets::asset_location;
use crate::edge::{render, Problem};
use crate::state::AppState;

const VIEWERS_READ: &str = "viewers file requests; engineers decide them";
const LIMIT: u32 = 200;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/assets/{id}/requests", web::post().to(file))
        .route("/assets/{id}/qr", web::get().to(super::qr::page))
        .route("/requests", web::get().to(inbox))
        .route("/requests/{id}/approve", web::post().to(approve))
        .route("/requests/{id}/reject", web::post().to(reject));
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RequestForm {
    csrf_token: String,
    title: String,
    description: String,
}

/// `POST /assets/{id}/requests`: files the request and comes back to the asset's page,
/// which thanks the reporter.
pub async fn file(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<RequestForm>,
) -> HttpResponse {
    let current = match poster(&req, &state, &form.csrf_token).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let asset = id.into_inner();
    let mut body = json!({"asset_id": asset, "title": form.title.trim()});
    if let Err(p) = asset_location(&state, body.get("asset_id")).await {
        return plain(p);
    }
    if let Some(d) = filled(&form.description) {
        body["description"] = Value::String(d);
    }
    let sent = state
        .workorders
        .send(CreateWorkRequest {
            body,
            by: current.username.clone(),
        })
        .await;
    match answer(sent) {
        Ok(request) => {
            tracing::info!(by = %current.username, request = %request.id, "work request filed from the UI");
            redirect(&format!(
                "/assets/{}?filed={}#report-problem",
                encode(&asset),
                encode(&request.id)
            ))
        }
        Err(p) => plain(Problem {
            detail: format!("The request was not filed: {}", p.detail),
            ..p
        }),
    }
}

pub struct RequestRow {
    pub id: String,
    pub title: String,
    pub description: String,
    pub status: &'static str,
    pub asset_id: String,
    pub asset_name: String,
    pub requested_by: String,
    pub created_at: String,
    pub decided: String,
    pub reject_reason: String,
    pub work_order_id: String,
}

#[derive(Template)]
#[template(path = "requests.html")]
struct InboxPage {
    head: Head,
    error: Option<String>,
    filter_status: String,
    requests: Vec<RequestRow>,
    priorities: Vec<&'static str>,
    kinds: Vec<&'static str>,
}

#[derive(Deserialize, Default)]
pub struct InboxQuery {
    #[serde(default)]
    status: Option<String>,
}

async fn render_inbox(
    state: &AppState,
    session: &SessionView,
    status: String,
    error: Option<Problem>,
) -> HttpResponse {
    let wanted = match status.as_str() {
        "" | "any" => None,
        s => match RequestStatus::parse(s) {
            Some(s) => Some(s),
            None => {
                return plain(
                    DomainError::invalid("status", "pending, approved or rejected").into(),
                )
            }
        },
    };
    let list = match answer(
        state
            .workorders
            .send(ListWorkRequests {
                status: wanted,
                limit: LIMIT,
            })
            .await,
    ) {
        Ok(list) => list,
        Err(p) => return plain(p),
    };
    let names = asset_names(state).await;
    let requests = list
        .into_iter()
        .map(|r| {
            let asset_id = r.asset_id.clone().unwrap_or_default();
            RequestRow {
                asset_name: names
                    .get(&asset_id)
                    .cloned()
                    .unwrap_or_else(|| asset_id.clone()),
                asset_id,
                status: r.status.as_str(),
                requested_by: r.requested_by,
                created_at: when(r.created_at),
                decided: match (&r.decided_by, r.decided_at) {
                    (Some(by), at) => format!("{by}, {}", when_or(at, "")),
                    _ => String::new(),
                },
                reject_reason: r.reject_reason.unwrap_or_default(),
                work_order_id: r.work_order_id.unwrap_or_default(),
                id: r.id,
                title: r.title,
                description: r.description,
            }
        })
        .collect();
    let code = error.as_ref().map(|p| p.status);
    with_status(
        render(&InboxPage {
            head: Head::of(session),
            error: error.map(|p| p.detail),
            filter_status: status,
            requests,
            priorities: Priority::ALL.iter().map(|p| p.as_str()).collect(),
            kinds: WorkOrderType::ALL.iter().map(|k| k.as_str()).collect(),
        }),
        code,
    )
}

/// `/requests` (pending by default; `?status=any` for all).
pub async fn inbox(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<InboxQuery>,
) -> HttpResponse {
    match reader(&req, &state).await {
        Ok(current) => {
            let status = query
                .into_inner()
                .status
                .unwrap_or_else(|| "pending".into());
            render_inbox(&state, &current, status, None).await
        }
        Err(refusal) => refusal,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ApproveForm {
    csrf_token: String,
    priority: String,
    assignee: String,
    kind: String,
}

pub async fn approve(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<ApproveForm>,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWERS_READ).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let mut body = Map::new();
    for (key, text) in [
        ("priority", &form.priority),
        ("assignee", &form.assignee),
        ("kind", &form.kind),
    ] {
        if let Some(v) = filled(text) {
            body.insert(key.into(), Value::String(v));
        }
    }
    let sent = state
        .workorders
        .send(ApproveWorkRequest {
            id: id.into_inner(),
            body: Value::Object(body),
            by: current.username.clone(),
        })
        .await;
    match answer(sent) {
        Ok(order) => redirect(&format!("/work-orders/{}", order.id)),
        Err(p) => render_inbox(&state, &current, "pending".into(), Some(p)).await,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RejectForm {
    csrf_token: String,
    reason: String,
}

pub async fn reject(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<RejectForm>,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWERS_READ).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let sent = state
        .workorders
        .send(RejectWorkRequest {
            id: id.into_inner(),
            reason: form.reason.trim().to_owned(),
            by: current.username.clone(),
        })
        .await;
    match answer(sent) {
        Ok(_) => redirect("/requests"),
        Err(p) => render_inbox(&state, &current, "pending".into(), Some(p)).await,
    }
}
