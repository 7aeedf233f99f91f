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
}

/// A payload taken: its samples will be written in a coming batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestAck {
    /// Samples of this payload accepted.
    pub accepted: usize,
    /// Samples accepted (from every source) and not committed yet, this one included.
    pub backlog: usize,
}

/// How many samples telemetry has accepted and not committed yet. The broker asks it to
/// pace devices (back-pressure) while no payload is flowing to carry the answer.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Message)]
#[rtype(result = "usize")]
pub struct GetIngestBacklog;

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
