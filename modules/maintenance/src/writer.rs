//! Changes on their way to the database, in order, one transaction at a time: plan
//! documents, occurrences with their events (an occurrence's event is recorded only if
//! its row was inserted: UNIQUE(plan_id, occurrence) makes it at most once), occurrence
//! updates from work-order events, and the meter and schedule rows of the plans that
//! changed (as memory holds them at the write). Memory is ahead of the database by the
//! write in flight and the queue; a failed write is kept and retried at the next tick.
//! A caller that must answer after the commit waits with [`Writer::wait`].

use actix::prelude::*;
use plantd_contracts::time::now_ms;
use plantd_contracts::DomainError;

use crate::actor::Maintenance;
use crate::store::{self, MeterRow};
use crate::write_queue::Op;

impl Maintenance {
    /// Writes what is queued now; resolves once it is committed.
    pub(crate) fn committed(
        &mut self,
        ctx: &mut Context<Self>,
    ) -> ResponseActFuture<Self, Result<(), DomainError>> {
        let waiter = self.writer.wait();
        self.flush(ctx);
        Box::pin(
            async move {
                waiter
                    .await
                    .map_err(|_| DomainError::Unavailable("maintenance stopped".into()))?
            }
            .into_actor(self),
        )
    }

    /// Writes what is queued (and the changed plans' rows) unless a write is in flight.
    pub(crate) fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.writer.in_flight {
            return;
        }
        if self.writer.ops.is_empty() && self.writer.dirty.is_empty() {
            for w in self.writer.waiters.drain(..) {
                let _ = w.send(Ok(()));
            }
            return;
        }
        let now = self.now();
        let ops = std::mem::take(&mut self.writer.ops);
        let dirty: Vec<String> = self.writer.dirty.drain().collect();
        let rows: Vec<MeterRow> = dirty
            .iter()
            .filter_map(|id| self.meter_row(id, now))
            .collect();
        let waiters = std::mem::take(&mut self.writer.waiters);
        self.writer.in_flight = true;
        let db = self.db.clone();
        let work = async move {
            db.run_keeping((ops, rows), |conn, (ops, rows)| {
                conn.transaction(|conn| {
                    let mut events = Vec::new();
                    for op in ops {
                        match op {
                            Op::Plan(row) => store::upsert_plan(conn, row)?,
                            Op::DeletePlan(id) => store::delete_plan(conn, id)?,
                            Op::Occurrence(raised) => {
                                let (row, event) = &**raised;
                                if store::insert_occurrence(conn, row)? {
                                    events.push(event.clone());
                                } else {
                                    tracing::warn!(plan = %row.plan_id, occurrence = row.occurrence, "occurrence was raised before; not again");
                                }
                            }
                            Op::SetOccurrence {
                                plan_id,
                                occurrence,
                                state,
                                work_order_id,
                                closed_at,
                            } => store::set_occurrence(
                                conn,
                                plan_id,
                                *occurrence,
                                state,
                                work_order_id,
                                *closed_at,
                            )?,
                        }
                    }
                    for row in rows {
                        store::upsert_meter(conn, row)?;
                    }
                    plantd_events::record(conn, &events)?;
                    Ok::<_, plantd_storage::DbError>(events.len())
                })
            })
            .await
        };
        ctx.spawn(work.into_actor(self).map(move |outcome, act, ctx| {
            act.writer.in_flight = false;
            match outcome {
                Ok((_, Ok(events))) => {
                    act.writer.failed = false;
                    if events > 0 {
                        act.outbox.wake();
                    }
                    for w in waiters {
                        let _ = w.send(Ok(()));
                    }
                    if act.writer.has_ops() || !act.writer.waiters.is_empty() {
                        act.flush(ctx);
                    }
                }
                Ok(((mut ops, _), Err(e))) => {
                    metrics::counter!("plantd_maintenance_write_failures_total").increment(1);
                    if !act.writer.failed {
                        tracing::error!(error = %e, "maintenance changes not written; kept and retried");
                    }
                    act.writer.failed = true;
                    ops.append(&mut act.writer.ops);
                    act.writer.ops = ops;
                    act.writer.dirty.extend(dirty);
                    let mut waiters = waiters;
                    waiters.append(&mut act.writer.waiters);
                    act.writer.waiters = waiters;
                }
                Err(e) => {
                    metrics::counter!("plantd_maintenance_write_failures_total").increment(1);
                    tracing::error!(error = %e, at = now_ms(), "maintenance write task failed; its changes are lost");
                    for w in waiters {
                        let _ = w.send(Err(DomainError::Unavailable(e.to_string())));
                    }
                }
            }
        }));
    }
}
