//! The devices module: the registry of devices (CRUD, labels, metadata, a tombstone per
//! deleted id), their per-device MQTT credentials (rotate, disable / enable), and their
//! presence (online, last seen, traffic counters) from the broker's connect/disconnect and
//! traffic messages.
//!
//! It owns the `devices_*` tables and nothing else. It answers the broker's login checks
//! from memory (SHA-256 digests, constant-time compare) and tells the rest of the plant
//! what happened through `DomainEvent`s sent to the recipients wired in at start.

mod actor;
mod changes;
mod control;
pub mod firmware;
mod metrics;
mod registry;
mod schema;
mod store;
mod validate;

pub use actor::Devices;
pub use control::{describe_metrics as describe_control_metrics, Control};
pub use metrics::describe as describe_metrics;
