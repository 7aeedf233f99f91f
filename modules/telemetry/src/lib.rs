//! The telemetry module: validates device payloads against the MQTT contract, buffers
//! accepted samples and writes them in batched transactions (by count and by time), keeps
//! each series' latest value, and answers range queries.
//!
//! It owns the `telemetry_*` tables and nothing else. Samples arrive as `IngestPayload`
//! messages from the broker gateway or the HTTP edge; a payload is accepted or rejected
//! whole, never half-stored.

mod actor;
mod metrics;
mod schema;
mod series;
mod store;
mod validate;

pub use actor::{Telemetry, TelemetrySettings};
pub use metrics::describe as describe_metrics;
