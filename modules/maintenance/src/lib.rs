//! The maintenance module: preventive plans on assets, triggered by calendar (fixed or
//! floating) and by meters it counts itself from the live telemetry stream (run hours of
//! a boolean metric, increments of a counter), whichever comes first, with lead times and
//! a projection of meter due dates from the recent rate. It asks for orders with the
//! durable `maintenance.due` event (exactly one per occurrence) and learns of their
//! completion from `workorder.*` events. It owns the `maintenance_*` tables and depends on
//! no other domain module.
//!
//! Map: `actor.rs` (state, load, tick), `samples.rs` (telemetry → meters), `meter.rs`
//! (run hours, counters, rate), `calendar.rs` (interval arithmetic), `schedule.rs` (what
//! comes due, completion), `due.rs` (raised occurrences → rows + events), `events.rs`
//! (work-order events), `handlers.rs` + `plans.rs` + `status.rs` (the API), `writer.rs`
//! (one transaction at a time) over `write_queue.rs` (what waits), `series.rs` (which
//! series feed which plans), `store.rs`, `clock.rs` (the injectable clock).

mod actor;
mod calendar;
mod clock;
mod due;
mod events;
mod handlers;
mod meter;
mod metrics;
mod migrations;
mod plans;
mod samples;
mod schedule;
mod schema;
mod series;
mod status;
mod store;
mod write_queue;
mod writer;

#[cfg(test)]
mod tests;

pub use actor::{Maintenance, MaintenanceSettings};
pub use clock::Clock;
pub use metrics::describe_metrics;
pub use migrations::MIGRATIONS;
