//! Live MQTT sessions by username, each with a flag that ends it at its next packet
//! (credential revoked, device disabled, shutting down), the client id rumqttd knows it by
//! (so an idle session can be cut at once, see `publisher::cut`), and its traffic counters
//! since the last report, and a count of the cuts per username, so a login answered before
//! a cut cannot register its session after it. Private to the broker.

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

#[derive(Default)]
struct State {
    live: HashMap<String, Vec<Live>>,
    /// How often each username was cut ([`Sessions::kill`]). A username is cut when its
    /// credential is rotated or revoked or its device disabled or deleted, so this holds
    /// one small entry per such change.
    cuts: HashMap<String, u64>,
}

/// Why [`Sessions::try_register`] did not register a session.
#[derive(Debug, PartialEq)]
pub enum NotRegistered {
    /// The user holds its maximum of sessions already.
    Cap,
    /// The user was cut after its login was checked: the answer may be stale.
    CutSinceLogin,
}

pub struct Sessions {
    next: AtomicU64,
    state: Mutex<State>,
}

impl Sessions {
    pub fn new(first_session: u64) -> Self {
        Sessions {
            next: AtomicU64::new(first_session),
            state: Mutex::new(State::default()),
        }
    }

    /// How often `username` was cut so far: read before its login is checked, and handed
    /// to [`Sessions::try_register`].
    pub fn cuts(&self, username: &str) -> u64 {
        self.state
            .lock()
            .map(|state| state.cuts.get(username).copied().unwrap_or(0))
            .unwrap_or(u64::MAX)
    }

    /// A new session number, larger than every earlier one of this process.
    pub fn next_session(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers a session of `username`, unless the user was cut since `cuts_at_login`
    /// (what [`Sessions::cuts`] said before the login was checked: a rotation or revocation
    /// that committed while the login was answered found no session to end), or `cap` is
    /// given and the user holds that many sessions under other client ids already (a
    /// session under the same client id is being taken over: rumqttd ends it). Checked and
    /// registered under one lock, so simultaneous logins cannot pass the cap together and
    /// a cut either sees the session or is seen by it.
    pub fn try_register(
        &self,
        username: &str,
        client_id: &str,
        session: u64,
        cap: Option<usize>,
        cuts_at_login: u64,
    ) -> Result<(Arc<AtomicBool>, Arc<Traffic>), NotRegistered> {
        let kill = Arc::new(AtomicBool::new(false));
        let traffic = Arc::new(Traffic::default());
        let mut state = self
            .state
            .lock()
            .map_err(|_| NotRegistered::CutSinceLogin)?;
        if state.cuts.get(username).copied().unwrap_or(0) != cuts_at_login {
            return Err(NotRegistered::CutSinceLogin);
        }
        let live = &mut state.live;
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
                return Err(NotRegistered::Cap);
            }
        }
        live.entry(username.to_owned()).or_default().push(Live {
            session,
            client_id: client_id.to_owned(),
            kill: kill.clone(),
            traffic: traffic.clone(),
        });
        Ok((kill, traffic))
    }

    #[cfg(test)]
    pub fn register(
        &self,
        username: &str,
        client_id: &str,
        session: u64,
    ) -> (Arc<AtomicBool>, Arc<Traffic>) {
        let cuts = self.cuts(username);
        self.try_register(username, client_id, session, None, cuts)
            .expect("no cap, no cut, no poisoned lock")
    }

    pub fn unregister(&self, username: &str, session: u64) {
        if let Ok(mut state) = self.state.lock() {
            if let Some(list) = state.live.get_mut(username) {
                list.retain(|l| l.session != session);
                if list.is_empty() {
                    state.live.remove(username);
                }
            }
        }
    }

    /// Flags every session of `username` to end, and counts the cut so that a login of
    /// `username` checked before it registers no session after it; returns the client ids
    /// of the sessions flagged.
    pub fn kill(&self, username: &str) -> Vec<String> {
        let Ok(mut state) = self.state.lock() else {
            return Vec::new();
        };
        *state.cuts.entry(username.to_owned()).or_insert(0) += 1;
        state
            .live
            .get(username)
            .map(|list| {
                list.iter()
                    .map(|l| {
                        l.kill.store(true, Ordering::Relaxed);
                        l.client_id.clone()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Traffic since the last call, per username: (username, messages, last message time),
    /// for usernames whose sessions received anything.
    pub fn take_traffic(&self) -> Vec<(String, u64, i64)> {
        let Ok(state) = self.state.lock() else {
            return Vec::new();
        };
        state
            .live
            .iter()
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
        let reg = |user: &str, client: &str, session| {
            sessions.try_register(user, client, session, Some(2), 0)
        };
        assert!(reg("tok.a", "one", 1).is_ok());
        assert!(reg("tok.a", "two", 2).is_ok());
        assert_eq!(reg("tok.a", "three", 3).err(), Some(NotRegistered::Cap));
        assert!(reg("tok.a", "two", 4).is_ok());
        assert!(reg("tok.b", "three", 5).is_ok());
        sessions.unregister("tok.a", 1);
        assert!(reg("tok.a", "three", 6).is_ok());
    }

    /// A cut that found no session (the login was still being answered) keeps the
    /// session that login would register out, and only that user's.
    #[test]
    fn a_cut_between_login_and_registration_keeps_the_session_out() {
        let sessions = Sessions::new(1);
        let at_login = sessions.cuts("dev-a");
        let other_at_login = sessions.cuts("dev-b");
        assert!(sessions.kill("dev-a").is_empty());
        assert_eq!(
            sessions
                .try_register("dev-a", "dev-a", 1, None, at_login)
                .err(),
            Some(NotRegistered::CutSinceLogin)
        );
        assert!(sessions
            .try_register("dev-b", "dev-b", 2, None, other_at_login)
            .is_ok());
        let again = sessions.cuts("dev-a");
        assert!(sessions
            .try_register("dev-a", "dev-a", 3, None, again)
            .is_ok());
    }
}
