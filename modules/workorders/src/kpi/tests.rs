//! The figures of a month of orders, against a hand calculation written out below.

use chrono::{TimeZone, Utc};
use plantd_contracts::workorders::*;

use super::{compute, Facts};

fn facts(orders: &[WorkOrder]) -> Vec<Facts> {
    orders.iter().map(Facts::from).collect()
}

fn at(day: u32, hour: u32) -> chrono::DateTime<Utc> {
    // Day 0 is 2025-12-31; day 32 is 2026-02-01.
    let base = Utc
        .with_ymd_and_hms(2025, 12, 31, 0, 0, 0)
        .single()
        .expect("date");
    base + chrono::Duration::days(day as i64) + chrono::Duration::hours(hour as i64)
}

fn order(id: &str, kind: WorkOrderType, created: chrono::DateTime<Utc>) -> WorkOrder {
    WorkOrder {
        id: id.into(),
        number: 1,
        title: id.into(),
        description: String::new(),
        kind,
        priority: Priority::Medium,
        status: WorkOrderStatus::Open,
        asset_id: Some("a".into()),
        device_id: None,
        location: None,
        assignee: None,
        due_at: None,
        estimated_hours: None,
        actual_hours: None,
        stops_asset: false,
        downtime_start: None,
        downtime_end: None,
        skills: vec![],
        tools: vec![],
        parts: vec![],
        checklist: vec![],
        comments: vec![],
        alarm_id: None,
        rule_id: None,
        plan_id: None,
        occurrence: None,
        interval_days: None,
        request_id: None,
        parent_id: None,
        repeat_of: None,
        repeat_failure: false,
        closing: None,
        created_by: "t".into(),
        created_at: created,
        updated_at: created,
        started_at: None,
        completed_at: None,
        overdue: false,
        history: vec![],
    }
}

fn done(mut o: WorkOrder, at: chrono::DateTime<Utc>, hours: f64, mode: Option<&str>) -> WorkOrder {
    o.status = WorkOrderStatus::Done;
    o.completed_at = Some(at);
    o.updated_at = at;
    o.actual_hours = Some(hours);
    o.closing = mode.map(|m| ClosingCodes {
        failure_mode: m.into(),
        cause: "wear".into(),
        action: "replace".into(),
        detection: "alarm".into(),
    });
    o
}

fn down(
    mut o: WorkOrder,
    from: chrono::DateTime<Utc>,
    to: Option<chrono::DateTime<Utc>>,
) -> WorkOrder {
    o.stops_asset = true;
    o.downtime_start = Some(from);
    o.downtime_end = to;
    o
}

fn preventive(id: &str, due: chrono::DateTime<Utc>, interval_days: f64) -> WorkOrder {
    let mut o = order(
        id,
        WorkOrderType::Preventive,
        due - chrono::Duration::days(2),
    );
    o.due_at = Some(due);
    o.interval_days = Some(interval_days);
    o
}

/// January 2026 (744 h) on asset `a`, measured running 600 h.
fn january() -> Vec<WorkOrder> {
    use WorkOrderType::*;
    let mut c2 = done(
        order("c2", Corrective, at(10, 12)),
        at(11, 0),
        3.0,
        Some("vibration"),
    );
    c2.repeat_failure = true;
    let mut c4 = order("c4", Corrective, at(25, 0));
    c4.status = WorkOrderStatus::Cancelled;
    let mut p3 = preventive("p3", at(29, 0), 30.0);
    p3.estimated_hours = Some(6.0);
    let mut c5 = down(order("c5", Corrective, at(31, 20)), at(31, 22), None);
    c5.estimated_hours = Some(10.0);
    vec![
        // Raised in December, down 20:00 → 02:00 across the new year, done in January.
        done(
            down(
                order("c0", Corrective, at(0, 0) - chrono::Duration::days(3)),
                at(0, 20),
                Some(at(1, 2)),
            ),
            at(1, 3),
            2.0,
            Some("overheating"),
        ),
        done(
            down(order("c1", Corrective, at(3, 0)), at(3, 0), Some(at(3, 6))),
            at(3, 8),
            5.0,
            Some("vibration"),
        ),
        c2,
        done(
            down(
                order("c3", Corrective, at(20, 0)),
                at(20, 0),
                Some(at(20, 4)),
            ),
            at(20, 5),
            4.0,
            Some("leakage"),
        ),
        c4,
        // Due the 15th, interval 30 d (±3 d): done the 17th, on time.
        done(preventive("p1", at(15, 0), 30.0), at(17, 0), 2.0, None),
        // Due the 28th, interval 10 d (±1 d): done the 30th, late.
        done(preventive("p2", at(28, 0), 10.0), at(30, 0), 2.0, None),
        p3,
        done(order("i1", Inspection, at(5, 0)), at(5, 2), 1.0, None),
        c5,
    ]
}

