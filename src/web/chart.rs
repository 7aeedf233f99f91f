//! Draws one chart as inline SVG from series data: a time axis with labelled ticks, a value
//! axis with nice ticks and the unit, the average line, a min–max band where a point stands
//! for many samples, rule limits (horizontal lines), alarm episodes (shaded) and marks
//! (vertical lines). Pure: no I/O, no messages; it reads no state and writes none. Times
//! are written by `chart_time::format_time` only.
//!
//! The `<svg>` carries its scale in `data-*` attributes and the points in `data-points`
//! (`[ms after data-from, avg, min, max, count]`, or `[ms after data-from, value]` for one
//! sample), so `static/telemetry.js` can add a readout and append live samples without
//! redrawing axes.

use std::fmt::Write;

use plantd_contracts::telemetry::Bucket;
use plantd_contracts::time::Millis;

use super::chart_time::{format_time, is_midnight, Precision};
use super::numbers::format_value;

/// The SVG's size in user units and the plot area inside it.
const WIDTH: f64 = 480.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 20.0;
/// At most this many labelled ticks on the time axis, and aimed at on the value axis.
const X_TICKS: i64 = 6;
const Y_TICKS: f64 = 5.0;
/// Points drawn as dots too when a series has this few (a fresh device's first samples).
const DOTS_UP_TO: usize = 40;

/// The time steps the time axis may tick at.
const TIME_STEPS: [Millis; 24] = [
    1_000,
    2_000,
    5_000,
    10_000,
    15_000,
    30_000,
    60_000,
    120_000,
    300_000,
    600_000,
    900_000,
    1_800_000,
    3_600_000,
    7_200_000,
    10_800_000,
    21_600_000,
    43_200_000,
    86_400_000,
    172_800_000,
    345_600_000,
    604_800_000,
    1_209_600_000,
    2_592_000_000,
    7_776_000_000,
];

/// A rule's limit: a horizontal line at `value`, titled `label` (e.g. `> 80`).
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    pub value: f64,
    pub label: String,
}

/// An alarm episode: shaded from `from` to `to`, titled `label`.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    pub from: Millis,
    pub to: Millis,
    pub label: String,
}

/// What one chart shows. `id` must be unique on the page (it names the clip path).
pub struct ChartInput<'a> {
    pub id: &'a str,
    pub metric: &'a str,
    pub unit: &'a str,
    pub from: Millis,
    pub to: Millis,
    pub buckets: &'a [Bucket],
    pub limits: &'a [Limit],
    pub episodes: &'a [Episode],
    pub marks: &'a [Millis],
    /// New samples may be appended by the page's script (the range ends now or later).
    pub live: bool,
}

/// The drawn chart: the `<svg>` element, and whether a band was drawn.
pub struct Drawn {
    pub svg: String,
    pub banded: bool,
}

/// Text for XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A step of 1, 2, 2.5 or 5 times a power of ten that cuts `span` into about `target`.
pub fn nice_step(span: f64, target: f64) -> f64 {
    let raw = (span / target).max(f64::MIN_POSITIVE);
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw * 0.999_999)
        .unwrap_or(10.0 * magnitude)
}

/// The value axis: its low and high end (whole steps) and its ticks.
pub fn value_ticks(lo: f64, hi: f64) -> (f64, f64, Vec<f64>) {
    let (mut lo, mut hi) = if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    if hi - lo < 1e-9 {
        let pad = (lo.abs() * 0.1).max(1.0);
        lo -= pad;
        hi += pad;
    }
    let step = nice_step(hi - lo, Y_TICKS);
    let lo = (lo / step).floor() * step;
    let hi = (hi / step).ceil() * step;
    let count = ((hi - lo) / step).round() as i64;
    let ticks = (0..=count.min(50)).map(|i| lo + i as f64 * step).collect();
    (lo, hi, ticks)
}

/// Decimals that tell the ticks of `step` apart.
fn decimals(step: f64) -> usize {
    let mut d = 0;
    while d < 6
        && ((step * 10f64.powi(d as i32)).round() - step * 10f64.powi(d as i32)).abs() > 1e-6
    {
        d += 1;
    }
    d
}

