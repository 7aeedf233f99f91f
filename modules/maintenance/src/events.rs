//! What maintenance hears from work orders (`workorder.*` events of orders with a
//! `plan_id`): an occurrence's order was created, done (completion moves the next due
//! point: the floating calendar from `completed_at`, the meter from its total now) or
//! cancelled. Answered after the change is committed, so a failed write is redelivered;
//! a redelivered event changes nothing (the occurrence's state and the schedule's last
//! completion are its natural keys).

use actix::prelude::*;
use plantd_contracts::events::{DeliverEvent, WorkOrderEvent};
use plantd_contracts::workorders::WorkOrderStatus;
use plantd_contracts::EventData;

use crate::actor::Maintenance;
use crate::write_queue::Op;

enum Change {
    Created,
    Completed,
    Cancelled,
}

impl Maintenance {
    fn on_work_order(&mut self, e: &WorkOrderEvent, change: Change) {
        let (Some(plan_id), Some(occurrence)) = (&e.plan_id, e.occurrence) else {
            return;
        };
        let total = match self.plans.get(plan_id) {
            Some(p) => p.meter.total,
            None => return,
        };
        let now = self.now();
        let Some(p) = self.plans.get_mut(plan_id) else {
            return;
        };
        let (state, closed_at) = match change {
            Change::Created => {
                p.sched.ordered(occurrence, &e.work_order_id);
                ("ordered", None)
            }
            Change::Completed => {
                let at = e.completed_at.map_or(now, |t| t.timestamp_millis());
                if p.sched.completed(occurrence, at, total) {
                    tracing::info!(plan = %plan_id, occurrence, work_order = %e.work_order_id, "maintenance done; next due point moved");
                }
                ("done", Some(at))
            }
            Change::Cancelled => {
                p.sched.cancelled(occurrence);
                ("cancelled", Some(now))
            }
        };
        self.writer.push(Op::SetOccurrence {
            plan_id: plan_id.clone(),
            occurrence,
            state,
            work_order_id: e.work_order_id.clone(),
            closed_at,
        });
        self.writer.touch(plan_id);
    }
}

impl Handler<DeliverEvent> for Maintenance {
    type Result = ResponseActFuture<Self, Result<(), String>>;

    fn handle(&mut self, msg: DeliverEvent, ctx: &mut Context<Self>) -> Self::Result {
        match &msg.0.data {
            EventData::WorkOrderCreated(e) => self.on_work_order(e, Change::Created),
            EventData::WorkOrderCompleted(e) => self.on_work_order(e, Change::Completed),
            EventData::WorkOrderStatusChanged(e) if e.status == WorkOrderStatus::Cancelled => {
                self.on_work_order(e, Change::Cancelled)
            }
            _ => return Box::pin(fut::ready(Ok(()))),
        }
        Box::pin(
            self.committed(ctx)
                .map(|r, _, _| r.map_err(|e| e.to_string())),
        )
    }
}
