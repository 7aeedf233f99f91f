//! Maintenance figures (EN 15341 / SMRP definitions) over a period, per asset or for a
//! set of assets (an area, a site): what the reports page and
//! `GET /reports/maintenance` show.

use actix::Message;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::DomainError;

/// Operating time of one asset over the period, as the caller measured it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatingTime {
    pub asset_id: String,
    pub hours: f64,
    /// `running` (from the asset's `running` metric) or `calendar` (no such metric: the
    /// whole period counts, as most CMMS do).
    pub basis: OperatingBasis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatingBasis {
    Running,
    Calendar,
}

/// One period and the operating time the caller measured for each asset in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub operating: Vec<OperatingTime>,
}

/// The figures of the orders on `assets` over `period`, and over each of `series` (e.g.
/// the months of the period, for charts), read from the orders once.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<FiguresReport, DomainError>")]
pub struct ComputeFigures {
    pub period: Period,
    pub series: Vec<Period>,
    /// `None`: every asset (and orders without one).
    pub assets: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiguresReport {
    pub total: MaintenanceFigures,
    pub series: Vec<MaintenanceFigures>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureModeCount {
    pub failure_mode: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceFigures {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Operating hours summed over the assets.
    pub operating_hours: f64,
    /// `running` when every asset's operating time was measured from its `running`
    /// metric, `calendar` when none was (period minus downtime), else `mixed`.
    pub operating_basis: String,
    /// Corrective orders (failures) raised in the period.
    pub failures: u64,
    /// Operating time ÷ failures (hours); `None` without failures.
    pub mtbf_hours: Option<f64>,
    /// Time to restore ÷ failures (hours), over failures restored in the period.
    pub mttr_hours: Option<f64>,
    pub downtime_hours: f64,
    /// Operating ÷ (operating + downtime), 0..1.
    pub availability: Option<f64>,
    /// Preventive orders done within ±10 % of their interval ÷ preventive orders due.
    pub pm_compliance: Option<f64>,
    pub pm_due: u64,
    pub pm_on_time: u64,
    /// Planned (preventive + inspection) hours ÷ all hours worked.
    pub planned_share: Option<f64>,
    /// Estimated hours of open orders ÷ crew hours per week.
    pub backlog_weeks: f64,
    /// Repeat failures ÷ failures.
    pub repeat_failure_rate: Option<f64>,
    pub top_failure_modes: Vec<FailureModeCount>,
    pub open_orders: u64,
    pub overdue_orders: u64,
}