fn tick_label(value: f64, step: f64) -> String {
    let text = format!("{:.*}", decimals(step), value);
    if text
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        "0".to_owned()
    } else {
        text
    }
}

/// The time axis: the step and the ticks inside `[from, to]`, aligned to whole steps.
pub fn time_ticks(from: Millis, to: Millis) -> (Millis, Vec<Millis>) {
    let span = (to - from).max(1);
    let step = TIME_STEPS
        .iter()
        .copied()
        .find(|s| span / s < X_TICKS)
        .unwrap_or(TIME_STEPS[TIME_STEPS.len() - 1]);
    let first = from.div_euclid(step) * step + if from.rem_euclid(step) == 0 { 0 } else { step };
    let ticks = (0..=X_TICKS)
        .map(|i| first + i * step)
        .take_while(|t| *t <= to)
        .collect();
    (step, ticks)
}

/// How a tick of the time axis reads: seconds, minutes, or the day (also at midnight).
pub fn time_label(ts: Millis, step: Millis) -> String {
    let precision = if step >= 86_400_000 || is_midnight(ts) && step >= 60_000 {
        Precision::Day
    } else if step >= 60_000 {
        Precision::Minutes
    } else {
        Precision::Seconds
    };
    format_time(ts, precision)
}

struct Scale {
    from: Millis,
    to: Millis,
    lo: f64,
    hi: f64,
}

impl Scale {
    fn x(&self, ts: Millis) -> f64 {
        let span = (self.to - self.from).max(1) as f64;
        LEFT + (ts - self.from) as f64 / span * (WIDTH - LEFT - RIGHT)
    }

    fn y(&self, v: f64) -> f64 {
        let span = self.hi - self.lo;
        HEIGHT - BOTTOM - (v - self.lo) / span * (HEIGHT - TOP - BOTTOM)
    }
}

/// Runs of buckets without a gap: a gap is more than three times the usual distance
/// between buckets.
fn runs(buckets: &[Bucket]) -> Vec<&[Bucket]> {
    let mut gaps: Vec<Millis> = buckets.windows(2).map(|w| w[1].ts - w[0].ts).collect();
    gaps.sort_unstable();
    let usual = gaps.get(gaps.len() / 2).copied().unwrap_or(0);
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..buckets.len() {
        if buckets[i].ts - buckets[i - 1].ts > usual * 3 {
            out.push(&buckets[start..i]);
            start = i;
        }
    }
    if start < buckets.len() {
        out.push(&buckets[start..]);
    }
    out
}

