//! Alarm pages: the list (filters by state incl. `open`, severity and asset as a GET form,
//! newest first, paged) with acknowledge / shelve / clear forms for write scope where the
//! state allows them, and one alarm's page (every field, its history, the chart around
//! the raise). Every form carries the session's CSRF token; actions go to health as
//! `ActOnAlarm` with the signed-in user's name.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use plantd_contracts::health::{
    ActOnAlarm, Alarm, AlarmSort, AlarmState, BrowseAlarms, GetAlarm, OperatorAction, Severity,
};
use plantd_contracts::time::parse_time;
use plantd_contracts::window::SortDir;
use plantd_contracts::DomainError;
use serde::Deserialize;

use super::alarm_chart::{self, MarkedChart};
use super::health_common::{answer, asset_names, filled, plain, reader, when, when_or, Head};
use super::numbers::format_value;
use super::session::{changer, redirect};
use super::table::{Table, TableQuery};
use crate::edge::{render, Problem};
use crate::state::AppState;

const VIEWERS_READ: &str = "viewers cannot act on alarms";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/alarms", web::get().to(list))
        .route("/alarms/stats", web::get().to(super::alarm_stats::page))
        .route("/alarms/{id}", web::get().to(show))
        .route("/alarms/{id}/{action}", web::post().to(act));
}

/// An alarm as a row of a table, with the actions its state allows.
pub struct AlarmRow {
    pub id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub device_id: String,
    pub asset_id: String,
    pub metric: String,
    pub state: &'static str,
    pub severity: &'static str,
    pub raised_at: String,
    pub value: String,
    pub last_value: String,
    pub can_ack: bool,
    pub can_shelve: bool,
    pub can_unshelve: bool,
    pub can_clear: bool,
}

impl AlarmRow {
    pub fn of(a: &Alarm) -> AlarmRow {
        let open_view = matches!(
            a.state,
            AlarmState::ActiveUnack | AlarmState::ActiveAck | AlarmState::RtnUnack
        );
        AlarmRow {
            id: a.id.clone(),
            rule_id: a.rule_id.clone(),
            rule_name: a.rule_name.clone(),
            device_id: a.device_id.to_string(),
            asset_id: a.asset_id.clone().unwrap_or_default(),
            metric: a.metric.clone().unwrap_or_default(),
            state: a.state.as_str(),
            severity: a.severity.as_str(),
            raised_at: when(a.raised_at),
            value: format_value(a.value),
            last_value: format_value(a.last_value),
            can_ack: matches!(a.state, AlarmState::ActiveUnack | AlarmState::RtnUnack),
            can_shelve: open_view,
            can_unshelve: a.state == AlarmState::Shelved,
            can_clear: a.state != AlarmState::Cleared && !a.condition_active,
        }
    }
}

#[derive(Deserialize, Default)]
pub struct Filter {
    #[serde(default)]
    state: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    asset_id: String,
    #[serde(flatten)]
    table: TableQuery,
}

/// The columns the alarm table sorts by.
const SORT_KEYS: [&str; 4] = ["raised", "severity", "state", "device"];

#[derive(Template)]
#[template(path = "alarms.html")]
struct AlarmsPage {
    head: Head,
    error: Option<String>,
    states: Vec<&'static str>,
    severities: Vec<&'static str>,
    assets: Vec<(String, String)>,
    filter_state: String,
    filter_severity: String,
    filter_asset: String,
    alarms: Vec<AlarmRow>,
    /// Sort, search and paging (`templates/partials/pager.html`).
    table: Table,
    /// Where the action forms come back to (this page with its filters).
    back: String,
}

fn query_of(f: &Filter, table: &Table) -> Result<BrowseAlarms, Problem> {
    let (open, state) = match f.state.as_str() {
        "" => (false, None),
        "open" => (true, None),
        s => (
            false,
            Some(AlarmState::parse(s).ok_or_else(|| {
                Problem::from(DomainError::invalid("state", "not a state of an alarm"))
            })?),
        ),
    };
    let severity = match f.severity.as_str() {
        "" => None,
        s => Some(
            Severity::parse(s)
                .ok_or_else(|| Problem::from(DomainError::invalid("severity", "not a severity")))?,
        ),
    };
    Ok(BrowseAlarms {
        state,
        open,
        severity,
        asset_id: filled(&f.asset_id),
        q: table.search(),
        sort: AlarmSort::parse(table.sort).unwrap_or_default(),
        dir: table.dir,
        window: table.window(),
    })
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    filter: web::Query<Filter>,
) -> HttpResponse {
    let current = match reader(&req, &state).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let f = filter.into_inner();
    let table = Table::new(
        "/alarms",
        &f.table,
        &SORT_KEYS,
        ("raised", SortDir::Desc),
        state.ui_page_size,
    )
    .keep("state", &f.state)
    .keep("severity", &f.severity)
    .keep("asset_id", &f.asset_id);
    let (page, error) = match query_of(&f, &table) {
        Ok(q) => match answer(state.health.send(q).await) {
            Ok(page) => (Some(page), None),
            Err(p) => (None, Some(p)),
        },
        Err(p) => (None, Some(p)),
    };
    let mut assets: Vec<(String, String)> = asset_names(&state).await.into_iter().collect();
    assets.sort_by(|a, b| a.1.cmp(&b.1));
    let back = table.page_href(table.page);
    let status = error.as_ref().map(|p| p.status);
    let (alarms, total) = page
        .map(|p| (p.items.iter().map(AlarmRow::of).collect(), p.total))
        .unwrap_or_default();
    super::health_common::with_status(
        render(&AlarmsPage {
            head: Head::of(&current),
            error: error.map(|p| p.detail),
            states: std::iter::once("open")
                .chain(AlarmState::ALL.iter().map(|s| s.as_str()))
                .collect(),
            severities: vec!["critical", "major", "minor", "warning"],
            assets,
            filter_state: f.state,
            filter_severity: f.severity,
            filter_asset: f.asset_id,
            alarms,
            table: table.counted(total),
            back,
        }),
        status,
    )
}

