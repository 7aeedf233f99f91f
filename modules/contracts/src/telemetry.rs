//! Messages of the telemetry module: ingest, queries, flushing.

use std::collections::BTreeMap;

use actix::Message;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::time::Millis;
use crate::{DeviceId, DomainError};

/// Where a payload came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IngestSource {
    Mqtt,
    Http,
}

/// One telemetry payload exactly as the device sent it: a sample object or an array of
/// them. Telemetry validates it whole; the reply says how many samples were accepted and
/// how far storage is behind.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<IngestAck, IngestError>")]
pub struct IngestPayload {
    pub device_id: DeviceId,
    pub payload: Vec<u8>,
    pub received_at: Millis,
    pub source: IngestSource,
    /// Set when the sender waits for this payload to be committed before acknowledging
    /// it (the broker's QoS 1 PUBACK): telemetry hands it back in [`IngestBacklog`] once
    /// the payload's samples are committed, or at once when it is rejected (it breaks the
    /// contract: sending it again changes nothing); a payload refused because storage is
    /// behind, or lost with its batch, names its session in `IngestBacklog::lost` instead.
    #[serde(default)]
    pub receipt: Option<IngestReceipt>,
}

/// Several payloads in arrival order, handled as if sent one by one (each validated and
/// refused or taken on its own); the broker's gateway sends what the router handed it at
/// once in one message, rather than a message per publish. No reply: a refusal is counted
/// and logged by telemetry, and a payload with a receipt is settled as usual.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct IngestPayloads {
    pub payloads: Vec<IngestPayload>,
}

/// Names a payload the sender waits on: the `n`-th of a `session`. A session's payloads
/// reach telemetry in order and are committed in order, so the highest `n` handed back
/// covers every earlier one of that session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IngestReceipt {
    pub session: u64,
    pub n: u64,
}

/// A payload taken: its samples will be written in a coming batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestAck {
    /// Samples of this payload accepted.
    pub accepted: usize,
    /// Samples accepted (from every source) and not committed yet, this one included.
    pub backlog: usize,
}

/// How many samples telemetry has accepted and not committed yet, and which receipts are
/// settled since the last ask. The broker asks it to pace devices (back-pressure) and to
/// send the PUBACKs it holds until their commit.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Message)]
#[rtype(result = "IngestBacklog")]
pub struct GetIngestBacklog;

/// The answer to [`GetIngestBacklog`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IngestBacklog {
    /// Samples accepted (from every source) and not committed.
    pub samples: usize,
    /// Per session, the highest receipt whose payload (and every earlier one of the
    /// session) is committed or was rejected, since the previous answer.
    pub settled: Vec<IngestReceipt>,
    /// Sessions a payload of which was taken off the broker but will not be stored
    /// (refused while storage was behind, or its batch was lost), since the previous
    /// answer: the sender must end them unacknowledged so their devices send again.
    #[serde(default)]
    pub lost: Vec<u64>,
}

/// Why a payload was not taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum IngestError {
    /// The payload breaks the contract; `code` is short (`malformed`, `too_large`,
    /// `bad_value`, `future_timestamp`, …), `reason` is a sentence.
    Rejected { code: String, reason: String },
    /// Storage is behind or down; nothing of the payload was taken. Send it again later.
    Unavailable(String),
}

/// Raw points of one metric of one device in `[from, to]`, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<Vec<Point>, DomainError>")]
pub struct QueryRange {
    pub device_id: DeviceId,
    pub metric: String,
    pub from: Millis,
    pub to: Millis,
    pub limit: usize,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub ts: DateTime<Utc>,
    pub value: f64,
}

/// The latest value of every metric of the given devices (all devices when `None`).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<BTreeMap<DeviceId, Vec<LatestValue>>, DomainError>")]
pub struct LatestValues {
    pub devices: Option<Vec<DeviceId>>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatestValue {
    pub metric: String,
    pub ts: DateTime<Utc>,
    pub value: f64,
}

/// Write everything buffered now; replies with the number of samples written.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<usize, DomainError>")]
pub struct FlushTelemetry;

/// A device's ingest counters, for its page and the dashboard.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "TelemetryStatus")]
pub struct GetTelemetryStatus {
    pub device_id: DeviceId,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TelemetryStatus {
    pub payloads_accepted: u64,
    pub payloads_rejected: u64,
    pub last_rejection: Option<String>,
    pub last_rejection_at: Option<DateTime<Utc>>,
}

/// How the points of a step are combined.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Aggregate {
    #[default]
    Avg,
    Min,
    Max,
    Sum,
    Count,
    Last,
}

impl Aggregate {
    pub fn parse(name: &str) -> Option<Aggregate> {
        Some(match name {
            "avg" => Aggregate::Avg,
            "min" => Aggregate::Min,
            "max" => Aggregate::Max,
            "sum" => Aggregate::Sum,
            "count" => Aggregate::Count,
            "last" => Aggregate::Last,
            _ => return None,
        })
    }
}

/// What an aggregate query was answered from: raw points, or minute or hour roll-ups.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Resolution {
    #[serde(rename = "raw")]
    Raw,
    #[serde(rename = "1m")]
    Minute,
    #[serde(rename = "1h")]
    Hour,
}

