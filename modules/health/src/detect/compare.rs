//! Comparisons of a value with a limit or band, and their return conditions with a
//! deadband (hysteresis): an alarm above 7.1 with deadband 0.3 returns below 6.8.

use plantd_contracts::health::Op;

/// A comparison, checked at rule validation: `limit` for the ordered ops, `band` for
/// `outside`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    pub op: Op,
    pub limit: f64,
    pub band: (f64, f64),
}

impl Comparison {
    /// Whether `v` is in alarm.
    pub fn holds(&self, v: f64) -> bool {
        match self.op {
            Op::Gt => v > self.limit,
            Op::Ge => v >= self.limit,
            Op::Lt => v < self.limit,
            Op::Le => v <= self.limit,
            Op::Eq => v == self.limit,
            Op::Ne => v != self.limit,
            Op::Outside => v < self.band.0 || v > self.band.1,
        }
    }

    /// Whether `v` is back to normal, past the limit by `deadband` on the normal side.
    pub fn back_to_normal(&self, v: f64, deadband: f64) -> bool {
        match self.op {
            Op::Gt | Op::Ge => v < self.limit - deadband || (deadband == 0.0 && !self.holds(v)),
            Op::Lt | Op::Le => v > self.limit + deadband || (deadband == 0.0 && !self.holds(v)),
            Op::Eq | Op::Ne => !self.holds(v),
            Op::Outside => {
                (v >= self.band.0 + deadband && v <= self.band.1 - deadband)
                    || (deadband == 0.0 && !self.holds(v))
            }
        }
    }
}
