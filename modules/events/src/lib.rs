//! Durable domain events: the transactional outbox and its dispatcher.
//!
//! Infrastructure, like `plantd-storage`: modules depend on it, it depends on no module.
//! A module records its events with [`record`] inside the transaction of the change that
//! caused them and calls [`Outbox::wake`] after the commit. The [`Dispatcher`] delivers
//! stored events in `seq` order, at least once, to each [`Subscription`] (an actor's
//! `Recipient<DeliverEvent>`: in-process modules, the broker's `plantd/events/{type}`,
//! later webhooks), each from its own cursor, so one failing subscriber never blocks the
//! others and a crash resumes where each one was. Consumers are idempotent by event id: by
//! a natural key, or with [`claim`]. Tables: `events_outbox`, `events_cursors`,
//! `events_processed`; nothing else touches them.

mod dispatcher;
mod metrics;
mod migrations;
mod outbox;
mod processed;
mod schema;
pub mod store;
mod subscriber;

pub use dispatcher::{outbox, Dispatch, Dispatcher, EventSettings, MAX_PAGE};
pub use metrics::describe_metrics;
pub use migrations::MIGRATIONS;
pub use outbox::{record, Outbox};
pub use processed::claim;
pub use subscriber::Subscription;

#[cfg(test)]
mod tests;
