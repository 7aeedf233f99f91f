//! The telemetry actor: validates payloads, buffers samples, writes batches to the
//! index-free recent table by group commit (one batch in flight; whatever arrived while it
//! committed is the next batch, written as soon as it has finished),
//! keeps the head (committed, not yet compacted samples) and the metric registry, and
//! counts ingest per device. Compaction, retention and queries are in `maintenance.rs`
//! and `queries.rs`; this file is the write path.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use actix::prelude::*;
use plantd_contracts::health::{SamplesStored, StoredSample};
use plantd_contracts::log_throttle::clip;
use plantd_contracts::telemetry::*;
use plantd_contracts::time::{now_ms, to_datetime, Millis};
use plantd_contracts::warn_throttled;
use plantd_contracts::{DeviceId, DomainError};
use plantd_storage::{Db, DbError};
use tokio::sync::oneshot;

use crate::head::Head;
use crate::series::{Registry, RejectionStats};
use crate::store::{self, Batch, RecentRow};
use crate::validate::{parse_payload, Sample};

const DAY_MS: Millis = 86_400_000;

#[derive(Debug, Clone)]
pub struct TelemetrySettings {
    /// Samples per write transaction at most.
    pub batch_size: usize,
    /// The timer: buffered samples are written at least this often (it also retries a
    /// batch that failed).
    pub batch_interval: Duration,
    /// Group commit: with no batch in flight, buffered samples are written as soon as the
    /// oldest has waited this long (zero: at once) or `batch_size` are waiting.
    pub batch_min_age: Duration,
    /// Payloads larger than this are rejected whole.
    pub max_payload_bytes: usize,
    /// Above this many buffered samples (storage down or too slow) new payloads are refused.
    pub max_buffered_samples: usize,
    /// Committed samples are compacted into chunks and roll-ups this often…
    pub compact_interval: Duration,
    /// …or as soon as the head holds this many (also the most one compaction takes).
    pub max_head_samples: usize,
    /// Raw points (chunks) are kept this long; `None`: forever.
    pub retention_raw: Option<Millis>,
    /// Minute roll-ups are kept this long; `None`: forever.
    pub retention_minute: Option<Millis>,
    /// Hour roll-ups are kept this long; `None`: forever.
    pub retention_hour: Option<Millis>,
    /// A query that would decode more raw points than this is refused.
    pub query_max_points: usize,
    /// Distinct metrics (series) one device may have; a payload that would add one more is
    /// rejected whole. Each series costs memory, rows and a query on the device page.
    pub max_series_per_device: usize,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        TelemetrySettings {
            batch_size: 1000,
            batch_interval: Duration::from_millis(250),
            batch_min_age: Duration::ZERO,
            max_payload_bytes: 256 * 1024,
            max_buffered_samples: 1_000_000,
            compact_interval: Duration::from_secs(300),
            max_head_samples: 500_000,
            retention_raw: Some(30 * DAY_MS),
            retention_minute: Some(365 * DAY_MS),
            retention_hour: None,
            query_max_points: 1_000_000,
            max_series_per_device: 256,
        }
    }
}

pub(crate) type MaintenanceWaiter = (i64, oneshot::Sender<Result<MaintenanceReport, DomainError>>);

#[derive(Default)]
pub(crate) struct DeviceStats {
    pub accepted: u64,
    pub rejections: RejectionStats,
}

/// An accepted sample waiting for its batch (its series registered at acceptance).
pub(crate) struct Buffered {
    device: DeviceId,
    series: i64,
    ts: Millis,
    value: f64,
    unit: Option<String>,
    received_at: Millis,
}

/// Figures for the health panel.
#[derive(Default)]
pub(crate) struct Health {
    pub stored_total: u64,
    pub rejected_total: u64,
    pub recent_commits: VecDeque<(Instant, usize)>,
    pub commit_delay_ms: Option<i64>,
    pub disk_bytes: Option<u64>,
    pub last_compaction: Option<Millis>,
}

