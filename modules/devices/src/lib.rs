//! The devices module: the registry of devices, their per-device MQTT credentials, and
//! their presence (online, last seen) from the broker's connect/disconnect messages.
//!
//! It owns the `devices_*` tables and nothing else. It answers the broker's login checks
//! from memory (SHA-256 digests, constant-time compare) and tells the rest of the plant
//! what happened through `DomainEvent`s sent to the recipients wired in at start.

mod actor;
pub mod firmware;
mod registry;
mod schema;
mod store;

pub use actor::Devices;
