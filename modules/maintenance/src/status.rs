//! Where a plan stands (`PlanStatus`: the meter "412 of 500", the next due point and its
//! projection from the last 30 days' rate) and the maintenance calendar (open
//! occurrences, due or overdue; upcoming calendar points; meter projections). Pure reads
//! of memory.

use plantd_contracts::maintenance::{CalendarEntry, CalendarMode, PlanStatus};
use plantd_contracts::time::{to_datetime, Millis};

use crate::actor::PlanState;
use crate::calendar;

/// Upcoming entries per plan in one calendar answer, at most.
const MAX_ENTRIES_PER_PLAN: usize = 400;

pub(crate) fn status(p: &PlanState, now: Millis) -> PlanStatus {
    let plan = &p.plan;
    let metered = plan.meter.is_some();
    let calendar_due = p.sched.calendar_due(plan);
    let meter_due = p.sched.meter_due(plan);
    let projected = meter_due.and_then(|m| p.meter.projected(m, now));
    let (next_due_at, basis) = match (calendar_due, projected) {
        (Some(c), Some(m)) if m < c => (Some(m), Some(meter_basis(p, meter_due))),
        (Some(c), _) => (Some(c), Some("calendar".to_owned())),
        (None, Some(m)) => (Some(m), Some(meter_basis(p, meter_due))),
        (None, None) => (None, None),
    };
    PlanStatus {
        plan: plan.clone(),
        occurrence: p.sched.next_occurrence,
        meter_total: metered.then_some(p.meter.total),
        // Within a meter's lead the occurrence is raised before its point: 0 until then.
        meter_since_last: metered.then(|| (p.meter.total - p.sched.base).max(0.0)),
        meter_due_at: meter_due,
        meter_rate_per_day: if metered {
            p.meter.rate_per_day(now)
        } else {
            None
        },
        meter_projected_at: projected.map(to_datetime),
        calendar_due_at: calendar_due.map(to_datetime),
        next_due_at: next_due_at.map(to_datetime),
        next_due_basis: basis,
        open_work_order_id: p.sched.open.as_ref().and_then(|o| o.work_order_id.clone()),
        last_completed_at: p.sched.last_completed_at.map(to_datetime),
        missed: p.sched.missed,
        overdue: p.sched.overdue(now, p.meter.total),
    }
}

fn meter_basis(p: &PlanState, due: Option<f64>) -> String {
    if due.is_some_and(|d| p.meter.total >= d) {
        "meter".to_owned()
    } else {
        "projected".to_owned()
    }
}

/// One plan's entries in `[from, to)`.
pub(crate) fn entries(p: &PlanState, from: Millis, to: Millis, now: Millis) -> Vec<CalendarEntry> {
    let plan = &p.plan;
    let entry = |at: Millis, kind: &str, work_order_id: Option<String>| CalendarEntry {
        plan_id: plan.id.clone(),
        title: plan.title.clone(),
        asset_id: plan.asset_id.clone(),
        at: to_datetime(at),
        kind: kind.to_owned(),
        work_order_id,
    };
    let mut out = Vec::new();
    if let Some(open) = &p.sched.open {
        let at = open.due_at.unwrap_or(now);
        let overdue = p.sched.overdue(now, p.meter.total);
        // An overdue order shows where it was due and, if that is before the window, today.
        let at = if overdue && at < from { now } else { at };
        if (from..to).contains(&at) {
            let kind = if overdue { "overdue" } else { "due" };
            out.push(entry(at, kind, open.work_order_id.clone()));
        }
    }
    if plan.paused {
        return out;
    }
    if let Some(cal) = &plan.calendar {
        let mut at = p.sched.calendar_due(plan);
        let mut k = p.sched.cal_index;
        while let Some(t) = at.filter(|t| *t < to) {
            if out.len() >= MAX_ENTRIES_PER_PLAN {
                break;
            }
            if t >= from {
                out.push(entry(t, "due", None));
            }
            at = match cal.mode {
                CalendarMode::Fixed => {
                    k += 1;
                    calendar::fixed_point(cal, k)
                }
                CalendarMode::Floating => calendar::after(cal, t),
            };
        }
    }
    if let (Some(m), Some(due)) = (&plan.meter, p.sched.meter_due(plan)) {
        let rate = p.meter.rate_per_day(now).filter(|r| *r > 0.0);
        let mut at = p.meter.projected(due, now);
        while let Some(t) = at.filter(|t| *t < to) {
            if out.len() >= MAX_ENTRIES_PER_PLAN {
                break;
            }
            if t >= from {
                out.push(entry(t, "projected", None));
            }
            at = rate.map(|r| t + (m.every / r * 86_400_000.0) as Millis);
        }
    }
    out
}
