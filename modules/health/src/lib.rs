//! The asset-health module: the asset tree (site → area → asset), alarm rules on live
//! telemetry (threshold with on/off-delay and deadband, rate, anomaly, ISO 20816-3
//! vibration zones, no data, all / any), and alarms managed the ISA-18.2 / IEC 62682 way,
//! with their events through the outbox. It owns the `health_*` tables and talks to other
//! modules only through `plantd-contracts` messages and events; it depends on no other
//! domain module.
//!
//! Map: `actor.rs` (state, load), `index.rs` (sample → its rules), `evaluate.rs`
//! (samples → detectors → alarms),
//! `detect/` (the detectors), `episode.rs` (the alarm state machine), `writer.rs` (alarm
//! changes + events, one transaction), `handlers.rs` (assets, rules, device events),
//! `alarm_api.rs` + `stats.rs` (alarms for the API), `preview.rs` (backtest), `store.rs`.

mod actor;
mod alarm_api;
mod assets;
mod browse;
pub mod detect;
mod episode;
mod evaluate;
mod handlers;
mod index;
mod metrics;
mod migrations;
mod preview;
mod rules;
mod schema;
mod stats;
mod store;
mod write_queue;
mod writer;

#[cfg(test)]
mod tests;

pub use actor::{Health, HealthSettings};
pub use metrics::describe_metrics;
pub use migrations::MIGRATIONS;
