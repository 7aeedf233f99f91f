//! A plan's body checked field by field (a 422 names the field): `POST` takes it whole,
//! `PATCH` merges a patch into the plan's current body first. Whether the asset and the
//! meter's device exist is the HTTP edge's question to their owners. Pure.

use chrono::{DateTime, Utc};
use plantd_contracts::json::merge_patch;
use plantd_contracts::maintenance::{CalendarTrigger, Lead, MeterTrigger, Plan};
use plantd_contracts::{DeviceId, DomainError};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

const FIELDS: &[&str] = &[
    "asset_id",
    "title",
    "description",
    "tasks",
    "estimated_hours",
    "skills",
    "tools",
    "parts",
    "stops_asset",
    "calendar",
    "meter",
    "lead",
    "paused",
];
const MAX_TASKS: usize = 200;
const MAX_TEXT: usize = 500;
const MAX_DESCRIPTION: usize = 10_000;

fn get<T: DeserializeOwned>(
    body: &Map<String, Value>,
    key: &str,
) -> Result<Option<T>, DomainError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| DomainError::invalid(key, e.to_string())),
    }
}

fn text(field: &str, value: &str, max: usize) -> Result<(), DomainError> {
    if value.trim().is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(DomainError::invalid(field, format!("at most {max} bytes")));
    }
    Ok(())
}

fn list(body: &Map<String, Value>, key: &str) -> Result<Vec<String>, DomainError> {
    let items: Vec<String> = get(body, key)?.unwrap_or_default();
    if items.len() > MAX_TASKS {
        return Err(DomainError::invalid(
            key,
            format!("at most {MAX_TASKS} items"),
        ));
    }
    for item in &items {
        text(key, item, MAX_TEXT)?;
    }
    Ok(items)
}

fn metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A plan from a whole body.
pub fn build(
    id: &str,
    body: &Value,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
) -> Result<Plan, DomainError> {
    let Some(body) = body.as_object() else {
        return Err(DomainError::invalid("body", "must be a JSON object"));
    };
    if let Some(unknown) = body.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(DomainError::invalid(unknown.as_str(), "unknown field"));
    }
    let asset_id: String =
        get(body, "asset_id")?.ok_or_else(|| DomainError::invalid("asset_id", "required"))?;
    text("asset_id", &asset_id, 128)?;
    let title: String =
        get(body, "title")?.ok_or_else(|| DomainError::invalid("title", "required"))?;
    text("title", &title, MAX_TEXT)?;
    let description: String = get(body, "description")?.unwrap_or_default();
    if description.len() > MAX_DESCRIPTION {
        return Err(DomainError::invalid(
            "description",
            format!("at most {MAX_DESCRIPTION} bytes"),
        ));
    }
    if body.get("tasks").is_none_or(Value::is_null) {
        return Err(DomainError::invalid(
            "tasks",
            "required (the checklist of the orders)",
        ));
    }
    let tasks = list(body, "tasks")?;
    let estimated_hours: Option<f64> = get(body, "estimated_hours")?;
    if estimated_hours.is_some_and(|h| !(0.0..=10_000.0).contains(&h)) {
        return Err(DomainError::invalid(
            "estimated_hours",
            "between 0 and 10000",
        ));
    }
    let calendar: Option<CalendarTrigger> = get(body, "calendar")?;
    if let Some(c) = &calendar {
        if !(1..=1000).contains(&c.every) {
            return Err(DomainError::invalid("calendar.every", "between 1 and 1000"));
        }
    }
    let meter: Option<MeterTrigger> = get(body, "meter")?;
    if let Some(m) = &meter {
        DeviceId::parse(m.device_id.as_str())
            .map_err(|e| DomainError::invalid("meter.device_id", e.to_string()))?;
        if !metric_name(&m.metric) {
            return Err(DomainError::invalid(
                "meter.metric",
                "a metric name: [a-z][a-z0-9_]{0,63}",
            ));
        }
        if !(m.every.is_finite() && m.every > 0.0 && m.every <= 1e12) {
            return Err(DomainError::invalid("meter.every", "a number above 0"));
        }
    }
    if calendar.is_none() && meter.is_none() {
        return Err(DomainError::invalid(
            "calendar",
            "a plan needs a calendar or a meter trigger (or both)",
        ));
    }
    let lead: Lead = get(body, "lead")?.unwrap_or_default();
    if let Some(days) = lead.days {
        if calendar.is_none() {
            return Err(DomainError::invalid(
                "lead.days",
                "only with a calendar trigger",
            ));
        }
        if !(0.0..=3650.0).contains(&days) {
            return Err(DomainError::invalid("lead.days", "between 0 and 3650"));
        }
    }
    if let Some(units) = lead.meter {
        let Some(m) = &meter else {
            return Err(DomainError::invalid(
                "lead.meter",
                "only with a meter trigger",
            ));
        };
        if !(units >= 0.0 && units < m.every) {
            return Err(DomainError::invalid(
                "lead.meter",
                "at least 0 and less than meter.every",
            ));
        }
    }
    Ok(Plan {
        id: id.to_owned(),
        asset_id,
        title,
        description,
        tasks,
        estimated_hours,
        skills: list(body, "skills")?,
        tools: list(body, "tools")?,
        parts: list(body, "parts")?,
        stops_asset: get(body, "stops_asset")?.unwrap_or(false),
        calendar,
        meter,
        lead,
        paused: get(body, "paused")?.unwrap_or(false),
        created_at,
        updated_at,
    })
}

/// The body a plan was made from (what a patch is merged into).
pub fn body_of(plan: &Plan) -> Value {
    let mut v = serde_json::to_value(plan).unwrap_or(Value::Null);
    if let Some(obj) = v.as_object_mut() {
        obj.retain(|k, _| FIELDS.contains(&k.as_str()));
    }
    v
}

/// `plan` changed by an RFC 7396 merge patch, checked whole.
pub fn patched(plan: &Plan, patch: &Value, now: DateTime<Utc>) -> Result<Plan, DomainError> {
    if !patch.is_object() {
        return Err(DomainError::invalid(
            "body",
            "a merge patch must be a JSON object",
        ));
    }
    let mut body = body_of(plan);
    merge_patch(&mut body, patch);
    build(&plan.id, &body, plan.created_at, now)
}
