//! What the work-order and maintenance pages share: an order as a table row or board
//! card, the names people read for statuses and transitions, list fields of forms
//! (comma or line separated) and form times. May use `health_common.rs` and the
//! work-order contract; touches no state.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use plantd_contracts::workorders::{WorkOrder, WorkOrderStatus};
use plantd_contracts::DomainError;

use super::health_common::{filled, when, when_or};

/// The refusal a viewer gets from a work-order form (the order pages share it).
pub const VIEWERS_READ: &str = "viewers cannot change work orders";

/// A status as people read it.
pub fn status_label(s: WorkOrderStatus) -> &'static str {
    match s {
        WorkOrderStatus::Open => "open",
        WorkOrderStatus::InProgress => "in progress",
        WorkOrderStatus::OnHold => "on hold",
        WorkOrderStatus::Done => "done",
        WorkOrderStatus::Cancelled => "cancelled",
    }
}

/// The button that moves an order from `from` to `to`.
pub fn transition_label(from: WorkOrderStatus, to: WorkOrderStatus) -> &'static str {
    match (from, to) {
        (WorkOrderStatus::OnHold, WorkOrderStatus::InProgress) => "Resume",
        (_, WorkOrderStatus::InProgress) => "Start",
        (_, WorkOrderStatus::OnHold) => "Put on hold",
        (_, WorkOrderStatus::Done) => "Complete",
        (_, WorkOrderStatus::Cancelled) => "Cancel",
        (_, WorkOrderStatus::Open) => "Reopen",
    }
}

/// An order as a row of the list or a card of the board.
pub struct OrderRow {
    pub id: String,
    pub number: i64,
    pub title: String,
    pub kind: &'static str,
    pub priority: &'static str,
    pub status: &'static str,
    pub status_label: &'static str,
    pub asset_id: String,
    pub asset_name: String,
    pub assignee: String,
    pub due: String,
    pub overdue: bool,
    pub repeat_failure: bool,
    pub created_at: String,
}

impl OrderRow {
    pub fn of(o: &WorkOrder, assets: &HashMap<String, String>) -> OrderRow {
        let asset_id = o.asset_id.clone().unwrap_or_default();
        OrderRow {
            id: o.id.clone(),
            number: o.number,
            title: o.title.clone(),
            kind: o.kind.as_str(),
            priority: o.priority.as_str(),
            status: o.status.as_str(),
            status_label: status_label(o.status),
            asset_name: assets
                .get(&asset_id)
                .cloned()
                .unwrap_or_else(|| asset_id.clone()),
            asset_id,
            assignee: o.assignee.clone().unwrap_or_default(),
            due: when_or(o.due_at, ""),
            overdue: o.overdue,
            repeat_failure: o.repeat_failure,
            created_at: when(o.created_at),
        }
    }
}

/// A list field of a form: items separated by commas or new lines, trimmed, empty ones
/// dropped.
pub fn list_of(text: &str) -> Vec<String> {
    text.split([',', '\n']).filter_map(filled).collect()
}

/// One item a line (a task list, a checklist), trimmed, empty lines dropped.
pub fn lines_of(text: &str) -> Vec<String> {
    text.lines().filter_map(filled).collect()
}

/// A time from a form (`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM` as `datetime-local` sends it, or
/// RFC 3339), a wall-clock time read in the plant time zone; `None` when empty.
pub fn form_time(field: &str, text: &str) -> Result<Option<DateTime<Utc>>, DomainError> {
    let Some(t) = filled(text) else {
        return Ok(None);
    };
    if let Ok(at) = DateTime::parse_from_rfc3339(&t) {
        return Ok(Some(at.with_timezone(&Utc)));
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(&t, format) {
            return Ok(Some(super::local_time::from_local(at)));
        }
    }
    NaiveDate::parse_from_str(&t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|at| Some(super::local_time::from_local(at)))
        .ok_or_else(|| DomainError::invalid(field, "a date (YYYY-MM-DD) or date and time"))
}

/// How far `at` is from `now`, in words: `in ≈ 6 days`, `in ≈ 5 h`, `≈ 2 days ago`.
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (at - now).num_seconds();
    let span = secs.unsigned_abs();
    let words = if span >= 2 * 86_400 {
        format!("{} days", (span as f64 / 86_400.0).round())
    } else if span >= 86_400 {
        "1 day".to_owned()
    } else if span >= 3_600 {
        format!("{} h", (span as f64 / 3_600.0).round())
    } else {
        format!("{} min", span / 60)
    };
    if secs >= 0 {
        format!("in ≈ {words}")
    } else {
        format!("≈ {words} ago")
    }
}

/// A number of hours or counts as a page shows it: whole when it is, else one decimal.
pub fn amount(v: f64) -> String {
    if (v - v.round()).abs() < 0.05 {
        format!("{}", v.round())
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_times_and_lists_read_as_people_type_them() {
        let when = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let day = form_time("due_at", "2026-12-24").expect("date");
        assert_eq!(
            day.map(when).as_deref(),
            Some("2026-12-24T00:00:00Z"),
            "a date is its midnight, UTC"
        );
        let local = form_time("due_at", "2026-12-24T13:05").expect("datetime-local");
        assert_eq!(local.map(when).as_deref(), Some("2026-12-24T13:05:00Z"));
        assert_eq!(form_time("due_at", " ").expect("empty"), None);
        assert!(form_time("due_at", "soon").is_err());
        assert_eq!(
            list_of("bearing puller, torque wrench\n,  "),
            ["bearing puller", "torque wrench"]
        );
        assert_eq!(
            lines_of("Check seal\n\n  Grease bearings \n"),
            ["Check seal", "Grease bearings"]
        );
        assert_eq!(amount(412.0), "412");
        assert_eq!(amount(412.26), "412.3");
    }

    #[test]
    fn relative_times_say_in_or_ago() {
        let now = Utc::now();
        assert_eq!(
            relative(now + chrono::Duration::hours(6 * 24 + 3), now),
            "in ≈ 6 days"
        );
        assert_eq!(relative(now - chrono::Duration::hours(5), now), "≈ 5 h ago");
        assert_eq!(
            relative(now + chrono::Duration::minutes(30), now),
            "in ≈ 30 min"
        );
    }
}
