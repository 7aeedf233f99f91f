//! Bodies clients send, checked field by field: unknown fields are refused and a 422 names
//! the field (`estimated_hours`, `closing.failure_mode`, …). Pure: no I/O, no state.

use chrono::{DateTime, Utc};
use plantd_contracts::workorders::{ClosingCodes, Priority, WorkOrderStatus, WorkOrderType};
use plantd_contracts::{DeviceId, DomainError};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

const MAX_TITLE: usize = 200;
const MAX_TEXT: usize = 10_000;
const MAX_NAME: usize = 100;
const MAX_ITEMS: usize = 100;
const MAX_HOURS: f64 = 100_000.0;

fn invalid(field: &str, message: impl Into<String>) -> DomainError {
    DomainError::invalid(field, message)
}

/// A JSON object's fields, each read at most once as the type it must have.
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// The body as an object whose keys are all in `allowed` (the first other one is
    /// named in the error; `status` gets a hint).
    pub(crate) fn of(body: &'a Value, allowed: &[&str]) -> Result<Fields<'a>, DomainError> {
        let Value::Object(map) = body else {
            return Err(invalid("body", "a JSON object"));
        };
        if let Some(extra) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            if extra == "status" {
                return Err(invalid(
                    "status",
                    "the status moves by POST /work-orders/{id}/transitions",
                ));
            }
            return Err(invalid(extra, "unknown field"));
        }
        Ok(Fields { map })
    }

    /// The field as `T`; absent or `null` is `None`.
    pub(crate) fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, DomainError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|e| invalid(key, e.to_string())),
        }
    }

    pub(crate) fn text(&self, key: &str, max: usize) -> Result<Option<String>, DomainError> {
        let Some(s) = self.get::<String>(key)? else {
            return Ok(None);
        };
        let s = s.trim().to_owned();
        if s.chars().count() > max {
            return Err(invalid(key, format!("at most {max} characters")));
        }
        Ok(Some(s))
    }

    /// A short non-empty name (assignee), or none.
    pub(crate) fn name(&self, key: &str) -> Result<Option<String>, DomainError> {
        match self.text(key, MAX_NAME)? {
            Some(s) if s.is_empty() => Err(invalid(key, "must not be empty")),
            other => Ok(other),
        }
    }

    pub(crate) fn title(&self) -> Result<String, DomainError> {
        match self.text("title", MAX_TITLE)? {
            Some(t) if !t.is_empty() => Ok(t),
            _ => Err(invalid("title", "required, 1 to 200 characters")),
        }
    }

    pub(crate) fn hours(&self, key: &str) -> Result<Option<f64>, DomainError> {
        match self.get::<f64>(key)? {
            Some(h) if !(h.is_finite() && (0.0..=MAX_HOURS).contains(&h)) => {
                Err(invalid(key, format!("hours from 0 to {MAX_HOURS}")))
            }
            other => Ok(other),
        }
    }

    /// A list of short non-empty names (skills, tools, parts, checklist items).
    pub(crate) fn list(&self, key: &str, max_len: usize) -> Result<Vec<String>, DomainError> {
        let items = self.get::<Vec<String>>(key)?.unwrap_or_default();
        if items.len() > MAX_ITEMS {
            return Err(invalid(key, format!("at most {MAX_ITEMS} items")));
        }
        items
            .into_iter()
            .map(|s| {
                let s = s.trim().to_owned();
                if s.is_empty() || s.chars().count() > max_len {
                    Err(invalid(key, format!("items of 1 to {max_len} characters")))
                } else {
                    Ok(s)
                }
            })
            .collect()
    }
}

/// What a client may set on an order (create, patch, approve).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Editable {
    pub title: String,
    pub description: String,
    pub kind: Option<WorkOrderType>,
    pub priority: Option<Priority>,
    pub assignee: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub estimated_hours: Option<f64>,
    pub stops_asset: bool,
    pub skills: Vec<String>,
    pub tools: Vec<String>,
    pub parts: Vec<String>,
}

const EDITABLE: [&str; 11] = [
    "title",
    "description",
    "kind",
    "priority",
    "assignee",
    "due_at",
    "estimated_hours",
    "stops_asset",
    "skills",
    "tools",
    "parts",
];

/// Fields of a patch beyond the creatable ones.
pub(crate) const PATCH_ONLY: [&str; 3] = ["actual_hours", "downtime_start", "downtime_end"];

fn editable(f: &Fields) -> Result<Editable, DomainError> {
    Ok(Editable {
        title: f.title()?,
        description: f.text("description", MAX_TEXT)?.unwrap_or_default(),
        kind: f.get("kind")?,
        priority: f.get("priority")?,
        assignee: f.name("assignee")?,
        due_at: f.get("due_at")?,
        estimated_hours: f.hours("estimated_hours")?,
        stops_asset: f.get("stops_asset")?.unwrap_or(false),
        skills: f.list("skills", MAX_NAME)?,
        tools: f.list("tools", MAX_NAME)?,
        parts: f.list("parts", MAX_NAME)?,
    })
}

/// `POST /work-orders` (and an approved request's body over the request).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NewOrder {
    pub fields: Editable,
    pub asset_id: Option<String>,
    pub device_id: Option<DeviceId>,
    pub checklist: Vec<String>,
}

pub(crate) fn parse_new(body: &Value) -> Result<NewOrder, DomainError> {
    let mut allowed = EDITABLE.to_vec();
    allowed.extend(["asset_id", "device_id", "checklist"]);
    let f = Fields::of(body, &allowed)?;
    let device_id = match f.get::<String>("device_id")? {
        Some(d) => Some(DeviceId::parse(&d).map_err(|_| invalid("device_id", "not a device id"))?),
        None => None,
    };
    Ok(NewOrder {
        fields: editable(&f)?,
        asset_id: f.name("asset_id")?,
        device_id,
        checklist: f.list("checklist", 500)?,
    })
}

