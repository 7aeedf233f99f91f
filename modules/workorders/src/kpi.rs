//! The maintenance figures, computed from orders (EN 15341 / SMRP definitions). Pure: the
//! caller gives the facts of the orders of the assets in question ([`Facts`]: the columns
//! the store keeps for this, not whole orders) and the operating time it measured;
//! nothing here reads the database or the clock.
//!
//! - failures: corrective orders raised in the period (cancelled ones excluded);
//! - MTBF = operating hours ÷ failures;
//! - MTTR = time to restore ÷ failures restored in the period, where time to restore is
//!   the recorded downtime (start → end) or, without it, raised → done;
//! - downtime: the orders' downtime intervals clipped to the period (an order still down
//!   at the period's end counts to the end);
//! - availability = operating ÷ (operating + downtime);
//! - PM compliance = preventive orders due in the period and done within ±10 % of their
//!   interval around the due time ÷ preventive orders due in the period (without an
//!   interval — meter plans — done by the due time);
//! - planned share = hours of preventive and inspection orders done in the period ÷ hours
//!   of all orders done in it (actual hours, else the estimate);
//! - backlog = estimated hours of orders open at the period's end ÷ crew hours per week;
//! - repeat-failure rate = repeat failures ÷ failures; top failure modes by count.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use plantd_contracts::time::{to_datetime, Millis};
use plantd_contracts::workorders::{
    FailureModeCount, MaintenanceFigures, OperatingBasis, OperatingTime, WorkOrder,
    WorkOrderStatus, WorkOrderType,
};

const HOUR_MS: f64 = 3_600_000.0;

fn ms(t: &DateTime<Utc>) -> Millis {
    t.timestamp_millis()
}

fn ms_opt(t: &Option<DateTime<Utc>>) -> Option<Millis> {
    t.as_ref().map(ms)
}

/// What the figures read of one order: its columns in `workorders_orders` (the store
/// reads only these, never the document), or taken from a whole order.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub kind: WorkOrderType,
    pub status: WorkOrderStatus,
    pub asset_id: Option<String>,
    pub created_at: Millis,
    /// When it stopped being open (done or cancelled); `None` while open.
    pub closed_at: Option<Millis>,
    pub due_at: Option<Millis>,
    pub completed_at: Option<Millis>,
    pub downtime_start: Option<Millis>,
    pub downtime_end: Option<Millis>,
    pub estimated_hours: Option<f64>,
    pub actual_hours: Option<f64>,
    pub interval_days: Option<f64>,
    pub repeat_failure: bool,
    /// The closing code's failure mode.
    pub failure_mode: Option<String>,
}

impl From<&WorkOrder> for Facts {
    fn from(o: &WorkOrder) -> Facts {
        Facts {
            kind: o.kind,
            status: o.status,
            asset_id: o.asset_id.clone(),
            created_at: ms(&o.created_at),
            closed_at: match o.status {
                WorkOrderStatus::Done => ms_opt(&o.completed_at).or(Some(ms(&o.updated_at))),
                WorkOrderStatus::Cancelled => Some(ms(&o.updated_at)),
                _ => None,
            },
            due_at: ms_opt(&o.due_at),
            completed_at: ms_opt(&o.completed_at),
            downtime_start: ms_opt(&o.downtime_start),
            downtime_end: ms_opt(&o.downtime_end),
            estimated_hours: o.estimated_hours,
            actual_hours: o.actual_hours,
            interval_days: o.interval_days,
            repeat_failure: o.repeat_failure,
            failure_mode: o.closing.as_ref().map(|c| c.failure_mode.clone()),
        }
    }
}

fn in_period(t: Millis, from: Millis, to: Millis) -> bool {
    (from..to).contains(&t)
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

/// The order's downtime inside `[from, to)`, in hours.
fn downtime_hours(o: &Facts, from: Millis, to: Millis) -> f64 {
    let Some(start) = o.downtime_start else {
        return 0.0;
    };
    let end = o.downtime_end.unwrap_or(to);
    let (a, b) = (start.max(from), end.min(to));
    if b > a {
        (b - a) as f64 / HOUR_MS
    } else {
        0.0
    }
}

/// Hours to restore a failure: its downtime, or raised → done without one.
fn restore_hours(o: &Facts) -> Option<f64> {
    let done = o.completed_at?;
    let (start, end) = match (o.downtime_start, o.downtime_end) {
        (Some(s), Some(e)) => (s, e),
        _ => (o.created_at, done),
    };
    Some((end - start).max(0) as f64 / HOUR_MS)
}

fn worked_hours(o: &Facts) -> f64 {
    o.actual_hours.or(o.estimated_hours).unwrap_or(0.0).max(0.0)
}

/// A preventive order counts as due in the period by its due time (its creation time
/// when it has none); on time when done within ±10 % of its interval of that time.
fn pm_due_at(o: &Facts) -> Millis {
    o.due_at.unwrap_or(o.created_at)
}

fn pm_on_time(o: &Facts, due: Millis) -> bool {
    let Some(done) = o.completed_at.filter(|_| o.status == WorkOrderStatus::Done) else {
        return false;
    };
    let tolerance = o
        .interval_days
        .filter(|d| *d > 0.0)
        .map_or(0, |d| (d * 0.1 * 24.0 * HOUR_MS) as Millis);
    match o.interval_days {
        Some(_) => (done - due).abs() <= tolerance,
        None => done <= due,
    }
}

/// The figures of `orders` over `[from, to)` with the operating time measured per asset.
/// `calendar` operating time (no `running` metric) is the period less the downtime.
pub fn compute(
    orders: &[Facts],
    from: Millis,
    to: Millis,
    operating: &[OperatingTime],
    crew_hours_per_week: f64,
) -> MaintenanceFigures {
    let mut tally = Tally::default();
    for o in orders.iter().filter(|o| o.created_at < to) {
        tally.events(o, from, to);
        tally.open_at(o, to);
    }
    tally.finish(from, to, operating, crew_hours_per_week)
}

/// The running sums of one period's figures. An order is added in two parts, so that
/// [`series`] can add each part only to the periods it touches: what happened inside the
/// period ([`Tally::events`]) and whether it was still open at the period's end
/// ([`Tally::open_at`]). Both expect an order raised before the period's end.
#[derive(Default)]
struct Tally<'a> {
    failures: u64,
    repeats: u64,
    restored: u64,
    restore_total: f64,
    downtime: f64,
    downtime_by_asset: BTreeMap<&'a str, f64>,
    pm_due: u64,
    pm_on: u64,
    planned: f64,
    worked: f64,
    backlog_hours: f64,
    open: u64,
    overdue: u64,
    modes: BTreeMap<&'a str, u64>,
}

