//! A plan's meter, counted from its series' samples: run hours (time while a boolean
//! metric is non-zero, integrated between consecutive samples; a gap longer than the
//! setting counts nothing) or counter increments (a decrease is a reset: the new value
//! counts from 0). Samples older than or equal to the last one (out of order, duplicates)
//! are ignored. Usage is kept in daily buckets for the rate over the last 30 days. Pure.

use std::collections::VecDeque;

use plantd_contracts::maintenance::MeterKind;
use plantd_contracts::time::Millis;
use serde::{Deserialize, Serialize};

pub const DAY_MS: Millis = 86_400_000;
const HOUR_MS: f64 = 3_600_000.0;
/// The rate looks back this many days.
pub const RATE_DAYS: i64 = 30;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Meter {
    /// Hours or counts since the plan began counting.
    pub total: f64,
    pub last_ts: Option<Millis>,
    pub last_value: Option<f64>,
    /// The first sample's time (the rate's window starts no earlier).
    pub first_ts: Option<Millis>,
    /// (day number since the epoch, usage that day), oldest first, at most 31 days.
    pub buckets: VecDeque<(i64, f64)>,
}

/// What one sample did to the meter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fed {
    /// Counted (possibly 0).
    Counted(f64),
    /// Not newer than the last sample: ignored.
    Stale,
    /// Not a finite number: ignored.
    Bad,
}

impl Meter {
    pub fn feed(&mut self, kind: MeterKind, ts: Millis, value: f64, max_gap_ms: Millis) -> Fed {
        if !value.is_finite() {
            return Fed::Bad;
        }
        let (Some(last_ts), Some(last)) = (self.last_ts, self.last_value) else {
            self.last_ts = Some(ts);
            self.last_value = Some(value);
            self.first_ts.get_or_insert(ts);
            return Fed::Counted(0.0);
        };
        if ts <= last_ts {
            return Fed::Stale;
        }
        let added = match kind {
            MeterKind::RunHours => {
                let dt = ts - last_ts;
                if last != 0.0 && dt <= max_gap_ms {
                    dt as f64 / HOUR_MS
                } else {
                    0.0
                }
            }
            MeterKind::Counter if value >= last => value - last,
            // A reset: the counter started again from 0.
            MeterKind::Counter => value.max(0.0),
        };
        self.last_ts = Some(ts);
        self.last_value = Some(value);
        if added > 0.0 {
            self.total += added;
            self.add_to_day(ts.div_euclid(DAY_MS), added);
        }
        Fed::Counted(added)
    }

    fn add_to_day(&mut self, day: i64, amount: f64) {
        match self.buckets.iter_mut().rev().find(|(d, _)| *d == day) {
            Some((_, v)) => *v += amount,
            None => {
                let at = self
                    .buckets
                    .iter()
                    .position(|(d, _)| *d > day)
                    .unwrap_or(self.buckets.len());
                self.buckets.insert(at, (day, amount));
            }
        }
        let newest = self.buckets.back().map_or(day, |(d, _)| *d);
        while self
            .buckets
            .front()
            .is_some_and(|(d, _)| *d < newest - RATE_DAYS)
        {
            self.buckets.pop_front();
        }
    }

    /// Units per day over the last 30 days before `now` (or since counting began, at
    /// least one day); `None` before the first sample.
    pub fn rate_per_day(&self, now: Millis) -> Option<f64> {
        let first = self.first_ts?;
        let from = (now - RATE_DAYS * DAY_MS).max(first);
        let days = ((now - from) as f64 / DAY_MS as f64).max(1.0);
        let since_day = (now - RATE_DAYS * DAY_MS).div_euclid(DAY_MS);
        let used: f64 = self
            .buckets
            .iter()
            .filter(|(d, _)| *d >= since_day)
            .map(|(_, v)| v)
            .sum();
        Some(used / days)
    }

    /// When the meter reaches `target` at the recent rate: `now` if it has, `None`
    /// without usage.
    pub fn projected(&self, target: f64, now: Millis) -> Option<Millis> {
        let remaining = target - self.total;
        if remaining <= 0.0 {
            return Some(now);
        }
        let rate = self.rate_per_day(now).filter(|r| *r > 0.0)?;
        let ms = remaining / rate * DAY_MS as f64;
        (ms < 1e15).then(|| now + ms as Millis)
    }
}
