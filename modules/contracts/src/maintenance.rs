//! Preventive maintenance plans: an asset, a task list, and triggers by calendar (fixed or
//! floating) and by meter (run hours or counter increments counted from live telemetry),
//! whichever comes first, with a lead time. The maintenance module owns plans and their
//! meters; it asks for orders through the `maintenance.due` event and learns of their
//! completion from `workorder.*` events.

use actix::Message;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{DeviceId, DomainError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarUnit {
    Days,
    Weeks,
    Months,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarMode {
    /// Due at start + k × interval, whenever the last one was done.
    Fixed,
    /// Due one interval after the last completion (the start before the first).
    Floating,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarTrigger {
    pub every: u32,
    pub unit: CalendarUnit,
    pub mode: CalendarMode,
    pub start: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeterKind {
    /// Hours while a boolean metric (e.g. `running`) is true.
    RunHours,
    /// Increments of a counter metric (cycles, units), resets and gaps handled.
    Counter,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterTrigger {
    pub device_id: DeviceId,
    pub metric: String,
    pub kind: MeterKind,
    pub every: f64,
}

/// Create the order this long before it is due: `days` for the calendar, `meter` in the
/// meter's unit (hours or counts).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lead {
    #[serde(default)]
    pub days: Option<f64>,
    #[serde(default)]
    pub meter: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub id: String,
    pub asset_id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub tasks: Vec<String>,
    pub estimated_hours: Option<f64>,
    #[serde(default)]
    pub skills: Vec<String>,
    #[serde(default)]
    pub tools: Vec<String>,
    #[serde(default)]
    pub parts: Vec<String>,
    /// The orders stop the asset (maintenance-aware alarms go out of service).
    #[serde(default)]
    pub stops_asset: bool,
    pub calendar: Option<CalendarTrigger>,
    pub meter: Option<MeterTrigger>,
    #[serde(default)]
    pub lead: Lead,
    #[serde(default)]
    pub paused: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A plan with where it stands: `GET /maintenance-plans/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanStatus {
    #[serde(flatten)]
    pub plan: Plan,
    /// The next occurrence's number (1 for the first).
    pub occurrence: i64,
    /// The meter's total since the plan began counting (hours or counts).
    pub meter_total: Option<f64>,
    /// Counted since the last completion (or the plan's start): "412 of 500".
    pub meter_since_last: Option<f64>,
    /// The meter total at which the next occurrence is due.
    pub meter_due_at: Option<f64>,
    /// Meter units per day over the last 30 days.
    pub meter_rate_per_day: Option<f64>,
    /// When the meter is projected to reach its due point at that rate.
    pub meter_projected_at: Option<DateTime<Utc>>,
    /// The calendar's next due time.
    pub calendar_due_at: Option<DateTime<Utc>>,
    /// Whichever comes first of the calendar and the meter projection.
    pub next_due_at: Option<DateTime<Utc>>,
    /// `calendar`, `meter` or `projected` (the meter's due time is a projection).
    pub next_due_basis: Option<String>,
    pub open_work_order_id: Option<String>,
    pub last_completed_at: Option<DateTime<Utc>>,
    pub missed: i64,
    pub overdue: bool,
}

/// `POST /maintenance-plans`, checked by the module (422 names the field).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<PlanStatus, DomainError>")]
pub struct CreatePlan {
    pub body: serde_json::Value,
    pub by: String,
}

#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Vec<PlanStatus>, DomainError>")]
pub struct ListPlans {
    pub asset_id: Option<String>,
}

#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<PlanStatus, DomainError>")]
pub struct GetPlan(pub String);

/// A merge patch (`paused: true` pauses).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<PlanStatus, DomainError>")]
pub struct UpdatePlan {
    pub id: String,
    pub patch: serde_json::Value,
    pub by: String,
}

#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), DomainError>")]
pub struct DeletePlan(pub String);

/// One day's entry in the maintenance calendar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalendarEntry {
    pub plan_id: String,
    pub title: String,
    pub asset_id: String,
    pub at: DateTime<Utc>,
    /// `due` (calendar), `projected` (meter at the recent rate) or `overdue`.
    pub kind: String,
    pub work_order_id: Option<String>,
}

/// Due, projected and overdue maintenance in `[from, to)`.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Vec<CalendarEntry>, DomainError>")]
pub struct MaintenanceCalendar {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The dashboard's maintenance figure: plans (not paused) whose next due time is before
/// now + `within` (overdue ones included), and how many of those are overdue. The plan
/// list's `due=week` filter shows the same plans (`within` of 7 days).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "DuePlanCounts")]
pub struct CountDuePlans {
    pub within: std::time::Duration,
}

impl PlanStatus {
    /// Counted by [`CountDuePlans`] and shown by the list's `due` filter: not paused, and
    /// overdue or next due before `now + within`.
    pub fn due_within(&self, now: DateTime<Utc>, within: std::time::Duration) -> bool {
        let horizon = chrono::Duration::from_std(within)
            .ok()
            .and_then(|w| now.checked_add_signed(w))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        !self.plan.paused && (self.overdue || self.next_due_at.is_some_and(|at| at <= horizon))
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuePlanCounts {
    pub due: u64,
    pub overdue: u64,
}
