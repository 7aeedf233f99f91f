//! The embedded MQTT broker: rumqttd configured in code, a per-connection policy layer
//! that enforces `mqtt-contract.md` (who may log in, which topics each may touch), the
//! gateway that turns device messages into contract messages, and the publisher that
//! carries domain events to `plantd/events/{type}`.
//!
//! It asks the devices and identity modules to check logins through recipients wired in
//! at start, and knows nothing of their internals. Everything rumqttd-specific stays here,
//! so an external broker can later take its place behind the same messages.

mod acks;
mod auth;
mod cert_names;
mod embedded;
mod gateway;
mod hold;
mod limits;
mod listeners;
mod metrics;
mod pacer;
mod policy;
mod pressure;
mod principal;
mod publisher;
mod receive_max;
mod sessions;
mod settings;
mod sniff;
mod tls;

pub use embedded::{start, BrokerHandle, BrokerWiring};
pub use listeners::{planned as planned_listeners, Kind as ListenerKind, WS_PATH};
pub use metrics::describe as describe_metrics;
pub use publisher::EventPublisher;
pub use settings::BrokerSettings;
pub use tls::{TlsAcceptorCell, TlsFiles};

/// The policy layer and what it is built from, for the fuzz targets in `fuzz/` only (not
/// part of the module's API: the composition root uses `start`).
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::auth::Authenticator;
    pub use crate::limits::{Filters, Limits, Retained};
    pub use crate::policy::{Policy, PolicyContext};
    pub use crate::pressure::Pressure;
    pub use crate::principal::Principal;
    pub use crate::sessions::Sessions;
}