/// A merge-patched order's editable view: what `PATCH` may change.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Patched {
    pub fields: Editable,
    pub actual_hours: Option<f64>,
    pub downtime_start: Option<DateTime<Utc>>,
    pub downtime_end: Option<DateTime<Utc>>,
}

pub(crate) fn patchable() -> Vec<&'static str> {
    let mut allowed = EDITABLE.to_vec();
    allowed.extend(PATCH_ONLY);
    allowed
}

pub(crate) fn parse_patched(doc: &Value) -> Result<Patched, DomainError> {
    let f = Fields::of(doc, &patchable())?;
    let p = Patched {
        fields: editable(&f)?,
        actual_hours: f.hours("actual_hours")?,
        downtime_start: f.get("downtime_start")?,
        downtime_end: f.get("downtime_end")?,
    };
    check_downtime(p.downtime_start, p.downtime_end)?;
    Ok(p)
}

pub(crate) fn check_downtime(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> Result<(), DomainError> {
    match (start, end) {
        (None, Some(_)) => Err(invalid("downtime_end", "needs a downtime_start")),
        (Some(s), Some(e)) if e < s => Err(invalid("downtime_end", "before downtime_start")),
        _ => Ok(()),
    }
}

/// `POST /work-orders/{id}/transitions`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Transition {
    pub to: WorkOrderStatus,
    pub comment: Option<String>,
    pub closing: Option<ClosingCodes>,
    pub actual_hours: Option<f64>,
    pub downtime_start: Option<DateTime<Utc>>,
    pub downtime_end: Option<DateTime<Utc>>,
}

pub(crate) fn parse_transition(body: &Value) -> Result<Transition, DomainError> {
    let f = Fields::of(
        body,
        &[
            "to",
            "comment",
            "closing",
            "actual_hours",
            "downtime_start",
            "downtime_end",
        ],
    )?;
    let Some(to) = f.get::<WorkOrderStatus>("to")? else {
        return Err(invalid(
            "to",
            "required: in_progress, on_hold, done or cancelled",
        ));
    };
    let closing = match f.get::<Value>("closing")? {
        None => None,
        Some(v) => Some(parse_closing(&v)?),
    };
    Ok(Transition {
        to,
        comment: f.text("comment", MAX_TEXT)?.filter(|c| !c.is_empty()),
        closing,
        actual_hours: f.hours("actual_hours")?,
        downtime_start: f.get("downtime_start")?,
        downtime_end: f.get("downtime_end")?,
    })
}

fn parse_closing(v: &Value) -> Result<ClosingCodes, DomainError> {
    const KEYS: [&str; 4] = ["failure_mode", "cause", "action", "detection"];
    let Value::Object(map) = v else {
        return Err(invalid(
            "closing",
            "an object {failure_mode, cause, action, detection}",
        ));
    };
    if let Some(extra) = map.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(invalid(&format!("closing.{extra}"), "unknown field"));
    }
    let mut out = [String::new(), String::new(), String::new(), String::new()];
    for (key, slot) in KEYS.iter().zip(out.iter_mut()) {
        match map.get(*key) {
            Some(Value::String(s)) if !s.is_empty() => *slot = s.clone(),
            _ => {
                return Err(invalid(
                    &format!("closing.{key}"),
                    "required: a code from the list",
                ))
            }
        }
    }
    let [failure_mode, cause, action, detection] = out;
    Ok(ClosingCodes {
        failure_mode,
        cause,
        action,
        detection,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field_of(e: DomainError) -> String {
        match e {
            DomainError::Invalid { field, .. } => field,
            other => panic!("not a 422: {other:?}"),
        }
    }

    #[test]
    fn every_refusal_names_its_field() {
        let cases = [
            (json!({}), "title"),
            (json!({"title": "  "}), "title"),
            (
                json!({"title": "x", "estimated_hours": -1}),
                "estimated_hours",
            ),
            (
                json!({"title": "x", "estimated_hours": "two"}),
                "estimated_hours",
            ),
            (json!({"title": "x", "priority": "asap"}), "priority"),
            (json!({"title": "x", "kind": "repair"}), "kind"),
            (json!({"title": "x", "due_at": "tomorrow"}), "due_at"),
            (json!({"title": "x", "device_id": "Pump 1"}), "device_id"),
            (json!({"title": "x", "colour": "red"}), "colour"),
            (json!({"title": "x", "status": "done"}), "status"),
            (json!({"title": "x", "checklist": ["ok", ""]}), "checklist"),
        ];
        for (body, field) in cases {
            assert_eq!(
                field_of(parse_new(&body).expect_err("refused")),
                field,
                "{body}"
            );
        }
        let t = parse_transition(&json!({"to": "done", "closing": {"failure_mode": "noise"}}));
        assert_eq!(field_of(t.expect_err("refused")), "closing.cause");
        let t = parse_transition(&json!({"to": "finished"}));
        assert_eq!(field_of(t.expect_err("refused")), "to");
    }

    #[test]
    fn a_minimal_order_takes_the_defaults() {
        let o = parse_new(&json!({"title": " Fix seal "})).expect("valid");
        assert_eq!(o.fields.title, "Fix seal");
        assert_eq!(o.fields.kind, None);
        assert!(!o.fields.stops_asset);
        assert!(o.checklist.is_empty());
    }
}
