//! Firmware roll-outs, a second actor of the devices module: images stored under the data
//! directory (`images/{id}.bin`, their SHA-256 and size in `devices_firmware`), each signed with
//! the ed25519 key in `data_dir/firmware-signing.key` (`signing.rs`), campaigns
//! that offer an image to a list of devices (`devices_campaigns`,
//! `devices_campaign_targets`), each device's progress from its `firmware/status`
//! reports, per-state deadlines with retries, and the check that lets only a target
//! download the image. Image bytes cross its boundary only inside messages (uploads in
//! chunks, reads by content id): its folder is its own.
//!
//! It touches only the firmware tables and folder. It reaches devices through the broker's
//! `PublishToDevice`, learns presence from `device.*` domain events, and asks the registry
//! (`ListDevices`) whether targets exist — all by message, never by the registry's types.

mod actor;
mod api;
mod campaign;
mod device;
mod images;
mod metrics;
mod removal;
mod reports;
mod schema;
mod signing;
mod store;
mod transfer;
mod uploads;

pub use actor::{Firmware, FirmwareWiring};
pub use images::FirmwareSettings;
pub use metrics::describe as describe_metrics;
pub use signing::KEY_FILE as SIGNING_KEY_FILE;

/// The `firmware/status` report as decoded, for the fuzz targets in `fuzz/` only.
#[doc(hidden)]
pub mod fuzzing {
    pub use super::campaign::StatusReport;
}
