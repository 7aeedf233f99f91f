//! The time range a chart page shows: a preset (15 min, 1 h, 24 h, 7 d, 30 d), a custom
//! `from`/`to`, or, by default, one that fits the data present (a device that sent for ten
//! minutes gets ten minutes, not a sliver of 24 h). Pure: reads the query and the times it
//! is given, touches nothing.

use plantd_contracts::time::{parse_time, Millis};
use serde::Deserialize;

use super::chart_time::{format_time, Precision};

const MINUTE: Millis = 60_000;
const DAY: Millis = 86_400_000;

/// The presets the picker offers: (query value, label, length).
pub const PRESETS: [(&str, &str, Millis); 5] = [
    ("15m", "15 min", 15 * MINUTE),
    ("1h", "1 h", 60 * MINUTE),
    ("24h", "24 h", DAY),
    ("7d", "7 d", 7 * DAY),
    ("30d", "30 d", 30 * DAY),
];
/// A fitted range is never longer than this (older data: pick a preset or custom).
const FIT_MAX: Millis = DAY;
/// Nor shorter.
const FIT_MIN: Millis = MINUTE;
/// A custom range is at most this long.
const CUSTOM_MAX: Millis = 400 * DAY;

/// The query string of a chart page: `?range=1h`, or `?range=custom&from=…&to=…`, or
/// nothing (fit to the data).
#[derive(Debug, Default, Deserialize)]
pub struct RangeQuery {
    pub range: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The range resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartRange {
    /// `fit`, a preset's key, or `custom`.
    pub key: String,
    pub from: Millis,
    pub to: Millis,
    /// The range ends now or later: the page's script may append live samples.
    pub live: bool,
    /// What went wrong with a custom range (then the fitted range is shown).
    pub problem: Option<String>,
}

/// One entry of the picker.
pub struct PresetLink {
    pub key: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// `datetime-local` (`2026-12-03T10:00`, read in the plant time zone), or RFC 3339, or
/// epoch ms.
fn parse_input(text: &str) -> Option<Millis> {
    let text = text.trim();
    parse_time(text).or_else(|| {
        ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
            .iter()
            .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
            .map(|naive| super::local_time::from_local(naive).timestamp_millis())
    })
}

/// Room after now, so live samples land inside the drawn range for a while.
fn headroom(span: Millis) -> Millis {
    span / 20
}

/// The range fitted to data that began at `earliest` (the oldest series' first sample).
pub fn fit(now: Millis, earliest: Option<Millis>) -> ChartRange {
    let span = match earliest {
        Some(first) => (now - first).clamp(FIT_MIN, FIT_MAX),
        None => 60 * MINUTE,
    };
    let pad = span / 20;
    ChartRange {
        key: "fit".to_owned(),
        from: now - span - pad,
        to: now + headroom(span),
        live: true,
        problem: None,
    }
}

/// Resolves the query; `earliest` is the oldest first sample of the series shown.
pub fn resolve(q: &RangeQuery, now: Millis, earliest: Option<Millis>) -> ChartRange {
    let key = q.range.as_deref().unwrap_or("fit");
    if let Some((k, _, span)) = PRESETS.iter().find(|(k, _, _)| *k == key) {
        return ChartRange {
            key: (*k).to_owned(),
            from: now - span,
            to: now + headroom(*span),
            live: true,
            problem: None,
        };
    }
    if key == "custom" || q.from.is_some() || q.to.is_some() {
        let from = q.from.as_deref().and_then(parse_input);
        let to = q.to.as_deref().map_or(Some(now), parse_input);
        let problem = match (from, to) {
            (Some(from), Some(to)) if from < to && to - from <= CUSTOM_MAX => {
                return ChartRange {
                    key: "custom".to_owned(),
                    from,
                    to,
                    live: to >= now,
                    problem: None,
                }
            }
            (Some(from), Some(to)) if from >= to => "'from' must be before 'to'",
            (Some(_), Some(_)) => "a custom range is at most 400 days",
            _ => "from and to are times such as 2026-12-03T10:00 (in the plant time zone)",
        };
        return ChartRange {
            problem: Some(problem.to_owned()),
            ..fit(now, earliest)
        };
    }
    fit(now, earliest)
}

impl ChartRange {
    pub fn presets(&self) -> Vec<PresetLink> {
        PRESETS
            .iter()
            .map(|(key, label, _)| PresetLink {
                key,
                label,
                current: *key == self.key,
            })
            .collect()
    }

    pub fn start_label(&self) -> String {
        format_time(self.from, Precision::Full)
    }

    pub fn end_label(&self) -> String {
        format_time(self.to, Precision::Full)
    }

    /// The custom form's values (`datetime-local`, in the plant time zone).
    pub fn start_input(&self) -> String {
        input_value(self.from)
    }

    pub fn end_input(&self) -> String {
        input_value(self.to)
    }
}

fn input_value(ms: Millis) -> String {
    // `2026-12-03 10:00:00 CET` → `2026-12-03T10:00`
    let full = format_time(ms, Precision::Full);
    full.get(..16)
        .map(|s| s.replacen(' ', "T", 1))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_764_770_730_000;

    fn q(range: Option<&str>, from: Option<&str>, to: Option<&str>) -> RangeQuery {
        RangeQuery {
            range: range.map(str::to_owned),
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
        }
    }

    #[test]
    fn fresh_data_gets_a_fitted_range() {
        let r = resolve(&RangeQuery::default(), NOW, Some(NOW - 10 * MINUTE));
        assert_eq!(r.key, "fit");
        assert!(r.to - r.from < 12 * MINUTE && r.from <= NOW - 10 * MINUTE);
        let old = resolve(&RangeQuery::default(), NOW, Some(NOW - 90 * DAY));
        assert!(old.to - old.from <= DAY + DAY / 10);
        let none = resolve(&RangeQuery::default(), NOW, None);
        assert!(none.live);
    }

    #[test]
    fn presets_and_custom_ranges() {
        let r = resolve(&q(Some("7d"), None, None), NOW, None);
        assert_eq!((r.key.as_str(), r.from), ("7d", NOW - 7 * DAY));
        let c = resolve(
            &q(
                Some("custom"),
                Some("2025-12-01T00:00"),
                Some("2025-12-02T00:00"),
            ),
            NOW,
            None,
        );
        assert_eq!(c.key, "custom");
        assert_eq!(c.to - c.from, DAY);
        assert!(!c.live);
        assert_eq!(c.start_input(), "2025-12-01T00:00");
        let bad = resolve(
            &q(
                Some("custom"),
                Some("2025-12-02T00:00"),
                Some("2025-12-01T00:00"),
            ),
            NOW,
            None,
        );
        assert_eq!(bad.key, "fit");
        assert!(bad.problem.is_some());
    }
}
