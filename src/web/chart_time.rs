//! How charts write a time: the one function every chart label and readout goes through,
//! so the plant's time zone can replace UTC in one place. Pure: no I/O, touches nothing.

use chrono::{DateTime, Utc};
use plantd_contracts::time::{clamp_ms, Millis};

/// How much of a time a label shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// `14:05:30`: ticks less than a minute apart.
    Seconds,
    /// `14:05`: ticks a minute to hours apart.
    Minutes,
    /// `12-03`: ticks a day or more apart, and a tick at midnight.
    Day,
    /// `2026-12-03 14:05:30 UTC`: range ends and readouts.
    Full,
}

/// `ms` written at `precision`, in UTC for now.
pub fn format_time(ms: Millis, precision: Precision) -> String {
    let Some(t) = DateTime::<Utc>::from_timestamp_millis(clamp_ms(ms)) else {
        return String::new();
    };
    let pattern = match precision {
        Precision::Seconds => "%H:%M:%S",
        Precision::Minutes => "%H:%M",
        Precision::Day => "%m-%d",
        Precision::Full => "%Y-%m-%d %H:%M:%S UTC",
    };
    t.format(pattern).to_string()
}

/// Midnight of the day of `ms` in the zone labels are written in (epoch-aligned for UTC).
pub fn is_midnight(ms: Millis) -> bool {
    ms.rem_euclid(86_400_000) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_utc() {
        let t = 1_764_770_730_000; // 2025-12-03 14:05:30 UTC
        assert_eq!(format_time(t, Precision::Seconds), "14:05:30");
        assert_eq!(format_time(t, Precision::Minutes), "14:05");
        assert_eq!(format_time(t, Precision::Day), "12-03");
        assert_eq!(format_time(t, Precision::Full), "2025-12-03 14:05:30 UTC");
        assert!(is_midnight(86_400_000 * 3));
        assert!(!is_midnight(t));
    }
}