pub struct HistoryRow {
    pub at: String,
    pub action: String,
    pub from: String,
    pub to: &'static str,
    pub severity: &'static str,
    pub value: String,
    pub by: String,
    pub comment: String,
}

#[derive(Template)]
#[template(path = "alarm.html")]
struct AlarmPage {
    head: Head,
    row: AlarmRow,
    alarm: Alarm,
    peak_severity: &'static str,
    returned_at: String,
    cleared_at: String,
    shelved_until: String,
    updated_at: String,
    history: Vec<HistoryRow>,
    chart: Option<MarkedChart>,
    back: String,
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
    let alarm = match answer(state.health.send(GetAlarm(id.into_inner())).await) {
        Ok(alarm) => alarm,
        Err(p) => return plain(p),
    };
    let chart = alarm_chart::around(&state, &alarm).await;
    let history = alarm
        .history
        .iter()
        .map(|c| HistoryRow {
            at: when(c.at),
            action: c.action.clone(),
            from: c.from.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            to: c.to.as_str(),
            severity: c.severity.as_str(),
            value: c.value.map(format_value).unwrap_or_default(),
            by: c.by.clone(),
            comment: c.comment.clone().unwrap_or_default(),
        })
        .collect();
    render(&AlarmPage {
        head: Head::of(&current),
        row: AlarmRow::of(&alarm),
        peak_severity: alarm.peak_severity.as_str(),
        returned_at: when_or(alarm.returned_at, "—"),
        cleared_at: when_or(alarm.cleared_at, "—"),
        shelved_until: match (alarm.shelved_until, alarm.shelved_one_shot) {
            (_, true) => "until it returns to normal".to_owned(),
            (t, false) => when_or(t, "—"),
        },
        updated_at: when(alarm.updated_at),
        back: format!("/alarms/{}", alarm.id),
        history,
        chart,
        alarm,
    })
}

#[derive(Deserialize)]
pub struct ActionForm {
    /// Absent is refused like a wrong one (403), not as a malformed form.
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    reason: String,
    /// RFC 3339 or the browser's `datetime-local` (in the plant time zone); empty: one-shot.
    #[serde(default)]
    until: String,
    /// Where to go after the action (a path of this UI).
    #[serde(default)]
    back: String,
}

fn until_of(text: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, Problem> {
    let Some(text) = filled(text) else {
        return Ok(None);
    };
    let parsed = parse_time(&text)
        .map(plantd_contracts::time::to_datetime)
        .or_else(|| {
            ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
                .iter()
                .find_map(|format| chrono::NaiveDateTime::parse_from_str(&text, format).ok())
                .map(super::local_time::from_local)
        });
    match parsed {
        Some(at) => Ok(Some(at)),
        None => Err(Problem::from(DomainError::invalid(
            "until",
            format!(
                "a time such as 2026-12-02T15:00 ({})",
                super::local_time::zone_name()
            ),
        ))),
    }
}

pub async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWERS_READ).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let (id, action) = path.into_inner();
    let action = match action.as_str() {
        "acknowledge" => OperatorAction::Acknowledge,
        "unshelve" => OperatorAction::Unshelve,
        "clear" => OperatorAction::Clear,
        "shelve" => match until_of(&form.until) {
            Ok(until) => OperatorAction::Shelve {
                until,
                reason: form.reason.trim().to_owned(),
            },
            Err(p) => return plain(p),
        },
        _ => return HttpResponse::NotFound().body("no such action"),
    };
    let comment = filled(&form.comment);
    if comment.as_ref().is_some_and(|c| c.len() > 1000) {
        return plain(Problem::from(DomainError::invalid(
            "comment",
            "at most 1000 characters",
        )));
    }
    let sent = state
        .health
        .send(ActOnAlarm {
            id: id.clone(),
            action,
            by: current.username.clone(),
            comment,
        })
        .await;
    match answer(sent) {
        Ok(alarm) => {
            tracing::info!(by = %current.username, alarm = %alarm.id, state = alarm.state.as_str(), "alarm changed from the UI");
            // Only back to a page of this UI, never elsewhere.
            let back = form.back.as_str();
            if back.starts_with("/alarms") || back.starts_with("/assets/") {
                redirect(back)
            } else {
                redirect(&format!("/alarms/{id}"))
            }
        }
        Err(p) => plain(p),
    }
}
