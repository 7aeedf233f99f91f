//! The data of a chart: one metric of one device over a range, asked of the telemetry
//! module (`QueryBuckets`: average, min, max and count per bucket) with a step that keeps
//! the buckets at `chart_max_points` at most. Talks to telemetry by message only; counts
//! the points it hands out in `plantd_web_chart_points`.

use plantd_contracts::telemetry::{Bucket, QueryBuckets, Resolution};
use plantd_contracts::time::Millis;
use plantd_contracts::DeviceId;

use crate::state::AppState;

const MINUTE: Millis = 60_000;
const HOUR: Millis = 3_600_000;

/// The step and resolution that cut `span` into at most `max_points` buckets, wherever
/// the epoch-aligned buckets fall: a step of a minute or more is whole minutes (minute
/// roll-ups), of half an hour or more whole hours (hour roll-ups, fewer rows to read).
pub fn step_for(span: Millis, max_points: usize) -> (Millis, Resolution) {
    // One bucket less than allowed: a range not aligned to the step touches one more.
    let buckets = (max_points.max(2) - 1) as Millis;
    let raw = (span.max(1) + buckets - 1) / buckets;
    let round_up = |width: Millis| (raw + width - 1) / width * width;
    if raw >= 30 * MINUTE {
        (round_up(HOUR), Resolution::Hour)
    } else if raw >= MINUTE {
        (round_up(MINUTE), Resolution::Minute)
    } else {
        (raw.max(1), Resolution::Raw)
    }
}

/// The buckets of `metric` that start in `[from, to]`, and the step they are.
pub async fn buckets(
    state: &AppState,
    device: &DeviceId,
    metric: &str,
    (from, to): (Millis, Millis),
) -> Result<(Vec<Bucket>, Millis), String> {
    let (step_ms, resolution) = step_for(to - from, state.chart_max_points);
    let series = state
        .telemetry
        .send(QueryBuckets {
            device_id: device.clone(),
            metric: metric.to_owned(),
            from,
            to,
            step_ms,
            resolution: Some(resolution),
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let mut points = series.buckets;
    points.retain(|b| b.ts >= from - series.step_ms && b.ts <= to);
    if points.len() > state.chart_max_points {
        // Keep the latest: the oldest bucket is the one only partly in range.
        points.drain(..points.len() - state.chart_max_points);
    }
    metrics::histogram!("plantd_web_chart_points").record(points.len() as f64);
    Ok((points, series.step_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_keep_to_the_limit() {
        for span in [
            10 * MINUTE,
            15 * MINUTE,
            HOUR,
            24 * HOUR,
            7 * 24 * HOUR,
            30 * 24 * HOUR,
            400 * 24 * HOUR,
        ] {
            let (step, res) = step_for(span, 1000);
            assert_eq!(step % res.millis(), 0, "{span}");
            // Epoch-aligned buckets touched by any range of `span`.
            assert!(span / step + 2 <= 1000, "{span}: {step}");
        }
        assert_eq!(step_for(30 * 24 * HOUR, 1000).1, Resolution::Hour);
        assert_eq!(step_for(24 * HOUR, 1000), (2 * MINUTE, Resolution::Minute));
        assert_eq!(step_for(10 * MINUTE, 1000).1, Resolution::Raw);
    }
}
