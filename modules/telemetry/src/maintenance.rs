//! The telemetry actor's background work, each piece off the ingest path and in small
//! transactions: compaction of the head into chunks and roll-ups (by age and by size, one
//! at a time), merging the chunks of closed windows, retention (one bounded DELETE per
//! tick), and the database's size on disk. `RunTelemetryMaintenance` does all of it now.

use std::time::{Duration, Instant};

use actix::prelude::*;
use plantd_contracts::telemetry::{MaintenanceReport, RunTelemetryMaintenance};
use plantd_contracts::time::{now_ms, Millis};
use plantd_contracts::DomainError;
use plantd_storage::{DbConnection, DbError};
use tokio::sync::oneshot;

use crate::actor::Telemetry;
use crate::store::{self, Compaction, Expiring, WINDOW_MS};

/// Rows one retention statement deletes at most.
const EXPIRE_BATCH: i64 = 1000;
/// Windows merged per maintenance tick at most.
const MERGES_PER_TICK: usize = 200;

/// At most this many samples move in one compaction transaction. On SQLite it holds the only
/// write lock and ingest's batch commits wait behind it: measured on the 2-core machine
/// (release), 500k samples of 200 series compact in 110 ms, so 50k hold it about 11 ms.
const COMPACT_MAX_SAMPLES: usize = 50_000;
/// The pause between two capped compaction transactions, so batch commits get the lock.
const COMPACT_PAUSE: Duration = Duration::from_millis(20);

