//! One work order's page: its fields and links (asset, alarm, plan, request, parent,
//! repeat of), the skills / tools / parts and location, the checklist with a tick form per
//! item, comments with an add form, the audit history, and the transitions its status
//! allows (`WorkOrderStatus::can_go`) as buttons — completing a corrective order asks for
//! the closing codes from `GetFailureCodes`. Forms need write scope and the CSRF token.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use plantd_contracts::identity::SessionView;
use plantd_contracts::workorders::{
    ClosingCodes, Code, CommentWorkOrder, FailureCodes, GetFailureCodes, GetWorkOrder, ItemResult,
    TickChecklistItem, TransitionWorkOrder, WorkOrder, WorkOrderStatus, WorkOrderType,
};
use plantd_contracts::DomainError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::health_common::{answer, asset_names, filled, plain, reader, when, when_or, Head};
use super::rule_form::number;
use super::session::{changer, redirect};
use super::wo_common::VIEWERS_READ;
use super::wo_common::{amount, status_label, transition_label};
use crate::edge::{render, Problem};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/work-orders/{id}", web::get().to(show))
        .route("/work-orders/{id}/transitions", web::post().to(transition))
        .route("/work-orders/{id}/comments", web::post().to(comment))
        .route("/work-orders/{id}/checklist/{item}", web::post().to(tick));
}

pub struct ItemRow {
    pub index: usize,
    pub text: String,
    pub result: &'static str,
    pub by: String,
    pub at: String,
    pub note: String,
    pub follow_up_id: String,
}

pub struct HistoryRow {
    pub at: String,
    pub by: String,
    pub action: String,
    pub detail: String,
}

pub struct CommentRow {
    pub at: String,
    pub by: String,
    pub text: String,
}

pub struct Move {
    pub to: &'static str,
    pub label: &'static str,
    /// Completing a corrective order: the closing-code form.
    pub closing: bool,
}

#[derive(Template)]
#[template(path = "workorder.html")]
struct OrderPage {
    head: Head,
    error: Option<String>,
    order: WorkOrder,
    kind: &'static str,
    priority: &'static str,
    status: &'static str,
    status_label: &'static str,
    asset_name: String,
    due: String,
    created_at: String,
    started_at: String,
    completed_at: String,
    estimated: String,
    actual: String,
    items: Vec<ItemRow>,
    comments: Vec<CommentRow>,
    history: Vec<HistoryRow>,
    moves: Vec<Move>,
    codes: Option<FailureCodes>,
    closing: Vec<(&'static str, String)>,
    /// Engineers ranked by the order's skills (open orders only; empty when identity
    /// does not answer).
    suggested: Vec<crate::edge::assignees::Suggestion>,
}

fn result_str(r: Option<ItemResult>) -> &'static str {
    match r {
        None => "",
        Some(ItemResult::Ok) => "ok",
        Some(ItemResult::Failed) => "failed",
        Some(ItemResult::NotApplicable) => "n/a",
    }
}

/// A history line's detail in words: a status move as `open → in progress`, else its
/// JSON.
fn detail_text(detail: &Value) -> String {
    let label = |v: &Value| {
        v.as_str()
            .and_then(WorkOrderStatus::parse)
            .map(status_label)
            .map(str::to_owned)
            .unwrap_or_else(|| v.to_string())
    };
    match (detail.get("from"), detail.get("to")) {
        (Some(from), Some(to)) => format!("{} → {}", label(from), label(to)),
        _ if detail.is_null() => String::new(),
        _ => detail.to_string(),
    }
}

/// A code with its label, for the closing codes shown on a done order.
fn label_of(list: &[Code], code: &str) -> String {
    list.iter()
        .find(|c| c.code == code)
        .map(|c| format!("{} ({})", c.label, c.code))
        .unwrap_or_else(|| code.to_owned())
}

