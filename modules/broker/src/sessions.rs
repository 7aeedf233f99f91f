//! Live MQTT sessions by username, each with a flag that ends it at its next packet
//! (credential revoked, device disabled, shutting down), the client id rumqttd knows it by
//! (so an idle session can be cut at once, see `publisher::cut`), and its traffic counters
//! since the last report. Private to the broker.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Messages a session received since the last report, and when the last one came.
#[derive(Default)]
pub struct Traffic {
    messages: AtomicU64,
    last_at: AtomicI64,
}

impl Traffic {
    pub fn record(&self, at_ms: i64) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.last_at.fetch_max(at_ms, Ordering::Relaxed);
    }

    /// The count since the last call, and the last message's time.
    fn take(&self) -> (u64, i64) {
        (
            self.messages.swap(0, Ordering::Relaxed),
            self.last_at.load(Ordering::Relaxed),
        )
    }
}

struct Live {
    session: u64,
    /// The client id rumqttd knows the session by (never empty: the policy layer names a
    /// client that sent none).
    client_id: String,
    kill: Arc<AtomicBool>,
    traffic: Arc<Traffic>,
}

pub struct Sessions {
    next: AtomicU64,
    live: Mutex<HashMap<String, Vec<Live>>>,
}

impl Sessions {
    pub fn new(first_session: u64) -> Self {
        Sessions {
            next: AtomicU64::new(first_session),
            live: Mutex::new(HashMap::new()),
        }
    }

    /// A new session number, larger than every earlier one of this process.
    pub fn next_session(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers a session of `username`, unless `cap` is given and the user holds that
    /// many sessions under other client ids already (a session under the same client id is
    /// being taken over: rumqttd ends it). Checked and registered under one lock, so
    /// simultaneous logins cannot pass the cap together.
    pub fn try_register(
        &self,
        username: &str,
        client_id: &str,
        session: u64,
        cap: Option<usize>,
    ) -> Option<(Arc<AtomicBool>, Arc<Traffic>)> {
        let kill = Arc::new(AtomicBool::new(false));
        let traffic = Arc::new(Traffic::default());
        let mut live = self.live.lock().ok()?;
        if let Some(cap) = cap {
            // A session being taken over is still listed until its connection ends.
            let others = live.get(username).map_or(0, |list| {
                list.iter()
                    .map(|l| l.client_id.as_str())
                    .filter(|id| *id != client_id)
                    .collect::<HashSet<_>>()
                    .len()
            });
            if others >= cap {
                return None;
            }
        }
        live.entry(username.to_owned()).or_default().push(Live {
            session,
            client_id: client_id.to_owned(),
            kill: kill.clone(),
            traffic: traffic.clone(),
        });
        Some((kill, traffic))
    }

    #[cfg(test)]
    pub fn register(
        &self,
        username: &str,
        client_id: &str,
        session: u64,
    ) -> (Arc<AtomicBool>, Arc<Traffic>) {
        self.try_register(username, client_id, session, None)
            .expect("no cap, no poisoned lock")
    }

    pub fn unregister(&self, username: &str, session: u64) {
        if let Ok(mut live) = self.live.lock() {
            if let Some(list) = live.get_mut(username) {
                list.retain(|l| l.session != session);
                if list.is_empty() {
                    live.remove(username);
                }
            }
        }
    }

    /// Flags every session of `username` to end; returns the client ids of those sessions.
    pub fn kill(&self, username: &str) -> Vec<String> {
        self.live
            .lock()
            .ok()
            .and_then(|live| {
                live.get(username).map(|list| {
                    list.iter()
                        .map(|l| {
                            l.kill.store(true, Ordering::Relaxed);
                            l.client_id.clone()
                        })
                        .collect()
                })
            })
            .unwrap_or_default()
    }

    /// Traffic since the last call, per username: (username, messages, last message time),
    /// for usernames whose sessions received anything.
    pub fn take_traffic(&self) -> Vec<(String, u64, i64)> {
        let Ok(live) = self.live.lock() else {
            return Vec::new();
        };
        live.iter()
            .filter_map(|(username, list)| {
                let (messages, last_at) = list
                    .iter()
                    .map(|l| l.traffic.take())
                    .fold((0, 0), |(n, at), (m, a)| (n + m, at.max(a)));
                (messages > 0).then(|| (username.clone(), messages, last_at))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_flags_only_that_users_sessions() {
        let sessions = Sessions::new(1);
        let a = sessions.next_session();
        let b = sessions.next_session();
        assert!(b > a);
        let (fa, _) = sessions.register("dev-a", "dev-a", a);
        let (fb, _) = sessions.register("dev-b", "dev-b", b);
        assert_eq!(sessions.kill("dev-a"), vec!["dev-a".to_owned()]);
        assert!(fa.load(Ordering::Relaxed));
        assert!(!fb.load(Ordering::Relaxed));
        sessions.unregister("dev-a", a);
        assert!(sessions.kill("dev-a").is_empty());
    }

    #[test]
    fn traffic_is_reported_once_per_message() {
        let sessions = Sessions::new(1);
        let (_, traffic) = sessions.register("dev-a", "dev-a", 1);
        sessions.register("dev-b", "dev-b", 2);
        traffic.record(10);
        traffic.record(20);
        assert_eq!(sessions.take_traffic(), vec![("dev-a".to_owned(), 2, 20)]);
        assert!(sessions.take_traffic().is_empty());
    }

    #[test]
    fn a_capped_user_gets_no_more_sessions_but_may_take_one_over() {
        let sessions = Sessions::new(1);
        assert!(sessions.try_register("tok.a", "one", 1, Some(2)).is_some());
        assert!(sessions.try_register("tok.a", "two", 2, Some(2)).is_some());
        assert!(sessions
            .try_register("tok.a", "three", 3, Some(2))
            .is_none());
        assert!(sessions.try_register("tok.a", "two", 4, Some(2)).is_some());
        assert!(sessions
            .try_register("tok.b", "three", 5, Some(2))
            .is_some());
        sessions.unregister("tok.a", 1);
        assert!(sessions
            .try_register("tok.a", "three", 6, Some(2))
            .is_some());
    }
}
