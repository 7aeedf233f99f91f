//! Time in plantd: epoch milliseconds inside, RFC 3339 UTC at the edges.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// The earliest time plantd takes at its edges: 0001-01-01T00:00:00Z.
pub const MIN_MS: Millis = -62_135_596_800_000;
/// The latest time plantd takes at its edges: 9999-12-31T23:59:59.999Z. Within
/// `[MIN_MS, MAX_MS]` a difference of two times, or a time plus a day, cannot overflow.
pub const MAX_MS: Millis = 253_402_300_799_999;

/// `ms` moved into `[MIN_MS, MAX_MS]`.
pub fn clamp_ms(ms: Millis) -> Millis {
    ms.clamp(MIN_MS, MAX_MS)
}

pub fn now_ms() -> Millis {
    Utc::now().timestamp_millis()
}

pub fn to_datetime(ms: Millis) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// RFC 3339 with milliseconds and `Z`, e.g. `2026-11-24T06:00:00.250Z`.
pub fn format_ms(ms: Millis) -> String {
    to_datetime(ms).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 string or an integer of epoch milliseconds, within years 1 to 9999
/// (`MIN_MS..=MAX_MS`); anything else is `None`.
pub fn parse_time(value: &str) -> Option<Millis> {
    let value = value.trim();
    let ms = match value.parse::<i64>() {
        Ok(ms) => ms,
        Err(_) => DateTime::parse_from_rfc3339(value)
            .ok()?
            .with_timezone(&Utc)
            .timestamp_millis(),
    };
    (MIN_MS..=MAX_MS).contains(&ms).then_some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms_and_round_trips() {
        let ms = parse_time("2026-11-24T06:00:00.250Z").expect("rfc3339");
        assert_eq!(parse_time(&ms.to_string()), Some(ms));
        assert_eq!(format_ms(ms), "2026-11-24T06:00:00.250Z");
        assert_eq!(parse_time("2026-11-24T07:00:00.250+01:00"), Some(ms));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn refuses_times_outside_years_1_to_9999() {
        assert_eq!(format_ms(MIN_MS), "0001-01-01T00:00:00.000Z");
        assert_eq!(format_ms(MAX_MS), "9999-12-31T23:59:59.999Z");
        assert_eq!(parse_time(&MAX_MS.to_string()), Some(MAX_MS));
        assert_eq!(parse_time(&MIN_MS.to_string()), Some(MIN_MS));
        assert_eq!(parse_time(&(MAX_MS + 1).to_string()), None);
        assert_eq!(parse_time("-5000000000000000000"), None);
        assert_eq!(parse_time(&i64::MAX.to_string()), None);
        assert_eq!(clamp_ms(i64::MIN), MIN_MS);
        assert!(MAX_MS.checked_sub(MIN_MS).is_some());
    }
}
