//! The one pass gives what computing each period on its own gives, for any orders and any
//! periods (in order, with gaps or not; out of order falls back).

use chrono::{TimeZone, Utc};
use plantd_contracts::time::{to_datetime, Millis};
use plantd_contracts::workorders::{
    OperatingBasis, OperatingTime, Period, WorkOrderStatus, WorkOrderType,
};
use proptest::prelude::*;

use super::super::{compute, Facts};
use super::series;

const HOUR: Millis = 3_600_000;

fn base() -> Millis {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("date")
        .timestamp_millis()
}

fn kind(i: u8) -> WorkOrderType {
    [
        WorkOrderType::Corrective,
        WorkOrderType::Preventive,
        WorkOrderType::Inspection,
        WorkOrderType::Corrective,
    ][usize::from(i % 4)]
}

fn status(i: u8) -> WorkOrderStatus {
    [
        WorkOrderStatus::Open,
        WorkOrderStatus::Done,
        WorkOrderStatus::Cancelled,
        WorkOrderStatus::Done,
    ][usize::from(i % 4)]
}

/// An order from hour offsets (all within about two months of the base).
fn order() -> impl Strategy<Value = Facts> {
    (
        (0u8..4, 0u8..4, 0u8..3, 0i64..1500),
        (prop::option::of(0i64..300), prop::option::of(-100i64..1500)),
        (prop::option::of(0i64..1500), prop::option::of(0i64..400)),
        (
            prop::option::of(0.0f64..20.0),
            prop::option::of(0.0f64..20.0),
        ),
        (prop::option::of(1.0f64..60.0), any::<bool>(), 0u8..3),
    )
        .prop_map(
            |(
                (k, st, asset, created),
                (done_after, due),
                (down_start, down_len),
                (estimated, actual),
                (interval, repeat, mode),
            )| {
                let created_at = base() + created * HOUR;
                let status = status(st);
                let completed_at = match status {
                    WorkOrderStatus::Done => Some(created_at + done_after.unwrap_or(1) * HOUR),
                    _ => None,
                };
                let closed_at = match status {
                    WorkOrderStatus::Open => None,
                    _ => Some(completed_at.unwrap_or(created_at + 5 * HOUR)),
                };
                let downtime_start = down_start.map(|s| base() + s * HOUR);
                Facts {
                    kind: kind(k),
                    status,
                    asset_id: (asset > 0).then(|| format!("asset-{asset}")),
                    created_at,
                    closed_at,
                    due_at: due.map(|d| base() + d * HOUR),
                    completed_at,
                    downtime_start,
                    downtime_end: downtime_start.and_then(|s| down_len.map(|len| s + len * HOUR)),
                    estimated_hours: estimated,
                    actual_hours: actual,
                    interval_days: interval,
                    repeat_failure: repeat,
                    failure_mode: (mode > 0).then(|| format!("mode-{mode}")),
                }
            },
        )
}

/// Periods from (gap, length) in hours, one after the other.
fn periods(spans: &[(i64, i64)], calendar: bool) -> Vec<Period> {
    let mut at = base() - 50 * HOUR;
    spans
        .iter()
        .map(|(gap, len)| {
            let from = at + gap * HOUR;
            at = from + len * HOUR;
            let operating = ["asset-1", "asset-2"]
                .iter()
                .map(|a| OperatingTime {
                    asset_id: (*a).into(),
                    hours: *len as f64,
                    basis: if calendar {
                        OperatingBasis::Calendar
                    } else {
                        OperatingBasis::Running
                    },
                })
                .collect();
            Period {
                from: to_datetime(from),
                to: to_datetime(at),
                operating,
            }
        })
        .collect()
}

fn one_by_one(
    orders: &[Facts],
    periods: &[Period],
) -> Vec<plantd_contracts::workorders::MaintenanceFigures> {
    periods
        .iter()
        .map(|p| {
            compute(
                orders,
                p.from.timestamp_millis(),
                p.to.timestamp_millis(),
                &p.operating,
                40.0,
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn one_pass_equals_each_period_computed_alone(
        orders in prop::collection::vec(order(), 0..60),
        spans in prop::collection::vec((0i64..30, 1i64..200), 1..12),
        calendar in any::<bool>(),
    ) {
        let periods = periods(&spans, calendar);
        prop_assert_eq!(series(&orders, &periods, 40.0), one_by_one(&orders, &periods));
    }
}

#[test]
fn periods_out_of_order_are_computed_one_by_one() {
    let mut ps = periods(&[(0, 100), (0, 100), (10, 50)], true);
    ps.swap(0, 2);
    let orders: Vec<Facts> = (0..20)
        .map(|i| Facts {
            kind: kind(i),
            status: status(i / 2),
            asset_id: Some("asset-1".into()),
            created_at: base() + i64::from(i) * 7 * HOUR,
            closed_at: (i % 2 == 1).then(|| base() + i64::from(i) * 9 * HOUR),
            due_at: Some(base() + i64::from(i) * 8 * HOUR),
            completed_at: (status(i / 2) == WorkOrderStatus::Done)
                .then(|| base() + i64::from(i) * 9 * HOUR),
            downtime_start: Some(base() + i64::from(i) * 7 * HOUR),
            downtime_end: (i % 3 > 0).then(|| base() + i64::from(i) * 8 * HOUR),
            estimated_hours: Some(2.0),
            actual_hours: None,
            interval_days: None,
            repeat_failure: i % 5 == 0,
            failure_mode: Some("wear".into()),
        })
        .collect();
    let got = series(&orders, &ps, 40.0);
    assert_eq!(got, one_by_one(&orders, &ps));
    assert!(got.iter().any(|f| f.failures > 0 && f.open_orders > 0));
}
