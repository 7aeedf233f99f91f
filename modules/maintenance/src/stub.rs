//! Placeholder answers until the handlers are built: every request is `Unavailable`.

use actix::prelude::*;
use plantd_contracts::events::DeliverEvent;
use plantd_contracts::health::SamplesStored;
use plantd_contracts::maintenance::*;
use plantd_contracts::DomainError;

use crate::actor::Maintenance;

macro_rules! not_yet {
    ($($msg:ty => $out:ty;)*) => {$(
        impl Handler<$msg> for Maintenance {
            type Result = Result<$out, DomainError>;
            fn handle(&mut self, _: $msg, _: &mut Context<Self>) -> Self::Result {
                Err(DomainError::Unavailable("maintenance plans are not built yet".into()))
            }
        }
    )*};
}

not_yet! {
    CreatePlan => PlanStatus;
    ListPlans => Vec<PlanStatus>;
    GetPlan => PlanStatus;
    UpdatePlan => PlanStatus;
    DeletePlan => ();
    MaintenanceCalendar => Vec<CalendarEntry>;
}

impl Handler<DeliverEvent> for Maintenance {
    type Result = Result<(), String>;
    fn handle(&mut self, _: DeliverEvent, _: &mut Context<Self>) -> Self::Result {
        Ok(())
    }
}

impl Handler<SamplesStored> for Maintenance {
    type Result = ();
    fn handle(&mut self, _: SamplesStored, _: &mut Context<Self>) {}
}
