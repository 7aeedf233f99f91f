//! The work-order module: orders opened by hand, approved from operators' requests, from
//! alarms (`alarm.raised` with `create_work_order`: one order per episode, repeat failures
//! flagged) and from preventive plans (`maintenance.due`: one order per occurrence); their
//! state machine, checklists, comments, closing codes, audit history, and the maintenance
//! figures (MTBF, MTTR, availability, PM compliance, …). It owns the `workorders_*` tables
//! and talks to other modules only through `plantd-contracts` messages and events; it
//! depends on no other domain module.
//!
//! Map: `actor.rs` (settings, start), `input.rs` (bodies → checked values), `machine.rs`
//! (the order's rules, pure), `write.rs` (one transaction per change: rows, history,
//! events), `events.rs` (`workorder.*` with `asset_held`), `handlers.rs` (order
//! messages), `requests.rs` (work requests), `codes.rs` (closing-code lists),
//! `consumer.rs` (alarm and plan events), `figures.rs` + `kpi.rs` (the maintenance figures),
//! `store.rs`, `schema.rs`.

mod actor;
mod browse;
mod codes;
mod consumer;
mod events;
mod facts_cache;
mod figures;
mod handlers;
mod input;
mod kpi;
mod machine;
mod metrics;
mod migrations;
mod requests;
mod schema;
mod store;
mod write;

#[cfg(test)]
mod tests;

pub use actor::{WorkOrders, WorkOrdersSettings};
pub use metrics::describe_metrics;
pub use migrations::MIGRATIONS;
