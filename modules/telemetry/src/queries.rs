//! The telemetry actor's queries: raw points and aggregates (chunks or roll-ups read in one
//! database snapshot, plus the head samples after that snapshot's compacted seq), the
//! metric registry, latest values, and the live ring.

use actix::prelude::*;
use plantd_contracts::telemetry::*;
use plantd_contracts::time::{clamp_ms, to_datetime, Millis};
use plantd_contracts::DomainError;

use crate::actor::Telemetry;
use crate::agg::{bucket_of, Buckets};
use crate::store::{self, RawBudget};

/// Buckets one aggregate query may return at most.
pub const MAX_BUCKETS: i64 = 100_000;

/// Head samples of a series in range, as taken by the actor before the database read.
type HeadPoints = Vec<(Millis, f64, i64)>;

fn after(head: HeadPoints, compacted_seq: i64) -> impl Iterator<Item = (Millis, f64)> {
    head.into_iter()
        .filter(move |p| p.2 > compacted_seq)
        .map(|p| (p.0, p.1))
}

impl Handler<QueryRange> for Telemetry {
    type Result = ResponseFuture<Result<Vec<Point>, DomainError>>;

    fn handle(&mut self, msg: QueryRange, _: &mut Context<Self>) -> Self::Result {
        let span =
            tracing::debug_span!("query_range", device = %msg.device_id, metric = %msg.metric);
        let _guard = span.enter();
        let db = self.db.clone();
        // Nothing is stored outside years 1 to 9999; within them no arithmetic overflows.
        let (from, to) = (clamp_ms(msg.from), clamp_ms(msg.to));
        let series = self.registry.find(&msg.device_id, &msg.metric);
        let head = series
            .map(|id| self.head.points(id, from, to))
            .unwrap_or_default();
        let budget = RawBudget {
            enough: Some(msg.limit),
            max_decoded: self.settings.query_max_points,
        };
        Box::pin(async move {
            if from > to {
                return Err(DomainError::invalid("from", "'from' is after 'to'"));
            }
            let Some(id) = series else {
                return Ok(Vec::new());
            };
            let (seq, mut points) = db
                .run(move |conn| store::chunk_points(conn, id, from, to, budget))
                .await?;
            merge_head(&mut points, after(head, seq));
            points.truncate(msg.limit);
            Ok(points
                .into_iter()
                .map(|(ts, value)| Point {
                    ts: to_datetime(ts),
                    value,
                })
                .collect())
        })
    }
}

/// Adds head points to chunk points (both ascending); a time already present keeps the
/// chunk's value (the first one stored).
fn merge_head(points: &mut Vec<(Millis, f64)>, head: impl Iterator<Item = (Millis, f64)>) {
    let before = points.len();
    points.extend(head);
    if points.len() > before {
        points.sort_by_key(|p| p.0);
        points.dedup_by_key(|p| p.0);
    }
}

/// The plan of an aggregate query: resolution, effective step and range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub resolution: Resolution,
    pub step: Millis,
    pub from: Millis,
    pub to: Millis,
}

/// Chooses the resolution (from the step unless given), rounds the step down to whole
/// buckets of it and widens `[from, to]` (first moved into years 1 to 9999) to whole
/// buckets; refuses more than [`MAX_BUCKETS`] steps. Arithmetic is checked: no input
/// overflows.
pub fn plan(
    from: Millis,
    to: Millis,
    step: Millis,
    resolution: Option<Resolution>,
) -> Result<Plan, DomainError> {
    let (from, to) = (clamp_ms(from), clamp_ms(to));
    if from > to {
        return Err(DomainError::invalid("from", "'from' is after 'to'"));
    }
    if step < 1 {
        return Err(DomainError::invalid("step", "step must be positive"));
    }
    let resolution = resolution.unwrap_or_else(|| Resolution::for_step(step));
    let width = resolution.millis();
    let step = (step - step % width).max(width);
    let from = bucket_of(from, width);
    let to = bucket_of(to, width).saturating_add(width - 1);
    let too_many = || {
        DomainError::invalid(
            "step",
            format!("that is more than {MAX_BUCKETS} steps; use a larger step or a shorter range"),
        )
    };
    let steps = to
        .checked_sub(from)
        .and_then(|span| span.checked_div(step))
        .ok_or_else(too_many)?;
    if steps >= MAX_BUCKETS {
        return Err(too_many());
    }
    Ok(Plan {
        resolution,
        step,
        from,
        to,
    })
}

