//! The maintenance module: preventive plans on assets, triggered by calendar (fixed or
//! floating) and by meters it counts itself from the live telemetry stream (run hours of
//! a boolean metric, increments of a counter), whichever comes first, with lead times and
//! a projection of meter due dates from the recent rate. It asks for orders with the
//! durable `maintenance.due` event (exactly one per occurrence) and learns of their
//! completion from `workorder.*` events. It owns the `maintenance_*` tables and depends on
//! no other domain module.

mod actor;
mod stub;

pub use actor::{Maintenance, MaintenanceSettings};