impl Telemetry {
    pub(crate) fn start_maintenance(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.settings.compact_interval, |act, ctx| {
            act.compact(ctx);
            act.merge_closed_windows(ctx);
        });
        ctx.run_later(Duration::from_secs(1), |act, ctx| {
            act.retention_tick(ctx, 0)
        });
        ctx.run_later(Duration::ZERO, |act, ctx| act.measure_disk(ctx));
        ctx.run_interval(Duration::from_secs(60), |act, ctx| act.measure_disk(ctx));
    }

    /// Compacts committed head samples (whole batches, at most `max_head_samples` and
    /// [`COMPACT_MAX_SAMPLES`]) in one transaction, unless a compaction is already running;
    /// what the cap left is compacted by the next transaction after a short pause.
    pub(crate) fn compact(&mut self, ctx: &mut Context<Self>) {
        if self.compacting {
            return;
        }
        let cap = self.settings.max_head_samples.min(COMPACT_MAX_SAMPLES);
        let Some(upto) = self.head.cut(cap) else {
            self.maintenance_after_compaction(ctx);
            return;
        };
        let series = self.head.snapshot(upto);
        let metrics: Vec<_> = series
            .iter()
            .filter_map(|(id, points)| {
                let mut row = self.registry.get(*id)?.row.clone();
                let newest = points.last().map(|p| p.0).unwrap_or(row.compacted_to);
                row.compacted_to = row.compacted_to.max(newest);
                Some(row)
            })
            .collect();
        let samples: usize = series.iter().map(|(_, p)| p.len()).sum();
        // The cap left committed samples behind: go on once ingest had its turn.
        let capped = self.head.len() > samples;
        let watermarks: Vec<(i64, Millis)> =
            metrics.iter().map(|m| (m.id, m.compacted_to)).collect();
        let job = Compaction {
            upto_seq: upto,
            series,
            metrics,
        };
        self.compacting = true;
        let db = self.db.clone();
        let started = Instant::now();
        let span = tracing::debug_span!("compact", upto, samples);
        let work = async move { db.run(move |conn| store::compact(conn, &job)).await };
        ctx.spawn(work.into_actor(self).map(move |outcome, act, ctx| {
            let _guard = span.enter();
            act.compacting = false;
            match outcome {
                Ok(windows) => {
                    act.head.remove_upto(upto);
                    act.compacted_seq = upto;
                    for (id, to) in watermarks {
                        if let Some(s) = act.registry.get_mut(id) {
                            s.row.compacted_to = s.row.compacted_to.max(to);
                        }
                    }
                    act.merge_candidates
                        .extend(windows.into_iter().map(|(series, window)| (window, series)));
                    act.maintenance_report.samples_compacted += samples as u64;
                    act.health.last_compaction = Some(now_ms());
                    metrics::counter!("plantd_telemetry_compactions_total").increment(1);
                    metrics::counter!("plantd_telemetry_compacted_samples_total").increment(samples as u64);
                    metrics::histogram!("plantd_telemetry_compaction_seconds")
                        .record(started.elapsed().as_secs_f64());
                    metrics::gauge!("plantd_telemetry_head_samples").set(act.head.len() as f64);
                    tracing::debug!(samples, ms = started.elapsed().as_millis() as u64, "telemetry compacted");
                    let behind = act.maintenance_target().is_some_and(|t| act.compacted_seq < t);
                    if capped {
                        ctx.run_later(COMPACT_PAUSE, |act, ctx| act.compact(ctx));
                    } else if behind || act.head.len() >= act.settings.max_head_samples {
                        act.compact(ctx);
                    } else {
                        act.maintenance_after_compaction(ctx);
                    }
                }
                Err(e) => {
                    metrics::counter!("plantd_telemetry_maintenance_errors_total").increment(1);
                    tracing::error!(error = %e, "telemetry compaction failed; the head is kept and compacted later");
                    for (_, waiter) in act.maintenance_waiters.drain(..) {
                        let _ = waiter.send(Err(DomainError::Unavailable(e.to_string())));
                    }
                }
            }
        }));
    }

    /// The highest seq a waiting `RunTelemetryMaintenance` wants compacted.
    fn maintenance_target(&self) -> Option<i64> {
        self.maintenance_waiters.iter().map(|(t, _)| *t).max()
    }

    /// After compaction caught up: a waiting maintenance run merges every candidate window
    /// and enforces retention to the end, then answers.
    fn maintenance_after_compaction(&mut self, ctx: &mut Context<Self>) {
        let Some(target) = self.maintenance_target() else {
            return;
        };
        if self.compacted_seq < target && self.head.cut(usize::MAX).is_some() {
            return self.compact(ctx);
        }
        let waiters: Vec<_> = self.maintenance_waiters.drain(..).map(|(_, w)| w).collect();
        let candidates: Vec<(Millis, i64)> = std::mem::take(&mut self.merge_candidates)
            .into_iter()
            .collect();
        let mut report = std::mem::take(&mut self.maintenance_report);
        let retention = self.expiring(now_ms());
        let db = self.db.clone();
        let work = async move {
            db.run(move |conn| {
                for (window, series) in candidates {
                    report.chunks_merged += store::merge_window(conn, series, window)?;
                }
                for (what, cutoff) in retention {
                    loop {
                        let n = store::expire(conn, what, cutoff, EXPIRE_BATCH)?;
                        count_expired(&mut report, what, n);
                        if n < EXPIRE_BATCH as u64 {
                            break;
                        }
                    }
                }
                Ok(report)
            })
            .await
        };
        ctx.spawn(work.into_actor(self).map(|outcome, act, ctx| {
            let outcome = outcome.map_err(|e: DbError| {
                metrics::counter!("plantd_telemetry_maintenance_errors_total").increment(1);
                DomainError::from(e)
            });
            for waiter in waiters {
                let _ = waiter.send(outcome.clone());
            }
            act.measure_disk(ctx);
        }));
    }

    /// Merges the chunks of windows that closed (no on-time sample can still reach them
    /// before the next compaction), a bounded number per tick.
    fn merge_closed_windows(&mut self, ctx: &mut Context<Self>) {
        let interval = self.settings.compact_interval.as_millis() as Millis;
        let closed_before = now_ms() - WINDOW_MS - 2 * interval;
        let due: Vec<(Millis, i64)> = self
            .merge_candidates
            .iter()
            .take_while(|(window, _)| *window < closed_before)
            .take(MERGES_PER_TICK)
            .copied()
            .collect();
        if due.is_empty() {
            return;
        }
        for key in &due {
            self.merge_candidates.remove(key);
        }
        let db = self.db.clone();
        let work = async move {
            db.run(move |conn| {
                let mut merged = 0;
                for (window, series) in due {
                    merged += store::merge_window(conn, series, window)?;
                }
                Ok(merged)
            })
            .await
        };
        ctx.spawn(work.into_actor(self).map(|outcome, _, _| match outcome {
            Ok(merged) => metrics::counter!("plantd_telemetry_chunks_merged_total").increment(merged),
            Err(e) => {
                metrics::counter!("plantd_telemetry_maintenance_errors_total").increment(1);
                tracing::warn!(error = %e, "merging telemetry chunks failed; tried again after a restart");
            }
        }));
    }

    /// What retention removes now: each kept resolution with its cutoff.
    fn expiring(&self, now: Millis) -> Vec<(Expiring, Millis)> {
        [
            (Expiring::Chunks, self.settings.retention_raw),
            (Expiring::Rollups(60_000), self.settings.retention_minute),
            (Expiring::Rollups(3_600_000), self.settings.retention_hour),
        ]
        .into_iter()
        .filter_map(|(what, keep)| keep.map(|k| (what, now - k)))
        .collect()
    }

    /// One bounded DELETE per tick, the kinds in turn; soon again while a full batch came
    /// back, else in a few seconds. Each statement is its own short transaction.
    fn retention_tick(&mut self, ctx: &mut Context<Self>, turn: usize) {
        let kinds = self.expiring(now_ms());
        let Some(&(what, cutoff)) = kinds.get(turn % kinds.len().max(1)) else {
            ctx.run_later(Duration::from_secs(5), move |act, ctx| {
                act.retention_tick(ctx, turn)
            });
            return;
        };
        let db = self.db.clone();
        let work = async move {
            db.run(move |conn| store::expire(conn, what, cutoff, EXPIRE_BATCH))
                .await
        };
        ctx.spawn(work.into_actor(self).map(move |outcome, _act, ctx| {
            let next = match outcome {
                Ok(n) => {
                    let mut report = MaintenanceReport::default();
                    count_expired(&mut report, what, n);
                    if n == EXPIRE_BATCH as u64 {
                        Duration::from_millis(100)
                    } else {
                        Duration::from_secs(2)
                    }
                }
                Err(e) => {
                    metrics::counter!("plantd_telemetry_maintenance_errors_total").increment(1);
                    tracing::warn!(error = %e, "telemetry retention failed; tried again later");
                    Duration::from_secs(30)
                }
            };
            let turn = if next < Duration::from_secs(1) {
                turn
            } else {
                turn + 1
            };
            ctx.run_later(next, move |act, ctx| act.retention_tick(ctx, turn));
        }));
    }

    fn measure_disk(&mut self, ctx: &mut Context<Self>) {
        let db = self.db.clone();
        let work = async move {
            db.run(|conn: &mut DbConnection| store::disk_bytes(conn))
                .await
        };
        ctx.spawn(work.into_actor(self).map(|outcome, act, _| match outcome {
            Ok((bytes, tables)) => {
                act.health.disk_bytes = Some(bytes);
                metrics::gauge!("plantd_telemetry_database_bytes").set(bytes as f64);
                for (table, bytes) in tables {
                    metrics::gauge!("plantd_telemetry_table_bytes", "table" => table)
                        .set(bytes as f64);
                }
            }
            Err(e) => tracing::debug!(error = %e, "database size not measured"),
        }));
    }
}

fn count_expired(report: &mut MaintenanceReport, what: Expiring, n: u64) {
    if n == 0 {
        return;
    }
    let kind = match what {
        Expiring::Chunks => {
            report.chunks_expired += n;
            "chunks"
        }
        Expiring::Rollups(60_000) => {
            report.rollups_expired += n;
            "rollups_1m"
        }
        Expiring::Rollups(_) => {
            report.rollups_expired += n;
            "rollups_1h"
        }
    };
    metrics::counter!("plantd_telemetry_expired_rows_total", "kind" => kind).increment(n);
}

impl Handler<RunTelemetryMaintenance> for Telemetry {
    type Result = ResponseFuture<Result<MaintenanceReport, DomainError>>;

    fn handle(&mut self, _: RunTelemetryMaintenance, ctx: &mut Context<Self>) -> Self::Result {
        let span = tracing::info_span!("telemetry_maintenance");
        let _guard = span.enter();
        let (tx, rx) = oneshot::channel();
        self.maintenance_waiters.push((self.committed_seq, tx));
        self.compact(ctx);
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err(DomainError::Unavailable("telemetry stopped".to_owned())))
        })
    }
}
