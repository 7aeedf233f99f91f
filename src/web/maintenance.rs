//! Preventive-maintenance pages: the plan list with each plan's meter progress ("412 of
//! 500 run hours, due in ≈ 6 days"), one plan's page (triggers, next due and its basis,
//! the projection, its orders, pause / resume, delete) and the editor (create, edit).
//! The month calendar is `maintenance_calendar.rs`. Write scope changes; talks to the
//! maintenance and work-order modules and health (asset names) by messages only; the
//! editor's asset and meter device are checked with their owners first (as the API does).

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{DateTime, Utc};
use plantd_contracts::identity::SessionView;
use plantd_contracts::maintenance::{
    CreatePlan, DeletePlan, GetPlan, ListPlans, MeterKind, PlanStatus, UpdatePlan,
};
use plantd_contracts::workorders::{ListWorkOrders, WorkOrderFilter};
use plantd_contracts::DomainError;
use serde::Deserialize;
use serde_json::json;

use super::health_common::{answer, asset_names, filled, plain, reader, when, when_or};
use super::health_common::{with_status, Head, TokenForm};
use super::plan_form::PlanForm;
use super::rule_form::field_errors;
use super::session::{changer, redirect};
use super::wo_common::{amount, relative, OrderRow};
use super::workorders::asset_choices;
use crate::edge::device_assets::check_plan_refs;
use crate::edge::{render, Problem};
use crate::state::AppState;

const VIEWERS_READ: &str = "viewers cannot change maintenance plans";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/maintenance", web::get().to(list))
        .route(
            "/maintenance/calendar",
            web::get().to(super::maintenance_calendar::page),
        )
        .route("/maintenance/plans", web::post().to(create))
        .route("/maintenance/plans/new", web::get().to(new))
        .route("/maintenance/plans/{id}", web::get().to(show))
        .route("/maintenance/plans/{id}", web::post().to(update))
        .route("/maintenance/plans/{id}/edit", web::get().to(edit))
        .route("/maintenance/plans/{id}/pause", web::post().to(pause))
        .route("/maintenance/plans/{id}/delete", web::post().to(delete));
}

/// The meter's unit as people say it: run hours, or the counter's metric.
fn meter_unit(s: &PlanStatus) -> String {
    match &s.plan.meter {
        Some(m) if m.kind == MeterKind::RunHours => "run hours".into(),
        Some(m) => m.metric.clone(),
        None => String::new(),
    }
}

/// Where a plan stands, in words: "412 of 500 run hours, due in ≈ 6 days", or for a
/// calendar plan "due in ≈ 12 days" (or "… ago, overdue").
pub fn progress(s: &PlanStatus, now: DateTime<Utc>) -> String {
    let due = |at: Option<DateTime<Utc>>| at.map(|at| format!("due {}", relative(at, now)));
    let mut parts = Vec::new();
    if let Some(m) = &s.plan.meter {
        let since = s.meter_since_last.unwrap_or(0.0);
        parts.push(format!(
            "{} of {} {}",
            amount(since),
            amount(m.every),
            meter_unit(s)
        ));
    }
    match (due(s.next_due_at), &s.plan.meter) {
        (Some(d), _) => parts.push(d),
        (None, Some(_)) => parts.push("no recent use to project from".into()),
        (None, None) => {}
    }
    if s.plan.paused {
        parts.push("paused".into());
    }
    parts.join(", ")
}

fn triggers(s: &PlanStatus) -> String {
    let mut out = Vec::new();
    if let Some(c) = &s.plan.calendar {
        out.push(
            format!(
                "every {} {} ({:?} from {})",
                c.every,
                match c.unit {
                    plantd_contracts::maintenance::CalendarUnit::Days => "days",
                    plantd_contracts::maintenance::CalendarUnit::Weeks => "weeks",
                    plantd_contracts::maintenance::CalendarUnit::Months => "months",
                },
                c.mode,
                c.start.format("%Y-%m-%d")
            )
            .to_lowercase(),
        );
    }
    if let Some(m) = &s.plan.meter {
        out.push(format!(
            "every {} {} of {} on {}",
            amount(m.every),
            meter_unit(s),
            m.metric,
            m.device_id
        ));
    }
    out.join(" or ")
}

