//! The order's rules, pure: building a new order, the state machine with its side
//! effects (start and completion times, downtime, closing codes), checklist ticks,
//! comments and patches, each returning the history entries it makes. A refused change
//! returns an error and leaves the order as it was. No I/O.

use chrono::{DateTime, Utc};
use plantd_contracts::workorders::{
    ChecklistItem, Comment, FailureCodes, HistoryEntry, ItemResult, Priority, WorkOrder,
    WorkOrderStatus, WorkOrderType,
};
use plantd_contracts::DomainError;
use serde_json::json;

use crate::input::{check_downtime, NewOrder, Patched, Transition};

pub(crate) const SYSTEM: &str = "system";

pub(crate) fn entry(
    at: DateTime<Utc>,
    by: &str,
    action: &str,
    detail: serde_json::Value,
) -> HistoryEntry {
    HistoryEntry {
        at,
        by: by.to_owned(),
        action: action.to_owned(),
        detail,
    }
}

/// A new open order from a checked body; the caller sets what caused it.
pub(crate) fn build(
    id: String,
    number: i64,
    new: NewOrder,
    default_kind: WorkOrderType,
    location: Option<String>,
    now: DateTime<Utc>,
    by: &str,
) -> WorkOrder {
    let f = new.fields;
    WorkOrder {
        id,
        number,
        title: f.title,
        description: f.description,
        kind: f.kind.unwrap_or(default_kind),
        priority: f.priority.unwrap_or(Priority::Medium),
        status: WorkOrderStatus::Open,
        asset_id: new.asset_id,
        device_id: new.device_id,
        location,
        assignee: f.assignee,
        due_at: f.due_at,
        estimated_hours: f.estimated_hours,
        actual_hours: None,
        stops_asset: f.stops_asset,
        downtime_start: None,
        downtime_end: None,
        skills: f.skills,
        tools: f.tools,
        parts: f.parts,
        checklist: new
            .checklist
            .into_iter()
            .map(|text| ChecklistItem {
                text,
                result: None,
                by: None,
                at: None,
                note: None,
                follow_up_id: None,
            })
            .collect(),
        comments: Vec::new(),
        alarm_id: None,
        rule_id: None,
        plan_id: None,
        occurrence: None,
        interval_days: None,
        request_id: None,
        parent_id: None,
        repeat_of: None,
        repeat_failure: false,
        closing: None,
        created_by: by.to_owned(),
        created_at: now,
        updated_at: now,
        started_at: None,
        completed_at: None,
        overdue: false,
        history: Vec::new(),
    }
}

fn in_list(list: &[plantd_contracts::workorders::Code], code: &str) -> bool {
    list.iter().any(|c| c.code == code)
}

/// Moves the order to `t.to`: one history entry, or an error and no change (`Conflict`
/// for an illegal transition, `Invalid` for missing or unknown closing codes).
pub(crate) fn transition(
    order: &mut WorkOrder,
    t: &Transition,
    codes: &FailureCodes,
    now: DateTime<Utc>,
    by: &str,
) -> Result<HistoryEntry, DomainError> {
    let from = order.status;
    if !from.can_go(t.to) {
        return Err(DomainError::Conflict(format!(
            "work order WO-{} cannot go from {} to {}",
            order.number,
            from.as_str(),
            t.to.as_str()
        )));
    }
    let done = t.to == WorkOrderStatus::Done;
    match &t.closing {
        Some(_) if !done => {
            return Err(DomainError::invalid("closing", "only when moving to done"));
        }
        None if done && order.kind == WorkOrderType::Corrective => {
            return Err(DomainError::invalid(
                "closing.failure_mode",
                "a corrective order is closed with closing codes: failure_mode, cause, action, detection",
            ));
        }
        Some(c) => {
            let checks = [
                (
                    "closing.failure_mode",
                    &codes.failure_modes,
                    &c.failure_mode,
                ),
                ("closing.cause", &codes.causes, &c.cause),
                ("closing.action", &codes.actions, &c.action),
                ("closing.detection", &codes.detections, &c.detection),
            ];
            for (field, list, code) in checks {
                if !in_list(list, code) {
                    return Err(DomainError::invalid(
                        field,
                        format!("{code} is not in the list"),
                    ));
                }
            }
        }
        None => {}
    }
    let mut next = order.clone();
    next.status = t.to;
    next.updated_at = now;
    if let Some(h) = t.actual_hours {
        next.actual_hours = Some(h);
    }
    if let Some(s) = t.downtime_start {
        next.downtime_start = Some(s);
    }
    if let Some(e) = t.downtime_end {
        next.downtime_end = Some(e);
    }
    if t.to == WorkOrderStatus::InProgress {
        next.started_at.get_or_insert(now);
        if next.stops_asset {
            next.downtime_start.get_or_insert(now);
        }
    }
    if done {
        next.completed_at = Some(now);
        next.closing = t.closing.clone();
        if next.downtime_start.is_some() {
            next.downtime_end.get_or_insert(now);
        }
    }
    check_downtime(next.downtime_start, next.downtime_end)?;
    let mut detail = json!({"from": from.as_str(), "to": t.to.as_str()});
    if let Some(c) = &t.closing {
        detail["closing"] = json!(c);
    }
    if let Some(text) = &t.comment {
        detail["comment"] = json!(text);
        next.comments.push(Comment {
            at: now,
            by: by.to_owned(),
            text: text.clone(),
        });
    }
    *order = next;
    Ok(entry(now, by, "status", detail))
}

