//! Alarm changes on their way to the database: one write in flight at a time, each write
//! a transaction that stores the alarms, their new history entries and their events
//! (outbox), so an alarm and its `alarm.*` event are never one without the other. Memory
//! is ahead of the database by at most the write in flight and the queue; a failed write
//! is retried on the next tick, in order, nothing dropped. An operator's request is
//! answered once its change is committed.

use actix::prelude::*;
use plantd_contracts::health::Alarm;
use plantd_contracts::time::{now_ms, Millis};
use plantd_contracts::window::search_text;
use plantd_contracts::{DomainError, Event};

use crate::actor::Health;
use crate::episode::Changes;
use crate::store::{self, AlarmRow, HistoryRow};
use crate::write_queue::{PendingWrite, Reply};

fn row_of(a: &Alarm) -> Result<AlarmRow, DomainError> {
    let device = a.device_id.to_string();
    let search_text = search_text(&[
        Some(a.rule_name.as_str()),
        Some(device.as_str()),
        a.metric.as_deref(),
        Some(a.severity.as_str()),
        Some(a.state.as_str()),
        a.asset_id.as_deref(),
    ]);
    Ok(AlarmRow {
        id: a.id.clone(),
        rule_id: a.rule_id.clone(),
        device_id: a.device_id.to_string(),
        asset_id: a.asset_id.clone(),
        state: a.state.as_str().to_owned(),
        severity: a.severity.as_str().to_owned(),
        raised_at: a.raised_at.timestamp_millis(),
        updated_at: a.updated_at.timestamp_millis(),
        doc: serde_json::to_string(&Alarm {
            history: Vec::new(),
            ..a.clone()
        })
        .map_err(|e| DomainError::Unavailable(e.to_string()))?,
        search_text,
    })
}

impl Health {
    /// Queues an alarm as it is now with the changes that made it so.
    pub(crate) fn queue_write(
        &mut self,
        alarm: &Alarm,
        changes: Changes,
        reply: Option<Reply>,
        received_at: Option<Millis>,
    ) {
        if changes.is_empty() && reply.is_none() {
            return;
        }
        let row = match row_of(alarm) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(alarm = %alarm.id, error = %e, "alarm does not encode; not written");
                if let Some(r) = reply {
                    let _ = r.send(Err(e));
                }
                return;
            }
        };
        let next = self.history_len.entry(alarm.id.clone()).or_insert(0);
        let mut history = Vec::with_capacity(changes.history.len());
        for change in &changes.history {
            let Ok(text) = serde_json::to_string(change) else {
                continue;
            };
            history.push(HistoryRow {
                alarm_id: alarm.id.clone(),
                seq: *next,
                at: change.at.timestamp_millis(),
                change: text,
            });
            *next += 1;
        }
        if !alarm.state.is_open() {
            self.history_len.remove(&alarm.id);
        }
        let mut full = alarm.clone();
        full.history = changes.history;
        self.writer.queue.push(PendingWrite {
            row,
            history,
            events: changes.events.into_iter().map(Event::new).collect(),
            alarm: full,
            reply,
            received_at,
        });
        metrics::gauge!("plantd_health_pending_writes").set(self.writer.pending() as f64);
    }

    /// Starts writing the queue unless a write is in flight.
    pub(crate) fn flush_writes(&mut self, ctx: &mut Context<Self>) {
        if self.writer.in_flight {
            return;
        }
        if self.writer.queue.is_empty() {
            for w in self.writer.idle_waiters.drain(..) {
                let _ = w.send(Ok(()));
            }
            return;
        }
        self.writer.in_flight = true;
        let batch = std::mem::take(&mut self.writer.queue);
        let db = self.db.clone();
        let work = async move {
            db.run_keeping(batch, |conn, batch| {
                conn.transaction(|conn| {
                    let mut events = Vec::new();
                    for w in batch {
                        store::save_alarm(conn, &w.row, &w.history)?;
                        events.extend(w.events.iter().cloned());
                    }
                    plantd_events::record(conn, &events)
                })
            })
            .await
        };
        ctx.spawn(work.into_actor(self).map(|outcome, act, ctx| {
            act.writer.in_flight = false;
            match outcome {
                Ok((batch, Ok(()))) => {
                    act.writer.failed = false;
                    act.outbox.wake();
                    let now = now_ms();
                    for w in batch {
                        if let Some(at) = w.received_at {
                            metrics::histogram!("plantd_alarm_raise_latency_seconds")
                                .record((now - at).max(0) as f64 / 1000.0);
                        }
                        if let Some(r) = w.reply {
                            let _ = r.send(Ok(w.alarm));
                        }
                    }
                    act.flush_writes(ctx);
                }
                Ok((mut batch, Err(e))) => {
                    metrics::counter!("plantd_health_write_failures_total").increment(1);
                    if !act.writer.failed {
                        tracing::error!(error = %e, alarms = batch.len(), "alarm changes not written; kept and retried");
                    }
                    act.writer.failed = true;
                    batch.append(&mut act.writer.queue);
                    act.writer.queue = batch;
                }
                Err(e) => {
                    metrics::counter!("plantd_health_write_failures_total").increment(1);
                    tracing::error!(error = %e, "alarm write task failed; its changes are lost");
                }
            }
            metrics::gauge!("plantd_health_pending_writes").set(act.writer.pending() as f64);
        }));
    }
}