pub struct Telemetry {
    pub(crate) db: Db,
    pub(crate) settings: TelemetrySettings,
    buffer: Vec<Buffered>,
    /// Samples in the batch being written (0: none in flight).
    in_flight: usize,
    /// A `batch_min_age` timer is pending.
    commit_timer: bool,
    /// The last write failed: only the interval timer (or a flush request) tries again, so
    /// a database that is away is not hammered by every new payload.
    write_failed: bool,
    pub(crate) registry: Registry,
    pub(crate) head: Head,
    next_seq: i64,
    /// Every recent row up to this seq is in chunks (as far as this actor knows).
    pub(crate) compacted_seq: i64,
    pub(crate) compacting: bool,
    /// The last seq of the last committed batch.
    pub(crate) committed_seq: i64,
    /// (window, series) that got a chunk since start: merged once the window is closed.
    pub(crate) merge_candidates: BTreeSet<(Millis, i64)>,
    /// Callers of `RunTelemetryMaintenance` waiting for the head to be compacted.
    /// (seq committed at the request, reply) per waiting caller.
    pub(crate) maintenance_waiters: Vec<MaintenanceWaiter>,
    pub(crate) maintenance_report: MaintenanceReport,
    pub(crate) layout: &'static str,
    pub(crate) health: Health,
    stats: HashMap<DeviceId, DeviceStats>,
    /// Callers of `FlushTelemetry` waiting for the buffer to be empty and committed.
    flush_waiters: Vec<oneshot::Sender<Result<usize, DomainError>>>,
    flushed_since_request: usize,
    /// Where committed samples go next (asset health's rule evaluation), in commit order.
    samples_out: Vec<Recipient<SamplesStored>>,
    /// Receipts of payloads whose sender waits for their commit (see `Receipts`).
    receipts: Receipts,
}

/// Payloads a sender waits on (the broker holds their QoS 1 PUBACK until they are
/// committed). The buffer is a FIFO, also across a failed batch (it goes back in front), so
/// a payload is committed once every sample accepted up to its last one is: each receipt
/// waits for that count.
#[derive(Default)]
struct Receipts {
    /// Samples ever buffered.
    accepted: u64,
    /// Of those, samples whose batch committed (or that were lost with a failed task).
    settled: u64,
    /// (where its samples start, samples that must be settled, receipt), in order.
    waiting: VecDeque<(u64, u64, IngestReceipt)>,
    /// Per session, the highest receipt settled since the last `GetIngestBacklog`.
    done: HashMap<u64, u64>,
    /// Sessions a payload of which will not be stored, since the last `GetIngestBacklog`.
    lost: BTreeSet<u64>,
}

impl Receipts {
    /// A payload's samples were buffered (`count`, maybe 0) or it was refused (0): its
    /// receipt is settled once everything buffered so far is.
    fn payload(&mut self, count: usize, receipt: Option<IngestReceipt>) {
        let start = self.accepted;
        self.accepted += count as u64;
        if let Some(receipt) = receipt {
            self.waiting.push_back((start, self.accepted, receipt));
            self.release();
        }
    }

    /// `count` samples at the front of the buffer are settled.
    fn settled(&mut self, count: usize) {
        self.settled += count as u64;
        self.release();
    }

    fn release(&mut self) {
        while let Some((_, at, receipt)) = self.waiting.front().copied() {
            if at > self.settled {
                break;
            }
            self.waiting.pop_front();
            let n = self.done.entry(receipt.session).or_insert(receipt.n);
            *n = (*n).max(receipt.n);
        }
    }

    /// A payload of `session` will not be stored: the session is to be ended unacknowledged,
    /// and none of its receipts is settled any more (a later one would acknowledge this
    /// payload too).
    fn lose(&mut self, session: u64) {
        self.lost.insert(session);
        self.waiting.retain(|(_, _, r)| r.session != session);
        self.done.remove(&session);
    }

    /// The `count` samples at the front of the buffer are lost (their batch's task
    /// failed): every session with a payload among them is lost, then they count as settled.
    fn lost_front(&mut self, count: usize) {
        let (first, end) = (self.settled, self.settled + count as u64);
        // The payloads with samples among the lost ones (a rejected payload has none).
        let sessions: BTreeSet<u64> = self
            .waiting
            .iter()
            .take_while(|(start, _, _)| *start < end)
            .filter(|(start, at, _)| start < at && *at > first)
            .map(|(_, _, receipt)| receipt.session)
            .collect();
        for session in sessions {
            self.lose(session);
        }
        self.settled(count);
    }

