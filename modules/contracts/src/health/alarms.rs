//! Alarms in the states of ISA-18.2 / IEC 62682, their history, the operator's actions,
//! the alarm-system health figures, and the samples telemetry forwards for evaluation.

use actix::Message;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Severity;
use crate::time::Millis;
use crate::{DeviceId, DomainError};

/// Where an alarm stands. The first four follow the condition and the operator
/// (active / returned to normal × unacknowledged / acknowledged; acknowledged and normal is
/// `cleared`, the end of the episode); the last three take it out of the operator's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmState {
    ActiveUnack,
    ActiveAck,
    RtnUnack,
    Cleared,
    Shelved,
    Suppressed,
    OutOfService,
}

impl AlarmState {
    pub const ALL: [AlarmState; 7] = [
        AlarmState::ActiveUnack,
        AlarmState::ActiveAck,
        AlarmState::RtnUnack,
        AlarmState::Cleared,
        AlarmState::Shelved,
        AlarmState::Suppressed,
        AlarmState::OutOfService,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::ActiveUnack => "active_unack",
            AlarmState::ActiveAck => "active_ack",
            AlarmState::RtnUnack => "rtn_unack",
            AlarmState::Cleared => "cleared",
            AlarmState::Shelved => "shelved",
            AlarmState::Suppressed => "suppressed",
            AlarmState::OutOfService => "out_of_service",
        }
    }

    pub fn parse(s: &str) -> Option<AlarmState> {
        AlarmState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Every state but `cleared`: the episode is still open.
    pub fn is_open(self) -> bool {
        self != AlarmState::Cleared
    }
}

/// One change of an alarm: who or what did it, when, from which state to which.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmChange {
    pub at: DateTime<Utc>,
    /// `raised`, `acknowledged`, `returned_to_normal`, `reactivated`, `cleared`,
    /// `severity_changed`, `shelved`, `unshelved`, `suppressed`, `unsuppressed`,
    /// `out_of_service`, `in_service`, `chattering`.
    pub action: String,
    pub from: Option<AlarmState>,
    pub to: AlarmState,
    pub severity: Severity,
    pub value: Option<f64>,
    /// A user name, or `system` for the evaluator.
    pub by: String,
    pub comment: Option<String>,
}

/// One alarm episode of one rule on one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    pub id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub device_id: DeviceId,
    pub asset_id: Option<String>,
    pub metric: Option<String>,
    pub state: AlarmState,
    pub severity: Severity,
    /// The highest severity of the episode.
    pub peak_severity: Severity,
    pub raised_at: DateTime<Utc>,
    /// The value that raised it, and the latest seen while it was open.
    pub value: f64,
    pub last_value: f64,
    /// Whether the condition holds now (false: returned to normal).
    pub condition_active: bool,
    pub acknowledged: bool,
    pub returned_at: Option<DateTime<Utc>>,
    pub cleared_at: Option<DateTime<Utc>>,
    pub shelved_until: Option<DateTime<Utc>>,
    /// Shelved until the condition next returns to normal.
    pub shelved_one_shot: bool,
    pub latching: bool,
    pub create_work_order: bool,
    pub chattering: bool,
    /// Shown to operators at least once (an alarm raised while suppressed or out of
    /// service is not, until it comes into view): `alarm.raised` is sent then.
    #[serde(default)]
    pub announced: bool,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub history: Vec<AlarmChange>,
}

/// How many open alarms (every state but cleared) each asset has, counted from the
/// module's memory (alarms without an asset are left out): the asset tree's badges.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "std::collections::HashMap<String, usize>")]
pub struct CountOpenAlarmsByAsset;

#[derive(Debug, Clone, Default, Message)]
#[rtype(result = "Result<AlarmPage, DomainError>")]
pub struct ListAlarms {
    pub state: Option<AlarmState>,
    /// Only open episodes (every state but cleared).
    pub open: bool,
    pub severity: Option<Severity>,
    pub asset_id: Option<String>,
    pub device_id: Option<String>,
    pub rule_id: Option<String>,
    /// Newest first; the page after the alarm with this id.
    pub after: Option<String>,
    pub limit: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlarmPage {
    pub items: Vec<Alarm>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Alarm, DomainError>")]
pub struct GetAlarm(pub String);

/// The orders an alarm table can be sorted in (ties broken by id). Severities stored as
/// text sort critical, major, minor, warning: most severe first when ascending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmSort {
    #[default]
    Raised,
    Severity,
    State,
    Device,
}

impl AlarmSort {
    pub const ALL: [AlarmSort; 4] = [
        AlarmSort::Raised,
        AlarmSort::Severity,
        AlarmSort::State,
        AlarmSort::Device,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlarmSort::Raised => "raised",
            AlarmSort::Severity => "severity",
            AlarmSort::State => "state",
            AlarmSort::Device => "device",
        }
    }

