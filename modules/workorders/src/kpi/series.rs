//! The figures of a series of periods (a report's days, weeks or months) in one pass over
//! the orders, equal to [`compute`](super::compute) of each period: an order's events
//! (raised, done, due, down) are added only to the periods they fall in, found by binary
//! search, and its backlog to the periods at whose end it was open. A year of months over
//! 10,000 orders was 13 passes, a month of days 32. Pure, like the rest of `kpi`.

use plantd_contracts::time::Millis;
use plantd_contracts::workorders::{MaintenanceFigures, Period};

use super::{compute, pm_due_at, Facts, Tally};

/// The figures of each of `periods`. Periods in order and not overlapping (what a report
/// asks) take the one pass; any others are computed one by one.
pub fn series(
    orders: &[Facts],
    periods: &[Period],
    crew_hours_per_week: f64,
) -> Vec<MaintenanceFigures> {
    let bounds: Vec<(Millis, Millis)> = periods
        .iter()
        .map(|p| (p.from.timestamp_millis(), p.to.timestamp_millis()))
        .collect();
    let ordered = bounds.iter().all(|(a, b)| a < b) && bounds.windows(2).all(|w| w[0].1 <= w[1].0);
    if !ordered {
        return periods
            .iter()
            .zip(&bounds)
            .map(|(p, (from, to))| compute(orders, *from, *to, &p.operating, crew_hours_per_week))
            .collect();
    }
    let mut tallies: Vec<Tally> = bounds.iter().map(|_| Tally::default()).collect();
    let mut touched = Vec::new();
    for o in orders {
        // Only periods ending after the order was raised see it at all.
        let first = ends_by(&bounds, o.created_at);
        if first == bounds.len() {
            continue;
        }
        touched.clear();
        touched.extend(containing(&bounds, o.created_at));
        touched.extend(o.completed_at.and_then(|t| containing(&bounds, t)));
        touched.extend(containing(&bounds, pm_due_at(o)));
        if let Some(start) = o.downtime_start {
            // Down until its end, or to the end of every later period while still down.
            let last = o.downtime_end.map_or(bounds.len(), |end| {
                bounds.partition_point(|(a, _)| *a < end)
            });
            touched.extend(ends_by(&bounds, start)..last);
        }
        touched.sort_unstable();
        touched.dedup();
        for &i in touched.iter().filter(|i| **i >= first) {
            tallies[i].events(o, bounds[i].0, bounds[i].1);
        }
        let open_until = o
            .closed_at
            .map_or(bounds.len(), |closed| ends_by(&bounds, closed));
        for i in first..open_until {
            tallies[i].open_at(o, bounds[i].1);
        }
    }
    tallies
        .into_iter()
        .zip(periods.iter().zip(&bounds))
        .map(|(tally, (p, (from, to)))| tally.finish(*from, *to, &p.operating, crew_hours_per_week))
        .collect()
}

/// How many of the periods end at or before `t` (the index of the first ending after it).
fn ends_by(bounds: &[(Millis, Millis)], t: Millis) -> usize {
    bounds.partition_point(|(_, b)| *b <= t)
}

/// The period `t` falls in, if any.
fn containing(bounds: &[(Millis, Millis)], t: Millis) -> Option<usize> {
    let i = ends_by(bounds, t);
    bounds.get(i).filter(|(a, _)| *a <= t).map(|_| i)
}

#[cfg(test)]
mod tests;
