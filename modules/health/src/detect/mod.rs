//! The detectors: per (rule, device), pure state that turns samples into "the condition
//! holds / does not, at this severity". O(1) work per sample (the rate window is bounded),
//! serde-serialisable so the actor can persist it and a restart continues where it was.
//! The same code runs live and in the backtest (`preview.rs`), so both raise the same
//! alarms on the same data.

mod anomaly;
mod compare;
mod debounce;
mod iso20816;
mod rate;

#[cfg(test)]
#[path = "anomaly_tests.rs"]
mod anomaly_tests;
#[cfg(test)]
mod tests;

pub use anomaly::{AnomalyCause, AnomalyParams, AnomalyState};
pub use compare::Comparison;
pub use debounce::Debounce;
pub use iso20816::{zone, IsoState, HYSTERESIS};
pub use rate::{RateState, RATE_WINDOW_MAX_SAMPLES};

use plantd_contracts::health::Severity;
use plantd_contracts::time::Millis;
use serde::{Deserialize, Serialize};

/// What a rule checks, compiled from its input (validated once, at save).
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    Threshold {
        cmp: Comparison,
        on_ms: i64,
        off_ms: i64,
        deadband: f64,
    },
    Rate {
        cmp: Comparison,
        window_ms: i64,
        on_ms: i64,
    },
    Anomaly(AnomalyParams),
    Iso20816 {
        /// Boundaries A/B, B/C, C/D in mm/s; `None` until the asset has a class.
        bounds: Option<[f64; 3]>,
        on_ms: i64,
    },
    NoData {
        silence_ms: i64,
    },
    Combined {
        all: bool,
        conditions: Vec<(String, Comparison, i64)>,
    },
}

/// What a detector concluded from one sample (or a silence).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signal {
    pub active: bool,
    /// `None`: the rule's own severity; `iso20816` sets it by zone.
    pub severity: Option<Severity>,
    /// The value that counts (the sample, or the rate per minute).
    pub value: f64,
}

/// A combined rule's sub-condition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CondState {
    pub debounce: Debounce,
}

/// The state of one rule's detector on one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DetectorState {
    Threshold(Debounce),
    Rate(RateState),
    Anomaly(AnomalyState),
    Iso20816(IsoState),
    NoData {
        last_seen: Option<Millis>,
        active: bool,
    },
    Combined(Vec<CondState>),
}

impl DetectorState {
    pub fn new(check: &Check) -> DetectorState {
        match check {
            Check::Threshold { .. } => DetectorState::Threshold(Debounce::default()),
            Check::Rate { .. } => DetectorState::Rate(RateState::default()),
            Check::Anomaly(_) => DetectorState::Anomaly(AnomalyState::new()),
            Check::Iso20816 { .. } => DetectorState::Iso20816(IsoState::default()),
            Check::NoData { .. } => DetectorState::NoData {
                last_seen: None,
                active: false,
            },
            Check::Combined { conditions, .. } => {
                DetectorState::Combined(vec![CondState::default(); conditions.len()])
            }
        }
    }

    /// Whether this state was made for `check` (a rule edited to another kind, or a
    /// combined rule with other conditions, starts afresh).
    pub fn fits(&self, check: &Check) -> bool {
        match (self, check) {
            (DetectorState::Combined(c), Check::Combined { conditions, .. }) => {
                c.len() == conditions.len()
            }
            _ => std::mem::discriminant(self) == std::mem::discriminant(&DetectorState::new(check)),
        }
    }

    /// One sample of `metric` at `ts` (for `no_data`, `ts` is when it arrived). `learn`:
    /// the anomaly baseline may adapt (no active alarm, asset not in maintenance).
    /// `None` when the sample says nothing new for this rule.
    pub fn on_sample(
        &mut self,
        check: &Check,
        metric: &str,
        ts: Millis,
        value: f64,
        learn: bool,
    ) -> Option<Signal> {
        if !value.is_finite() {
            return None;
        }
        let fixed = |active: bool, value: f64| Signal {
            active,
            severity: None,
            value,
        };
        match (self, check) {
            (
                DetectorState::Threshold(d),
                Check::Threshold {
                    cmp,
                    on_ms,
                    off_ms,
                    deadband,
                },
            ) => {
                let active = d.step(
                    ts,
                    cmp.holds(value),
                    cmp.back_to_normal(value, *deadband),
                    *on_ms,
                    *off_ms,
                );
                Some(fixed(active, value))
            }
            (
                DetectorState::Rate(r),
                Check::Rate {
                    cmp,
                    window_ms,
                    on_ms,
                },
            ) => r
                .step(cmp, *window_ms, *on_ms, ts, value)
                .map(|(active, rate)| fixed(active, rate)),
            (DetectorState::Anomaly(a), Check::Anomaly(params)) => {
                let seen = a.observe(value, params, learn);
                Some(fixed(seen.abnormal && !seen.warming_up, value))
            }
            (DetectorState::Iso20816(s), Check::Iso20816 { bounds, on_ms }) => {
                let bounds = (*bounds)?;
                let (active, severity) = s.step(&bounds, *on_ms, ts, value);
                Some(Signal {
                    active,
                    severity: Some(severity),
                    value,
                })
            }
            (DetectorState::NoData { last_seen, active }, Check::NoData { .. }) => {
                *last_seen = Some(last_seen.map_or(ts, |l| l.max(ts)));
                let was = std::mem::replace(active, false);
                was.then(|| fixed(false, value))
            }
            (DetectorState::Combined(states), Check::Combined { all, conditions }) => {
                let mut touched = false;
                for (state, (m, cmp, on_ms)) in states.iter_mut().zip(conditions) {
                    if m == metric {
                        touched = true;
                        state
                            .debounce
                            .step(ts, cmp.holds(value), !cmp.holds(value), *on_ms, 0);
                    }
                }
                if !touched {
                    return None;
                }
                let mut holding = states.iter().map(|s| s.debounce.active);
                let active = if *all {
                    holding.all(|h| h)
                } else {
                    holding.any(|h| h)
                };
                Some(fixed(active, value))
            }
            _ => None,
        }
    }

    /// Time passes without samples: `no_data` rules go active after their silence.
    /// `since` is when watching began (rule saved, device attached, or start), used when
    /// no sample was ever seen.
    pub fn on_clock(&mut self, check: &Check, now: Millis, since: Millis) -> Option<Signal> {
        let (DetectorState::NoData { last_seen, active }, Check::NoData { silence_ms }) =
            (self, check)
        else {
            return None;
        };
        let last = last_seen.unwrap_or(since);
        if !*active && now.saturating_sub(last) > *silence_ms {
            *active = true;
            return Some(Signal {
                active: true,
                severity: None,
                value: (now.saturating_sub(last) / 1000) as f64,
            });
        }
        None
    }
}
