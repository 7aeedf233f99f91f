//! How charts write a time: the one function every chart label and readout goes through,
//! in the plant time zone (`local_time::zone`). Pure but for reading that zone.

use chrono::{DateTime, Timelike, Utc};
use plantd_contracts::time::{clamp_ms, Millis};

use super::local_time::zone;

/// How much of a time a label shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// `14:05:30`: ticks less than a minute apart.
    Seconds,
    /// `14:05`: ticks a minute to hours apart.
    Minutes,
    /// `12-03`: ticks a day or more apart, and a tick at midnight.
    Day,
    /// `2026-12-03 14:05:30 CET`: range ends and readouts.
    Full,
}

/// `ms` written at `precision`, in the plant time zone.
pub fn format_time(ms: Millis, precision: Precision) -> String {
    let Some(t) = DateTime::<Utc>::from_timestamp_millis(clamp_ms(ms)) else {
        return String::new();
    };
    let t = t.with_timezone(&zone());
    let pattern = match precision {
        Precision::Seconds => "%H:%M:%S",
        Precision::Minutes => "%H:%M",
        Precision::Day => "%m-%d",
        Precision::Full => "%Y-%m-%d %H:%M:%S %Z",
    };
    t.format(pattern).to_string()
}

/// Whether `ms` is a midnight in the plant time zone (the zone labels are written in).
pub fn is_midnight(ms: Millis) -> bool {
    DateTime::<Utc>::from_timestamp_millis(clamp_ms(ms)).is_some_and(|t| {
        let local = t.with_timezone(&zone());
        local.num_seconds_from_midnight() == 0 && local.nanosecond() == 0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_in_the_plant_zone_utc_until_start_up_sets_one() {
        let t = 1_764_770_730_000; // 2025-12-03 14:05:30 UTC
        assert_eq!(format_time(t, Precision::Seconds), "14:05:30");
        assert_eq!(format_time(t, Precision::Minutes), "14:05");
        assert_eq!(format_time(t, Precision::Day), "12-03");
        assert_eq!(format_time(t, Precision::Full), "2025-12-03 14:05:30 UTC");
        assert!(is_midnight(86_400_000 * 3));
        assert!(!is_midnight(t));
    }
}
