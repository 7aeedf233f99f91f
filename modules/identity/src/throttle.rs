//! Sign-in back-off: failed password checks counted per account and per address; past a
//! limit, further attempts are refused unchecked for a time that doubles with each
//! failure, up to a ceiling. A success clears both. Pure: the caller passes the clock.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The limits of sign-in, from the settings.
#[derive(Debug, Clone)]
pub struct SignInLimits {
    /// Failures of one account or one address before it must wait.
    pub failures_before_backoff: u32,
    /// The longest wait; also how long a failure is remembered.
    pub backoff_max: Duration,
    /// Sign-ins that may wait for a hashing worker; more are refused at once.
    pub queue: usize,
    /// The fewest characters a new password may have (`password_min_length`).
    pub password_min_length: usize,
}

impl Default for SignInLimits {
    fn default() -> Self {
        SignInLimits {
            failures_before_backoff: 5,
            backoff_max: Duration::from_secs(900),
            queue: 8,
            password_min_length: 10,
        }
    }
}

/// The first wait; each further failure doubles it.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Keys remembered at most; stale ones are dropped first, then new keys are not tracked
/// (their other key, account or address, still is).
const MAX_KEYS: usize = 50_000;

struct Entry {
    failures: u32,
    last_failure: Instant,
    blocked_until: Option<Instant>,
}

pub struct Throttle {
    failures_before_backoff: u32,
    backoff_max: Duration,
    entries: HashMap<String, Entry>,
}

impl Throttle {
    pub fn new(limits: &SignInLimits) -> Throttle {
        Throttle {
            failures_before_backoff: limits.failures_before_backoff.max(1),
            backoff_max: limits.backoff_max,
            entries: HashMap::new(),
        }
    }

    /// How long `key` must still wait, if it must.
    pub fn wait(&self, key: &str, now: Instant) -> Option<Duration> {
        let until = self.entries.get(key)?.blocked_until?;
        (until > now).then(|| until - now)
    }

    /// Records a failed check of `key`.
    pub fn failed(&mut self, key: &str, now: Instant) {
        if !self.entries.contains_key(key) && self.entries.len() >= MAX_KEYS {
            let forget_after = self.backoff_max;
            self.entries
                .retain(|_, e| now.saturating_duration_since(e.last_failure) < forget_after);
            if self.entries.len() >= MAX_KEYS {
                return;
            }
        }
        let entry = self.entries.entry(key.to_owned()).or_insert(Entry {
            failures: 0,
            last_failure: now,
            blocked_until: None,
        });
        if now.saturating_duration_since(entry.last_failure) >= self.backoff_max {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        if entry.failures >= self.failures_before_backoff {
            let doublings = (entry.failures - self.failures_before_backoff).min(30);
            let wait = FIRST_BACKOFF
                .saturating_mul(1 << doublings)
                .min(self.backoff_max);
            entry.blocked_until = Some(now + wait);
        }
    }

    /// A success: `key` starts over.
    pub fn succeeded(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(failures: u32, max_s: u64) -> Throttle {
        Throttle::new(&SignInLimits {
            failures_before_backoff: failures,
            backoff_max: Duration::from_secs(max_s),
            queue: 1,
            password_min_length: 10,
        })
    }

    #[test]
    fn waits_after_the_limit_and_doubles_up_to_the_ceiling() {
        let mut t = throttle(3, 10);
        let now = Instant::now();
        t.failed("a", now);
        t.failed("a", now);
        assert_eq!(t.wait("a", now), None, "under the limit");
        t.failed("a", now);
        assert_eq!(t.wait("a", now), Some(Duration::from_secs(1)));
        t.failed("a", now);
        assert_eq!(t.wait("a", now), Some(Duration::from_secs(2)));
        t.failed("a", now);
        assert_eq!(t.wait("a", now), Some(Duration::from_secs(4)));
        for _ in 0..40 {
            t.failed("a", now);
        }
        assert_eq!(t.wait("a", now), Some(Duration::from_secs(10)), "ceiling");
        assert_eq!(t.wait("a", now + Duration::from_secs(10)), None, "waited");
        assert_eq!(t.wait("b", now), None, "other keys are not affected");
    }

    #[test]
    fn a_success_or_a_quiet_ceiling_starts_over() {
        let mut t = throttle(2, 10);
        let now = Instant::now();
        t.failed("a", now);
        t.failed("a", now);
        assert!(t.wait("a", now).is_some());
        t.succeeded("a");
        assert_eq!(t.wait("a", now), None);
        t.failed("a", now);
        assert_eq!(t.wait("a", now), None, "counting from zero again");
        let later = now + Duration::from_secs(10);
        t.failed("a", later);
        assert_eq!(t.wait("a", later), None, "an old failure is forgotten");
    }
}
