//! Per-client limits of the policy layer, so that no client can grow the broker's memory
//! without bound: rumqttd keeps every topic and filter it saw, each filter's log and every
//! retained message for as long as the process lives. The numbers come from the settings;
//! the books here are what the limits are counted against, shared by every connection.
//! Each time a limit refuses or clamps something, `plantd_mqtt_limited_total{limit}` counts.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use crate::BrokerSettings;

/// The label values of `plantd_mqtt_limited_total`.
pub const LIMITS: [&str; 6] = [
    "topic_bytes",
    "filters_per_session",
    "retained_per_token",
    "sessions_per_token",
    "keep_alive",
    "receive_maximum",
];

/// Counts one refusal (or, for `keep_alive`, one clamp) by `limit`.
pub fn hit(limit: &'static str) {
    metrics::counter!("plantd_mqtt_limited_total", "limit" => limit).increment(1);
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub topic_bytes: usize,
    pub filters_per_session: usize,
    pub retained_per_token: usize,
    pub sessions_per_token: usize,
    pub keep_alive_s: u16,
    pub receive_max: u16,
}

impl From<&BrokerSettings> for Limits {
    fn from(s: &BrokerSettings) -> Self {
        Limits {
            topic_bytes: s.max_topic_bytes,
            filters_per_session: s.max_filters_per_session,
            retained_per_token: s.max_retained_per_token,
            sessions_per_token: s.max_sessions_per_token,
            keep_alive_s: s.max_keep_alive_s,
            receive_max: s.receive_max,
        }
    }
}

/// The filters each session holds in rumqttd, by client id (rumqttd's key: a persistent
/// session keeps its filters across reconnects, so the count is kept too).
#[derive(Default)]
pub struct Filters {
    by_client: Mutex<HashMap<String, SessionFilters>>,
}

struct SessionFilters {
    /// The connection that last took the session over (only it may end a clean one).
    session: u64,
    filters: HashSet<String>,
}

/// What [`Filters::add`] made of a filter.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    /// Held already (a subscription renewed) or newly added.
    Yes,
    /// The session holds its maximum.
    Full,
}

impl Filters {
    /// A connection took the session `client_id` over; a clean session starts empty.
    pub fn begin(&self, client_id: &str, session: u64, clean: bool) {
        let Ok(mut book) = self.by_client.lock() else {
            return;
        };
        let entry = book
            .entry(client_id.to_owned())
            .or_insert_with(|| SessionFilters {
                session,
                filters: HashSet::new(),
            });
        entry.session = session;
        if clean {
            entry.filters.clear();
        }
    }

    pub fn add(&self, client_id: &str, filter: &str, max: usize) -> Admit {
        let Ok(mut book) = self.by_client.lock() else {
            return Admit::Full;
        };
        let Some(entry) = book.get_mut(client_id) else {
            return Admit::Full;
        };
        if entry.filters.contains(filter) {
            return Admit::Yes;
        }
        if entry.filters.len() >= max {
            return Admit::Full;
        }
        entry.filters.insert(filter.to_owned());
        Admit::Yes
    }

    /// Removes `filter`; whether the session held it (rumqttd holds it too).
    pub fn remove(&self, client_id: &str, filter: &str) -> bool {
        self.by_client
            .lock()
            .ok()
            .and_then(|mut book| book.get_mut(client_id).map(|e| e.filters.remove(filter)))
            .unwrap_or(false)
    }

    /// The connection `session` ended; a clean session's filters go with it, unless a newer
    /// connection took the session over.
    pub fn end(&self, client_id: &str, session: u64, clean: bool) {
        if !clean {
            return;
        }
        if let Ok(mut book) = self.by_client.lock() {
            if book.get(client_id).is_some_and(|e| e.session == session) {
                book.remove(client_id);
            }
        }
    }
}

/// The retained messages each integration token has set, by topic.
#[derive(Default)]
pub struct Retained {
    by_token: Mutex<HashMap<String, HashSet<String>>>,
}

impl Retained {
    /// Whether `token` may publish a retained message on `topic`: an empty payload clears
    /// the topic (and frees its place), a topic the token retains already is replaced, a new
    /// one needs a free place.
    pub fn admit(&self, token: &str, topic: &str, empty: bool, max: usize) -> bool {
        let Ok(mut book) = self.by_token.lock() else {
            return false;
        };
        if empty {
            if let Some(topics) = book.get_mut(token) {
                topics.remove(topic);
                if topics.is_empty() {
                    book.remove(token);
                }
            }
            return true;
        }
        let topics = book.entry(token.to_owned()).or_default();
        if topics.contains(topic) {
            return true;
        }
        if topics.len() >= max {
            return false;
        }
        topics.insert(topic.to_owned());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_session_starts_empty_and_a_persistent_one_keeps_its_count() {
        let filters = Filters::default();
        filters.begin("c", 1, false);
        assert_eq!(filters.add("c", "a", 2), Admit::Yes);
        assert_eq!(filters.add("c", "b", 2), Admit::Yes);
        assert_eq!(filters.add("c", "a", 2), Admit::Yes, "renewed");
        assert_eq!(filters.add("c", "x", 2), Admit::Full);
        filters.end("c", 1, false);
        filters.begin("c", 2, false);
        assert_eq!(
            filters.add("c", "x", 2),
            Admit::Full,
            "kept across reconnects"
        );
        assert!(filters.remove("c", "a"));
        assert!(!filters.remove("c", "a"));
        assert_eq!(filters.add("c", "x", 2), Admit::Yes);
        filters.begin("c", 3, true);
        filters.end("c", 2, true);
        assert_eq!(
            filters.add("c", "y", 2),
            Admit::Yes,
            "the taker-over's, empty"
        );
        filters.end("c", 3, true);
        assert_eq!(
            filters.add("c", "y", 2),
            Admit::Full,
            "gone with its session"
        );
    }

    #[test]
    fn retained_places_are_taken_by_new_topics_and_freed_by_clearing() {
        let retained = Retained::default();
        assert!(retained.admit("t", "a", false, 2));
        assert!(retained.admit("t", "b", false, 2));
        assert!(retained.admit("t", "a", false, 2), "replaced");
        assert!(!retained.admit("t", "c", false, 2));
        assert!(retained.admit("u", "c", false, 2), "per token");
        assert!(retained.admit("t", "a", true, 2));
        assert!(retained.admit("t", "c", false, 2));
    }
}
