//! Bucket arithmetic and the partial aggregate (count, min, max, sum, last) that roll-ups
//! store and queries combine. Pure functions, no I/O.

use std::collections::BTreeMap;

use plantd_contracts::telemetry::Aggregate;
use plantd_contracts::time::Millis;

/// Start of the bucket of width `width` that holds `ts` (buckets aligned to the epoch).
pub fn bucket_of(ts: Millis, width: Millis) -> Millis {
    ts.div_euclid(width) * width
}

/// count, min, max, sum and the value at the latest time: enough to merge buckets in any
/// order and answer every [`Aggregate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Partial {
    pub n: i64,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub last: f64,
    pub last_ts: Millis,
}

impl Partial {
    pub fn of(ts: Millis, value: f64) -> Partial {
        Partial {
            n: 1,
            min: value,
            max: value,
            sum: value,
            last: value,
            last_ts: ts,
        }
    }

    pub fn merge(&mut self, other: &Partial) {
        self.n += other.n;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sum += other.sum;
        if other.last_ts >= self.last_ts {
            self.last = other.last;
            self.last_ts = other.last_ts;
        }
    }

    pub fn value(&self, agg: Aggregate) -> f64 {
        match agg {
            Aggregate::Avg => self.sum / self.n as f64,
            Aggregate::Min => self.min,
            Aggregate::Max => self.max,
            Aggregate::Sum => self.sum,
            Aggregate::Count => self.n as f64,
            Aggregate::Last => self.last,
        }
    }
}

/// Buckets of one width, keyed by their start.
#[derive(Debug, Default)]
pub struct Buckets {
    pub width: Millis,
    pub map: BTreeMap<Millis, Partial>,
}

impl Buckets {
    pub fn new(width: Millis) -> Buckets {
        Buckets {
            width,
            map: BTreeMap::new(),
        }
    }

    pub fn add_point(&mut self, ts: Millis, value: f64) {
        self.add(ts, &Partial::of(ts, value));
    }

    /// Adds a partial that lies at `at` (a point's time or a finer bucket's start).
    pub fn add(&mut self, at: Millis, partial: &Partial) {
        let key = bucket_of(at, self.width);
        self.map
            .entry(key)
            .and_modify(|p| p.merge(partial))
            .or_insert(*partial);
    }
}

/// Partials of points per bucket of each roll-up width: what a compaction adds to the
/// stored roll-ups.
pub fn rollup(points: &[(Millis, f64)], width: Millis) -> Vec<(Millis, Partial)> {
    let mut buckets = Buckets::new(width);
    for &(ts, value) in points {
        buckets.add_point(ts, value);
    }
    buckets.map.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_is_order_free_and_keeps_the_latest_value() {
        let mut a = Partial::of(10, 5.0);
        a.merge(&Partial::of(30, 1.0));
        a.merge(&Partial::of(20, 9.0));
        assert_eq!(
            (a.n, a.min, a.max, a.sum, a.last, a.last_ts),
            (3, 1.0, 9.0, 15.0, 1.0, 30)
        );
        assert_eq!(a.value(Aggregate::Avg), 5.0);
        assert_eq!(bucket_of(-1, 60_000), -60_000);
        assert_eq!(bucket_of(119_999, 60_000), 60_000);
        let r = rollup(&[(0, 1.0), (59_999, 2.0), (60_000, 3.0)], 60_000);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].1.n, 2);
    }
}
