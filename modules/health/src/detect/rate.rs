//! Rate of change: the change per minute between the oldest and the newest sample of a
//! sliding window, once the window is at least half covered. The window keeps at most
//! [`RATE_WINDOW_MAX_SAMPLES`] samples (a faster stream shortens it), so work and memory
//! per sample stay bounded.

use std::collections::VecDeque;

use plantd_contracts::time::Millis;
use serde::{Deserialize, Serialize};

use super::{Comparison, Debounce};

pub const RATE_WINDOW_MAX_SAMPLES: usize = 4096;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RateState {
    window: VecDeque<(Millis, f64)>,
    debounce: Debounce,
}

impl RateState {
    /// One sample; `None` until the window holds enough time to judge.
    pub fn step(
        &mut self,
        cmp: &Comparison,
        window_ms: i64,
        on_ms: i64,
        ts: Millis,
        v: f64,
    ) -> Option<(bool, f64)> {
        if self.window.back().is_some_and(|(last, _)| ts <= *last) {
            return None;
        }
        self.window.push_back((ts, v));
        while self.window.len() > RATE_WINDOW_MAX_SAMPLES
            || self
                .window
                .front()
                .is_some_and(|(t, _)| ts.saturating_sub(*t) > window_ms)
        {
            self.window.pop_front();
        }
        let (t0, v0) = *self.window.front()?;
        let span = ts.saturating_sub(t0);
        if span <= 0 || span * 2 < window_ms {
            return None;
        }
        let per_minute = (v - v0) / (span as f64 / 60_000.0);
        let holds = cmp.holds(per_minute);
        Some((self.debounce.step(ts, holds, !holds, on_ms, 0), per_minute))
    }
}