impl Telemetry {
    /// The buckets of one series per the plan of `[from, to]` and `step`: chunks (raw) or
    /// roll-ups read in one snapshot, plus the head samples after it. `last` asks the
    /// roll-up read for each bucket's latest value.
    fn buckets(
        &mut self,
        device: &plantd_contracts::DeviceId,
        metric: &str,
        (from, to, step): (Millis, Millis, Millis),
        resolution: Option<Resolution>,
        last: bool,
    ) -> impl std::future::Future<Output = Result<(Plan, Buckets), DomainError>> + 'static {
        let plan = plan(from, to, step, resolution);
        let budget = RawBudget {
            enough: None,
            max_decoded: self.settings.query_max_points,
        };
        let db = self.db.clone();
        let series = self.registry.find(device, metric);
        let head = match (&plan, series) {
            (Ok(p), Some(id)) => self.head.points(id, p.from, p.to),
            _ => Vec::new(),
        };
        async move {
            let plan = plan?;
            let mut buckets = Buckets::new(plan.step);
            if let Some(id) = series {
                match plan.resolution {
                    Resolution::Raw => {
                        let (seq, points) = db
                            .run(move |conn| {
                                store::chunk_points(conn, id, plan.from, plan.to, budget)
                            })
                            .await?;
                        let mut points = points;
                        merge_head(&mut points, after(head, seq));
                        for (ts, value) in points {
                            buckets.add_point(ts, value);
                        }
                    }
                    resolution => {
                        let width = resolution.millis();
                        let (seq, rows) = db
                            .run(move |conn| {
                                store::rollups(conn, id, width, plan.from, plan.to, plan.step, last)
                            })
                            .await?;
                        for row in &rows {
                            buckets.add(row.bucket, &row.partial());
                        }
                        for (ts, value) in after(head, seq) {
                            buckets.add_point(ts, value);
                        }
                    }
                }
            }
            Ok((plan, buckets))
        }
    }
}

impl Handler<QueryAggregate> for Telemetry {
    type Result = ResponseFuture<Result<AggregatedSeries, DomainError>>;

    fn handle(&mut self, msg: QueryAggregate, _: &mut Context<Self>) -> Self::Result {
        let span = tracing::debug_span!("query_aggregate", device = %msg.device_id, metric = %msg.metric, step = msg.step_ms);
        let _guard = span.enter();
        let agg = msg.agg;
        let read = self.buckets(
            &msg.device_id,
            &msg.metric,
            (msg.from, msg.to, msg.step_ms),
            msg.resolution,
            agg == Aggregate::Last,
        );
        Box::pin(async move {
            let (plan, buckets) = read.await?;
            Ok(AggregatedSeries {
                resolution: plan.resolution,
                step_ms: plan.step,
                agg,
                from: to_datetime(plan.from),
                to: to_datetime(plan.to),
                points: buckets
                    .map
                    .into_iter()
                    .map(|(bucket, p)| Point {
                        ts: to_datetime(bucket),
                        value: p.value(agg),
                    })
                    .collect(),
            })
        })
    }
}

impl Handler<QueryBuckets> for Telemetry {
    type Result = ResponseFuture<Result<BucketSeries, DomainError>>;

