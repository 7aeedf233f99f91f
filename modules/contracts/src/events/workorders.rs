//! Payloads of the work-order events (`workorder.*`, `workrequest.created`), emitted by the
//! work-order module, and of the maintenance events (`maintenance.due`,
//! `maintenance.missed`), emitted by the maintenance module.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::workorders::{Priority, WorkOrderStatus, WorkOrderType};
use crate::DeviceId;

/// Every `workorder.*` event: the order as it is after the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkOrderEvent {
    pub work_order_id: String,
    pub number: i64,
    pub title: String,
    pub kind: WorkOrderType,
    pub priority: Priority,
    pub status: WorkOrderStatus,
    /// For `workorder.status_changed`: the status before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_status: Option<WorkOrderStatus>,
    pub asset_id: Option<String>,
    pub device_id: Option<DeviceId>,
    pub assignee: Option<String>,
    pub alarm_id: Option<String>,
    pub rule_id: Option<String>,
    pub plan_id: Option<String>,
    pub occurrence: Option<i64>,
    pub stops_asset: bool,
    /// After this change, some order that stops this asset is `in_progress`: the health
    /// module holds the asset in maintenance exactly while this is true.
    pub asset_held: bool,
    pub repeat_failure: bool,
    pub completed_at: Option<DateTime<Utc>>,
    /// A user name, or `system`.
    pub by: String,
}

/// `workrequest.created`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkRequestEvent {
    pub request_id: String,
    pub asset_id: Option<String>,
    pub title: String,
    pub requested_by: String,
}

/// `maintenance.due`: a plan's occurrence is due (or within its lead): the work-order
/// module opens exactly one preventive order for (`plan_id`, `occurrence`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceDue {
    pub plan_id: String,
    pub occurrence: i64,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub asset_id: String,
    /// `calendar` or `meter`: which trigger came first.
    pub trigger: String,
    /// When it is due (calendar, or the meter's projection; `None` if unknown).
    pub due_at: Option<DateTime<Utc>>,
    /// The meter total it is due at (meter plans).
    pub due_meter: Option<f64>,
    pub tasks: Vec<String>,
    pub estimated_hours: Option<f64>,
    #[serde(default)]
    pub skills: Vec<String>,
    #[serde(default)]
    pub tools: Vec<String>,
    #[serde(default)]
    pub parts: Vec<String>,
    #[serde(default)]
    pub stops_asset: bool,
    /// The plan's calendar interval in days, for PM compliance (±10 %).
    pub interval_days: Option<f64>,
}

/// `maintenance.missed`: an occurrence came due while the plan's previous order was still
/// open; no second order was stacked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceMissed {
    pub plan_id: String,
    pub occurrence: i64,
    pub title: String,
    pub asset_id: String,
    pub open_work_order_id: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
}
