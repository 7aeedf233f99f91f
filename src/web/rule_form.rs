//! The rule editor's form: its fields as text (what the page shows again after an error
//! or a preview), read from a stored rule, and turned into the rule's flat JSON body
//! (numbers checked here, naming the field; the rest is the health module's 422).

use std::collections::HashMap;

use plantd_contracts::health::Rule;
use plantd_contracts::DomainError;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::health_common::filled;

/// The kinds the plain form edits (others are edited over the API).
pub const KINDS: [&str; 4] = ["threshold", "iso20816", "no_data", "anomaly"];
pub const OPS: [&str; 7] = [">", ">=", "<", "<=", "==", "!=", "outside"];

/// Keys of the kinds' own fields: set to `null` in a patch when the kind does not use them.
const KIND_KEYS: [&str; 11] = [
    "op",
    "value",
    "low",
    "high",
    "for_s",
    "off_delay_s",
    "deadband",
    "minutes",
    "tuning",
    "window_s",
    "conditions",
];

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RuleForm {
    pub csrf_token: String,
    /// Set when editing a saved rule (and for its preview).
    pub rule_id: String,
    pub name: String,
    pub device_id: String,
    pub asset_id: String,
    pub metric: String,
    pub kind: String,
    pub op: String,
    pub value: String,
    pub low: String,
    pub high: String,
    pub for_s: String,
    pub off_delay_s: String,
    pub deadband: String,
    pub minutes: String,
    pub severity: String,
    pub latching: String,
    pub create_work_order: String,
    pub suppress_metric: String,
    pub suppress_op: String,
    pub suppress_value: String,
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn number(field: &str, text: &str) -> Result<Value, DomainError> {
    match filled(text) {
        None => Ok(Value::Null),
        Some(t) => t
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| DomainError::invalid(field, "a number")),
    }
}

fn whole(field: &str, text: &str) -> Result<Value, DomainError> {
    match filled(text) {
        None => Ok(Value::Null),
        Some(t) => t
            .parse::<u32>()
            .map(Value::from)
            .map_err(|_| DomainError::invalid(field, "a whole number of seconds")),
    }
}

impl RuleForm {
    /// A saved rule's fields as the form shows them.
    pub fn of(rule: &Rule) -> RuleForm {
        let v = serde_json::to_value(&rule.input).unwrap_or(Value::Null);
        let get = |k: &str| text_of(v.get(k).unwrap_or(&Value::Null));
        let sup = v.get("suppress_when").cloned().unwrap_or(Value::Null);
        let sget = |k: &str| text_of(sup.get(k).unwrap_or(&Value::Null));
        let flag = |k: &str| {
            if v.get(k) == Some(&Value::Bool(true)) {
                "on".to_owned()
            } else {
                String::new()
            }
        };
        RuleForm {
            csrf_token: String::new(),
            rule_id: rule.id.clone(),
            name: get("name"),
            device_id: get("device_id"),
            asset_id: get("asset_id"),
            metric: get("metric"),
            kind: get("kind"),
            op: get("op"),
            value: get("value"),
            low: get("low"),
            high: get("high"),
            for_s: get("for_s"),
            off_delay_s: get("off_delay_s"),
            deadband: get("deadband"),
            minutes: get("minutes"),
            severity: get("severity"),
            latching: flag("latching"),
            create_work_order: flag("create_work_order"),
            suppress_metric: sget("metric"),
            suppress_op: sget("op"),
            suppress_value: sget("value"),
        }
    }

    /// The rule's JSON: with `null`s for what is empty or not of the kind (a merge patch
    /// removes them), or without them (`keep_nulls` false, a new rule).
    pub fn body(&self, keep_nulls: bool) -> Result<Value, DomainError> {
        let text = |s: &str| filled(s).map(Value::String).unwrap_or(Value::Null);
        let mut m = Map::new();
        for key in KIND_KEYS {
            m.insert(key.into(), Value::Null);
        }
        m.insert("name".into(), Value::String(self.name.trim().to_owned()));
        m.insert("device_id".into(), text(&self.device_id));
        m.insert("asset_id".into(), text(&self.asset_id));
        m.insert("metric".into(), text(&self.metric));
        m.insert("kind".into(), text(&self.kind));
        m.insert("severity".into(), text(&self.severity));
        m.insert("latching".into(), Value::Bool(self.latching == "on"));
        m.insert(
            "create_work_order".into(),
            Value::Bool(self.create_work_order == "on"),
        );
        match self.kind.as_str() {
            "threshold" => {
                m.insert("op".into(), text(&self.op));
                m.insert("value".into(), number("value", &self.value)?);
                m.insert("low".into(), number("low", &self.low)?);
                m.insert("high".into(), number("high", &self.high)?);
                m.insert("for_s".into(), whole("for_s", &self.for_s)?);
                m.insert(
                    "off_delay_s".into(),
                    whole("off_delay_s", &self.off_delay_s)?,
                );
                m.insert("deadband".into(), number("deadband", &self.deadband)?);
            }
            "iso20816" => {
                m.insert("for_s".into(), whole("for_s", &self.for_s)?);
            }
            "no_data" => {
                m.insert("minutes".into(), number("minutes", &self.minutes)?);
            }
            _ => {}
        }
        let suppress = match filled(&self.suppress_metric) {
            None => Value::Null,
            Some(metric) => {
                let mut c = Map::new();
                c.insert("metric".into(), Value::String(metric));
                c.insert("op".into(), text(&self.suppress_op));
                let v = number("suppress_when.value", &self.suppress_value)?;
                if !v.is_null() {
                    c.insert("value".into(), v);
                }
                Value::Object(c)
            }
        };
        m.insert("suppress_when".into(), suppress);
        if !keep_nulls {
            m.retain(|_, v| !v.is_null());
        }
        Ok(Value::Object(m))
    }
}

/// A 422's field messages by field (`suppress_when.value` also under `suppress_value`).
pub fn field_errors(errors: &[(String, String)]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (field, message) in errors {
        let key = match field.as_str() {
            "suppress_when.metric" => "suppress_metric",
            "suppress_when.op" => "suppress_op",
            "suppress_when.value" | "suppress_when" => "suppress_value",
            f => f,
        };
        out.insert(key.to_owned(), message.clone());
    }
    out
}
