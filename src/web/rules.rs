//! Rule pages: the list, the editor (`/rules/new`, `/rules/{id}`) as a plain form that
//! builds the rule's JSON and sends `CreateRule` / `UpdateRule` (a 422 shown beside its
//! field), delete, and the backtest (`/rules/preview`): the alarms the form's rule would
//! have raised over the last 7 days, without saving. Write scope edits; anyone reads.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use plantd_contracts::health::{
    CreateRule, DeleteRule, GetRule, ListRules, Preview, PreviewAlarm, PreviewRule, RuleInput,
    UpdateRule,
};
use plantd_contracts::identity::SessionView;
use plantd_contracts::time::now_ms;
use plantd_contracts::DeviceId;

use super::alarm_chart::{marked, MarkedChart, Overlays};
use super::chart::Episode;
use super::chart_marks::limits_of;
use super::health_common::{
    answer, filled, plain, reader, when, when_or, with_status, Head, TokenForm,
};
use super::numbers::format_value;
use super::rule_form::{field_errors, RuleForm, KINDS, OPS};
use super::session::{changer, forbidden, redirect};
use crate::edge::{render, Problem};
use crate::state::AppState;

const VIEWERS_READ: &str = "viewers cannot change rules";
const WEEK_MS: i64 = 7 * 86_400_000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/rules", web::get().to(list))
        .route("/rules", web::post().to(create))
        .route("/rules/new", web::get().to(new))
        .route("/rules/preview", web::post().to(preview))
        .route("/rules/{id}", web::get().to(show))
        .route("/rules/{id}", web::post().to(update))
        .route("/rules/{id}/delete", web::post().to(delete));
}

pub struct RuleRow {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub target: String,
    pub metric: String,
    pub severity: String,
    pub enabled: bool,
    pub chattering: bool,
}

#[derive(Template)]
#[template(path = "rules.html")]
struct RulesPage {
    head: Head,
    rules: Vec<RuleRow>,
}

pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let current = match reader(&req, &state).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let sent = state
        .health
        .send(ListRules {
            asset_id: None,
            device_id: None,
        })
        .await;
    let rules = match answer(sent) {
        Ok(rules) => rules,
        Err(p) => return plain(p),
    };
    render(&RulesPage {
        head: Head::of(&current),
        rules: rules
            .into_iter()
            .map(|r| RuleRow {
                kind: r.input.spec.kind(),
                target: match (&r.input.device_id, &r.input.asset_id) {
                    (Some(d), _) => format!("device {d}"),
                    (None, Some(a)) => format!("asset {a}"),
                    (None, None) => String::new(),
                },
                metric: r.input.metric.clone().unwrap_or_default(),
                severity: r
                    .input
                    .severity
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                enabled: r.input.enabled,
                chattering: r.chattering,
                id: r.id,
                name: r.input.name,
            })
            .collect(),
    })
}

pub struct PreviewRow {
    pub device_id: String,
    pub raised_at: String,
    pub value: String,
    pub severity: &'static str,
    pub peak_severity: &'static str,
    pub returned_at: String,
}

impl PreviewRow {
    fn of(a: &PreviewAlarm) -> PreviewRow {
        PreviewRow {
            device_id: a.device_id.clone(),
            raised_at: when(a.raised_at),
            value: format_value(a.value),
            severity: a.severity.as_str(),
            peak_severity: a.peak_severity.as_str(),
            returned_at: when_or(a.returned_at, "still active"),
        }
    }
}

pub struct PreviewResult {
    pub from: String,
    pub to: String,
    pub samples: usize,
    pub alarms: Vec<PreviewRow>,
    /// The metric of the rule's device over the window with the raises marked (a rule on
    /// one device and metric only).
    pub chart: Option<MarkedChart>,
}

