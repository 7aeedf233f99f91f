use std::collections::{HashMap, HashSet, VecDeque};
// plantd patch: sessions expire (MQTT 5 session expiry interval).
use std::time::Instant;

/// plantd patch: every this many saved sessions, expired ones are dropped.
const SWEEP_EVERY: u32 = 256;

use super::{
    scheduler::{PauseReason, Tracker},
    ConnectionEvents,
};

pub struct Graveyard {
    connections: HashMap<String, SavedState>,
    /// plantd patch: sessions saved since the last sweep of expired ones.
    saves: u32,
}

impl Graveyard {
    /// plantd patch: whether a saved session is subscribed to `filter` (it reads that
    /// filter's log when it comes back).
    pub fn subscribed(&self, filter: &str) -> bool {
        self.connections.values().any(|saved| {
            saved
                .session_state
                .as_ref()
                .is_some_and(|s| s.subscriptions.contains(filter))
        })
    }

    pub fn new() -> Graveyard {
        Graveyard {
            connections: HashMap::new(),
            saves: 0,
        }
    }

    /// Add a new connection.
    /// Return tracker of previous connection if connection id already exists
    pub fn retrieve(&mut self, id: &str) -> Option<SavedState> {
        // plantd patch: an expired session is gone (its metrics stay).
        let mut saved = self.connections.remove(id)?;
        if saved
            .session_state
            .as_ref()
            .is_some_and(|s| s.expires.is_some_and(|at| at <= Instant::now()))
        {
            saved.session_state = None;
        }
        Some(saved)
    }

    /// Save connection tracker
    pub fn save_state(
        &mut self,
        mut tracker: Tracker,
        subscriptions: HashSet<String>,
        metrics: ConnectionEvents,
        unacked_pubrels: VecDeque<u16>,
        expires: Option<Instant>,
        subscription_ids: HashMap<String, usize>,
    ) {
        tracker.pause(PauseReason::Busy);
        // plantd patch: expired sessions are dropped now and then, so the graveyard does not
        // keep every client that ever left.
        self.saves += 1;
        if self.saves >= SWEEP_EVERY {
            self.saves = 0;
            let now = Instant::now();
            self.connections.retain(|_, saved| {
                !saved
                    .session_state
                    .as_ref()
                    .is_some_and(|s| s.expires.is_some_and(|at| at <= now))
            });
        }
        let id = tracker.id.clone();

        let session_state = SessionState {
            tracker,
            subscriptions,
            unacked_pubrels,
            expires,
            subscription_ids,
        };

        self.connections.insert(
            id,
            SavedState {
                session_state: Some(session_state),
                metrics,
            },
        );
    }

    /// Save only metrics for connection
    pub fn save_metrics(&mut self, id: String, metrics: ConnectionEvents) {
        self.connections.insert(
            id,
            SavedState {
                session_state: None,
                metrics,
            },
        );
    }
}

#[derive(Debug)]
pub struct SavedState {
    pub session_state: Option<SessionState>,
    pub metrics: ConnectionEvents,
}

#[derive(Debug)]
pub struct SessionState {
    pub tracker: Tracker,
    pub subscriptions: HashSet<String>,
    // used for pubrel in qos2
    pub unacked_pubrels: VecDeque<u16>,
    /// plantd patch: when the session expires (`None`: never).
    pub expires: Option<Instant>,
    /// plantd patch: the subscription identifiers of its filters.
    pub subscription_ids: HashMap<String, usize>,
}