#[test]
fn a_month_matches_the_hand_calculation() {
    let from = at(1, 0).timestamp_millis();
    let to = at(32, 0).timestamp_millis();
    let operating = [OperatingTime {
        asset_id: "a".into(),
        hours: 600.0,
        basis: OperatingBasis::Running,
    }];
    let f = compute(&facts(&january()), from, to, &operating, 40.0);
    // Failures raised in January: c1, c2, c3, c5 (c0 was raised in December, c4 cancelled).
    assert_eq!(f.failures, 4);
    // MTBF = 600 h ÷ 4 = 150 h.
    assert_eq!(f.mtbf_hours, Some(150.0));
    // Restored in January: c0 6 h (its whole downtime), c1 6 h, c2 12 h (no downtime:
    // raised → done), c3 4 h → 28 h ÷ 4 = 7 h.
    assert_eq!(f.mttr_hours, Some(7.0));
    // Downtime inside January: c0 2 h, c1 6 h, c3 4 h, c5 2 h (still down at the end).
    assert_eq!(f.downtime_hours, 14.0);
    // Availability = 600 ÷ (600 + 14).
    assert!((f.availability.expect("availability") - 600.0 / 614.0).abs() < 1e-12);
    // PM: p1, p2, p3 due; only p1 on time.
    assert_eq!((f.pm_due, f.pm_on_time), (3, 1));
    assert!((f.pm_compliance.expect("pm") - 1.0 / 3.0).abs() < 1e-12);
    // Hours done in January: 2 + 5 + 3 + 4 + 2 + 2 + 1 = 19, planned 2 + 2 + 1 = 5.
    assert!((f.planned_share.expect("planned") - 5.0 / 19.0).abs() < 1e-12);
    // Open at the end: p3 (6 h) and c5 (10 h) = 16 h ÷ 40 h a week.
    assert_eq!(f.backlog_weeks, 0.4);
    assert_eq!((f.open_orders, f.overdue_orders), (2, 1));
    // One repeat failure in four.
    assert_eq!(f.repeat_failure_rate, Some(0.25));
    let modes: Vec<(&str, u64)> = f
        .top_failure_modes
        .iter()
        .map(|m| (m.failure_mode.as_str(), m.count))
        .collect();
    assert_eq!(
        modes,
        [("vibration", 2), ("leakage", 1), ("overheating", 1)]
    );
    assert_eq!(f.operating_basis, "running");
}

#[test]
fn calendar_time_is_the_period_less_downtime() {
    let from = at(1, 0).timestamp_millis();
    let to = at(32, 0).timestamp_millis();
    let o = done(
        down(
            order("c", WorkOrderType::Corrective, at(2, 0)),
            at(2, 0),
            Some(at(3, 0)),
        ),
        at(3, 0),
        8.0,
        Some("leakage"),
    );
    let operating = [OperatingTime {
        asset_id: "a".into(),
        hours: 744.0,
        basis: OperatingBasis::Calendar,
    }];
    let f = compute(&[Facts::from(&o)], from, to, &operating, 40.0);
    // 744 h of January less 24 h down = 720 h; one failure.
    assert_eq!(f.operating_hours, 720.0);
    assert_eq!(f.mtbf_hours, Some(720.0));
    assert_eq!(f.mttr_hours, Some(24.0));
    assert!((f.availability.expect("availability") - 720.0 / 744.0).abs() < 1e-12);
    assert_eq!(f.operating_basis, "calendar");
}

#[test]
fn an_empty_period_has_no_ratios() {
    let f = compute(&[], 0, 3_600_000, &[], 40.0);
    assert_eq!(f.failures, 0);
    assert_eq!(f.mtbf_hours, None);
    assert_eq!(f.mttr_hours, None);
    assert_eq!(f.availability, None);
    assert_eq!(f.pm_compliance, None);
    assert_eq!(f.backlog_weeks, 0.0);
}
