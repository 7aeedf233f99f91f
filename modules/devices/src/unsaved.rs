//! Presence not yet written (`last_seen` values and `device.*` presence events), and who
//! waits for it to be: the state of `presence.rs`'s group commit, held by the actor.

use plantd_contracts::{DeviceId, DomainError, Event};
use tokio::sync::oneshot;

/// Presence not yet written, and who waits for it to be.
#[derive(Default)]
pub(crate) struct Unsaved {
    pub(crate) unsaved_seen: std::collections::HashMap<DeviceId, i64>,
    pub(crate) unsaved_events: Vec<Event>,
    pub(crate) writing: bool,
    pub(crate) waiters: Vec<oneshot::Sender<Result<(), DomainError>>>,
}

impl Unsaved {
    pub(crate) fn requeue(&mut self, seen: Vec<(String, i64)>, mut events: Vec<Event>) {
        for (id, at) in seen {
            if let Ok(id) = DeviceId::parse(&id) {
                let kept = self.unsaved_seen.entry(id).or_insert(at);
                *kept = (*kept).max(at);
            }
        }
        events.append(&mut self.unsaved_events);
        self.unsaved_events = events;
    }

    pub(crate) fn wake_waiters(&mut self, result: Result<(), DomainError>) {
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(result.clone());
        }
    }
}
