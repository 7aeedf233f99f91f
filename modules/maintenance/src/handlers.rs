//! The plan messages of the HTTP edge: create, list, read, patch (merge patch; `paused`
//! pauses), delete, and the calendar. A change is answered after it is committed.

use actix::prelude::*;
use plantd_contracts::maintenance::*;
use plantd_contracts::time::to_datetime;
use plantd_contracts::DomainError;
use uuid::Uuid;

use crate::actor::{Maintenance, PlanState};
use crate::meter::Meter;
use crate::schedule::Schedule;
use crate::status;
use crate::store::PlanRow;
use crate::write_queue::Op;

type Reply<T> = ResponseActFuture<Maintenance, Result<T, DomainError>>;

fn not_found(id: &str) -> DomainError {
    DomainError::NotFound(format!("maintenance plan {id}"))
}

fn row_of(plan: &Plan) -> Result<PlanRow, DomainError> {
    Ok(PlanRow {
        id: plan.id.clone(),
        asset_id: plan.asset_id.clone(),
        doc: serde_json::to_string(plan).map_err(|e| DomainError::Unavailable(e.to_string()))?,
        created_at: plan.created_at.timestamp_millis(),
        updated_at: plan.updated_at.timestamp_millis(),
    })
}

impl Maintenance {
    /// Keeps a plan (memory first, checked for what is due now), writes it, answers its
    /// status once committed.
    fn save(&mut self, state: PlanState, ctx: &mut Context<Self>) -> Reply<PlanStatus> {
        let row = match row_of(&state.plan) {
            Ok(r) => r,
            Err(e) => return Box::pin(fut::ready(Err(e))),
        };
        let id = state.plan.id.clone();
        self.insert(state);
        self.writer.push(Op::Plan(row));
        self.writer.touch(&id);
        let now = self.now();
        self.check_plan(&id, now);
        Box::pin(self.committed(ctx).map(move |r, act, _| {
            r?;
            let now = act.now();
            act.plans
                .get(&id)
                .map(|p| status::status(p, now))
                .ok_or_else(|| not_found(&id))
        }))
    }
}

impl Handler<CreatePlan> for Maintenance {
    type Result = Reply<PlanStatus>;

    fn handle(&mut self, msg: CreatePlan, ctx: &mut Context<Self>) -> Self::Result {
        let now = self.now();
        let at = to_datetime(now);
        let plan = match crate::plans::build(&Uuid::new_v4().to_string(), &msg.body, at, at) {
            Ok(p) => p,
            Err(e) => return Box::pin(fut::ready(Err(e))),
        };
        tracing::info!(by = %msg.by, plan = %plan.id, "maintenance plan created");
        let sched = Schedule::new(&plan, now);
        self.save(
            PlanState {
                plan,
                meter: Meter::default(),
                sched,
            },
            ctx,
        )
    }
}

impl Handler<UpdatePlan> for Maintenance {
    type Result = Reply<PlanStatus>;

    fn handle(&mut self, msg: UpdatePlan, ctx: &mut Context<Self>) -> Self::Result {
        let now = self.now();
        let Some(current) = self.plans.get(&msg.id) else {
            return Box::pin(fut::ready(Err(not_found(&msg.id))));
        };
        let plan = match crate::plans::patched(&current.plan, &msg.patch, to_datetime(now)) {
            Ok(p) => p,
            Err(e) => return Box::pin(fut::ready(Err(e))),
        };
        let mut sched = current.sched.clone();
        let mut meter = current.meter.clone();
        if plan.calendar != current.plan.calendar {
            sched.calendar_changed(&plan, now);
        }
        let series = |p: &Plan| {
            p.meter
                .as_ref()
                .map(|m| (m.device_id.clone(), m.metric.clone(), m.kind))
        };
        if series(&plan) != series(&current.plan) {
            // Another series: the meter counts afresh.
            meter = Meter::default();
            sched.base = 0.0;
        }
        tracing::info!(by = %msg.by, plan = %plan.id, paused = plan.paused, "maintenance plan changed");
        self.save(PlanState { plan, meter, sched }, ctx)
    }
}

impl Handler<DeletePlan> for Maintenance {
    type Result = Reply<()>;

    fn handle(&mut self, msg: DeletePlan, ctx: &mut Context<Self>) -> Self::Result {
        if self.remove(&msg.0).is_none() {
            return Box::pin(fut::ready(Err(not_found(&msg.0))));
        }
        self.writer.push(Op::DeletePlan(msg.0));
        self.committed(ctx)
    }
}

impl Handler<ListPlans> for Maintenance {
    type Result = Result<Vec<PlanStatus>, DomainError>;

    fn handle(&mut self, msg: ListPlans, _: &mut Context<Self>) -> Self::Result {
        let now = self.now();
        let mut list: Vec<PlanStatus> = self
            .plans
            .values()
            .filter(|p| msg.asset_id.as_ref().is_none_or(|a| *a == p.plan.asset_id))
            .map(|p| status::status(p, now))
            .collect();
        list.sort_by(|a, b| {
            a.plan
                .title
                .cmp(&b.plan.title)
                .then(a.plan.id.cmp(&b.plan.id))
        });
        Ok(list)
    }
}

impl Handler<CountDuePlans> for Maintenance {
    type Result = MessageResult<CountDuePlans>;

    fn handle(&mut self, msg: CountDuePlans, _: &mut Context<Self>) -> Self::Result {
        let now = self.now();
        let mut counts = DuePlanCounts::default();
        for p in self.plans.values() {
            let s = status::status(p, now);
            if s.due_within(to_datetime(now), msg.within) {
                counts.due += 1;
                counts.overdue += u64::from(s.overdue);
            }
        }
        MessageResult(counts)
    }
}

impl Handler<GetPlan> for Maintenance {
    type Result = Result<PlanStatus, DomainError>;

    fn handle(&mut self, msg: GetPlan, _: &mut Context<Self>) -> Self::Result {
        let now = self.now();
        self.plans
            .get(&msg.0)
            .map(|p| status::status(p, now))
            .ok_or_else(|| not_found(&msg.0))
    }
}

impl Handler<MaintenanceCalendar> for Maintenance {
    type Result = Result<Vec<CalendarEntry>, DomainError>;

    fn handle(&mut self, msg: MaintenanceCalendar, _: &mut Context<Self>) -> Self::Result {
        let (from, to) = (msg.from.timestamp_millis(), msg.to.timestamp_millis());
        if to <= from {
            return Err(DomainError::invalid("to", "must be after from"));
        }
        let now = self.now();
        let mut out: Vec<CalendarEntry> = self
            .plans
            .values()
            .flat_map(|p| status::entries(p, from, to, now))
            .collect();
        out.sort_by(|a, b| a.at.cmp(&b.at).then(a.plan_id.cmp(&b.plan_id)));
        Ok(out)
    }
}
