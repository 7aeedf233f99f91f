//! Calendar arithmetic of a plan's calendar trigger: the k-th point of a fixed series
//! (start + k × interval, months as calendar months clamped to the month's end, always
//! counted from the start so 31 Jan → 28 Feb → 31 Mar), one interval after an anchor
//! (floating), and the interval in days (PM compliance). Pure: no I/O, no clock.

use chrono::{DateTime, Duration, Months, Utc};
use plantd_contracts::maintenance::{CalendarTrigger, CalendarUnit};
use plantd_contracts::time::{to_datetime, Millis, MAX_MS};

/// `from` moved `n` intervals of `every` `unit` ahead (`None`: past year 9999).
pub fn advance(
    from: DateTime<Utc>,
    every: u32,
    unit: CalendarUnit,
    n: i64,
) -> Option<DateTime<Utc>> {
    let steps = i64::from(every).checked_mul(n)?;
    let at = match unit {
        CalendarUnit::Days => from.checked_add_signed(Duration::try_days(steps)?)?,
        CalendarUnit::Weeks => from.checked_add_signed(Duration::try_weeks(steps)?)?,
        CalendarUnit::Months => from.checked_add_months(Months::new(u32::try_from(steps).ok()?))?,
    };
    (at.timestamp_millis() <= MAX_MS).then_some(at)
}

/// The fixed series' point `k` (0 is the start).
pub fn fixed_point(cal: &CalendarTrigger, k: i64) -> Option<Millis> {
    advance(cal.start, cal.every, cal.unit, k).map(|t| t.timestamp_millis())
}

/// The first `k` whose fixed point is at or after `now` (0 when the start is ahead).
pub fn first_index_from(cal: &CalendarTrigger, now: Millis) -> i64 {
    let start = cal.start.timestamp_millis();
    if start >= now {
        return 0;
    }
    // An estimate from the mean interval, then a step either way to the exact index.
    let mean = interval_days(cal) * 86_400_000.0;
    let mut k = (((now - start) as f64 / mean).floor() as i64).max(0);
    while k > 0 && fixed_point(cal, k - 1).is_some_and(|t| t >= now) {
        k -= 1;
    }
    while fixed_point(cal, k).is_some_and(|t| t < now) {
        k += 1;
    }
    k
}

/// One interval after `anchor` (floating).
pub fn after(cal: &CalendarTrigger, anchor: Millis) -> Option<Millis> {
    advance(to_datetime(anchor), cal.every, cal.unit, 1).map(|t| t.timestamp_millis())
}

/// The interval in days (a month counts 30.44 days).
pub fn interval_days(cal: &CalendarTrigger) -> f64 {
    let every = f64::from(cal.every);
    match cal.unit {
        CalendarUnit::Days => every,
        CalendarUnit::Weeks => every * 7.0,
        CalendarUnit::Months => every * 30.436_875,
    }
}
