//! Where a plan's next occurrence is due and what comes due now. An occurrence is due at
//! whichever comes first of its calendar point and its meter point (each less its lead);
//! raising it consumes both, so the later trigger never raises the same occurrence again.
//! When several occurrences have come due at once (a clock jump, a long pause, a big
//! counter step) the earlier ones are skipped (missed) and only the latest is raised; an
//! occurrence raised while the previous one's order is open is missed too. Completion
//! moves the floating calendar's anchor and the meter's base. Pure: no I/O, no clock.

use crate::calendar;
use crate::meter::DAY_MS;
use plantd_contracts::maintenance::{CalendarMode, Plan};
use plantd_contracts::time::Millis;

/// Meter totals this close below a due point have reached it.
const METER_EPSILON: f64 = 1e-6;
/// Occurrences skipped in one check at most (the rest follow at the next check).
const MAX_SKIPPED: usize = 10_000;

/// The occurrence whose order is open (raised `due`, or ordered and not done).
#[derive(Debug, Clone, PartialEq)]
pub struct Open {
    pub occurrence: i64,
    pub trigger: Trigger,
    pub work_order_id: Option<String>,
    pub due_at: Option<Millis>,
    pub due_meter: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schedule {
    /// The next occurrence's number (1 for the first).
    pub next_occurrence: i64,
    /// Fixed calendar: the index of the next point of the series.
    pub cal_index: i64,
    /// Floating calendar: the next is due one interval after this (the start before).
    pub cal_anchor: Option<Millis>,
    /// The meter's next due point is `base + every`.
    pub base: f64,
    pub last_completed_at: Option<Millis>,
    pub last_completed_occurrence: Option<i64>,
    pub open: Option<Open>,
    pub missed: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Calendar,
    Meter,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Calendar => "calendar",
            Trigger::Meter => "meter",
        }
    }

    pub fn parse(s: &str) -> Trigger {
        if s == "meter" {
            Trigger::Meter
        } else {
            Trigger::Calendar
        }
    }
}

/// An occurrence that came due: raised (an order is asked for) or missed.
#[derive(Debug, Clone, PartialEq)]
pub struct Raised {
    pub occurrence: i64,
    pub trigger: Trigger,
    pub due_at: Option<Millis>,
    pub due_meter: Option<f64>,
    pub missed: bool,
    /// For a missed one: the order that was open.
    pub open_work_order_id: Option<String>,
}

impl Schedule {
    /// A new plan's schedule at `now`: a fixed series continues at its first point not
    /// before now; a floating one is first due at its start; the meter counts from 0.
    pub fn new(plan: &Plan, now: Millis) -> Schedule {
        let mut s = Schedule {
            next_occurrence: 1,
            ..Schedule::default()
        };
        s.calendar_changed(plan, now);
        s
    }

    /// After the calendar trigger changed: the fixed series restarts at its first point
    /// not before now; a floating anchor stays.
    pub fn calendar_changed(&mut self, plan: &Plan, now: Millis) {
        if let Some(cal) = &plan.calendar {
            if cal.mode == CalendarMode::Fixed {
                self.cal_index = calendar::first_index_from(cal, now);
            }
        }
    }

    pub fn calendar_due(&self, plan: &Plan) -> Option<Millis> {
        let cal = plan.calendar.as_ref()?;
        match cal.mode {
            CalendarMode::Fixed => calendar::fixed_point(cal, self.cal_index),
            CalendarMode::Floating => match self.cal_anchor {
                Some(anchor) => calendar::after(cal, anchor),
                None => Some(cal.start.timestamp_millis()),
            },
        }
    }

    pub fn meter_due(&self, plan: &Plan) -> Option<f64> {
        plan.meter.as_ref().map(|m| self.base + m.every)
    }

