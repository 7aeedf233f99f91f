//! plantd's shared contract: the one crate every module may depend on.
//!
//! Ids, commands, queries, replies and domain events as plain serde types, with actix
//! `Message` derives so the composition root can wire modules together by message type.
//! Everything here is serialisable, so a module can later move behind a transport.
//! This crate does no I/O and knows nothing of the database or of HTTP.

pub mod broker;
pub mod commands;
pub mod devices;
pub mod error;
pub mod events;
pub mod firmware;
pub mod health;
pub mod identity;
pub mod ids;
pub mod json;
pub mod log_throttle;
pub mod maintenance;
pub mod shadow;
pub mod telemetry;
pub mod time;
pub mod webhooks;
pub mod window;
pub mod workorders;

pub use error::DomainError;
pub use events::{Event, EventData};
pub use ids::DeviceId;