pub(crate) fn comment(
    order: &mut WorkOrder,
    text: &str,
    now: DateTime<Utc>,
    by: &str,
) -> HistoryEntry {
    order.comments.push(Comment {
        at: now,
        by: by.to_owned(),
        text: text.to_owned(),
    });
    order.updated_at = now;
    entry(now, by, "comment", json!({ "text": text }))
}

/// Ticks item `item`. A closed order's checklist is fixed (`Conflict`).
pub(crate) fn tick(
    order: &mut WorkOrder,
    item: usize,
    result: ItemResult,
    note: Option<String>,
    follow_up: bool,
    now: DateTime<Utc>,
    by: &str,
) -> Result<HistoryEntry, DomainError> {
    if !order.status.is_open() {
        return Err(DomainError::Conflict(format!(
            "work order WO-{} is {}: its checklist is closed",
            order.number,
            order.status.as_str()
        )));
    }
    if follow_up && result != ItemResult::Failed {
        return Err(DomainError::invalid("follow_up", "only for a failed item"));
    }
    let Some(it) = order.checklist.get_mut(item) else {
        return Err(DomainError::NotFound(format!(
            "checklist item {item} of WO-{}",
            order.number
        )));
    };
    it.result = Some(result);
    it.by = Some(by.to_owned());
    it.at = Some(now);
    it.note = note.clone();
    order.updated_at = now;
    Ok(entry(
        now,
        by,
        "checklist",
        json!({"item": item, "text": it.text, "result": result, "note": note}),
    ))
}

/// Applies a checked patch; `None` when nothing changed.
pub(crate) fn patch(
    order: &mut WorkOrder,
    p: Patched,
    now: DateTime<Utc>,
    by: &str,
) -> Result<Option<HistoryEntry>, DomainError> {
    let f = p.fields;
    if f.stops_asset != order.stops_asset && order.status != WorkOrderStatus::Open {
        return Err(DomainError::invalid(
            "stops_asset",
            "changes only while the order is open (not started)",
        ));
    }
    let mut next = order.clone();
    next.title = f.title;
    next.description = f.description;
    next.kind = f.kind.unwrap_or(order.kind);
    next.priority = f.priority.unwrap_or(order.priority);
    next.assignee = f.assignee;
    next.due_at = f.due_at;
    next.estimated_hours = f.estimated_hours;
    next.stops_asset = f.stops_asset;
    next.skills = f.skills;
    next.tools = f.tools;
    next.parts = f.parts;
    next.actual_hours = p.actual_hours;
    next.downtime_start = p.downtime_start;
    next.downtime_end = p.downtime_end;
    let (before, after) = (
        serde_json::to_value(&*order).unwrap_or_default(),
        serde_json::to_value(&next).unwrap_or_default(),
    );
    let mut changed = serde_json::Map::new();
    if let (Some(b), Some(a)) = (before.as_object(), after.as_object()) {
        for (k, v) in a {
            if b.get(k) != Some(v) {
                changed.insert(k.clone(), v.clone());
            }
        }
    }
    if changed.is_empty() {
        return Ok(None);
    }
    next.updated_at = now;
    *order = next;
    Ok(Some(entry(
        now,
        by,
        "changed",
        serde_json::Value::Object(changed),
    )))
}

/// The editable view a merge patch applies to.
pub(crate) fn editable_view(o: &WorkOrder) -> serde_json::Value {
    json!({
        "title": o.title,
        "description": o.description,
        "kind": o.kind,
        "priority": o.priority,
        "assignee": o.assignee,
        "due_at": o.due_at,
        "estimated_hours": o.estimated_hours,
        "stops_asset": o.stops_asset,
        "skills": o.skills,
        "tools": o.tools,
        "parts": o.parts,
        "actual_hours": o.actual_hours,
        "downtime_start": o.downtime_start,
        "downtime_end": o.downtime_end,
    })
}
