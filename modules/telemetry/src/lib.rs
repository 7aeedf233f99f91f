//! The telemetry module: validates device payloads against the MQTT contract, buffers
//! accepted samples and writes them in batched transactions (by count and by time) to an
//! index-free recent table, compacts them into compressed per-series chunks with minute
//! and hour roll-ups, enforces retention, and answers range, aggregate, latest-value and
//! live queries.
//!
//! It owns the `telemetry_*` tables and nothing else. Samples arrive as `IngestPayload`
//! messages from the broker gateway or the HTTP edge; a payload is accepted or rejected
//! whole, never half-stored.

mod actor;
mod agg;
pub mod codec;
mod head;
mod maintenance;
mod metrics;
mod migrations;
pub mod queries;
mod schema;
mod series;
mod store;
mod validate;

pub use actor::{Telemetry, TelemetrySettings};
pub use metrics::describe as describe_metrics;
pub use migrations::MIGRATIONS;

/// The payload decoder, for the fuzz targets in `fuzz/` only (not part of the module's API).
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::validate::{parse_payload, Rejection, Sample, MAX_FUTURE_MS};
}