    /// What has come due at `now` with the meter at `total`, in occurrence order; the
    /// schedule moves past them. `projected` gives the time the meter reaches a point.
    pub fn check(
        &mut self,
        plan: &Plan,
        now: Millis,
        total: f64,
        projected: impl Fn(f64) -> Option<Millis>,
    ) -> Vec<Raised> {
        if plan.paused {
            return Vec::new();
        }
        let lead_ms = plan
            .lead
            .days
            .map_or(0, |d| (d * DAY_MS as f64).clamp(0.0, 1e15) as Millis);
        let lead_meter = plan.lead.meter.unwrap_or(0.0);
        let mut out: Vec<Raised> = Vec::new();
        while out.len() < MAX_SKIPPED {
            let cal = self.calendar_due(plan);
            let met = self.meter_due(plan);
            let cal_ready = cal.is_some_and(|c| now >= c.saturating_sub(lead_ms));
            // Run hours are sums of fractions: a hair under the point counts as on it.
            let met_ready = met.is_some_and(|m| total >= m - lead_meter - METER_EPSILON);
            let trigger = match (cal_ready, met_ready) {
                (true, _) => Trigger::Calendar,
                (false, true) => Trigger::Meter,
                (false, false) => break,
            };
            let due_at = match trigger {
                Trigger::Calendar => cal,
                Trigger::Meter => met.and_then(&projected),
            };
            out.push(Raised {
                occurrence: self.next_occurrence,
                trigger,
                due_at,
                due_meter: met,
                missed: true,
                open_work_order_id: None,
            });
            self.consume(plan, cal, met, trigger, total);
        }
        let skipped = out.len().saturating_sub(1);
        for r in out.iter_mut().take(skipped) {
            r.open_work_order_id = self.open.as_ref().and_then(|o| o.work_order_id.clone());
        }
        if let Some(last) = out.last_mut() {
            match &self.open {
                Some(open) => last.open_work_order_id = open.work_order_id.clone(),
                None => {
                    last.missed = false;
                    self.open = Some(Open {
                        occurrence: last.occurrence,
                        trigger: last.trigger,
                        work_order_id: None,
                        due_at: last.due_at,
                        due_meter: last.due_meter,
                    });
                }
            }
        }
        self.missed += out.iter().filter(|r| r.missed).count() as i64;
        out
    }

    /// The occurrence is past: both triggers move on. The calendar to its next point (the
    /// floating one counts from the point just consumed); the meter from the point just
    /// reached, or, when the calendar came first, from where the meter stands now.
    fn consume(
        &mut self,
        plan: &Plan,
        cal: Option<Millis>,
        met: Option<f64>,
        by: Trigger,
        total: f64,
    ) {
        self.next_occurrence += 1;
        if let (Some(c), Some(trigger)) = (cal, &plan.calendar) {
            match trigger.mode {
                CalendarMode::Fixed => self.cal_index += 1,
                CalendarMode::Floating => self.cal_anchor = Some(c),
            }
        }
        if let Some(m) = met {
            self.base = match by {
                Trigger::Meter => m,
                Trigger::Calendar => total,
            };
        }
    }

    /// The order of `occurrence` was created.
    pub fn ordered(&mut self, occurrence: i64, work_order_id: &str) {
        if let Some(open) = self.open.as_mut().filter(|o| o.occurrence == occurrence) {
            open.work_order_id = Some(work_order_id.to_owned());
        }
    }

    /// The order of `occurrence` was done at `at` with the meter at `total`: the floating
    /// calendar counts from `at`, the meter from `total`. False when this completion (or a
    /// later one) was applied before.
    pub fn completed(&mut self, occurrence: i64, at: Millis, total: f64) -> bool {
        if self
            .last_completed_occurrence
            .is_some_and(|last| last >= occurrence)
        {
            return false;
        }
        self.last_completed_occurrence = Some(occurrence);
        self.last_completed_at = Some(at);
        self.cal_anchor = Some(at);
        self.base = total;
        if self
            .open
            .as_ref()
            .is_some_and(|o| o.occurrence == occurrence)
        {
            self.open = None;
        }
        true
    }

    /// The order of `occurrence` was cancelled: no longer open; nothing moves.
    pub fn cancelled(&mut self, occurrence: i64) -> bool {
        if self
            .open
            .as_ref()
            .is_some_and(|o| o.occurrence == occurrence)
        {
            self.open = None;
            return true;
        }
        false
    }

    /// Its order is open and its due point has passed (the calendar's time, or the
    /// meter's point for an occurrence the meter raised).
    pub fn overdue(&self, now: Millis, total: f64) -> bool {
        self.open.as_ref().is_some_and(|o| match o.trigger {
            Trigger::Calendar => o.due_at.is_some_and(|d| d <= now),
            Trigger::Meter => o.due_meter.is_some_and(|m| total >= m - METER_EPSILON),
        })
    }
}
