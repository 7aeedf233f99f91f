//! Raising occurrences: a plan's schedule is checked against the clock and its meter
//! (every tick, and after each sample batch for the plans it moved); what came due is
//! queued as an occurrence row with its `maintenance.due` (or `maintenance.missed`)
//! event, written in one transaction with the plan's schedule.

use actix::prelude::*;
use plantd_contracts::events::{EventData, MaintenanceDue, MaintenanceMissed};
use plantd_contracts::time::Millis;
use plantd_contracts::Event;

use crate::actor::{Maintenance, PlanState};
use crate::calendar;
use crate::schedule::Raised;
use crate::store::OccurrenceRow;
use crate::write_queue::Op;

impl Maintenance {
    /// Checks every plan against the clock; writes what came due.
    pub(crate) fn check_all(&mut self, ctx: &mut Context<Self>) {
        let now = self.now();
        let ids: Vec<String> = self.plans.keys().cloned().collect();
        for id in &ids {
            self.check_plan(id, now);
        }
        metrics::counter!("plantd_maintenance_checks_total").increment(1);
        if self.writer.has_ops() {
            self.flush(ctx);
        }
    }

    /// Checks one plan; queues its raised occurrences. True if any.
    pub(crate) fn check_plan(&mut self, id: &str, now: Millis) -> bool {
        let Some(p) = self.plans.get_mut(id) else {
            return false;
        };
        let meter = &p.meter;
        let raised = p.sched.check(&p.plan, now, meter.total, |target| {
            meter.projected(target, now)
        });
        if raised.is_empty() {
            return false;
        }
        let ops: Vec<Op> = raised.iter().map(|r| occurrence_op(p, r, now)).collect();
        for r in &raised {
            if r.missed {
                metrics::counter!("plantd_maintenance_missed_total").increment(1);
                tracing::info!(plan = %id, occurrence = r.occurrence, trigger = r.trigger.as_str(), "maintenance occurrence missed");
            } else {
                metrics::counter!("plantd_maintenance_due_total", "trigger" => r.trigger.as_str())
                    .increment(1);
                tracing::info!(plan = %id, occurrence = r.occurrence, trigger = r.trigger.as_str(), "maintenance due");
            }
        }
        for op in ops {
            self.writer.push(op);
        }
        self.writer.touch(id);
        true
    }
}

fn occurrence_op(p: &PlanState, r: &Raised, now: Millis) -> Op {
    let plan = &p.plan;
    let due_at = r.due_at.map(plantd_contracts::time::to_datetime);
    let data = if r.missed {
        EventData::MaintenanceMissed(MaintenanceMissed {
            plan_id: plan.id.clone(),
            occurrence: r.occurrence,
            title: plan.title.clone(),
            asset_id: plan.asset_id.clone(),
            open_work_order_id: r.open_work_order_id.clone(),
            due_at,
        })
    } else {
        EventData::MaintenanceDue(MaintenanceDue {
            plan_id: plan.id.clone(),
            occurrence: r.occurrence,
            title: plan.title.clone(),
            description: plan.description.clone(),
            asset_id: plan.asset_id.clone(),
            trigger: r.trigger.as_str().to_owned(),
            due_at,
            due_meter: r.due_meter,
            tasks: plan.tasks.clone(),
            estimated_hours: plan.estimated_hours,
            skills: plan.skills.clone(),
            tools: plan.tools.clone(),
            parts: plan.parts.clone(),
            stops_asset: plan.stops_asset,
            interval_days: plan.calendar.as_ref().map(calendar::interval_days),
        })
    };
    let event = Event::new(data);
    Op::Occurrence(Box::new((
        OccurrenceRow {
            plan_id: plan.id.clone(),
            occurrence: r.occurrence,
            due_at: r.due_at,
            due_meter: r.due_meter,
            trigger_kind: r.trigger.as_str().to_owned(),
            state: if r.missed { "missed" } else { "due" }.to_owned(),
            work_order_id: None,
            raised_at: now,
            closed_at: None,
        },
        event,
    )))
}
