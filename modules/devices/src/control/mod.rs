//! Device control: the shadow (desired/reported state, delta, version, per-key update
//! times) and commands (pending → delivered → succeeded | failed | expired), served by the
//! `Control` actor. It owns `devices_shadow` and `devices_commands`, learns presence only
//! from `device.connected`/`device.disconnected` events, asks the registry whether a device
//! exists with `GetDevice`, and reaches devices only through `PublishToDevice`.

mod actor;
mod commands;
mod merge;
mod metrics;
mod queue;
mod schema;
mod shadow;
mod store;

pub use actor::Control;
pub use metrics::describe as describe_metrics;
pub use queue::QueueLimits;

/// The shadow and command-result decoders, for the fuzz targets in `fuzz/` only.
#[doc(hidden)]
pub mod fuzzing {
    pub use super::commands::{parse_result, Outcome, MAX_RESULT_BYTES};
    pub use super::shadow::{parse_report, Rejection, Report, Shadow, MAX_DOCUMENT_BYTES};
}
