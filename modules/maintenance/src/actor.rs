//! The maintenance actor: its settings and state.

use std::time::Duration;

use actix::prelude::*;
use plantd_events::Outbox;
use plantd_storage::Db;

#[derive(Debug, Clone)]
pub struct MaintenanceSettings {
    /// Plans are checked for due occurrences this often; meters are saved this often.
    pub tick: Duration,
}

impl Default for MaintenanceSettings {
    fn default() -> Self {
        MaintenanceSettings {
            tick: Duration::from_secs(5),
        }
    }
}

pub struct Maintenance {
    #[allow(dead_code)]
    pub(crate) db: Db,
    #[allow(dead_code)]
    pub(crate) outbox: Outbox,
    #[allow(dead_code)]
    pub(crate) settings: MaintenanceSettings,
}

impl Maintenance {
    pub fn new(db: Db, outbox: Outbox, settings: MaintenanceSettings) -> Maintenance {
        Maintenance {
            db,
            outbox,
            settings,
        }
    }
}

impl Actor for Maintenance {
    type Context = Context<Self>;
}
