//! The maintenance actor: its settings, the plans in memory (each with its meter and
//! schedule), the index of watched series, loading at start, the clock's tick (due
//! checks, saving meters) and the flush at shutdown.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use actix::prelude::*;
use plantd_contracts::devices::FlushPending;
use plantd_contracts::maintenance::Plan;
use plantd_contracts::time::Millis;
use plantd_contracts::DomainError;
use plantd_events::Outbox;
use plantd_storage::{Db, DbError};

use crate::clock::Clock;
use crate::meter::Meter;
use crate::schedule::{Open, Schedule, Trigger};
use crate::series::SeriesIndex;
use crate::store;
use crate::write_queue::Writer;

#[derive(Debug, Clone)]
pub struct MaintenanceSettings {
    /// Plans are checked for due occurrences this often; meters are saved this often.
    pub tick: Duration,
    /// Run hours: a gap between two samples longer than this counts nothing.
    pub max_gap: Duration,
    /// The system clock, or a test hook's (`PLANTD_TEST_CLOCK_FILE`).
    pub clock: Clock,
}

impl Default for MaintenanceSettings {
    fn default() -> Self {
        MaintenanceSettings {
            tick: Duration::from_secs(5),
            max_gap: Duration::from_secs(300),
            clock: Clock::System,
        }
    }
}

/// A plan with its meter and where its schedule stands.
pub(crate) struct PlanState {
    pub plan: Plan,
    pub meter: Meter,
    pub sched: Schedule,
}

pub struct Maintenance {
    pub(crate) db: Db,
    pub(crate) outbox: Outbox,
    pub(crate) settings: MaintenanceSettings,
    pub(crate) plans: BTreeMap<String, PlanState>,
    /// metric → device → the plans whose meter counts that series.
    pub(crate) index: SeriesIndex,
    pub(crate) writer: Writer,
}

impl Maintenance {
    /// Loads the plans, their meters and schedules and their open occurrences.
    pub async fn load(
        db: Db,
        outbox: Outbox,
        settings: MaintenanceSettings,
    ) -> Result<Maintenance, DbError> {
        let loaded = db.run(store::load).await?;
        let mut m = Maintenance {
            db,
            outbox,
            settings,
            plans: BTreeMap::new(),
            index: HashMap::new(),
            writer: Writer::default(),
        };
        let now = m.now();
        let mut meters: HashMap<String, store::MeterRow> = loaded
            .meters
            .into_iter()
            .map(|r| (r.plan_id.clone(), r))
            .collect();
        for row in loaded.plans {
            let plan = match serde_json::from_str::<Plan>(&row.doc) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(plan = %row.id, error = %e, "stored plan does not decode; skipped");
                    continue;
                }
            };
            let (meter, sched) = match meters.remove(&row.id) {
                Some(r) => state_of(r),
                None => (Meter::default(), Schedule::new(&plan, now)),
            };
            m.insert(PlanState { plan, meter, sched });
        }
        for row in loaded.open {
            let Some(p) = m.plans.get_mut(&row.plan_id) else {
                continue;
            };
            if p.sched
                .open
                .as_ref()
                .is_some_and(|o| o.occurrence > row.occurrence)
            {
                continue;
            }
            p.sched.open = Some(Open {
                occurrence: row.occurrence,
                trigger: Trigger::parse(&row.trigger_kind),
                work_order_id: row.work_order_id,
                due_at: row.due_at,
                due_meter: row.due_meter,
            });
        }
        for (plan_id, n) in loaded.missed {
            if let Some(p) = m.plans.get_mut(&plan_id) {
                p.sched.missed = n;
            }
        }
        tracing::info!(plans = m.plans.len(), "maintenance loaded");
        Ok(m)
    }

    pub(crate) fn now(&self) -> Millis {
        self.settings.clock.now()
    }

    /// Adds or replaces a plan in memory and in the index of watched series.
    pub(crate) fn insert(&mut self, state: PlanState) {
        let id = state.plan.id.clone();
        self.unindex(&id);
        if let Some(m) = &state.plan.meter {
            self.index
                .entry(m.metric.clone())
                .or_default()
                .entry(m.device_id.clone())
                .or_default()
                .push(id.clone());
        }
        self.plans.insert(id, state);
    }

    pub(crate) fn remove(&mut self, id: &str) -> Option<PlanState> {
        self.unindex(id);
        self.plans.remove(id)
    }

    fn unindex(&mut self, id: &str) {
        let Some(m) = self.plans.get(id).and_then(|p| p.plan.meter.as_ref()) else {
            return;
        };
        if let Some(devices) = self.index.get_mut(&m.metric) {
            if let Some(ids) = devices.get_mut(&m.device_id) {
                ids.retain(|p| p != id);
                if ids.is_empty() {
                    devices.remove(&m.device_id);
                }
            }
            if devices.is_empty() {
                self.index.remove(&m.metric);
            }
        }
    }

    /// The meter and schedule row of a plan as it is in memory.
    pub(crate) fn meter_row(&self, id: &str, now: Millis) -> Option<store::MeterRow> {
        let p = self.plans.get(id)?;
        Some(store::MeterRow {
            plan_id: id.to_owned(),
            total: p.meter.total,
            base: p.sched.base,
            last_ts: p.meter.last_ts,
            last_value: p.meter.last_value,
            first_ts: p.meter.first_ts,
            buckets: serde_json::to_string(&p.meter.buckets).unwrap_or_else(|_| "[]".into()),
            next_occurrence: p.sched.next_occurrence,
            cal_index: p.sched.cal_index,
            cal_anchor: p.sched.cal_anchor,
            last_completed_at: p.sched.last_completed_at,
            last_completed_occurrence: p.sched.last_completed_occurrence,
            updated_at: now,
        })
    }
}

fn state_of(r: store::MeterRow) -> (Meter, Schedule) {
    let meter = Meter {
        total: r.total,
        last_ts: r.last_ts,
        last_value: r.last_value,
        first_ts: r.first_ts,
        buckets: serde_json::from_str(&r.buckets).unwrap_or_default(),
    };
    let sched = Schedule {
        next_occurrence: r.next_occurrence,
        cal_index: r.cal_index,
        cal_anchor: r.cal_anchor,
        base: r.base,
        last_completed_at: r.last_completed_at,
        last_completed_occurrence: r.last_completed_occurrence,
        open: None,
        missed: 0,
    };
    (meter, sched)
}

impl Actor for Maintenance {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.check_all(ctx);
        ctx.run_interval(self.settings.tick, |act, ctx| {
            act.check_all(ctx);
            act.flush(ctx);
        });
    }
}

/// Before the process ends: meters, schedules and raised occurrences are written.
impl Handler<FlushPending> for Maintenance {
    type Result = ResponseActFuture<Self, Result<(), DomainError>>;

    fn handle(&mut self, _: FlushPending, ctx: &mut Context<Self>) -> Self::Result {
        self.committed(ctx)
    }
}
