//! When a failed delivery is tried again: exponential back-off with full jitter, inside
//! the give-up window. Pure but for the random draw.

use std::time::Duration;

use rand::Rng;

/// The next attempt's time (ms) after `attempts` failed attempts at `now`, or `None` when
/// the window that began at `window_start` is over (give up). The wait is drawn uniformly
/// from `[0, min(max, initial · 2^(attempts-1))]`, at least a tenth of `initial`; the last
/// attempt falls at the window's end.
pub fn next_attempt(
    attempts: i32,
    now: i64,
    window_start: i64,
    initial: Duration,
    max: Duration,
    give_up_after: Duration,
) -> Option<i64> {
    let window_end = window_start.saturating_add(millis(give_up_after));
    if now >= window_end {
        return None;
    }
    let doublings = attempts.saturating_sub(1).clamp(0, 40) as u32;
    let cap = millis(initial)
        .saturating_mul(1i64.checked_shl(doublings).unwrap_or(i64::MAX))
        .min(millis(max))
        .max(1);
    let floor = (millis(initial) / 10).min(cap);
    let wait = rand::thread_rng().gen_range(floor..=cap);
    Some(now.saturating_add(wait).min(window_end))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_up_to_the_cap_and_stop_at_the_window() {
        let s = Duration::from_secs;
        for attempts in 1..30 {
            let next = next_attempt(attempts, 1_000, 0, s(5), s(3600), s(86_400));
            let cap = (5_000i64 << (attempts - 1).min(20)).min(3_600_000);
            let wait = next.map(|n| n - 1_000);
            assert!(
                wait.is_some_and(|w| (500..=cap).contains(&w)),
                "{attempts}: {wait:?}"
            );
        }
        assert_eq!(
            next_attempt(3, 86_400_000, 0, s(5), s(3600), s(86_400)),
            None
        );
        assert_eq!(
            next_attempt(20, 86_399_000, 0, s(5), s(3600), s(86_400)),
            Some(86_400_000)
        );
    }
}
