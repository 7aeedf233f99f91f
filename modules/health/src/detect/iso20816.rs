//! ISO 20816-3 vibration severity: RMS velocity (mm/s) against the zone boundaries of the
//! machine's class. Zone C (between B/C and C/D) raises `major` — plan the work; zone D
//! (above C/D) `critical` — act now; one alarm escalates and de-escalates between them.
//! Entering C waits the rule's on-delay; leaving a zone downwards needs the value
//! [`HYSTERESIS`] below its boundary, so a value hovering at a boundary does not chatter.

use plantd_contracts::health::Severity;
use plantd_contracts::time::Millis;
use serde::{Deserialize, Serialize};

use super::Debounce;

/// Downward hysteresis, as a fraction of the boundary (5 %: 7.1 mm/s clears below 6.75).
pub const HYSTERESIS: f64 = 0.05;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IsoState {
    debounce: Debounce,
    critical: bool,
}

impl IsoState {
    /// One sample; returns (in zone C or D, severity of the zone).
    pub fn step(&mut self, bounds: &[f64; 3], on_ms: i64, ts: Millis, v: f64) -> (bool, Severity) {
        let [_, bc, cd] = *bounds;
        let active = self
            .debounce
            .step(ts, v >= bc, v < bc * (1.0 - HYSTERESIS), on_ms, 0);
        if !active {
            self.critical = false;
        } else if v >= cd {
            self.critical = true;
        } else if v < cd * (1.0 - HYSTERESIS) {
            self.critical = false;
        }
        let severity = if self.critical {
            Severity::Critical
        } else {
            Severity::Major
        };
        (active, severity)
    }
}

/// The zone (A, B, C, D) of a value, without hysteresis: for display.
pub fn zone(bounds: &[f64; 3], v: f64) -> char {
    match bounds.iter().filter(|b| v >= **b).count() {
        0 => 'A',
        1 => 'B',
        2 => 'C',
        _ => 'D',
    }
}
