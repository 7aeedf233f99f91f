//! The work-order module: orders opened by hand, approved from operators' requests, from
//! alarms (`alarm.raised` with `create_work_order`: one order per episode, repeat failures
//! flagged) and from preventive plans (`maintenance.due`: one order per occurrence); their
//! state machine, checklists, comments, closing codes, audit history, and the maintenance
//! figures (MTBF, MTTR, availability, PM compliance, …). It owns the `workorders_*` tables
//! and talks to other modules only through `plantd-contracts` messages and events; it
//! depends on no other domain module.

mod actor;
pub mod kpi;
mod stub;

pub use actor::{WorkOrders, WorkOrdersSettings};
