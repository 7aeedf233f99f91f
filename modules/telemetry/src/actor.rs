//! The telemetry actor: validates payloads, buffers samples, writes batches (one in flight
//! at a time, so buffering goes on while a batch commits), keeps the latest value of each
//! series and each device's ingest counters, and answers queries.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix::prelude::*;
use plantd_contracts::telemetry::*;
use plantd_contracts::time::to_datetime;
use plantd_contracts::{DeviceId, DomainError};
use plantd_storage::{Db, DbError};
use tokio::sync::oneshot;

use crate::series::{RejectionStats, SeriesIndex};
use crate::store::{self, SampleRow};
use crate::validate::parse_payload;

#[derive(Debug, Clone)]
pub struct TelemetrySettings {
    /// A batch is written when this many samples are buffered…
    pub batch_size: usize,
    /// …or when this much time has passed, whichever comes first.
    pub batch_interval: Duration,
    /// Payloads larger than this are rejected whole.
    pub max_payload_bytes: usize,
    /// Above this many buffered samples (storage down or too slow) new payloads are refused.
    pub max_buffered_samples: usize,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        TelemetrySettings {
            batch_size: 1000,
            batch_interval: Duration::from_millis(250),
            max_payload_bytes: 256 * 1024,
            max_buffered_samples: 1_000_000,
        }
    }
}

#[derive(Default)]
struct DeviceStats {
    accepted: u64,
    rejections: RejectionStats,
}

pub struct Telemetry {
    db: Db,
    settings: TelemetrySettings,
    buffer: Vec<SampleRow>,
    /// Samples in the batch being written (0: none in flight).
    in_flight: usize,
    series: SeriesIndex,
    stats: HashMap<DeviceId, DeviceStats>,
    /// Callers of `FlushTelemetry` waiting for the buffer to be empty and committed.
    flush_waiters: Vec<oneshot::Sender<Result<usize, DomainError>>>,
    flushed_since_request: usize,
}

impl Telemetry {
    /// Loads the series index; call once at start, before the actor serves anyone.
    pub async fn load(db: Db, settings: TelemetrySettings) -> Result<Telemetry, DbError> {
        let rows = db.run(store::load_series).await?;
        Ok(Telemetry {
            db,
            settings,
            buffer: Vec::new(),
            in_flight: 0,
            series: SeriesIndex::load(rows),
            stats: HashMap::new(),
            flush_waiters: Vec::new(),
            flushed_since_request: 0,
        })
    }

    /// Starts writing the buffer as one batch unless a batch is already in flight.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight > 0 {
            return;
        }
        if self.buffer.is_empty() {
            self.answer_flush_waiters(Ok(()));
            return;
        }
        // At most one batch per transaction, also when a backlog built up while the database
        // was away: short transactions keep SQLite's write lock short.
        let take = self.buffer.len().min(self.settings.batch_size);
        let batch: Vec<SampleRow> = self.buffer.drain(..take).collect();
        let series = self.series.merged_rows(&batch);
        self.in_flight = batch.len();
        metrics::gauge!("plantd_telemetry_buffered_samples").set(self.buffer.len() as f64);
        let db = self.db.clone();
        let started = Instant::now();
        let work = async move {
            let outcome = db
                .run_keeping((batch, series), |conn, (batch, series)| {
                    store::write_batch(conn, batch, series)
                })
                .await;
            (outcome, started.elapsed())
        };
        ctx.spawn(work.into_actor(self).map(|(outcome, elapsed), act, ctx| {
            act.in_flight = 0;
            metrics::histogram!("plantd_telemetry_batch_seconds").record(elapsed.as_secs_f64());
            match outcome {
                Ok(((batch, series), Ok(inserted))) => {
                    metrics::counter!("plantd_telemetry_batches_total").increment(1);
                    metrics::counter!("plantd_telemetry_samples_stored_total").increment(inserted as u64);
                    tracing::debug!(samples = batch.len(), inserted, ms = elapsed.as_millis() as u64, "telemetry batch committed");
                    act.series.apply(series);
                    act.flushed_since_request += inserted;
                    if act.buffer.len() >= act.settings.batch_size || !act.flush_waiters.is_empty() {
                        act.flush(ctx);
                    }
                }
                Ok(((mut batch, _), Err(e))) => {
                    metrics::counter!("plantd_telemetry_batch_errors_total").increment(1);
                    tracing::error!(error = %e, samples = batch.len(), "telemetry batch not written; kept for the next attempt");
                    // Nothing accepted is dropped: the batch goes back in front of newer
                    // samples and is retried on the next tick, so a dead database is not hammered.
                    batch.append(&mut act.buffer);
                    act.buffer = batch;
                    metrics::gauge!("plantd_telemetry_buffered_samples").set(act.buffer.len() as f64);
                    act.answer_flush_waiters(Err(DomainError::Unavailable(
                        "telemetry could not be written; it is kept and retried".to_owned(),
                    )));
                }
                Err(e) => {
                    metrics::counter!("plantd_telemetry_batch_errors_total").increment(1);
                    tracing::error!(error = %e, "telemetry batch task failed; its samples are lost");
                    act.answer_flush_waiters(Err(DomainError::Unavailable(e.to_string())));
                }
            }
        }));
    }

    fn answer_flush_waiters(&mut self, outcome: Result<(), DomainError>) {
        if self.flush_waiters.is_empty() {
            return;
        }
        let written = std::mem::take(&mut self.flushed_since_request);
        for waiter in self.flush_waiters.drain(..) {
            let _ = waiter.send(outcome.clone().map(|_| written));
        }
    }

    fn record_rejection(&mut self, device: &DeviceId, code: &'static str, reason: &str, at: i64) {
        metrics::counter!("plantd_telemetry_payloads_rejected_total", "reason" => code)
            .increment(1);
        tracing::warn!(device = %device, reason, "telemetry payload rejected");
        let stats = self.stats.entry(device.clone()).or_default();
        stats.rejections.count += 1;
        stats.rejections.last_reason = Some(reason.to_owned());
        stats.rejections.last_at = Some(at);
    }
}

