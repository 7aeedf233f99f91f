//! The work-order actor: its settings and handles (database, outbox). It keeps no orders
//! in memory: each message reads and writes the module's tables (the figures' facts of the
//! last report period are kept until the next change: `facts_cache.rs`).

use std::time::Duration;

use std::sync::Arc;

use actix::prelude::*;
use plantd_events::Outbox;
use plantd_storage::Db;

#[derive(Debug, Clone)]
pub struct WorkOrdersSettings {
    /// A new alarm order of a rule within this long of the previous one's completion is
    /// a repeat failure.
    pub repeat_window: Duration,
    /// Crew hours per week, for the backlog in weeks.
    pub crew_hours_per_week: f64,
}

impl Default for WorkOrdersSettings {
    fn default() -> Self {
        WorkOrdersSettings {
            repeat_window: Duration::from_secs(30 * 24 * 3600),
            crew_hours_per_week: 40.0,
        }
    }
}

pub struct WorkOrders {
    pub(crate) db: Db,
    pub(crate) outbox: Outbox,
    pub(crate) settings: WorkOrdersSettings,
    pub(crate) facts: Arc<crate::facts_cache::FactsCache>,
}

impl WorkOrders {
    pub fn new(db: Db, outbox: Outbox, settings: WorkOrdersSettings) -> WorkOrders {
        WorkOrders {
            db,
            outbox,
            settings,
            facts: Arc::default(),
        }
    }
}

impl Actor for WorkOrders {
    type Context = Context<Self>;

    /// Sets the open-orders gauge from the database (every change refreshes it after).
    fn started(&mut self, ctx: &mut Context<Self>) {
        let db = self.db.clone();
        ctx.spawn(fut::wrap_future(async move {
            match db.run(crate::store::open_count).await {
                Ok(n) => metrics::gauge!("plantd_workorders_open").set(n as f64),
                Err(e) => tracing::warn!(error = %e, "cannot count open work orders"),
            }
        }));
    }
}