#[derive(Template)]
#[template(path = "rule.html")]
struct RulePage {
    head: Head,
    form: RuleForm,
    /// A problem not tied to a field.
    error: Option<String>,
    errors: HashMap<String, String>,
    kinds: [&'static str; 4],
    ops: [&'static str; 7],
    severities: [&'static str; 4],
    preview: Option<PreviewResult>,
    /// The form edits the rule's kind (rate, all, any are edited over the API).
    editable: bool,
}

impl RulePage {
    fn err(&self, field: &str) -> &str {
        self.errors.get(field).map(String::as_str).unwrap_or("")
    }
}

fn editor(
    session: &SessionView,
    mut form: RuleForm,
    problem: Option<Problem>,
    preview: Option<PreviewResult>,
) -> HttpResponse {
    form.csrf_token = session.csrf_token.clone();
    let status = problem.as_ref().map(|p| p.status);
    let (error, errors) = match problem {
        None => (None, HashMap::new()),
        Some(p) if !p.errors.is_empty() => (None, field_errors(&p.errors)),
        Some(p) => (Some(p.detail), HashMap::new()),
    };
    with_status(
        render(&RulePage {
            head: Head::of(session),
            error,
            errors,
            kinds: KINDS,
            ops: OPS,
            severities: ["critical", "major", "minor", "warning"],
            preview,
            editable: KINDS.contains(&form.kind.as_str()),
            form,
        }),
        status,
    )
}

pub async fn new(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match reader(&req, &state).await {
        Ok(current) => {
            let form = RuleForm {
                kind: "threshold".into(),
                op: ">".into(),
                severity: "major".into(),
                ..RuleForm::default()
            };
            editor(&current, form, None, None)
        }
        Err(refusal) => refusal,
    }
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let current = match reader(&req, &state).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    match answer(state.health.send(GetRule(id.into_inner())).await) {
        Ok(rule) => editor(&current, RuleForm::of(&rule), None, None),
        Err(p) => plain(p),
    }
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<RuleForm>,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWERS_READ).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let form = form.into_inner();
    let body = match form.body(false) {
        Ok(body) => body,
        Err(e) => return editor(&current, form, Some(Problem::from(e)), None),
    };
    match answer(state.health.send(CreateRule(body)).await) {
        Ok(rule) => {
            tracing::info!(by = %current.username, rule = %rule.id, "rule created from the UI");
            redirect(&format!("/rules/{}", rule.id))
        }
        Err(p) => editor(&current, form, Some(p), None),
    }
}

pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<RuleForm>,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWERS_READ).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let mut form = form.into_inner();
    form.rule_id = id.into_inner();
    let patch = match form.body(true) {
        Ok(body) => body,
        Err(e) => return editor(&current, form, Some(Problem::from(e)), None),
    };
    let sent = state
        .health
        .send(UpdateRule {
            id: form.rule_id.clone(),
            patch,
        })
        .await;
    match answer(sent) {
        Ok(rule) => {
            tracing::info!(by = %current.username, rule = %rule.id, "rule changed from the UI");
            redirect(&format!("/rules/{}", rule.id))
        }
        Err(p) => editor(&current, form, Some(p), None),
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
    let sent = state
        .health
        .send(DeleteRule {
            id: id.into_inner(),
            by: current.username.clone(),
        })
        .await;
    match answer(sent) {
        Ok(()) => redirect("/rules"),
        Err(p) => plain(p),
    }
}

/// The backtest of the form's rule over the last 7 days. Reading only: any signed-in
/// role may run it, with the session's CSRF token (it is a POST of the editor's form).
pub async fn preview(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<RuleForm>,
) -> HttpResponse {
    let current = match reader(&req, &state).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    if !plantd_secrets::same_secret(&form.csrf_token, &current.csrf_token) {
        return forbidden("the form expired; reload the page and try again");
    }
    let form = form.into_inner();
    let body = match form.body(false) {
        Ok(body) => body,
        Err(e) => return editor(&current, form, Some(Problem::from(e)), None),
    };
    // The rule as health will read it, for its limits on the chart.
    let body_spec: Option<RuleInput> = serde_json::from_value(body.clone()).ok();
    let to = now_ms();
    let sent = state
        .health
        .send(PreviewRule {
            rule_id: None,
            rule: Some(body),
            from_ms: to - WEEK_MS,
            to_ms: to,
        })
        .await;
    match answer(sent) {
        Ok(p) => {
            let chart = match (DeviceId::parse(form.device_id.trim()), filled(&form.metric)) {
                (Ok(device), Some(metric)) => {
                    let overlays = preview_overlays(&p, body_spec.as_ref(), &metric, to);
                    marked(&state, &device, &metric, (to - WEEK_MS, to), &overlays).await
                }
                _ => None,
            };
            let result = PreviewResult {
                chart,
                from: when(p.from),
                to: when(p.to),
                samples: p.samples,
                alarms: p.alarms.iter().map(PreviewRow::of).collect(),
            };
            editor(&current, form, None, Some(result))
        }
        Err(p) => editor(&current, form, Some(p), None),
    }
}

/// What the backtest's chart draws over the data: the rule's limits, each raise and its
/// episode (to its return, or to the end of the window).
fn preview_overlays(
    p: &Preview,
    rule: Option<&RuleInput>,
    metric: &str,
    to: plantd_contracts::time::Millis,
) -> Overlays {
    Overlays {
        marks: p
            .alarms
            .iter()
            .map(|a| a.raised_at.timestamp_millis())
            .collect(),
        episodes: p
            .alarms
            .iter()
            .map(|a| Episode {
                from: a.raised_at.timestamp_millis(),
                to: a.returned_at.map_or(to, |t| t.timestamp_millis()),
                label: format!("backtest alarm ({})", a.peak_severity.as_str()),
            })
            .collect(),
        limits: rule
            .map(|r| limits_of(&r.spec, r.metric.as_deref(), metric))
            .unwrap_or_default(),
    }
}
