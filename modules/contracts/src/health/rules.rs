//! Alarm rules: what condition on which metric of which device (or of every device of an
//! asset) raises an alarm, how fast and how it returns to normal, and the messages that
//! manage and backtest them. The JSON is flat: the common fields beside the kind's own
//! (`{"name", "device_id", "metric", "kind": "threshold", "op": ">", "value": 7.1, …}`).

use actix::Message;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::DomainError;

/// Alarm priority, most urgent first. ISA-18.2 asks for few priorities, used sparingly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    Major,
    Minor,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Major => "major",
            Severity::Minor => "minor",
            Severity::Warning => "warning",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "critical" => Some(Severity::Critical),
            "major" => Some(Severity::Major),
            "minor" => Some(Severity::Minor),
            "warning" => Some(Severity::Warning),
            _ => None,
        }
    }
}

/// A comparison of a value with a limit (or a band, for `outside`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "outside")]
    Outside,
}

/// A number, or a JSON boolean taken as 1 / 0 (telemetry stores `true` as 1).
fn number_or_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrBool {
        Num(f64),
        Bool(bool),
    }
    Ok(Option::<NumOrBool>::deserialize(d)?.map(|v| match v {
        NumOrBool::Num(n) => n,
        NumOrBool::Bool(b) => f64::from(u8::from(b)),
    }))
}

/// One comparison on one metric: a sub-condition of `all` / `any`, or `suppress_when`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub metric: String,
    pub op: Op,
    #[serde(default, deserialize_with = "number_or_bool")]
    pub value: Option<f64>,
    #[serde(default)]
    pub low: Option<f64>,
    #[serde(default)]
    pub high: Option<f64>,
    /// On-delay: true this long (by sample time) before it counts.
    #[serde(default)]
    pub for_s: u32,
}

/// The tunables of the anomaly detector; each absent one takes the documented default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalyTuning {
    pub warmup: Option<u32>,
    pub z_raise: Option<f64>,
    pub confirm_k: Option<u8>,
    pub confirm_n: Option<u8>,
    pub z_clear: Option<f64>,
    pub clear_samples: Option<u32>,
    pub cusum_k: Option<f64>,
    pub cusum_h: Option<f64>,
    pub halflife: Option<f64>,
}

/// What the rule watches, by kind (the `kind` field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RuleSpec {
    /// The value against a limit or band, with on-delay, off-delay and deadband.
    Threshold {
        op: Op,
        #[serde(default, deserialize_with = "number_or_bool")]
        value: Option<f64>,
        #[serde(default)]
        low: Option<f64>,
        #[serde(default)]
        high: Option<f64>,
        #[serde(default)]
        for_s: u32,
        #[serde(default)]
        off_delay_s: u32,
        #[serde(default)]
        deadband: f64,
    },
    /// The change per minute over a window against a limit.
    Rate {
        op: Op,
        value: f64,
        #[serde(default = "default_rate_window")]
        window_s: u32,
        #[serde(default)]
        for_s: u32,
    },
    /// Deviation from the metric's own recent behaviour.
    Anomaly {
        #[serde(default)]
        tuning: AnomalyTuning,
    },
    /// ISO 20816-3 vibration zones from the asset's class: C major, D critical.
    Iso20816 {
        #[serde(default)]
        for_s: u32,
    },
    /// Silence: no sample of the metric (or of any metric, without one) for `minutes`
    /// (fractions allowed, down to 0.05 = 3 s).
    NoData { minutes: f64 },
    /// Every condition true (AND), each with its own on-delay.
    All { conditions: Vec<Condition> },
    /// At least one condition true (OR), each with its own on-delay.
    Any { conditions: Vec<Condition> },
}

fn default_rate_window() -> u32 {
    60
}

impl RuleSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            RuleSpec::Threshold { .. } => "threshold",
            RuleSpec::Rate { .. } => "rate",
            RuleSpec::Anomaly { .. } => "anomaly",
            RuleSpec::Iso20816 { .. } => "iso20816",
            RuleSpec::NoData { .. } => "no_data",
            RuleSpec::All { .. } => "all",
            RuleSpec::Any { .. } => "any",
        }
    }
}

fn yes() -> bool {
    true
}

/// The fields a client sends (`POST /rules`, and the result of a `PATCH` merge).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleInput {
    pub name: String,
    #[serde(default)]
    pub device_id: Option<String>,
    #[serde(default)]
    pub asset_id: Option<String>,
    #[serde(default)]
    pub metric: Option<String>,
    #[serde(flatten)]
    pub spec: RuleSpec,
    /// Fixed severity; `iso20816` rules take theirs from the zone.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// ISA-18.2 suppressed-by-design: while this holds (on the same device, or else on
    /// any device of the asset), the alarm is suppressed.
    #[serde(default)]
    pub suppress_when: Option<Condition>,
    /// Stays until acknowledged and cleared by hand, even after return to normal.
    #[serde(default)]
    pub latching: bool,
    #[serde(default)]
    pub create_work_order: bool,
    /// Out of service while the asset is in maintenance.
    #[serde(default = "yes")]
    pub maintenance_aware: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// A stored rule: its input plus identity and figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    #[serde(flatten)]
    pub input: RuleInput,
    /// ≥ 3 raise / return cycles within a minute were seen recently.
    #[serde(default)]
    pub chattering: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /rules`: the body as JSON (validated by the health module, 422 with the field).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Rule, DomainError>")]
pub struct CreateRule(pub serde_json::Value);

#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Vec<Rule>, DomainError>")]
pub struct ListRules {
    pub asset_id: Option<String>,
    pub device_id: Option<String>,
}

#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Rule, DomainError>")]
pub struct GetRule(pub String);

/// `PATCH /rules/{id}`: a JSON merge patch over the rule's input, validated whole.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Rule, DomainError>")]
pub struct UpdateRule {
    pub id: String,
    pub patch: serde_json::Value,
}

/// Deleting a rule ends its open alarms (cleared, by whom and why recorded).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), DomainError>")]
pub struct DeleteRule {
    pub id: String,
    pub by: String,
}

/// `POST /rules/preview`: run a rule (a saved one by `rule_id`, or an unsaved body) over
/// stored history and answer the alarms it would have raised.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Preview, DomainError>")]
pub struct PreviewRule {
    pub rule_id: Option<String>,
    pub rule: Option<serde_json::Value>,
    pub from_ms: i64,
    pub to_ms: i64,
}

/// One alarm a backtest would have raised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewAlarm {
    pub device_id: String,
    pub raised_at: DateTime<Utc>,
    pub value: f64,
    pub severity: Severity,
    /// The highest severity reached in the episode.
    pub peak_severity: Severity,
    pub returned_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Preview {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub samples: usize,
    pub alarms: Vec<PreviewAlarm>,
}
