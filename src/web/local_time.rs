//! Times and durations as people on the plant read them: in the plant time zone
//! (`plant_time_zone`, fixed once at start-up by `app.rs`), to the second, with the zone's
//! abbreviation (`2026-12-01 23:41:07 CET`); ages in words (`3 min ago`) inside a
//! `<time datetime=… title=…>` that shows the exact time on hover (and that
//! `static/plantd.js` refreshes); durations as `2 h 14 min`. Every page formats its times
//! here. Pure formatting: it touches nothing but the zone set at start-up.

use std::fmt;
use std::sync::OnceLock;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use plantd_contracts::time::{to_datetime, Millis};

static ZONE: OnceLock<Tz> = OnceLock::new();

/// Sets the plant time zone; the first call wins (start-up calls it once).
pub fn set_zone(zone: Tz) {
    let _ = ZONE.set(zone);
}

/// The plant time zone (UTC until start-up sets it).
pub fn zone() -> Tz {
    ZONE.get().copied().unwrap_or(Tz::UTC)
}

/// The plant time zone's name, for form labels: `Europe/Berlin`.
pub fn zone_name() -> &'static str {
    zone().name()
}

/// A wall-clock time typed into a form (`datetime-local`, a date's midnight), read in the
/// plant time zone. A time that a clock change skips is read an hour later; one it repeats,
/// as its first occurrence.
pub fn from_local(naive: NaiveDateTime) -> DateTime<Utc> {
    from_local_in(zone(), naive)
}

fn from_local_in(zone: Tz, naive: NaiveDateTime) -> DateTime<Utc> {
    zone.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(naive + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| naive.and_utc())
}

/// `t` in the plant time zone, to the second: `2026-12-01 23:41:07 CET`.
pub fn exact(t: DateTime<Utc>) -> String {
    t.with_timezone(&zone())
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// [`exact`] of epoch milliseconds.
pub fn exact_ms(ms: Millis) -> String {
    exact(to_datetime(ms))
}

/// How long ago `t` was seen from `now`, in words: `just now`, `42 s ago`, `3 min ago`,
/// `2 h ago`, `5 days ago`; a time after `now` is `in 3 min`.
pub fn age(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    if secs.abs() < 5 {
        return "just now".to_owned();
    }
    let span = coarse(secs.unsigned_abs());
    if secs > 0 {
        format!("{span} ago")
    } else {
        format!("in {span}")
    }
}

/// The largest unit that fits: `42 s`, `3 min`, `2 h`, `5 days` (whole units, rounded down).
fn coarse(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3_600 => format!("{} min", secs / 60),
        3_600..86_400 => format!("{} h", secs / 3_600),
        _ => {
            let days = secs / 86_400;
            format!("{days} day{}", if days == 1 { "" } else { "s" })
        }
    }
}

/// A duration in two units at most: `45 s`, `3 min 20 s`, `2 h 14 min`, `3 days 4 h`.
pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3_600,
        secs % 3_600 / 60,
        secs % 60,
    );
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) if s == 0 => format!("{m} min"),
        (0, 0, _) => format!("{m} min {s} s"),
        (0, _, 0) => format!("{h} h"),
        (0, _, _) => format!("{h} h {m} min"),
        (_, 0, _) => format!("{d} day{}", plural(d)),
        _ => format!("{d} day{} {h} h", plural(d)),
    }
}

/// A time shown as its age, the exact time on hover: renders
/// `<time datetime="2026-12-01T22:41:07Z" title="2026-12-01 23:41:07 CET" data-age>3 min ago</time>`.
/// Safe to put in a page unescaped: every character is plantd's own formatting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub iso: String,
    pub exact: String,
    pub age: String,
}

impl Stamp {
    pub fn new(t: DateTime<Utc>, now: DateTime<Utc>) -> Stamp {
        Stamp {
            iso: t.to_rfc3339_opts(SecondsFormat::Secs, true),
            exact: exact(t),
            age: age(t, now),
        }
    }
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Zone abbreviations are letters, digits, `+` and `-`: nothing to escape.
        write!(
            f,
            "<time datetime=\"{}\" title=\"{}\" data-age>{}</time>",
            self.iso, self.exact, self.age
        )
    }
}

