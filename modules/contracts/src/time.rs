//! Time in plantd: epoch milliseconds inside, RFC 3339 UTC at the edges.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

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

/// Parses an RFC 3339 string or an integer of epoch milliseconds.
pub fn parse_time(value: &str) -> Option<Millis> {
    let value = value.trim();
    if let Ok(ms) = value.parse::<i64>() {
        return Some(ms);
    }
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| t.with_timezone(&Utc).timestamp_millis())
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
}