impl Actor for Telemetry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.settings.batch_interval, |act, ctx| act.flush(ctx));
    }
}

impl Handler<IngestPayload> for Telemetry {
    type Result = Result<IngestAck, IngestError>;

    fn handle(&mut self, msg: IngestPayload, ctx: &mut Context<Self>) -> Self::Result {
        let span = tracing::debug_span!("ingest", device = %msg.device_id, source = ?msg.source, bytes = msg.payload.len());
        let _guard = span.enter();
        metrics::counter!("plantd_telemetry_payloads_total").increment(1);
        let samples = match parse_payload(
            &msg.payload,
            msg.received_at,
            self.settings.max_payload_bytes,
        ) {
            Ok(samples) => samples,
            Err(rejection) => {
                self.record_rejection(
                    &msg.device_id,
                    rejection.code,
                    &rejection.reason,
                    msg.received_at,
                );
                return Err(IngestError::Rejected {
                    code: rejection.code.to_owned(),
                    reason: rejection.reason,
                });
            }
        };
        if self.in_flight + self.buffer.len() + samples.len() > self.settings.max_buffered_samples {
            let reason = "storage is behind; the payload was refused (not stored)";
            self.record_rejection(&msg.device_id, "overloaded", reason, msg.received_at);
            return Err(IngestError::Unavailable(reason.to_owned()));
        }
        let count = samples.len();
        let device = msg.device_id.to_string();
        self.buffer.extend(samples.into_iter().map(|s| SampleRow {
            device_id: device.clone(),
            metric: s.metric,
            ts: s.ts,
            value: s.value,
        }));
        metrics::counter!("plantd_telemetry_samples_accepted_total").increment(count as u64);
        metrics::gauge!("plantd_telemetry_buffered_samples").set(self.buffer.len() as f64);
        self.stats.entry(msg.device_id).or_default().accepted += 1;
        if self.buffer.len() >= self.settings.batch_size {
            self.flush(ctx);
        }
        Ok(IngestAck {
            accepted: count,
            backlog: self.in_flight + self.buffer.len(),
        })
    }
}

impl Handler<GetIngestBacklog> for Telemetry {
    type Result = usize;

    fn handle(&mut self, _: GetIngestBacklog, _: &mut Context<Self>) -> usize {
        self.in_flight + self.buffer.len()
    }
}

impl Handler<FlushTelemetry> for Telemetry {
    type Result = ResponseFuture<Result<usize, DomainError>>;

    fn handle(&mut self, _: FlushTelemetry, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.flush_waiters.push(tx);
        self.flush(ctx);
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err(DomainError::Unavailable("telemetry stopped".to_owned())))
        })
    }
}

impl Handler<QueryRange> for Telemetry {
    type Result = ResponseFuture<Result<Vec<Point>, DomainError>>;

    fn handle(&mut self, msg: QueryRange, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            if msg.from > msg.to {
                return Err(DomainError::invalid("from", "'from' is after 'to'"));
            }
            let rows = db
                .run(move |conn| {
                    store::range(
                        conn,
                        msg.device_id.as_str(),
                        &msg.metric,
                        msg.from,
                        msg.to,
                        msg.limit,
                    )
                })
                .await?;
            Ok(rows
                .into_iter()
                .map(|(ts, value)| Point {
                    ts: to_datetime(ts),
                    value,
                })
                .collect())
        })
    }
}

impl Handler<LatestValues> for Telemetry {
    type Result = MessageResult<LatestValues>;

    fn handle(&mut self, msg: LatestValues, _: &mut Context<Self>) -> Self::Result {
        MessageResult(Ok(self.series.latest(msg.devices.as_deref())))
    }
}

impl Handler<GetTelemetryStatus> for Telemetry {
    type Result = MessageResult<GetTelemetryStatus>;

    fn handle(&mut self, msg: GetTelemetryStatus, _: &mut Context<Self>) -> Self::Result {
        let status = self.stats.get(&msg.device_id).map(|s| TelemetryStatus {
            payloads_accepted: s.accepted,
            payloads_rejected: s.rejections.count,
            last_rejection: s.rejections.last_reason.clone(),
            last_rejection_at: s.rejections.last_at.map(to_datetime),
        });
        MessageResult(status.unwrap_or_default())
    }
}
