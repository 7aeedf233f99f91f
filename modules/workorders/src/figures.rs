//! The maintenance figures (`ComputeFigures`): the lead's part; answers `Unavailable` until then.

use actix::prelude::*;
use plantd_contracts::workorders::{ComputeFigures, MaintenanceFigures};
use plantd_contracts::DomainError;

use crate::actor::WorkOrders;

impl Handler<ComputeFigures> for WorkOrders {
    type Result = Result<MaintenanceFigures, DomainError>;
    fn handle(&mut self, _: ComputeFigures, _: &mut Context<Self>) -> Self::Result {
        Err(DomainError::Unavailable(
            "work orders are not built yet".into(),
        ))
    }
}
