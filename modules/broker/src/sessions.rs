//! Live MQTT sessions by username, each with a flag that ends it at its next packet
//! (credential revoked, device disabled, shutting down). Private to the broker.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A session number and the flag that ends it.
type Live = (u64, Arc<AtomicBool>);

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

    pub fn register(&self, username: &str, session: u64) -> Arc<AtomicBool> {
        let flag = Arc::new(AtomicBool::new(false));
        if let Ok(mut live) = self.live.lock() {
            live.entry(username.to_owned())
                .or_default()
                .push((session, flag.clone()));
        }
        flag
    }

    pub fn unregister(&self, username: &str, session: u64) {
        if let Ok(mut live) = self.live.lock() {
            if let Some(list) = live.get_mut(username) {
                list.retain(|(s, _)| *s != session);
                if list.is_empty() {
                    live.remove(username);
                }
            }
        }
    }

    /// Flags every session of `username` to end; returns how many there were.
    pub fn kill(&self, username: &str) -> usize {
        self.live
            .lock()
            .ok()
            .and_then(|live| {
                live.get(username).map(|list| {
                    for (_, flag) in list {
                        flag.store(true, Ordering::Relaxed);
                    }
                    list.len()
                })
            })
            .unwrap_or(0)
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
        let fa = sessions.register("dev-a", a);
        let fb = sessions.register("dev-b", b);
        assert_eq!(sessions.kill("dev-a"), 1);
        assert!(fa.load(Ordering::Relaxed));
        assert!(!fb.load(Ordering::Relaxed));
        sessions.unregister("dev-a", a);
        assert_eq!(sessions.kill("dev-a"), 0);
    }
}