    /// What is settled and what is lost since the last call.
    fn take(&mut self) -> (Vec<IngestReceipt>, Vec<u64>) {
        let settled = self
            .done
            .drain()
            .map(|(session, n)| IngestReceipt { session, n })
            .collect();
        (
            settled,
            std::mem::take(&mut self.lost).into_iter().collect(),
        )
    }
}

impl Telemetry {
    /// Loads the registry and rebuilds the head from the recent table; call once at start,
    /// before the actor serves anyone.
    pub async fn load(db: Db, settings: TelemetrySettings) -> Result<Telemetry, DbError> {
        let layout = db
            .run(|conn| match store::detect_timescale(conn) {
                Ok(layout) => Ok(layout),
                Err(e) => {
                    tracing::warn!(error = %e, "TimescaleDB is available but could not be used; plain tables");
                    Ok("chunks")
                }
            })
            .await?;
        tracing::info!(layout, "telemetry storage layout");
        let loaded = db.run(store::load).await?;
        let mut registry = Registry::load(loaded.metrics);
        let mut head = Head::default();
        let mut next_seq = loaded.compacted_seq + 1;
        let mut device_of: HashMap<i64, Option<DeviceId>> = HashMap::new();
        // The replayed rows count as batches of 10k, so compactions of them stay bounded.
        let mut pending = (0i64, 0usize);
        for row in &loaded.recent {
            let device = device_of
                .entry(row.series_id)
                .or_insert_with(|| {
                    registry
                        .get(row.series_id)
                        .and_then(|s| DeviceId::parse(&s.row.device_id).ok())
                })
                .clone();
            let Some(device) = device else { continue };
            if !head.contains(row.series_id, row.ts) {
                head.insert(&device, row.series_id, row.ts, row.value, row.seq);
                registry.observe(row.series_id, row.ts, row.value);
            }
            next_seq = next_seq.max(row.seq + 1);
            pending = (row.seq, pending.1 + 1);
            if pending.1 == 10_000 {
                head.batch_committed(pending.0, pending.1);
                pending.1 = 0;
            }
        }
        head.batch_committed(pending.0, pending.1);
        metrics::gauge!("plantd_telemetry_head_samples").set(head.len() as f64);
        tracing::info!(
            series = registry.all_ids().count(),
            head_samples = head.len(),
            "telemetry loaded"
        );
        Ok(Telemetry {
            db,
            settings,
            buffer: Vec::new(),
            in_flight: 0,
            commit_timer: false,
            write_failed: false,
            registry,
            head,
            next_seq,
            compacted_seq: loaded.compacted_seq,
            compacting: false,
            committed_seq: next_seq - 1,
            merge_candidates: loaded
                .recent_windows
                .iter()
                .map(|(series, window)| (*window, *series))
                .collect(),
            maintenance_waiters: Vec::new(),
            maintenance_report: MaintenanceReport::default(),
            layout,
            health: Health::default(),
            stats: HashMap::new(),
            flush_waiters: Vec::new(),
            flushed_since_request: 0,
            samples_out: Vec::new(),
            receipts: Receipts::default(),
        })
    }

    /// Forwards every committed sample to `to` (one message per batch, after its commit);
    /// call once per module that reads the stream.
    pub fn with_samples_out(mut self, to: Recipient<SamplesStored>) -> Self {
        self.samples_out.push(to);
        self
    }

    /// Samples accepted and not yet committed.
    pub fn backlog(&self) -> usize {
        self.in_flight + self.buffer.len()
    }

    /// Builds the next batch from the buffer: series ids (registering new series), samples
    /// already in the head or twice in the batch dropped as duplicates, seqs assigned.
    fn build_batch(&mut self, items: &[Buffered]) -> (Batch, Vec<DeviceId>) {
        let mut batch = Batch {
            new_metrics: Vec::new(),
            units: Vec::new(),
            rows: Vec::with_capacity(items.len()),
            late: Vec::with_capacity(items.len()),
        };
        let mut devices = Vec::with_capacity(items.len());
        let mut seen = HashSet::with_capacity(items.len());
        let mut new_ids = HashSet::new();
        let mut duplicates = 0u64;
        for item in items {
            let id = item.series;
            if self.head.contains(id, item.ts) || !seen.insert((id, item.ts)) {
                duplicates += 1;
                continue;
            }
            let Some(series) = self.registry.get(id) else {
                continue;
            };
            if !series.persisted && new_ids.insert(id) {
                batch.new_metrics.push(series.row.clone());
            }
            if let Some(unit) = &item.unit {
                if series.row.unit.as_ref() != Some(unit) {
                    batch.units.push((id, unit.clone()));
                }
            }
            batch.late.push(item.ts <= series.row.compacted_to);
            batch.rows.push(RecentRow {
                seq: self.next_seq,
                series_id: id,
                ts: item.ts,
                value: item.value,
            });
            devices.push(item.device.clone());
            self.next_seq += 1;
        }
        if duplicates > 0 {
            metrics::counter!("plantd_telemetry_duplicates_total").increment(duplicates);
        }
        (batch, devices)
    }