async fn render_order(
    state: &AppState,
    session: &SessionView,
    id: String,
    error: Option<Problem>,
) -> HttpResponse {
    let order = match answer(state.workorders.send(GetWorkOrder(id)).await) {
        Ok(order) => order,
        Err(p) => return plain(p),
    };
    let names = asset_names(state).await;
    let suggested = if order.status.is_open() {
        let engineers = state
            .identity
            .send(plantd_contracts::identity::ListUsers {
                role: Some(plantd_contracts::identity::Role::Engineer),
                skill: None,
            })
            .await;
        match engineers {
            Ok(Ok(users)) => crate::edge::assignees::rank(&order.skills, &users),
            _ => Vec::new(),
        }
    } else {
        Vec::new()
    };
    let can_write = super::session::can_change(session);
    let moves: Vec<Move> = if can_write {
        WorkOrderStatus::ALL
            .into_iter()
            .filter(|to| order.status.can_go(*to))
            .map(|to| Move {
                to: to.as_str(),
                label: transition_label(order.status, to),
                closing: to == WorkOrderStatus::Done && order.kind == WorkOrderType::Corrective,
            })
            .collect()
    } else {
        Vec::new()
    };
    let needs_codes = moves.iter().any(|m| m.closing) || order.closing.is_some();
    let codes = if needs_codes {
        match answer(state.workorders.send(GetFailureCodes).await) {
            Ok(codes) => Some(codes),
            Err(p) => return plain(p),
        }
    } else {
        None
    };
    let closing = match (&order.closing, &codes) {
        (Some(c), Some(lists)) => vec![
            (
                "Failure mode",
                label_of(&lists.failure_modes, &c.failure_mode),
            ),
            ("Cause", label_of(&lists.causes, &c.cause)),
            ("Action", label_of(&lists.actions, &c.action)),
            ("Detected by", label_of(&lists.detections, &c.detection)),
        ],
        _ => Vec::new(),
    };
    let status = error.as_ref().map(|p| p.status);
    let page = OrderPage {
        head: Head::of(session),
        error: error.map(|p| p.detail),
        kind: order.kind.as_str(),
        priority: order.priority.as_str(),
        status: order.status.as_str(),
        status_label: status_label(order.status),
        asset_name: order
            .asset_id
            .as_ref()
            .map(|a| names.get(a).cloned().unwrap_or_else(|| a.clone()))
            .unwrap_or_default(),
        due: when_or(order.due_at, "—"),
        created_at: when(order.created_at),
        started_at: when_or(order.started_at, "—"),
        completed_at: when_or(order.completed_at, "—"),
        estimated: order.estimated_hours.map(amount).unwrap_or_default(),
        actual: order.actual_hours.map(amount).unwrap_or_default(),
        items: order
            .checklist
            .iter()
            .enumerate()
            .map(|(index, i)| ItemRow {
                index,
                text: i.text.clone(),
                result: result_str(i.result),
                by: i.by.clone().unwrap_or_default(),
                at: when_or(i.at, ""),
                note: i.note.clone().unwrap_or_default(),
                follow_up_id: i.follow_up_id.clone().unwrap_or_default(),
            })
            .collect(),
        comments: order
            .comments
            .iter()
            .map(|c| CommentRow {
                at: when(c.at),
                by: c.by.clone(),
                text: c.text.clone(),
            })
            .collect(),
        history: order
            .history
            .iter()
            .map(|h| HistoryRow {
                at: when(h.at),
                by: h.by.clone(),
                action: h.action.clone(),
                detail: detail_text(&h.detail),
            })
            .collect(),
        moves,
        codes,
        closing,
        suggested,
        order,
    };
    super::health_common::with_status(render(&page), status)
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    match reader(&req, &state).await {
        Ok(current) => render_order(&state, &current, id.into_inner(), None).await,
        Err(refusal) => refusal,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TransitionForm {
    csrf_token: String,
    to: String,
    comment: String,
    actual_hours: String,
    failure_mode: String,
    cause: String,
    action: String,
    detection: String,
}

impl TransitionForm {
    fn body(&self) -> Result<Value, DomainError> {
        let mut body = json!({ "to": self.to });
        if let Some(c) = filled(&self.comment) {
            body["comment"] = Value::String(c);
        }
        let hours = number("actual_hours", &self.actual_hours)?;
        if !hours.is_null() {
            body["actual_hours"] = hours;
        }
        if !self.failure_mode.is_empty() {
            let codes = ClosingCodes {
                failure_mode: self.failure_mode.clone(),
                cause: self.cause.clone(),
                action: self.action.clone(),
                detection: self.detection.clone(),
            };
            body["closing"] = serde_json::to_value(codes).unwrap_or(Value::Null);
        }
        Ok(body)
    }
}

/// Runs a form's message against the order and comes back to its page (or shows the
/// module's refusal on it).
async fn after<T>(
    state: &AppState,
    session: &SessionView,
    id: String,
    outcome: Result<T, Problem>,
) -> HttpResponse {
    match outcome {
        Ok(_) => redirect(&format!("/work-orders/{id}")),
        Err(p) => render_order(state, session, id, Some(p)).await,
    }
}

pub async fn transition(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<TransitionForm>,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWERS_READ).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    let outcome = match form.body() {
        Ok(body) => answer(
            state
                .workorders
                .send(TransitionWorkOrder {
                    id: id.clone(),
                    body,
                    by: current.username.clone(),
                })
                .await,
        ),
        Err(e) => Err(Problem::from(e)),
    };
    after(&state, &current, id, outcome).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CommentForm {
    csrf_token: String,
    text: String,
}

pub async fn comment(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CommentForm>,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWERS_READ).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    let sent = state
        .workorders
        .send(CommentWorkOrder {
            id: id.clone(),
            text: form.text.trim().to_owned(),
            by: current.username.clone(),
        })
        .await;
    after(&state, &current, id, answer(sent)).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TickForm {
    csrf_token: String,
    /// `ok`, `failed` or `not_applicable`.
    result: String,
    note: String,
    follow_up: String,
}

pub async fn tick(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, usize)>,
    form: web::Form<TickForm>,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWERS_READ).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let (id, item) = path.into_inner();
    let result = match form.result.as_str() {
        "ok" => ItemResult::Ok,
        "failed" => ItemResult::Failed,
        "not_applicable" => ItemResult::NotApplicable,
        _ => {
            let p = Problem::from(DomainError::invalid(
                "result",
                "ok, failed or not_applicable",
            ));
            return render_order(&state, &current, id, Some(p)).await;
        }
    };
    let sent = state
        .workorders
        .send(TickChecklistItem {
            id: id.clone(),
            item,
            result,
            note: filled(&form.note),
            follow_up: form.follow_up == "on",
            by: current.username.clone(),
        })
        .await;
    after(&state, &current, id, answer(sent)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_move_reads_as_words() {
        assert_eq!(
            detail_text(&json!({"from": "open", "to": "in_progress"})),
            "open → in progress"
        );
        assert_eq!(detail_text(&Value::Null), "");
        assert_eq!(detail_text(&json!({"title": "x"})), r#"{"title":"x"}"#);
    }

    #[test]
    fn a_closing_form_becomes_the_transition_body() {
        let form = TransitionForm {
            to: "done".into(),
            actual_hours: "2.5".into(),
            failure_mode: "leakage".into(),
            cause: "wear".into(),
            action: "replaced".into(),
            detection: "operator".into(),
            ..TransitionForm::default()
        };
        assert_eq!(
            form.body().expect("body"),
            json!({"to": "done", "actual_hours": 2.5, "closing": {"failure_mode": "leakage",
                   "cause": "wear", "action": "replaced", "detection": "operator"}})
        );
    }
}
