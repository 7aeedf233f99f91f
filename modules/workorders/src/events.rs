//! The `workorder.*` events of a change, built inside its transaction: `asset_held` is
//! read there, after the change, so the health module holds an asset exactly while some
//! order that stops it is in progress.

use plantd_contracts::events::WorkOrderEvent;
use plantd_contracts::workorders::{WorkOrder, WorkOrderStatus};
use plantd_contracts::{Event, EventData};
use plantd_storage::{DbConnection, DbError};

use crate::store;

fn payload(
    conn: &mut DbConnection,
    o: &WorkOrder,
    previous: Option<WorkOrderStatus>,
    by: &str,
) -> Result<WorkOrderEvent, DbError> {
    let asset_held = match &o.asset_id {
        Some(a) => store::asset_held(conn, a)?,
        None => false,
    };
    Ok(WorkOrderEvent {
        work_order_id: o.id.clone(),
        number: o.number,
        title: o.title.clone(),
        kind: o.kind,
        priority: o.priority,
        status: o.status,
        previous_status: previous,
        asset_id: o.asset_id.clone(),
        device_id: o.device_id.clone(),
        assignee: o.assignee.clone(),
        alarm_id: o.alarm_id.clone(),
        rule_id: o.rule_id.clone(),
        plan_id: o.plan_id.clone(),
        occurrence: o.occurrence,
        stops_asset: o.stops_asset,
        asset_held,
        repeat_failure: o.repeat_failure,
        completed_at: o.completed_at,
        by: by.to_owned(),
    })
}

/// `workorder.created`.
pub(crate) fn created(conn: &mut DbConnection, o: &WorkOrder, by: &str) -> Result<Event, DbError> {
    Ok(Event::new(EventData::WorkOrderCreated(payload(
        conn, o, None, by,
    )?)))
}

/// `workorder.status_changed`, and `workorder.completed` when it is done.
pub(crate) fn status_changed(
    conn: &mut DbConnection,
    o: &WorkOrder,
    previous: WorkOrderStatus,
    by: &str,
) -> Result<Vec<Event>, DbError> {
    let p = payload(conn, o, Some(previous), by)?;
    let mut out = vec![Event::new(EventData::WorkOrderStatusChanged(p.clone()))];
    if o.status == WorkOrderStatus::Done {
        out.push(Event::new(EventData::WorkOrderCompleted(p)));
    }
    Ok(out)
}
