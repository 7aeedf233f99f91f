//! Webhooks: HTTP subscriptions to domain events, signed per Standard Webhooks.
//!
//! Infrastructure like `plantd-events`, whose consumer it is: the [`Webhooks`] actor is
//! subscribed to the outbox dispatcher (every type) and, in one transaction per event,
//! writes one row of the delivery log per enabled subscription that wants the event (unique
//! per subscription and event, so the outbox's at-least-once delivery adds nothing twice);
//! it answers the dispatcher only after the commit, so nothing is lost in a crash. A sender
//! loop (`sender.rs`) posts due rows, a few at a time on blocking threads, and records each
//! attempt; failures are retried with exponential back-off and full jitter until the
//! give-up window ends, and a subscription with no success for `disable_after` is
//! disabled. Tables `webhooks_subscriptions`, `webhooks_deliveries`; nothing else touches
//! them. Secrets are stored (they sign), shown once, never logged.

mod actor;
mod attempt;
mod backoff;
mod metrics;
mod migrations;
mod rules;
mod schema;
mod sender;
mod signing;
mod store;
mod views;

pub use actor::Webhooks;
pub use metrics::describe_metrics;
pub use migrations::MIGRATIONS;

use std::time::Duration;

/// What the webhooks module is told at start (the `webhooks_*` settings).
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Time to open the connection to a receiver.
    pub connect_timeout: Duration,
    /// Time for the whole request and the response's head.
    pub timeout: Duration,
    /// The first retry's back-off cap; it doubles per failed attempt up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// A delivery failing this long (from its creation or manual redelivery) is given up.
    pub give_up_after: Duration,
    /// A subscription with no success since a failure this long ago is disabled.
    pub disable_after: Duration,
    pub max_subscriptions: u32,
    /// Delivered and given-up rows older than this are pruned.
    pub log_retention: Duration,
    /// How often the sender looks for due deliveries when nothing woke it.
    pub poll: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            retry_initial: Duration::from_secs(5),
            retry_max: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(86_400),
            disable_after: Duration::from_secs(86_400),
            max_subscriptions: 100,
            log_retention: Duration::from_secs(7 * 86_400),
            poll: Duration::from_secs(1),
        }
    }
}
