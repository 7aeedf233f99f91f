//! On-delay and off-delay by sample time: a condition must hold `on_ms` before it counts
//! as active, and its return condition must hold `off_ms` before it counts as normal again.
//! Pure state, O(1) per sample.

use plantd_contracts::time::Millis;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Debounce {
    pub active: bool,
    pending_since: Option<Millis>,
    normal_since: Option<Millis>,
}

impl Debounce {
    /// One sample at `ts`: `raise` is the condition, `back` the return condition (the
    /// condition past its deadband). Returns whether it is active after this sample.
    pub fn step(&mut self, ts: Millis, raise: bool, back: bool, on_ms: i64, off_ms: i64) -> bool {
        if self.active {
            if back {
                let since = *self.normal_since.get_or_insert(ts);
                if ts.saturating_sub(since) >= off_ms {
                    self.active = false;
                    self.normal_since = None;
                    self.pending_since = None;
                }
            } else {
                self.normal_since = None;
            }
        } else if raise {
            let since = *self.pending_since.get_or_insert(ts);
            if ts.saturating_sub(since) >= on_ms {
                self.active = true;
                self.pending_since = None;
                self.normal_since = None;
            }
        } else {
            self.pending_since = None;
        }
        self.active
    }
}
