//! How every change is written: one transaction holding the order rows, their history and
//! their events (outbox), one change at a time (the actor waits for the commit before
//! the next message, so a read-modify-write never races another), answered after the
//! commit. Also the one way a new order is numbered and stored.

use actix::prelude::*;
use chrono::{DateTime, Utc};
use plantd_contracts::workorders::WorkOrder;
use plantd_contracts::DomainError;
use plantd_storage::{DbConnection, DbError};
use serde_json::json;

use crate::actor::WorkOrders;
use crate::machine::entry;
use crate::{events, store};

/// What a change reports besides its answer: the orders it created, by source (for
/// `plantd_workorders_created_total`).
#[derive(Debug, Default)]
pub(crate) struct Created(pub Vec<&'static str>);

impl WorkOrders {
    /// Runs `work` in one transaction; after the commit wakes the outbox and refreshes
    /// the metrics. Handlers wrap it in an `AtomicResponse`: the actor handles nothing
    /// else until then.
    pub(crate) fn commit<T, F>(
        &mut self,
        work: F,
    ) -> ResponseActFuture<Self, Result<T, DomainError>>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection, &mut Created) -> Result<T, DbError> + Send + 'static,
    {
        let db = self.db.clone();
        let fut = async move {
            db.run(move |conn| {
                conn.transaction(|conn| {
                    let mut created = Created::default();
                    let value = work(conn, &mut created)?;
                    let open = store::open_count(conn)?;
                    Ok((value, created, open))
                })
            })
            .await
        };
        Box::pin(fut::wrap_future::<_, Self>(fut).map(|outcome, act, _| {
            let (value, created, open) = outcome?;
            act.facts.changed();
            act.outbox.wake();
            for source in created.0 {
                metrics::counter!("plantd_workorders_created_total", "source" => source)
                    .increment(1);
            }
            metrics::gauge!("plantd_workorders_open").set(open as f64);
            Ok(value)
        }))
    }
}

/// Numbers and stores a new order made by `make` (given its number), with its `created`
/// history entry and `workorder.created` event.
pub(crate) fn create(
    conn: &mut DbConnection,
    created: &mut Created,
    source: &'static str,
    now: DateTime<Utc>,
    make: impl FnOnce(i64) -> WorkOrder,
) -> Result<WorkOrder, DbError> {
    let number = store::next_number(conn)?;
    let mut order = make(number);
    store::insert_order(conn, &mut order)?;
    let mut detail = json!({ "source": source });
    for (key, value) in [
        ("alarm_id", &order.alarm_id),
        ("plan_id", &order.plan_id),
        ("request_id", &order.request_id),
        ("parent_id", &order.parent_id),
        ("repeat_of", &order.repeat_of),
    ] {
        if let Some(v) = value {
            detail[key] = json!(v);
        }
    }
    store::append_history(
        conn,
        &order.id,
        &[entry(now, &order.created_by, "created", detail)],
    )?;
    let event = events::created(conn, &order, &order.created_by)?;
    plantd_events::record(conn, &[event])?;
    created.0.push(source);
    Ok(order)
}

/// The order or a `NotFound` that names it.
pub(crate) fn load(conn: &mut DbConnection, id: &str) -> Result<WorkOrder, DbError> {
    store::get_order(conn, id)?
        .ok_or_else(|| DbError::Domain(DomainError::NotFound(format!("work order {id}"))))
}
