//! Placeholder answers until the handlers are built: every request is `Unavailable`.

use actix::prelude::*;
use plantd_contracts::events::DeliverEvent;
use plantd_contracts::workorders::*;
use plantd_contracts::DomainError;

use crate::actor::WorkOrders;

macro_rules! not_yet {
    ($($msg:ty => $out:ty;)*) => {$(
        impl Handler<$msg> for WorkOrders {
            type Result = Result<$out, DomainError>;
            fn handle(&mut self, _: $msg, _: &mut Context<Self>) -> Self::Result {
                Err(DomainError::Unavailable("work orders are not built yet".into()))
            }
        }
    )*};
}

not_yet! {
    CreateWorkOrder => WorkOrder;
    ListWorkOrders => WorkOrderPage;
    GetWorkOrder => WorkOrder;
    UpdateWorkOrder => WorkOrder;
    TransitionWorkOrder => WorkOrder;
    CommentWorkOrder => WorkOrder;
    TickChecklistItem => WorkOrder;
    GetFailureCodes => FailureCodes;
    SetFailureCodes => FailureCodes;
    CreateWorkRequest => WorkRequest;
    ListWorkRequests => Vec<WorkRequest>;
    GetWorkRequest => WorkRequest;
    ApproveWorkRequest => WorkOrder;
    RejectWorkRequest => WorkRequest;
    ComputeFigures => FiguresReport;
}

impl Handler<DeliverEvent> for WorkOrders {
    type Result = Result<(), String>;
    fn handle(&mut self, _: DeliverEvent, _: &mut Context<Self>) -> Self::Result {
        Ok(())
    }
}