impl Resolution {
    /// The width of one stored bucket (1 ms for raw points).
    pub fn millis(self) -> Millis {
        match self {
            Resolution::Raw => 1,
            Resolution::Minute => 60_000,
            Resolution::Hour => 3_600_000,
        }
    }

    /// The resolution a step is answered from: hour roll-ups for a step of an hour or
    /// more, minute roll-ups for a minute or more, raw points below.
    pub fn for_step(step_ms: Millis) -> Resolution {
        if step_ms >= 3_600_000 {
            Resolution::Hour
        } else if step_ms >= 60_000 {
            Resolution::Minute
        } else {
            Resolution::Raw
        }
    }

    pub fn parse(name: &str) -> Option<Resolution> {
        Some(match name {
            "raw" => Resolution::Raw,
            "1m" => Resolution::Minute,
            "1h" => Resolution::Hour,
            _ => return None,
        })
    }
}

/// One metric of one device in `[from, to]`, combined per `step_ms` with `agg`. The
/// resolution is chosen from the step (see [`Resolution::for_step`]) unless given.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<AggregatedSeries, DomainError>")]
pub struct QueryAggregate {
    pub device_id: DeviceId,
    pub metric: String,
    pub from: Millis,
    pub to: Millis,
    pub step_ms: Millis,
    pub agg: Aggregate,
    pub resolution: Option<Resolution>,
}

/// The answer to [`QueryAggregate`]: buckets of `step_ms` aligned to the epoch, each point
/// at its bucket's start; empty buckets are left out. `step_ms` is the requested step
/// rounded down to a whole number of the resolution's buckets, and `from`/`to` widened to
/// whole buckets of the resolution.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AggregatedSeries {
    pub resolution: Resolution,
    pub step_ms: Millis,
    pub agg: Aggregate,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub points: Vec<Point>,
}

/// One metric of one device in `[from, to]` per `step_ms`, every bucket with its average,
/// minimum, maximum and sample count (what a chart draws: a line and a min–max band). The
/// plan (resolution, step, range) is [`QueryAggregate`]'s.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<BucketSeries, DomainError>")]
pub struct QueryBuckets {
    pub device_id: DeviceId,
    pub metric: String,
    pub from: Millis,
    pub to: Millis,
    pub step_ms: Millis,
    pub resolution: Option<Resolution>,
}

/// The answer to [`QueryBuckets`]: like [`AggregatedSeries`], empty buckets left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketSeries {
    pub resolution: Resolution,
    pub step_ms: Millis,
    pub from: Millis,
    pub to: Millis,
    pub buckets: Vec<Bucket>,
}

/// One bucket: its start and the samples it holds, summarised.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub ts: Millis,
    pub avg: f64,
    pub min: f64,
    pub max: f64,
    pub count: i64,
}

/// The metric registry of a device: every metric seen, its unit when a device gave one,
/// first and latest sample.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<Vec<MetricInfo>, DomainError>")]
pub struct ListMetrics {
    pub device_id: DeviceId,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricInfo {
    pub metric: String,
    pub unit: Option<String>,
    pub first_seen: DateTime<Utc>,
    /// Time of the latest sample.
    pub ts: DateTime<Utc>,
    /// Value of the latest sample.
    pub value: f64,
}

/// A device's samples committed after `cursor` (from a small in-memory ring: a live view,
/// not a history). `cursor: None` asks only for the current cursor.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "LiveSamples")]
pub struct SamplesSince {
    pub device_id: DeviceId,
    pub cursor: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveSamples {
    /// Pass this back in the next `SamplesSince`.
    pub cursor: u64,
    pub samples: Vec<LiveSample>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveSample {
    pub metric: String,
    pub ts: DateTime<Utc>,
    pub value: f64,
}

/// Maintenance now (admin): compact every committed sample into chunks and roll-ups, merge
/// the chunks of closed windows, and remove everything past retention. Replies what it did.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<MaintenanceReport, DomainError>")]
pub struct RunTelemetryMaintenance;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceReport {
    pub samples_compacted: u64,
    pub chunks_merged: u64,
    pub chunks_expired: u64,
    pub rollups_expired: u64,
}

/// The telemetry pipeline's health, for the UI panel.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "TelemetryHealth")]
pub struct GetTelemetryHealth;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TelemetryHealth {
    /// Samples stored per second, over the last 10 seconds or so.
    pub samples_per_second: f64,
    pub samples_stored_total: u64,
    pub payloads_rejected_total: u64,
    /// Samples accepted and not yet committed.
    pub backlog_samples: u64,
    /// Committed samples not yet compacted into chunks.
    pub head_samples: u64,
    /// Commit time minus sample time of the last batch's newest sample, milliseconds.
    pub commit_delay_ms: Option<i64>,
    /// Bytes on disk of the database (SQLite file, or the PostgreSQL database).
    pub disk_bytes: Option<u64>,
    /// `chunks` or `chunks+timescaledb`.
    pub layout: String,
    pub last_compaction: Option<DateTime<Utc>>,
}