    pub fn parse(raw: &str) -> Option<AlarmSort> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// One window of the alarms that pass the filters (as `ListAlarms`) and contain `q` in
/// their text (rule name, device, metric…, any case), in the order asked; the reply counts
/// them all.
#[derive(Debug, Clone, Default, Message)]
#[rtype(result = "Result<crate::window::Windowed<Alarm>, DomainError>")]
pub struct BrowseAlarms {
    pub state: Option<AlarmState>,
    /// Only open episodes (every state but cleared).
    pub open: bool,
    pub severity: Option<Severity>,
    pub asset_id: Option<String>,
    pub q: Option<String>,
    pub sort: AlarmSort,
    pub dir: crate::window::SortDir,
    pub window: crate::window::Window,
}

/// What an operator does to an alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum OperatorAction {
    Acknowledge,
    /// Until a time (capped by the configured maximum), or one-shot: until the condition
    /// next returns to normal (also capped).
    Shelve {
        until: Option<DateTime<Utc>>,
        reason: String,
    },
    Unshelve,
    /// Only when the condition is normal.
    Clear,
}

/// An operator's action on one alarm; illegal in its state → `Conflict` (409).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Alarm, DomainError>")]
pub struct ActOnAlarm {
    pub id: String,
    pub action: OperatorAction,
    pub by: String,
    pub comment: Option<String>,
}

/// `GET /alarms/stats`: the alarm-system health figures of ISA-18.2 over a window.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<AlarmStats, DomainError>")]
pub struct GetAlarmStats {
    pub from_ms: Millis,
    pub to_ms: Millis,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuleCount {
    pub rule_id: String,
    pub rule_name: String,
    pub alarms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlarmStats {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub alarms: u64,
    /// Alarms raised per 10 minutes, on average over the window (target ≤ 1–2).
    pub per_10_min: f64,
    /// The busiest 10-minute window's count.
    pub peak_10_min: u64,
    /// Seconds in flood: 10-minute windows (sliding by alarm) with more than 10 alarms.
    pub flood_seconds: i64,
    pub flood_percent: f64,
    pub chattering_alarms: u64,
    pub chattering_rules: Vec<String>,
    /// Active for more than 24 hours now.
    pub stale_alarms: u64,
    pub shelved_now: u64,
    pub suppressed_now: u64,
    pub out_of_service_now: u64,
    pub open_now: u64,
    /// The ten rules that raised the most ("bad actors").
    pub top_rules: Vec<RuleCount>,
}

/// One stored sample, as telemetry forwards it to health after the commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSample {
    pub device_id: DeviceId,
    /// Shared with telemetry's registry (one allocation per series, not per sample).
    #[serde(with = "shared_str")]
    pub metric: std::sync::Arc<str>,
    pub ts: Millis,
    pub value: f64,
}

/// A shared string as a plain JSON string (serde's own `Arc` support is a feature the
/// workspace does not turn on).
mod shared_str {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Arc<str>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Arc<str>, D::Error> {
        String::deserialize(deserializer).map(Arc::from)
    }
}

/// Samples of one committed telemetry batch, in commit order; shared (not copied) by the
/// modules that read the stream (health's rules, maintenance's meters).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct SamplesStored {
    pub samples: std::sync::Arc<Vec<StoredSample>>,
    /// When the first of them was received (for publish → alarm latency).
    pub received_at: Millis,
}

/// The dashboard's alarm figures: open episodes (every state but `cleared`, as
/// [`ListAlarms`] with `open`) by their current severity, counted in memory.
#[derive(Debug, Clone, Copy, Default, Message)]
#[rtype(result = "AlarmCounts")]
pub struct CountOpenAlarms;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmCounts {
    pub critical: u64,
    pub major: u64,
    pub minor: u64,
    pub warning: u64,
}

impl AlarmCounts {
    pub fn of(&self, severity: Severity) -> u64 {
        match severity {
            Severity::Critical => self.critical,
            Severity::Major => self.major,
            Severity::Minor => self.minor,
            Severity::Warning => self.warning,
        }
    }

    pub fn add(&mut self, severity: Severity) {
        match severity {
            Severity::Critical => self.critical += 1,
            Severity::Major => self.major += 1,
            Severity::Minor => self.minor += 1,
            Severity::Warning => self.warning += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.critical + self.major + self.minor + self.warning
    }
}
