//! A work order as stored and shown: what to do, on what, by whom, its status (a small
//! state machine), checklist, comments, closing codes and full history.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::health::Severity;
use crate::DeviceId;

/// What kind of job this is. Corrective orders are failures: they need closing codes and
/// count in MTBF / MTTR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkOrderType {
    Corrective,
    Preventive,
    Inspection,
    Request,
}

impl WorkOrderType {
    pub const ALL: [WorkOrderType; 4] = [
        WorkOrderType::Corrective,
        WorkOrderType::Preventive,
        WorkOrderType::Inspection,
        WorkOrderType::Request,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WorkOrderType::Corrective => "corrective",
            WorkOrderType::Preventive => "preventive",
            WorkOrderType::Inspection => "inspection",
            WorkOrderType::Request => "request",
        }
    }

    pub fn parse(s: &str) -> Option<WorkOrderType> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Planned work (for the planned share): preventive and inspection.
    pub fn is_planned(self) -> bool {
        matches!(self, WorkOrderType::Preventive | WorkOrderType::Inspection)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Medium,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Medium,
        Priority::High,
        Priority::Urgent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    pub fn parse(s: &str) -> Option<Priority> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// An alarm's order: critical → urgent, major → high, minor → medium, warning → low.
    pub fn from_severity(s: Severity) -> Priority {
        match s {
            Severity::Critical => Priority::Urgent,
            Severity::Major => Priority::High,
            Severity::Minor => Priority::Medium,
            Severity::Warning => Priority::Low,
        }
    }
}

/// `open → in_progress ⇄ on_hold → done`, or `cancelled` from any open state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkOrderStatus {
    Open,
    InProgress,
    OnHold,
    Done,
    Cancelled,
}

impl WorkOrderStatus {
    pub const ALL: [WorkOrderStatus; 5] = [
        WorkOrderStatus::Open,
        WorkOrderStatus::InProgress,
        WorkOrderStatus::OnHold,
        WorkOrderStatus::Done,
        WorkOrderStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WorkOrderStatus::Open => "open",
            WorkOrderStatus::InProgress => "in_progress",
            WorkOrderStatus::OnHold => "on_hold",
            WorkOrderStatus::Done => "done",
            WorkOrderStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<WorkOrderStatus> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Not done and not cancelled.
    pub fn is_open(self) -> bool {
        !matches!(self, WorkOrderStatus::Done | WorkOrderStatus::Cancelled)
    }

    /// The one table of legal transitions; anything else is a 409.
    pub fn can_go(self, to: WorkOrderStatus) -> bool {
        use WorkOrderStatus::*;
        matches!(
            (self, to),
            (Open, InProgress)
                | (InProgress, OnHold)
                | (OnHold, InProgress)
                | (InProgress, Done)
                | (Open | InProgress | OnHold, Cancelled)
        )
    }
}

/// The result of one checklist item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemResult {
    Ok,
    Failed,
    NotApplicable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChecklistItem {
    pub text: String,
    /// `None` until ticked.
    #[serde(default)]
    pub result: Option<ItemResult>,
    #[serde(default)]
    pub by: Option<String>,
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub note: Option<String>,
    /// The follow-up order a failed item opened.
    #[serde(default)]
    pub follow_up_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    pub at: DateTime<Utc>,
    /// A user name, or `system` (alarm and plan notes).
    pub by: String,
    pub text: String,
}

/// The closing codes of a corrective order (ISO 14224 in spirit): each a code from the
/// admin-edited pick lists ([`FailureCodes`](super::FailureCodes)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosingCodes {
    pub failure_mode: String,
    pub cause: String,
    pub action: String,
    pub detection: String,
}

/// One line of an order's audit history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub by: String,
    /// `created`, `status`, `changed`, `comment`, `checklist`, `linked`, …
    pub action: String,
    /// What changed, e.g. `{"from": "open", "to": "in_progress"}` or the changed fields.
    #[serde(default)]
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkOrder {
    pub id: String,
    /// A short number people say aloud: `WO-42`.
    pub number: i64,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub kind: WorkOrderType,
    pub priority: Priority,
    pub status: WorkOrderStatus,
    pub asset_id: Option<String>,
    pub device_id: Option<DeviceId>,
    /// The asset's location, copied at creation (the technician goes there).
    #[serde(default)]
    pub location: Option<String>,
    pub assignee: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub estimated_hours: Option<f64>,
    pub actual_hours: Option<f64>,
    /// The asset is stopped for this job: while it is `in_progress` the asset's
    /// maintenance-aware alarms are out of service.
    #[serde(default)]
    pub stops_asset: bool,
    pub downtime_start: Option<DateTime<Utc>>,
    pub downtime_end: Option<DateTime<Utc>>,
    #[serde(default)]
    pub skills: Vec<String>,
    #[serde(default)]
    pub tools: Vec<String>,
    #[serde(default)]
    pub parts: Vec<String>,
    #[serde(default)]
    pub checklist: Vec<ChecklistItem>,
    #[serde(default)]
    pub comments: Vec<Comment>,
    /// What caused it: an alarm (with its rule), a plan occurrence, a request, a failed
    /// checklist item of another order.
    pub alarm_id: Option<String>,
    pub rule_id: Option<String>,
    pub plan_id: Option<String>,
    /// The plan's occurrence number (1, 2, …) this order is for.
    pub occurrence: Option<i64>,
    /// A preventive order's interval in days (for PM compliance: done within ±10 %).
    #[serde(default)]
    pub interval_days: Option<f64>,
    pub request_id: Option<String>,
    pub parent_id: Option<String>,
    /// The same rule failed again within the repeat window after an earlier order was
    /// done: that order's id.
    pub repeat_of: Option<String>,
    #[serde(default)]
    pub repeat_failure: bool,
    pub closing: Option<ClosingCodes>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Open and past its due date (computed when read).
    #[serde(default)]
    pub overdue: bool,
    /// The audit trail, oldest first (on `GET /work-orders/{id}`; empty in lists).
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
}