    fn handle(&mut self, msg: QueryBuckets, _: &mut Context<Self>) -> Self::Result {
        let span = tracing::debug_span!("query_buckets", device = %msg.device_id, metric = %msg.metric, step = msg.step_ms);
        let _guard = span.enter();
        let read = self.buckets(
            &msg.device_id,
            &msg.metric,
            (msg.from, msg.to, msg.step_ms),
            msg.resolution,
            false,
        );
        Box::pin(async move {
            let (plan, buckets) = read.await?;
            Ok(BucketSeries {
                resolution: plan.resolution,
                step_ms: plan.step,
                from: plan.from,
                to: plan.to,
                buckets: buckets
                    .map
                    .into_iter()
                    .map(|(ts, p)| Bucket {
                        ts,
                        avg: p.value(Aggregate::Avg),
                        min: p.min,
                        max: p.max,
                        count: p.n,
                    })
                    .collect(),
            })
        })
    }
}

impl Handler<LatestValues> for Telemetry {
    type Result = MessageResult<LatestValues>;

    fn handle(&mut self, msg: LatestValues, _: &mut Context<Self>) -> Self::Result {
        MessageResult(Ok(self.registry.latest(msg.devices.as_deref())))
    }
}

impl Handler<ListMetrics> for Telemetry {
    type Result = MessageResult<ListMetrics>;

    fn handle(&mut self, msg: ListMetrics, _: &mut Context<Self>) -> Self::Result {
        MessageResult(Ok(self.registry.metrics_of(&msg.device_id)))
    }
}

impl Handler<SamplesSince> for Telemetry {
    type Result = MessageResult<SamplesSince>;

    fn handle(&mut self, msg: SamplesSince, _: &mut Context<Self>) -> Self::Result {
        let Some(cursor) = msg.cursor else {
            return MessageResult(LiveSamples {
                cursor: self.head.ring_cursor(&msg.device_id).max(0) as u64,
                samples: Vec::new(),
            });
        };
        let rows = self
            .head
            .ring_since(&msg.device_id, i64::try_from(cursor).unwrap_or(i64::MAX));
        let cursor = rows.last().map(|r| r.seq.max(0) as u64).unwrap_or(cursor);
        let samples = rows
            .into_iter()
            .filter_map(|r| {
                let series = self.registry.get(r.series_id)?;
                Some(LiveSample {
                    metric: series.row.metric.clone(),
                    ts: to_datetime(r.ts),
                    value: r.value,
                })
            })
            .collect();
        MessageResult(LiveSamples { cursor, samples })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_pick_the_resolution_from_the_step() {
        let p = plan(90_000, 7_200_000, 2_592_000, None).expect("plan");
        assert_eq!(p.resolution, Resolution::Minute);
        assert_eq!(p.step, 2_580_000, "rounded down to whole minutes");
        assert_eq!((p.from, p.to), (60_000, 7_259_999));
        let p = plan(0, 86_400_000, 7_200_000, None).expect("plan");
        assert_eq!((p.resolution, p.step), (Resolution::Hour, 7_200_000));
        let p = plan(5, 10, 1000, None).expect("plan");
        assert_eq!(
            (p.resolution, p.from, p.to, p.step),
            (Resolution::Raw, 5, 10, 1000)
        );
        let p = plan(0, 1000, 30_000, Some(Resolution::Minute)).expect("forced");
        assert_eq!(p.step, 60_000);
        assert!(plan(0, 86_400_000 * 30, 1, None).is_err(), "too many steps");
        assert!(plan(10, 5, 1000, None).is_err());
    }

    #[test]
    fn plans_of_extreme_ranges_are_refused_not_overflowed() {
        let err = plan(
            -5_000_000_000_000_000_000,
            5_000_000_000_000_000_000,
            1,
            Some(Resolution::Raw),
        )
        .expect_err("too many steps");
        assert!(
            matches!(err, DomainError::Invalid { ref field, .. } if field == "step"),
            "{err}"
        );
        assert!(plan(i64::MIN, i64::MAX, i64::MAX, Some(Resolution::Hour)).is_ok());
        assert!(plan(i64::MIN, i64::MAX, 1, None).is_err());
    }
}