impl<'a> Tally<'a> {
    /// Downtime, failures raised, work done and preventive orders due inside `[from, to)`.
    fn events(&mut self, o: &'a Facts, from: Millis, to: Millis) {
        let created = o.created_at;
        let cancelled = o.status == WorkOrderStatus::Cancelled;
        let d = downtime_hours(o, from, to);
        self.downtime += d;
        if let Some(asset) = &o.asset_id {
            *self.downtime_by_asset.entry(asset.as_str()).or_default() += d;
        }
        if o.kind == WorkOrderType::Corrective && !cancelled && in_period(created, from, to) {
            self.failures += 1;
            if o.repeat_failure {
                self.repeats += 1;
            }
        }
        let done_in_period = o.status == WorkOrderStatus::Done
            && o.completed_at.is_some_and(|t| in_period(t, from, to));
        if done_in_period {
            if o.kind == WorkOrderType::Corrective {
                if let Some(h) = restore_hours(o) {
                    self.restored += 1;
                    self.restore_total += h;
                }
                if let Some(mode) = &o.failure_mode {
                    *self.modes.entry(mode.as_str()).or_default() += 1;
                }
            }
            let h = worked_hours(o);
            self.worked += h;
            if o.kind.is_planned() {
                self.planned += h;
            }
        }
        if o.kind == WorkOrderType::Preventive && !cancelled {
            let due = pm_due_at(o);
            if in_period(due, from, to) {
                self.pm_due += 1;
                if pm_on_time(o, due) {
                    self.pm_on += 1;
                }
            }
        }
    }

    /// The order's part of the backlog, if it was still open at `to`.
    fn open_at(&mut self, o: &Facts, to: Millis) {
        if o.closed_at.is_none_or(|t| t >= to) {
            self.open += 1;
            self.backlog_hours += o.estimated_hours.unwrap_or(0.0).max(0.0);
            if o.due_at.is_some_and(|due| due < to) {
                self.overdue += 1;
            }
        }
    }

    fn finish(
        self,
        from: Millis,
        to: Millis,
        operating: &[OperatingTime],
        crew_hours_per_week: f64,
    ) -> MaintenanceFigures {
        let period_hours = (to - from).max(0) as f64 / HOUR_MS;
        let mut operating_hours = 0.0;
        let (mut measured, mut calendar) = (0, 0);
        for op in operating {
            match op.basis {
                OperatingBasis::Running => {
                    measured += 1;
                    operating_hours += op.hours.max(0.0);
                }
                OperatingBasis::Calendar => {
                    calendar += 1;
                    let down = self
                        .downtime_by_asset
                        .get(op.asset_id.as_str())
                        .copied()
                        .unwrap_or(0.0);
                    operating_hours += (op.hours.min(period_hours) - down).max(0.0);
                }
            }
        }
        let operating_basis = match (measured, calendar) {
            (_, 0) if measured > 0 => "running",
            (0, _) => "calendar",
            _ => "mixed",
        };
        let mut top: Vec<FailureModeCount> = self
            .modes
            .into_iter()
            .map(|(m, count)| FailureModeCount {
                failure_mode: m.to_owned(),
                count,
            })
            .collect();
        top.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then(a.failure_mode.cmp(&b.failure_mode))
        });
        top.truncate(5);
        let (failures, downtime) = (self.failures, self.downtime);
        MaintenanceFigures {
            from: to_datetime(from),
            to: to_datetime(to),
            operating_hours,
            operating_basis: operating_basis.to_owned(),
            failures,
            mtbf_hours: ratio(operating_hours, failures as f64),
            mttr_hours: ratio(self.restore_total, self.restored as f64),
            downtime_hours: downtime,
            availability: ratio(operating_hours, operating_hours + downtime),
            pm_compliance: ratio(self.pm_on as f64, self.pm_due as f64),
            pm_due: self.pm_due,
            pm_on_time: self.pm_on,
            planned_share: ratio(self.planned, self.worked),
            backlog_weeks: if crew_hours_per_week > 0.0 {
                self.backlog_hours / crew_hours_per_week
            } else {
                0.0
            },
            repeat_failure_rate: ratio(self.repeats as f64, failures as f64),
            top_failure_modes: top,
            open_orders: self.open,
            overdue_orders: self.overdue,
        }
    }
}

mod series;
pub use series::series;

#[cfg(test)]
mod tests;
