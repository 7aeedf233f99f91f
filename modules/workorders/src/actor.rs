//! The work-order actor: its settings and state.

use std::time::Duration;

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
    #[allow(dead_code)]
    pub(crate) db: Db,
    #[allow(dead_code)]
    pub(crate) outbox: Outbox,
    #[allow(dead_code)]
    pub(crate) settings: WorkOrdersSettings,
}

impl WorkOrders {
    pub fn new(db: Db, outbox: Outbox, settings: WorkOrdersSettings) -> WorkOrders {
        WorkOrders {
            db,
            outbox,
            settings,
        }
    }
}

impl Actor for WorkOrders {
    type Context = Context<Self>;
}