impl askama::filters::HtmlSafe for Stamp {}

/// An optional time shown as its age ([`Stamp`]), or a fixed word such as `never`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Age {
    pub stamp: Option<Stamp>,
    pub none: &'static str,
}

impl Age {
    pub fn of(t: Option<DateTime<Utc>>, now: DateTime<Utc>, none: &'static str) -> Age {
        Age {
            stamp: t.map(|t| Stamp::new(t, now)),
            none,
        }
    }
}

impl fmt::Display for Age {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.stamp {
            Some(stamp) => stamp.fmt(f),
            // A word of plantd's own (`never`, `—`): nothing to escape.
            None => f.write_str(self.none),
        }
    }
}

impl askama::filters::HtmlSafe for Age {}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn exact_in_a_zone_with_summer_time() {
        let berlin: Tz = "Europe/Berlin".parse().expect("zone");
        let winter = at("2026-12-01T22:41:07Z").with_timezone(&berlin);
        assert_eq!(
            winter.format("%Y-%m-%d %H:%M:%S %Z").to_string(),
            "2026-12-01 23:41:07 CET"
        );
        let summer = at("2026-07-01T22:41:07Z").with_timezone(&berlin);
        assert_eq!(
            summer.format("%Y-%m-%d %H:%M:%S %Z").to_string(),
            "2026-07-02 00:41:07 CEST"
        );
    }

    #[test]
    fn form_times_are_read_in_the_zone_across_clock_changes() {
        let berlin: Tz = "Europe/Berlin".parse().expect("zone");
        let local = |s: &str| {
            let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").expect("naive");
            from_local_in(berlin, naive).to_rfc3339_opts(SecondsFormat::Secs, true)
        };
        assert_eq!(local("2026-12-24T13:05"), "2026-12-24T12:05:00Z");
        assert_eq!(local("2026-07-01T13:05"), "2026-07-01T11:05:00Z");
        // 02:30 does not exist on 2026-03-29 (clocks go 02:00 → 03:00): read as 03:30 CEST.
        assert_eq!(local("2026-03-29T02:30"), "2026-03-29T01:30:00Z");
        // 02:30 happens twice on 2026-10-25: the first, still CEST.
        assert_eq!(local("2026-10-25T02:30"), "2026-10-25T00:30:00Z");
    }

    #[test]
    fn ages_and_durations_in_words() {
        let now = Utc
            .with_ymd_and_hms(2026, 12, 1, 12, 0, 0)
            .single()
            .expect("now");
        let ago = |s: i64| age(now - chrono::Duration::seconds(s), now);
        assert_eq!(ago(2), "just now");
        assert_eq!(ago(42), "42 s ago");
        assert_eq!(ago(3 * 60 + 59), "3 min ago");
        assert_eq!(ago(2 * 3600 + 5), "2 h ago");
        assert_eq!(ago(86_400), "1 day ago");
        assert_eq!(ago(5 * 86_400), "5 days ago");
        assert_eq!(ago(-180), "in 3 min");
        assert_eq!(duration(45), "45 s");
        assert_eq!(duration(200), "3 min 20 s");
        assert_eq!(duration(2 * 3600 + 14 * 60 + 9), "2 h 14 min");
        assert_eq!(duration(3600), "1 h");
        assert_eq!(duration(3 * 86_400 + 4 * 3600), "3 days 4 h");
        assert_eq!(duration(86_400 + 60), "1 day");
    }

    #[test]
    fn a_stamp_renders_a_time_element() {
        let now = at("2026-12-01T22:44:07Z");
        let stamp = Stamp::new(at("2026-12-01T22:41:07Z"), now);
        assert_eq!(stamp.iso, "2026-12-01T22:41:07Z");
        assert_eq!(stamp.age, "3 min ago");
        assert!(stamp
            .to_string()
            .starts_with("<time datetime=\"2026-12-01T22:41:07Z\""));
        assert_eq!(Age::of(None, now, "never").to_string(), "never");
    }
}