    /// Group commit: with no batch in flight, writes what is buffered now (or once its
    /// oldest sample is `batch_min_age` old, unless `batch_size` samples wait), so a sample
    /// waits for at most the commit in flight and its own. Under load the batch grows by
    /// itself while the previous one commits, up to `batch_size`.
    fn commit_soon(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight > 0 || self.write_failed {
            return;
        }
        let Some(oldest) = self.buffer.first() else {
            return;
        };
        let min_age = self.settings.batch_min_age.as_millis() as i64;
        let waited = now_ms() - oldest.received_at;
        if waited >= min_age || self.buffer.len() >= self.settings.batch_size {
            self.flush(ctx);
        } else if !self.commit_timer {
            self.commit_timer = true;
            let wait = Duration::from_millis((min_age - waited.max(0)) as u64);
            ctx.run_later(wait, |act, ctx| {
                act.commit_timer = false;
                act.commit_soon(ctx);
            });
        }
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
        let items: Vec<Buffered> = self.buffer.drain(..take).collect();
        // A burst grows the buffer (to 12 MiB for 40,000 samples); drained, it is given
        // back rather than kept at its peak for good.
        if self.buffer.is_empty() && self.buffer.capacity() > self.settings.batch_size {
            self.buffer = Vec::new();
        }
        let (batch, devices) = self.build_batch(&items);
        self.in_flight = items.len();
        metrics::gauge!("plantd_telemetry_buffered_samples").set(self.buffer.len() as f64);
        let db = self.db.clone();
        let started = Instant::now();
        let work = async move {
            let outcome = db.run_keeping(batch, store::write_batch).await;
            (outcome, items, devices, started.elapsed())
        };
        ctx.spawn(work.into_actor(self).map(|(outcome, items, devices, elapsed), act, ctx| {
            act.in_flight = 0;
            act.write_failed = false;
            match &outcome {
                Ok((_, Ok(_))) => act.receipts.settled(items.len()),
                Ok((_, Err(_))) => {}
                Err(_) => act.receipts.lost_front(items.len()),
            }
            metrics::histogram!("plantd_telemetry_batch_seconds").record(elapsed.as_secs_f64());
            match outcome {
                Ok((batch, Ok(kept))) => {
                    let stored = act.committed(&batch, &kept, &devices, &items);
                    metrics::counter!("plantd_telemetry_batches_total").increment(1);
                    metrics::counter!("plantd_telemetry_samples_stored_total").increment(stored as u64);
                    tracing::debug!(samples = items.len(), stored, ms = elapsed.as_millis() as u64, "telemetry batch committed");
                    act.flushed_since_request += stored;
                    if act.head.len() >= act.settings.max_head_samples {
                        act.compact(ctx);
                    }
                    if act.flush_waiters.is_empty() {
                        act.commit_soon(ctx);
                    } else {
                        act.flush(ctx);
                    }
                }
                Ok((_, Err(e))) => {
                    metrics::counter!("plantd_telemetry_batch_errors_total").increment(1);
                    if e.kind() == Some("disk_full") {
                        tracing::error!(error = %e, samples = items.len(), buffered = act.buffer.len() + items.len(),
                            "the database's disk is full: telemetry is kept in memory and retried, QoS 1 devices wait unacknowledged; free disk space to recover");
                    } else {
                        tracing::error!(error = %e, samples = items.len(), "telemetry batch not written; kept for the next attempt");
                    }
                    act.write_failed = true;
                    // Nothing accepted is dropped: the batch goes back in front of newer
                    // samples and is retried on the next tick, so a dead database is not hammered.
                    let mut items = items;
                    items.append(&mut act.buffer);
                    act.buffer = items;
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

    /// A batch committed: its stored samples join the head and the registry; returns how
    /// many were stored.
    fn committed(
        &mut self,
        batch: &Batch,
        kept: &[bool],
        devices: &[DeviceId],
        items: &[Buffered],
    ) -> usize {
        let now = now_ms();
        let mut stored = 0;
        let mut newest = i64::MIN;
        let mut forward = Vec::with_capacity(if !self.samples_out.is_empty() {
            batch.rows.len()
        } else {
            0
        });
        for ((row, keep), device) in batch.rows.iter().zip(kept).zip(devices) {
            if !*keep {
                continue;
            }
            stored += 1;
            if !self.samples_out.is_empty() {
                if let Some(series) = self.registry.get(row.series_id) {
                    forward.push(StoredSample {
                        device_id: device.clone(),
                        metric: series.name.clone(),
                        ts: row.ts,
                        value: row.value,
                    });
                }
            }
            self.head
                .insert(device, row.series_id, row.ts, row.value, row.seq);
            self.registry.observe(row.series_id, row.ts, row.value);
            let delay = now - row.ts;
            if (0..3_600_000).contains(&delay) {
                crate::metrics::hot::COMMIT_DELAY.record(delay as f64 / 1000.0);
            }
            newest = newest.max(row.ts);
        }
        if !forward.is_empty() {
            let received_at = items.iter().map(|i| i.received_at).min().unwrap_or(now);
            let samples = std::sync::Arc::new(forward);
            for to in &self.samples_out {
                to.do_send(SamplesStored {
                    samples: samples.clone(),
                    received_at,
                });
            }
        }
        let duplicates = kept.iter().filter(|k| !**k).count();
        if duplicates > 0 {
            metrics::counter!("plantd_telemetry_duplicates_total").increment(duplicates as u64);
        }
        for m in &batch.new_metrics {
            if let Some(s) = self.registry.get_mut(m.id) {
                s.persisted = true;
            }
        }
        for (id, unit) in &batch.units {
            if let Some(s) = self.registry.get_mut(*id) {
                s.row.unit = Some(unit.clone());
            }
        }
        if let Some(last) = batch.rows.last() {
            self.head.batch_committed(last.seq, stored);
            self.committed_seq = last.seq;
        }
        metrics::gauge!("plantd_telemetry_head_samples").set(self.head.len() as f64);
        let waited = items.iter().map(|i| now - i.received_at).max();
        self.health.commit_delay_ms = waited;
        self.health.stored_total += stored as u64;
        let at = Instant::now();
        self.health.recent_commits.push_back((at, stored));
        while self
            .health
            .recent_commits
            .front()
            .is_some_and(|(t, _)| at.duration_since(*t) > Duration::from_secs(10))
        {
            self.health.recent_commits.pop_front();
        }
        stored
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

    /// The series id of each sample, registering the payload's new metrics for the device,
    /// or refuses them all (registering none) when they would take it past
    /// `max_series_per_device`. Registered here, at acceptance, so metrics still buffered
    /// count against the cap too.
    fn register_series(
        &mut self,
        device: &DeviceId,
        samples: &[Sample<'_>],
    ) -> Result<Vec<i64>, String> {
        let mut ids = Vec::with_capacity(samples.len());
        let mut new: BTreeSet<&str> = BTreeSet::new();
        for sample in samples {
            match self.registry.find(device, &sample.metric) {
                Some(id) => ids.push(id),
                None => {
                    new.insert(&sample.metric);
                }
            }
        }
        if new.is_empty() {
            return Ok(ids);
        }
        let have = self.registry.series_count(device);
        let cap = self.settings.max_series_per_device;
        if have + new.len() > cap {
            return Err(format!(
                "the payload adds {} new metric(s) to the device's {have}; at most {cap} are kept \
                 (telemetry_max_series_per_device)",
                new.len()
            ));
        }
        ids.clear();
        for sample in samples {
            ids.push(self.registry.id_for(device, &sample.metric, sample.ts));
        }
        Ok(ids)
    }

    fn record_rejection(&mut self, device: &DeviceId, code: &'static str, reason: &str, at: i64) {
        metrics::counter!("plantd_telemetry_payloads_rejected_total", "reason" => code)
            .increment(1);
        // The reason quotes the payload (a metric name may be 256 KiB): clipped, and the
        // lines throttled; the counters above keep the totals.
        let reason = clip(reason);
        warn_throttled!(
            "telemetry_payload_rejected",
            device = %device,
            reason = %reason,
            "telemetry payload rejected"
        );
        self.health.rejected_total += 1;
        let stats = self.stats.entry(device.clone()).or_default();
        stats.rejections.count += 1;
        stats.rejections.last_reason = Some(reason.into_owned());
        stats.rejections.last_at = Some(at);
    }
}

impl Actor for Telemetry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.settings.batch_interval, |act, ctx| act.flush(ctx));
        self.start_maintenance(ctx);
    }
}

impl Handler<IngestPayload> for Telemetry {
    type Result = Result<IngestAck, IngestError>;

    fn handle(&mut self, msg: IngestPayload, ctx: &mut Context<Self>) -> Self::Result {
        let outcome = self.ingest(msg);
        self.commit_soon(ctx);
        outcome
    }
}

impl Handler<IngestPayloads> for Telemetry {
    type Result = ();

    /// Each payload as if it came alone; the batch is considered for writing once, after
    /// the last (group commit decides as it would after that payload).
    fn handle(&mut self, msg: IngestPayloads, ctx: &mut Context<Self>) {
        for payload in msg.payloads {
            let _ = self.ingest(payload);
        }
        self.commit_soon(ctx);
    }
}

impl Telemetry {
    /// Validates a payload and buffers its samples (or refuses it whole).
    fn ingest(&mut self, msg: IngestPayload) -> Result<IngestAck, IngestError> {
        let span = tracing::debug_span!("ingest", device = %msg.device_id, source = ?msg.source, bytes = msg.payload.len());
        let _guard = span.enter();
        crate::metrics::hot::PAYLOADS.increment(1);
        // A refused payload is settled too (its sender is told nothing more), once the
        // payloads before it are.
        let receipt = msg.receipt;
        let samples = match parse_payload(
            &msg.payload,
            msg.received_at,
            self.settings.max_payload_bytes,
        ) {
            Ok(samples) => samples,
            Err(rejection) => {
                self.receipts.payload(0, receipt);
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
        if self.backlog() + samples.len() > self.settings.max_buffered_samples {
            let reason = "storage is behind; the payload was refused (not stored)";
            // Not settled: its sender's session ends unacknowledged and sends it again.
            match receipt {
                Some(r) => self.receipts.lose(r.session),
                None => self.receipts.payload(0, None),
            }
            self.record_rejection(&msg.device_id, "overloaded", reason, msg.received_at);
            return Err(IngestError::Unavailable(reason.to_owned()));
        }
        let ids = match self.register_series(&msg.device_id, &samples) {
            Ok(ids) => ids,
            Err(reason) => {
                self.receipts.payload(0, receipt);
                self.record_rejection(&msg.device_id, "series_limit", &reason, msg.received_at);
                return Err(IngestError::Rejected {
                    code: "series_limit".to_owned(),
                    reason,
                });
            }
        };
        let count = samples.len();
        self.buffer
            .extend(samples.into_iter().zip(ids).map(|(s, series)| Buffered {
                device: msg.device_id.clone(),
                series,
                ts: s.ts,
                value: s.value,
                unit: s.unit,
                received_at: msg.received_at,
            }));
        self.receipts.payload(count, receipt);
        crate::metrics::hot::SAMPLES_ACCEPTED.increment(count as u64);
        crate::metrics::hot::BUFFERED.set(self.buffer.len() as f64);
        self.stats.entry(msg.device_id).or_default().accepted += 1;
        Ok(IngestAck {
            accepted: count,
            backlog: self.in_flight + self.buffer.len(),
        })
    }
}

impl Handler<GetIngestBacklog> for Telemetry {
    type Result = MessageResult<GetIngestBacklog>;

    fn handle(&mut self, _: GetIngestBacklog, _: &mut Context<Self>) -> Self::Result {
        let (settled, lost) = self.receipts.take();
        MessageResult(IngestBacklog {
            samples: self.in_flight + self.buffer.len(),
            settled,
            lost,
        })
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

impl Handler<GetTelemetryHealth> for Telemetry {
    type Result = MessageResult<GetTelemetryHealth>;

    fn handle(&mut self, _: GetTelemetryHealth, _: &mut Context<Self>) -> Self::Result {
        let now = Instant::now();
        let recent: usize = self
            .health
            .recent_commits
            .iter()
            .filter(|(t, _)| now.duration_since(*t) <= Duration::from_secs(10))
            .map(|(_, n)| n)
            .sum();
        MessageResult(TelemetryHealth {
            samples_per_second: recent as f64 / 10.0,
            samples_stored_total: self.health.stored_total,
            payloads_rejected_total: self.health.rejected_total,
            backlog_samples: self.backlog() as u64,
            head_samples: self.head.len() as u64,
            commit_delay_ms: self.health.commit_delay_ms,
            disk_bytes: self.health.disk_bytes,
            layout: self.layout.to_owned(),
            last_compaction: self.health.last_compaction.map(to_datetime),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(session: u64, n: u64) -> Option<IngestReceipt> {
        Some(IngestReceipt { session, n })
    }

    #[test]
    fn a_receipt_settles_once_every_sample_before_it_committed() {
        let mut r = Receipts::default();
        r.payload(3, receipt(1, 1));
        r.payload(2, receipt(2, 1));
        r.payload(1, None);
        // Rejected: settled with the payloads before it, not before them.
        r.payload(0, receipt(1, 2));
        assert_eq!(r.take(), (vec![], vec![]));
        r.settled(2);
        assert_eq!(
            r.take(),
            (vec![], vec![]),
            "the first payload is not whole yet"
        );
        r.settled(1);
        assert_eq!(r.take().0, vec![IngestReceipt { session: 1, n: 1 }]);
        r.settled(3);
        let (mut done, lost) = r.take();
        done.sort_by_key(|d| d.session);
        assert_eq!(
            done,
            vec![
                IngestReceipt { session: 1, n: 2 },
                IngestReceipt { session: 2, n: 1 }
            ]
        );
        assert!(lost.is_empty());
        // Nothing buffered: a rejected payload settles at once.
        r.payload(0, receipt(3, 1));
        assert_eq!(r.take().0, vec![IngestReceipt { session: 3, n: 1 }]);
    }

    #[test]
    fn a_session_whose_payload_is_not_stored_is_lost_and_never_settled_again() {
        let mut r = Receipts::default();
        r.payload(2, receipt(1, 1));
        r.payload(2, receipt(2, 1));
        // Session 1's next payload is refused (storage behind): its first one, still
        // waiting, must not be acknowledged either, nor a later one that would cover it.
        r.lose(1);
        r.payload(1, receipt(1, 3));
        r.settled(5);
        let (done, lost) = r.take();
        assert_eq!(lost, vec![1]);
        assert!(done.contains(&IngestReceipt { session: 2, n: 1 }));
        assert!(
            done.contains(&IngestReceipt { session: 1, n: 3 }),
            "a payload after the loss settles; the broker ends the session first"
        );
        assert_eq!(r.take(), (vec![], vec![]), "each loss is told once");
    }

    #[test]
    fn a_lost_batch_loses_the_sessions_of_the_payloads_in_it_only() {
        let mut r = Receipts::default();
        r.payload(2, receipt(1, 1)); // samples 1-2
        r.payload(3, receipt(2, 1)); // samples 3-5, cut by the lost batch of 4
        r.payload(2, receipt(3, 1)); // samples 6-7, after it
        r.payload(1, None); // sample 8, no one waits on it
        r.payload(0, receipt(4, 1)); // rejected, settles with what came before it
        r.payload(2, receipt(5, 1)); // samples 9-10
        r.lost_front(4);
        let (done, lost) = r.take();
        assert_eq!(lost, vec![1, 2]);
        assert!(done.is_empty());
        r.settled(3);
        assert_eq!(r.take(), (vec![IngestReceipt { session: 3, n: 1 }], vec![]));
        r.lost_front(1);
        let (done, lost) = r.take();
        assert_eq!(
            (done, lost),
            (vec![IngestReceipt { session: 4, n: 1 }], vec![]),
            "a lost sample no one waited on ends no session, and starts after none"
        );
    }
}