pub struct PlanRow {
    pub id: String,
    pub title: String,
    pub asset_id: String,
    pub asset_name: String,
    pub triggers: String,
    pub progress: String,
    pub next_due: String,
    pub basis: String,
    pub paused: bool,
    pub overdue: bool,
    pub open_work_order_id: String,
}

impl PlanRow {
    fn of(s: &PlanStatus, names: &HashMap<String, String>, now: DateTime<Utc>) -> PlanRow {
        PlanRow {
            id: s.plan.id.clone(),
            title: s.plan.title.clone(),
            asset_name: names
                .get(&s.plan.asset_id)
                .cloned()
                .unwrap_or_else(|| s.plan.asset_id.clone()),
            asset_id: s.plan.asset_id.clone(),
            triggers: triggers(s),
            progress: progress(s, now),
            next_due: when_or(s.next_due_at, "—"),
            basis: s.next_due_basis.clone().unwrap_or_default(),
            paused: s.plan.paused,
            overdue: s.overdue,
            open_work_order_id: s.open_work_order_id.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "plans.html")]
struct ListPage {
    head: Head,
    plans: Vec<PlanRow>,
    assets: Vec<(String, String)>,
    filter_asset: String,
    filter_due: String,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    asset_id: String,
    /// `week`: due within the dashboard's window (overdue included); `overdue`: overdue.
    #[serde(default)]
    due: String,
}

/// Whether a plan passes the `due` filter (the dashboard's figures count the same plans).
fn due_filter(due: &str, plan: &PlanStatus, now: DateTime<Utc>) -> Result<bool, Problem> {
    match due {
        "" => Ok(true),
        "week" => Ok(plan.due_within(now, super::dashboard::DUE_WINDOW)),
        "overdue" => Ok(plan.due_within(now, super::dashboard::DUE_WINDOW) && plan.overdue),
        _ => Err(Problem::from(DomainError::invalid(
            "due",
            "`week` or `overdue`",
        ))),
    }
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> HttpResponse {
    let current = match reader(&req, &state).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let q = query.into_inner();
    let sent = state
        .maintenance
        .send(ListPlans {
            asset_id: filled(&q.asset_id),
        })
        .await;
    let plans = match answer(sent) {
        Ok(plans) => plans,
        Err(p) => return plain(p),
    };
    let (names, assets) = asset_choices(&state).await;
    let now = Utc::now();
    let mut shown = Vec::with_capacity(plans.len());
    for plan in &plans {
        match due_filter(&q.due, plan, now) {
            Ok(true) => shown.push(PlanRow::of(plan, &names, now)),
            Ok(false) => {}
            Err(p) => return plain(p),
        }
    }
    render(&ListPage {
        head: Head::of(&current),
        plans: shown,
        assets,
        filter_asset: q.asset_id,
        filter_due: q.due,
    })
}

#[derive(Template)]
#[template(path = "plan.html")]
struct PlanPage {
    head: Head,
    error: Option<String>,
    row: PlanRow,
    status: PlanStatus,
    unit: String,
    meter_total: String,
    meter_due_at: String,
    rate: String,
    projected: String,
    calendar_due: String,
    last_completed: String,
    created_at: String,
    orders: Vec<OrderRow>,
}

async fn render_plan(
    state: &AppState,
    session: &SessionView,
    id: String,
    error: Option<Problem>,
) -> HttpResponse {
    let status = match answer(state.maintenance.send(GetPlan(id.clone())).await) {
        Ok(status) => status,
        Err(p) => return plain(p),
    };
    let names = asset_names(state).await;
    let orders = match state
        .workorders
        .send(ListWorkOrders {
            filter: WorkOrderFilter {
                plan_id: Some(id),
                ..WorkOrderFilter::default()
            },
            after: None,
            limit: 50,
        })
        .await
    {
        Ok(Ok(page)) => page.items.iter().map(|o| OrderRow::of(o, &names)).collect(),
        _ => Vec::new(),
    };
    let now = Utc::now();
    let code = error.as_ref().map(|p| p.status);
    let unit = meter_unit(&status);
    with_status(
        render(&PlanPage {
            head: Head::of(session),
            error: error.map(|p| p.detail),
            row: PlanRow::of(&status, &names, now),
            meter_total: status.meter_total.map(amount).unwrap_or_default(),
            meter_due_at: status.meter_due_at.map(amount).unwrap_or_default(),
            rate: status
                .meter_rate_per_day
                .map(|r| format!("{} {unit} a day (last 30 days)", amount(r)))
                .unwrap_or_default(),
            projected: status
                .meter_projected_at
                .map(|at| format!("{} ({})", when(at), relative(at, now)))
                .unwrap_or_default(),
            calendar_due: status
                .calendar_due_at
                .map(|at| format!("{} ({})", when(at), relative(at, now)))
                .unwrap_or_default(),
            last_completed: when_or(status.last_completed_at, "never"),
            created_at: when(status.plan.created_at),
            unit,
            orders,
            status,
        }),
        code,
    )
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    match reader(&req, &state).await {
        Ok(current) => render_plan(&state, &current, id.into_inner(), None).await,
        Err(refusal) => refusal,
    }
}

#[derive(Template)]
#[template(path = "plan_edit.html")]
struct EditorPage {
    head: Head,
    /// Empty for a new plan.
    plan_id: String,
    form: PlanForm,
    error: Option<String>,
    errors: HashMap<String, String>,
    assets: Vec<(String, String)>,
}

impl EditorPage {
    fn err(&self, field: &str) -> &str {
        self.errors.get(field).map(String::as_str).unwrap_or("")
    }
}

async fn editor(
    state: &AppState,
    session: &SessionView,
    plan_id: String,
    mut form: PlanForm,
    problem: Option<Problem>,
) -> HttpResponse {
    form.csrf_token = session.csrf_token.clone();
    let (_, assets) = asset_choices(state).await;
    let code = problem.as_ref().map(|p| p.status);
    let (error, errors) = match problem {
        None => (None, HashMap::new()),
        Some(p) if !p.errors.is_empty() => (None, field_errors(&p.errors)),
        Some(p) => (Some(p.detail), HashMap::new()),
    };
    with_status(
        render(&EditorPage {
            head: Head::of(session),
            plan_id,
            form,
            error,
            errors,
            assets,
        }),
        code,
    )
}

pub async fn new(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> HttpResponse {
    match reader(&req, &state).await {
        Ok(current) => {
            let form = PlanForm::blank(query.into_inner().asset_id);
            editor(&state, &current, String::new(), form, None).await
        }
        Err(refusal) => refusal,
    }
}

pub async fn edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let current = match reader(&req, &state).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    match answer(state.maintenance.send(GetPlan(id.clone())).await) {
        Ok(status) => editor(&state, &current, id, PlanForm::of(&status.plan), None).await,
        Err(p) => plain(p),
    }
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<PlanForm>,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWERS_READ).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let form = form.into_inner();
    let body = match form.body(false) {
        Ok(body) => body,
        Err(e) => return editor(&state, &current, String::new(), form, Some(e.into())).await,
    };
    if let Err(e) = check_plan_refs(&state, &body).await {
        return editor(&state, &current, String::new(), form, Some(e.into())).await;
    }
    let sent = state
        .maintenance
        .send(CreatePlan {
            body,
            by: current.username.clone(),
        })
        .await;
    match answer(sent) {
        Ok(status) => {
            tracing::info!(by = %current.username, plan = %status.plan.id, "maintenance plan created from the UI");
            redirect(&format!("/maintenance/plans/{}", status.plan.id))
        }
        Err(p) => editor(&state, &current, String::new(), form, Some(p)).await,
    }
}

pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<PlanForm>,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWERS_READ).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    let form = form.into_inner();
    let patch = match form.body(true) {
        Ok(body) => body,
        Err(e) => return editor(&state, &current, id, form, Some(e.into())).await,
    };
    if let Err(e) = check_plan_refs(&state, &patch).await {
        return editor(&state, &current, id, form, Some(e.into())).await;
    }
    let sent = state
        .maintenance
        .send(UpdatePlan {
            id: id.clone(),
            patch,
            by: current.username.clone(),
        })
        .await;
    match answer(sent) {
        Ok(_) => redirect(&format!("/maintenance/plans/{id}")),
        Err(p) => editor(&state, &current, id, form, Some(p)).await,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PauseForm {
    csrf_token: String,
    /// `on` pauses, anything else resumes.
    paused: String,
}

pub async fn pause(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<PauseForm>,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWERS_READ).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    let sent = state
        .maintenance
        .send(UpdatePlan {
            id: id.clone(),
            patch: json!({"paused": form.paused == "on"}),
            by: current.username.clone(),
        })
        .await;
    match answer(sent) {
        Ok(_) => redirect(&format!("/maintenance/plans/{id}")),
        Err(p) => render_plan(&state, &current, id, Some(p)).await,
    }
}

pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<TokenForm>,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWERS_READ).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    match answer(state.maintenance.send(DeletePlan(id.clone())).await) {
        Ok(()) => redirect("/maintenance"),
        Err(p) => render_plan(&state, &current, id, Some(p)).await,
    }
}

#[cfg(test)]
mod tests {
    use super::super::plan_form::meter_kind_str;
    use super::*;
    use plantd_contracts::maintenance::{Lead, MeterTrigger, Plan};

    fn status(meter: Option<MeterTrigger>) -> PlanStatus {
        let now = Utc::now();
        PlanStatus {
            plan: Plan {
                id: "p".into(),
                asset_id: "a".into(),
                title: "Grease".into(),
                description: String::new(),
                tasks: vec![],
                estimated_hours: None,
                skills: vec![],
                tools: vec![],
                parts: vec![],
                stops_asset: false,
                calendar: None,
                meter,
                lead: Lead::default(),
                paused: false,
                created_at: now,
                updated_at: now,
            },
            occurrence: 1,
            meter_total: Some(1412.0),
            meter_since_last: Some(412.0),
            meter_due_at: Some(1500.0),
            meter_rate_per_day: Some(14.7),
            meter_projected_at: Some(now + chrono::Duration::hours(6 * 24)),
            calendar_due_at: None,
            next_due_at: Some(now + chrono::Duration::hours(6 * 24)),
            next_due_basis: Some("projected".into()),
            open_work_order_id: None,
            last_completed_at: None,
            missed: 0,
            overdue: false,
        }
    }

    #[test]
    fn meter_progress_reads_as_the_issue_says() {
        let meter = MeterTrigger {
            device_id: plantd_contracts::DeviceId::parse("pump-1").expect("id"),
            metric: "running".into(),
            kind: MeterKind::RunHours,
            every: 500.0,
        };
        let s = status(Some(meter));
        let now = Utc::now();
        assert_eq!(progress(&s, now), "412 of 500 run hours, due in ≈ 6 days");
        let mut idle = s.clone();
        idle.next_due_at = None;
        assert_eq!(
            progress(&idle, now),
            "412 of 500 run hours, no recent use to project from"
        );
        assert_eq!(meter_kind_str(MeterKind::Counter), "counter");
    }
}