/// Draws the chart.
pub fn draw(c: &ChartInput) -> Drawn {
    let lo = c
        .buckets
        .iter()
        .map(|b| b.min)
        .chain(c.limits.iter().map(|l| l.value))
        .fold(f64::INFINITY, f64::min);
    let hi = c
        .buckets
        .iter()
        .map(|b| b.max)
        .chain(c.limits.iter().map(|l| l.value))
        .fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi, yticks) = value_ticks(lo, hi);
    let s = Scale {
        from: c.from,
        to: c.to.max(c.from + 1),
        lo,
        hi,
    };
    let (xstep, xticks) = time_ticks(s.from, s.to);
    let ystep = yticks.get(1).map(|t| t - lo).unwrap_or(1.0);
    let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM);
    let unit = escape(c.unit);
    let metric = escape(c.metric);
    let id = escape(c.id);
    let mut svg = String::with_capacity(4096 + c.buckets.len() * 64);
    let mut points = String::with_capacity(c.buckets.len() * 40);
    points.push('[');
    for (i, b) in c.buckets.iter().enumerate() {
        if i > 0 {
            points.push(',');
        }
        // Time after `data-from` in ms; a bucket of one sample is just its value.
        if b.count > 1 {
            let _ = write!(
                points,
                "[{},{},{},{},{}]",
                b.ts - s.from,
                format_value(b.avg),
                format_value(b.min),
                format_value(b.max),
                b.count
            );
        } else {
            let _ = write!(points, "[{},{}]", b.ts - s.from, format_value(b.avg));
        }
    }
    points.push(']');
    let _ = write!(
        svg,
        r#"<svg class="plot" id="{id}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" tabindex="0" aria-label="{metric}{unit_part}, {from_label} to {to_label}" data-from="{from}" data-to="{to}" data-lo="{lo}" data-hi="{hi}" data-x0="{x0}" data-x1="{x1}" data-y0="{y0}" data-y1="{y1}" data-unit="{unit}" data-live="{live}" data-points="{points}">"#,
        unit_part = if unit.is_empty() {
            String::new()
        } else {
            format!(" in {unit}")
        },
        from_label = escape(&format_time(s.from, Precision::Full)),
        to_label = escape(&format_time(s.to, Precision::Full)),
        from = s.from,
        to = s.to,
        live = u8::from(c.live),
    );
    let _ = write!(
        svg,
        r#"<defs><clipPath id="{id}-clip"><rect x="{x0}" y="{y0}" width="{w}" height="{h}"/></clipPath></defs>"#,
        w = x1 - x0,
        h = y1 - y0,
    );
    // Grid and value axis.
    svg.push_str(r#"<g class="y-axis">"#);
    for t in &yticks {
        let y = s.y(*t);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{x0}" x2="{x1}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{tx}" y="{ty:.1}" text-anchor="end">{label}</text>"#,
            tx = x0 - 4.0,
            ty = y + 3.5,
            label = tick_label(*t, ystep),
        );
    }
    if !unit.is_empty() {
        let _ = write!(
            svg,
            r#"<text class="unit" x="2" y="9" text-anchor="start">{unit}</text>"#
        );
    }
    svg.push_str("</g>");
    // Time axis.
    let _ = write!(
        svg,
        r#"<g class="x-axis" data-step="{xstep}"><line class="axis" x1="{x0}" x2="{x1}" y1="{y1}" y2="{y1}"/>"#
    );
    for t in &xticks {
        let x = s.x(*t);
        let _ = write!(
            svg,
            r#"<line class="tick-mark" x1="{x:.1}" x2="{x:.1}" y1="{y1}" y2="{y2}"/><text class="tick" x="{x:.1}" y="{ty}" text-anchor="middle" data-ts="{t}">{label}</text>"#,
            y2 = y1 + 4.0,
            ty = HEIGHT - 5.0,
            label = escape(&time_label(*t, xstep)),
        );
    }
    svg.push_str("</g>");
    // Episodes.
    for e in c.episodes {
        let (a, b) = (e.from.max(s.from), e.to.min(s.to));
        if a > b {
            continue;
        }
        let (xa, xb) = (s.x(a), s.x(b));
        let _ = write!(
            svg,
            r#"<rect class="episode" x="{xa:.1}" y="{y0}" width="{w:.1}" height="{h}"><title>{label}</title></rect>"#,
            w = (xb - xa).max(1.5),
            h = y1 - y0,
            label = escape(&e.label),
        );
    }
    let _ = write!(svg, r#"<g clip-path="url(#{id}-clip)">"#);
    // Band: where a bucket holds more than one sample and they differ.
    let banded = c.buckets.iter().any(|b| b.count > 1 && b.max > b.min);
    let mut line = String::new();
    let mut band = String::new();
    for run in runs(c.buckets) {
        for (i, b) in run.iter().enumerate() {
            let _ = write!(
                line,
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { "L" },
                s.x(b.ts),
                s.y(b.avg)
            );
        }
        if banded {
            for (i, b) in run.iter().enumerate() {
                let _ = write!(
                    band,
                    "{}{:.1},{:.1}",
                    if i == 0 { "M" } else { "L" },
                    s.x(b.ts),
                    s.y(b.max)
                );
            }
            for b in run.iter().rev() {
                let _ = write!(band, "L{:.1},{:.1}", s.x(b.ts), s.y(b.min));
            }
            band.push('Z');
        }
    }
    if banded {
        let _ = write!(svg, r#"<path class="band" d="{band}"/>"#);
    }
    let _ = write!(svg, r#"<path class="line" d="{line}"/>"#);
    if c.buckets.len() <= DOTS_UP_TO {
        for b in c.buckets {
            let _ = write!(
                svg,
                r#"<circle class="dot" cx="{:.1}" cy="{:.1}" r="2.5"/>"#,
                s.x(b.ts),
                s.y(b.avg)
            );
        }
    }
    for l in c.limits {
        let y = s.y(l.value);
        let _ = write!(
            svg,
            r#"<line class="limit" x1="{x0}" x2="{x1}" y1="{y:.1}" y2="{y:.1}"><title>limit {label}</title></line><text class="limit-label" x="{tx}" y="{ty:.1}" text-anchor="end">{label}</text>"#,
            tx = x1 - 2.0,
            ty = y - 3.0,
            label = escape(&l.label),
        );
    }
    svg.push_str("</g>");
    for m in c.marks {
        if *m < s.from || *m > s.to {
            continue;
        }
        let x = s.x(*m);
        let _ = write!(
            svg,
            r#"<line class="raised" x1="{x:.1}" x2="{x:.1}" y1="{y0}" y2="{y1}"/>"#
        );
    }
    if c.buckets.is_empty() {
        let _ = write!(
            svg,
            r#"<text class="empty" x="{x:.1}" y="{y:.1}" text-anchor="middle">no data in this range</text>"#,
            x = (x0 + x1) / 2.0,
            y = (y0 + y1) / 2.0
        );
    }
    svg.push_str("</svg>");
    Drawn { svg, banded }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(ts: Millis, avg: f64, min: f64, max: f64, count: i64) -> Bucket {
        Bucket {
            ts,
            avg,
            min,
            max,
            count,
        }
    }

    #[test]
    fn value_ticks_are_nice_and_cover_the_data() {
        let (lo, hi, ticks) = value_ticks(0.3, 9.2);
        assert_eq!((lo, hi), (0.0, 10.0));
        assert_eq!(ticks, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let (lo, hi, _) = value_ticks(21.0, 21.0);
        assert!(lo < 21.0 && hi > 21.0);
        assert_eq!(tick_label(2.5, 2.5), "2.5");
        assert_eq!(tick_label(-0.0000001, 0.5), "0");
        assert_eq!(nice_step(1.0, 4.0), 0.25);
    }

    #[test]
    fn time_ticks_fit_the_range() {
        let from = 1_764_770_730_000;
        let (step, ticks) = time_ticks(from, from + 600_000);
        assert_eq!(step, 120_000);
        assert!(ticks.len() >= 4 && ticks.len() <= 7, "{ticks:?}");
        assert!(ticks.iter().all(|t| *t >= from && t % step == 0));
        assert_eq!(time_label(ticks[0], step), "14:06");
        let (step, _) = time_ticks(from, from + 30 * 86_400_000);
        assert_eq!(step, 7 * 86_400_000);
    }

    #[test]
    fn draws_axes_band_limits_and_episodes() {
        let from = 1_764_770_730_000;
        let buckets = [
            bucket(from + 60_000, 20.0, 18.0, 22.0, 30),
            bucket(from + 120_000, 21.0, 20.0, 23.0, 30),
        ];
        let drawn = draw(&ChartInput {
            id: "c0",
            metric: "temp<",
            unit: "°C",
            from,
            to: from + 600_000,
            buckets: &buckets,
            limits: &[Limit {
                value: 80.0,
                label: "> 80".to_owned(),
            }],
            episodes: &[Episode {
                from: from + 100_000,
                to: from + 200_000,
                label: "alarm".to_owned(),
            }],
            marks: &[from + 100_000],
            live: true,
        });
        assert!(drawn.banded);
        let svg = drawn.svg;
        assert!(svg.contains(r#"<text class="unit""#) && svg.contains("°C"));
        assert!(svg.contains("temp&lt;"));
        assert!(svg.contains(r#"class="band""#));
        assert!(svg.contains(r#"class="limit""#) && svg.contains("&gt; 80"));
        assert!(svg.contains(r#"class="episode""#));
        assert!(svg.contains(">14:06<"));
        // The limit is inside the value axis.
        assert!(svg.contains(">80<"));
    }

    #[test]
    fn a_gap_breaks_the_line() {
        let b = [
            bucket(0, 1.0, 1.0, 1.0, 1),
            bucket(10, 1.0, 1.0, 1.0, 1),
            bucket(20, 1.0, 1.0, 1.0, 1),
            bucket(500, 1.0, 1.0, 1.0, 1),
        ];
        assert_eq!(runs(&b).len(), 2);
        assert_eq!(runs(&b[..1]).len(), 1);
        assert!(runs(&[]).is_empty());
    }
}
