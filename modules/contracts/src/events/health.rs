//! Payloads of the asset-health events (`alarm.*`), emitted by the health module.

use serde::{Deserialize, Serialize};

use crate::health::{AlarmState, Severity};
use crate::DeviceId;

/// Every `alarm.*` event: the alarm as it is after the change, and who made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmEvent {
    pub alarm_id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub device_id: DeviceId,
    pub asset_id: Option<String>,
    pub metric: Option<String>,
    pub state: AlarmState,
    pub severity: Severity,
    /// For `alarm.severity_changed`: the severity before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_severity: Option<Severity>,
    pub value: f64,
    /// The rule asks for a work order (the work-order module acts on `alarm.raised`).
    pub create_work_order: bool,
    /// A user name, or `system`.
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}
