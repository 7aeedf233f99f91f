//! The devices module, three actors over the `devices_*` tables:
//! - `Devices`: the registry (CRUD, labels, metadata, a tombstone per deleted id), per-device
//!   MQTT credentials (rotate, disable / enable) and presence (online, last seen, traffic
//!   counters) from the broker's connect/disconnect and traffic messages. It answers the
//!   broker's login checks from memory (SHA-256 digests, constant-time compare) and tells
//!   the rest of the plant what happened through `DomainEvent`s sent to the recipients
//!   wired in at start.
//! - `Control` (`control/`): shadows and commands.
//! - `Firmware` (`firmware/`): images and roll-out campaigns.
//!
//! Control and Firmware use none of the registry's modules or tables: they talk to
//! `Devices` by message only (`.ci/run` checks), so either can move to a crate of its own.

mod actor;
mod changes;
mod control;
pub mod firmware;
mod metrics;
mod migrations;
mod presence;
mod registry;
mod schema;
mod store;
mod unsaved;
mod validate;

pub use actor::Devices;
pub use control::{describe_metrics as describe_control_metrics, Control, QueueLimits};
pub use metrics::describe as describe_metrics;
pub use migrations::MIGRATIONS;

/// The decoders of device messages (shadow reports, command results, firmware status),
/// for the fuzz targets in `fuzz/` only (not part of the module's API).
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::control::fuzzing::*;
    pub use crate::firmware::fuzzing::*;
}
