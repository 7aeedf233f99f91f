//! The "new work order" form: its fields as text (shown again after an error) and the
//! order's JSON body for `CreateWorkOrder` (numbers and times checked here, naming the
//! field; the rest is the work-order module's 422).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::health_common::filled;
use super::rule_form::number;
use super::wo_common::{form_time, lines_of, list_of};
use plantd_contracts::DomainError;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OrderForm {
    pub csrf_token: String,
    pub title: String,
    pub description: String,
    pub kind: String,
    pub priority: String,
    pub asset_id: String,
    pub device_id: String,
    pub assignee: String,
    pub due_at: String,
    pub estimated_hours: String,
    pub stops_asset: String,
    /// One item a line.
    pub checklist: String,
    /// Comma separated.
    pub skills: String,
    pub tools: String,
    pub parts: String,
}

impl OrderForm {
    /// The order's JSON body, without what is empty.
    pub fn body(&self) -> Result<Value, DomainError> {
        let mut m = Map::new();
        m.insert("title".into(), Value::String(self.title.trim().to_owned()));
        let text_fields = [
            ("description", &self.description),
            ("kind", &self.kind),
            ("priority", &self.priority),
            ("asset_id", &self.asset_id),
            ("device_id", &self.device_id),
            ("assignee", &self.assignee),
        ];
        for (key, text) in text_fields {
            if let Some(v) = filled(text) {
                m.insert(key.into(), Value::String(v));
            }
        }
        if let Some(due) = form_time("due_at", &self.due_at)? {
            m.insert("due_at".into(), Value::String(due.to_rfc3339()));
        }
        let hours = number("estimated_hours", &self.estimated_hours)?;
        if !hours.is_null() {
            m.insert("estimated_hours".into(), hours);
        }
        if self.stops_asset == "on" {
            m.insert("stops_asset".into(), Value::Bool(true));
        }
        let checklist = lines_of(&self.checklist);
        if !checklist.is_empty() {
            m.insert("checklist".into(), checklist.into());
        }
        for (key, text) in [
            ("skills", &self.skills),
            ("tools", &self.tools),
            ("parts", &self.parts),
        ] {
            let items = list_of(text);
            if !items.is_empty() {
                m.insert(key.into(), items.into());
            }
        }
        Ok(Value::Object(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_form_becomes_the_orders_body_without_empty_fields() {
        let form = OrderForm {
            title: " Replace seal ".into(),
            kind: "corrective".into(),
            priority: "high".into(),
            asset_id: "a-1".into(),
            due_at: "2026-12-24".into(),
            estimated_hours: "1.5".into(),
            stops_asset: "on".into(),
            checklist: "Isolate pump\nReplace seal\n".into(),
            skills: "mechanic, welding".into(),
            ..OrderForm::default()
        };
        assert_eq!(
            form.body().expect("body"),
            json!({"title": "Replace seal", "kind": "corrective", "priority": "high",
                   "asset_id": "a-1", "due_at": "2026-12-24T00:00:00+00:00",
                   "estimated_hours": 1.5, "stops_asset": true,
                   "checklist": ["Isolate pump", "Replace seal"],
                   "skills": ["mechanic", "welding"]})
        );
        let bad = OrderForm {
            estimated_hours: "lots".into(),
            ..OrderForm::default()
        };
        assert!(
            matches!(bad.body(), Err(DomainError::Invalid { field, .. }) if field == "estimated_hours")
        );
    }
}
