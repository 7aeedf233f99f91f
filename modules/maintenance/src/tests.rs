//! Unit tests of the pure parts: calendar arithmetic (month ends, fixed vs floating),
//! run-hour integration (gaps, stopped time, stale samples), counter resets, the rate and
//! projection, and the schedule (one raise per occurrence, lead, whichever first, missed
//! while open, clock jumps, completion moving the next due point).

use chrono::{DateTime, Utc};
use plantd_contracts::maintenance::*;
use plantd_contracts::time::{parse_time, Millis};
use plantd_contracts::DeviceId;
use serde_json::json;

use crate::calendar;
use crate::meter::{Fed, Meter, DAY_MS};
use crate::plans;
use crate::schedule::{Schedule, Trigger};

const HOUR: Millis = 3_600_000;
const MIN: Millis = 60_000;
const GAP: Millis = 5 * MIN;

fn t(s: &str) -> Millis {
    parse_time(s).expect("time")
}

fn dt(s: &str) -> DateTime<Utc> {
    plantd_contracts::time::to_datetime(t(s))
}

fn cal(every: u32, unit: CalendarUnit, mode: CalendarMode, start: &str) -> CalendarTrigger {
    CalendarTrigger {
        every,
        unit,
        mode,
        start: dt(start),
    }
}

fn plan(calendar: Option<CalendarTrigger>, meter: Option<(MeterKind, f64)>) -> Plan {
    Plan {
        id: "p".into(),
        asset_id: "a".into(),
        title: "Grease bearings".into(),
        description: String::new(),
        tasks: vec!["grease".into()],
        estimated_hours: Some(1.0),
        skills: vec![],
        tools: vec![],
        parts: vec![],
        stops_asset: false,
        calendar,
        meter: meter.map(|(kind, every)| MeterTrigger {
            device_id: DeviceId::parse("pump-1").expect("id"),
            metric: "running".into(),
            kind,
            every,
        }),
        lead: Lead::default(),
        paused: false,
        created_at: dt("2026-01-01T00:00:00Z"),
        updated_at: dt("2026-01-01T00:00:00Z"),
    }
}

#[test]
fn monthly_fixed_points_clamp_to_the_month_end_and_come_back_to_the_31st() {
    let c = cal(
        1,
        CalendarUnit::Months,
        CalendarMode::Fixed,
        "2026-01-31T08:00:00Z",
    );
    let points: Vec<Millis> = (0..4)
        .filter_map(|k| calendar::fixed_point(&c, k))
        .collect();
    assert_eq!(
        points,
        vec![
            t("2026-01-31T08:00:00Z"),
            t("2026-02-28T08:00:00Z"),
            t("2026-03-31T08:00:00Z"),
            t("2026-04-30T08:00:00Z"),
        ]
    );
    // Leap year.
    let c = cal(
        1,
        CalendarUnit::Months,
        CalendarMode::Fixed,
        "2028-01-31T00:00:00Z",
    );
    assert_eq!(
        calendar::fixed_point(&c, 1),
        Some(t("2028-02-29T00:00:00Z"))
    );
    // Floating counts from its anchor: a month after 28 Feb is 28 Mar.
    assert_eq!(
        calendar::after(&c, t("2026-02-28T08:00:00Z")),
        Some(t("2026-03-28T08:00:00Z"))
    );
    let w = cal(
        2,
        CalendarUnit::Weeks,
        CalendarMode::Fixed,
        "2026-01-01T00:00:00Z",
    );
    assert_eq!(
        calendar::fixed_point(&w, 3),
        Some(t("2026-02-12T00:00:00Z"))
    );
    assert!((calendar::interval_days(&w) - 14.0).abs() < 1e-9);
}

#[test]
fn a_fixed_series_continues_at_its_first_point_not_before_now() {
    let c = cal(
        1,
        CalendarUnit::Months,
        CalendarMode::Fixed,
        "2025-01-31T00:00:00Z",
    );
    let k = calendar::first_index_from(&c, t("2026-03-01T00:00:00Z"));
    assert_eq!(
        calendar::fixed_point(&c, k),
        Some(t("2026-03-31T00:00:00Z"))
    );
    assert_eq!(
        calendar::first_index_from(&c, t("2026-03-31T00:00:00Z")),
        k,
        "a point at now counts"
    );
    assert_eq!(calendar::first_index_from(&c, t("2024-01-01T00:00:00Z")), 0);
    let d = cal(
        3,
        CalendarUnit::Days,
        CalendarMode::Fixed,
        "2026-01-01T00:00:00Z",
    );
    let k = calendar::first_index_from(&d, t("2026-01-05T00:00:00Z"));
    assert_eq!(
        calendar::fixed_point(&d, k),
        Some(t("2026-01-07T00:00:00Z"))
    );
}

#[test]
fn run_hours_count_running_time_between_samples_and_not_stops_gaps_or_stale_samples() {
    let mut m = Meter::default();
    let start = t("2026-01-01T00:00:00Z");
    let kind = MeterKind::RunHours;
    // 60 minutes running, one sample a minute.
    for i in 0..=60 {
        m.feed(kind, start + i * MIN, 1.0, GAP);
    }
    assert!((m.total - 1.0).abs() < 1e-9, "{}", m.total);
    // Stopped for 30 minutes: the minute that ends at the stop sample still ran.
    for i in 61..=90 {
        m.feed(kind, start + i * MIN, 0.0, GAP);
    }
    assert!((m.total - (61.0 / 60.0)).abs() < 1e-9, "{}", m.total);
    // Running again, then a 2-hour gap (no samples): counts nothing.
    m.feed(kind, start + 91 * MIN, 1.0, GAP);
    let before = m.total;
    m.feed(kind, start + 91 * MIN + 2 * HOUR, 1.0, GAP);
    assert_eq!(
        m.total, before,
        "a gap longer than the setting counts nothing"
    );
    // Out of order and duplicate samples are ignored.
    assert_eq!(m.feed(kind, start, 1.0, GAP), Fed::Stale);
    assert_eq!(
        m.feed(kind, start + 91 * MIN + 2 * HOUR, 1.0, GAP),
        Fed::Stale
    );
    assert_eq!(
        m.feed(kind, start + 92 * MIN + 2 * HOUR, f64::NAN, GAP),
        Fed::Bad
    );
    assert_eq!(m.total, before);
    m.feed(kind, start + 92 * MIN + 2 * HOUR, 1.0, GAP);
    assert!((m.total - before - 1.0 / 60.0).abs() < 1e-9);
}

#[test]
fn a_counter_reset_counts_the_new_value_from_zero() {
    let mut m = Meter::default();
    let start = t("2026-01-01T00:00:00Z");
    let kind = MeterKind::Counter;
    for (i, v) in [100.0, 150.0, 400.0, 20.0, 70.0, 70.0, 0.0, 5.0]
        .iter()
        .enumerate()
    {
        m.feed(kind, start + i as Millis * MIN, *v, GAP);
    }
    // 50 + 250, reset: 20, +50, +0, reset to 0: 0, +5.
    assert!((m.total - 375.0).abs() < 1e-9, "{}", m.total);
    // A long gap changes nothing for a counter: the increments still count.
    m.feed(kind, start + 30 * DAY_MS, 25.0, GAP);
    assert!((m.total - 395.0).abs() < 1e-9);
}

#[test]
fn the_rate_is_per_day_over_the_last_30_days_and_projects_the_due_point() {
    let mut m = Meter::default();
    let day0 = t("2026-01-01T00:00:00Z");
    // 10 days, 8 running hours each (one sample a minute from 08:00 to 16:00).
    for d in 0..10 {
        for i in 0..=480 {
            m.feed(
                MeterKind::RunHours,
                day0 + d * DAY_MS + 8 * HOUR + i * MIN,
                1.0,
                GAP,
            );
        }
        m.feed(
            MeterKind::RunHours,
            day0 + d * DAY_MS + 16 * HOUR + MIN,
            0.0,
            GAP,
        );
    }
    let now = day0 + 10 * DAY_MS;
    let total = m.total;
    assert!((total - 80.0 - 10.0 / 60.0).abs() < 1e-6, "{total}");
    // Counting began 10 days (minus 8 hours) before now.
    let rate = m.rate_per_day(now).expect("rate");
    let expected = total / ((now - (day0 + 8 * HOUR)) as f64 / DAY_MS as f64);
    assert!((rate - expected).abs() < 1e-9, "{rate} {expected}");
    let due = m.projected(total + 2.0 * rate, now).expect("projection");
    assert!(
        (due - (now + 2 * DAY_MS)).abs() < 1000,
        "two days at the rate"
    );
    assert_eq!(m.projected(total - 1.0, now), Some(now), "reached: due now");
    // 40 days later without use the window holds nothing.
    assert_eq!(m.rate_per_day(now + 40 * DAY_MS), Some(0.0));
    assert_eq!(m.projected(total + 1.0, now + 40 * DAY_MS), None);
    assert!(m.buckets.len() <= 31);
}

#[test]
fn a_fixed_calendar_raises_each_occurrence_once_at_its_lead() {
    let mut p = plan(
        Some(cal(
            7,
            CalendarUnit::Days,
            CalendarMode::Fixed,
            "2026-01-10T06:00:00Z",
        )),
        None,
    );
    p.lead.days = Some(2.0);
    let mut s = Schedule::new(&p, t("2026-01-01T00:00:00Z"));
    let none = |_: f64| None;
    assert!(
        s.check(&p, t("2026-01-08T05:59:59Z"), 0.0, none).is_empty(),
        "not before due − lead"
    );
    let r = s.check(&p, t("2026-01-08T06:00:00Z"), 0.0, none);
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].occurrence, r[0].trigger, r[0].missed),
        (1, Trigger::Calendar, false)
    );
    assert_eq!(r[0].due_at, Some(t("2026-01-10T06:00:00Z")));
    assert!(
        s.check(&p, t("2026-01-09T00:00:00Z"), 0.0, none).is_empty(),
        "once"
    );
    // Done late: a fixed series does not move.
    assert!(s.completed(1, t("2026-01-12T00:00:00Z"), 0.0));
    assert!(
        !s.completed(1, t("2026-01-12T00:00:00Z"), 0.0),
        "a completion applies once"
    );
    assert_eq!(s.calendar_due(&p), Some(t("2026-01-17T06:00:00Z")));
    assert!(s.check(&p, t("2026-01-15T05:00:00Z"), 0.0, none).is_empty());
    let r = s.check(&p, t("2026-01-15T06:00:00Z"), 0.0, none);
    assert_eq!((r[0].occurrence, r[0].missed), (2, false));
}

#[test]
fn a_floating_calendar_counts_from_the_last_completion() {
    let p = plan(
        Some(cal(
            1,
            CalendarUnit::Months,
            CalendarMode::Floating,
            "2026-01-31T00:00:00Z",
        )),
        None,
    );
    let mut s = Schedule::new(&p, t("2026-01-01T00:00:00Z"));
    let none = |_: f64| None;
    let r = s.check(&p, t("2026-01-31T00:00:00Z"), 0.0, none);
    assert_eq!(r[0].occurrence, 1);
    // Done five days late: the next is a month after the completion.
    s.completed(1, t("2026-02-05T10:00:00Z"), 0.0);
    assert_eq!(s.calendar_due(&p), Some(t("2026-03-05T10:00:00Z")));
    assert!(s.check(&p, t("2026-03-05T09:00:00Z"), 0.0, none).is_empty());
    let r = s.check(&p, t("2026-03-05T10:00:00Z"), 0.0, none);
    assert_eq!(
        (r[0].occurrence, r[0].due_at),
        (2, Some(t("2026-03-05T10:00:00Z")))
    );
}

#[test]
fn an_occurrence_due_while_the_previous_order_is_open_is_missed() {
    let p = plan(
        Some(cal(
            1,
            CalendarUnit::Days,
            CalendarMode::Fixed,
            "2026-01-02T00:00:00Z",
        )),
        None,
    );
    let mut s = Schedule::new(&p, t("2026-01-01T00:00:00Z"));
    let none = |_: f64| None;
    s.check(&p, t("2026-01-02T00:00:00Z"), 0.0, none);
    s.ordered(1, "wo-1");
    let r = s.check(&p, t("2026-01-03T00:00:00Z"), 0.0, none);
    assert_eq!(r.len(), 1);
    assert!(r[0].missed);
    assert_eq!(r[0].open_work_order_id.as_deref(), Some("wo-1"));
    assert_eq!(s.open.as_ref().map(|o| o.occurrence), Some(1));
    assert!(s.overdue(t("2026-01-03T00:00:00Z"), 0.0));
    s.completed(1, t("2026-01-03T01:00:00Z"), 0.0);
    assert!(!s.overdue(t("2026-01-03T02:00:00Z"), 0.0));
    let r = s.check(&p, t("2026-01-04T00:00:00Z"), 0.0, none);
    assert_eq!((r[0].occurrence, r[0].missed), (3, false));
    assert_eq!(s.missed, 1);
}

#[test]
fn a_clock_jump_forward_raises_the_latest_and_misses_the_skipped_and_back_raises_nothing() {
    let p = plan(
        Some(cal(
            1,
            CalendarUnit::Days,
            CalendarMode::Fixed,
            "2026-01-02T00:00:00Z",
        )),
        None,
    );
    let mut s = Schedule::new(&p, t("2026-01-01T00:00:00Z"));
    let none = |_: f64| None;
    let r = s.check(&p, t("2026-01-05T12:00:00Z"), 0.0, none);
    let got: Vec<(i64, bool)> = r.iter().map(|r| (r.occurrence, r.missed)).collect();
    assert_eq!(got, vec![(1, true), (2, true), (3, true), (4, false)]);
    assert_eq!(r[3].due_at, Some(t("2026-01-05T00:00:00Z")));
    assert!(
        s.check(&p, t("2026-01-01T00:00:00Z"), 0.0, none).is_empty(),
        "back in time: nothing"
    );
    assert!(s.check(&p, t("2026-01-05T12:00:00Z"), 0.0, none).is_empty());
}

#[test]
fn whichever_comes_first_raises_once_and_names_its_trigger() {
    let p = plan(
        Some(cal(
            30,
            CalendarUnit::Days,
            CalendarMode::Fixed,
            "2026-01-31T00:00:00Z",
        )),
        Some((MeterKind::RunHours, 100.0)),
    );
    let mut s = Schedule::new(&p, t("2026-01-01T00:00:00Z"));
    let at = |_: f64| Some(t("2026-01-20T00:00:00Z"));
    assert!(s.check(&p, t("2026-01-10T00:00:00Z"), 99.9, at).is_empty());
    let r = s.check(&p, t("2026-01-20T00:00:00Z"), 100.0, at);
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].trigger, r[0].due_meter, r[0].missed),
        (Trigger::Meter, Some(100.0), false)
    );
    // The calendar's point of that occurrence is consumed: nothing at 31 Jan.
    assert!(s.check(&p, t("2026-01-31T00:00:00Z"), 120.0, at).is_empty());
    assert_eq!(s.calendar_due(&p), Some(t("2026-03-02T00:00:00Z")));
    assert_eq!(s.meter_due(&p), Some(200.0));
    s.completed(1, t("2026-01-21T00:00:00Z"), 105.0);
    assert_eq!(
        s.meter_due(&p),
        Some(205.0),
        "the meter counts from its total at completion"
    );
    // Now the calendar comes first.
    let r = s.check(&p, t("2026-03-02T00:00:00Z"), 150.0, at);
    assert_eq!((r[0].occurrence, r[0].trigger), (2, Trigger::Calendar));
    assert_eq!(r[0].due_at, Some(t("2026-03-02T00:00:00Z")));
    assert!(
        s.check(&p, t("2026-03-03T00:00:00Z"), 205.0, at).is_empty(),
        "the meter's point was consumed"
    );
}

#[test]
fn a_meter_lead_raises_that_many_units_early_and_a_paused_plan_raises_nothing() {
    let mut p = plan(None, Some((MeterKind::Counter, 1000.0)));
    p.lead.meter = Some(50.0);
    let mut s = Schedule::new(&p, 0);
    assert!(s.check(&p, 0, 949.0, |_| None).is_empty());
    p.paused = true;
    assert!(s.check(&p, 0, 960.0, |_| None).is_empty());
    p.paused = false;
    let r = s.check(&p, 0, 960.0, |_| None);
    assert_eq!(
        (r[0].trigger, r[0].due_meter),
        (Trigger::Meter, Some(1000.0))
    );
}

#[test]
fn a_plan_body_is_checked_field_by_field() {
    let now = dt("2026-01-01T00:00:00Z");
    let field = |body: serde_json::Value| match plans::build("x", &body, now, now) {
        Err(plantd_contracts::DomainError::Invalid { field, .. }) => field,
        other => panic!("{body}: {other:?}"),
    };
    let ok = json!({"asset_id": "a", "title": "t", "tasks": ["x"],
        "calendar": {"every": 1, "unit": "months", "mode": "fixed", "start": "2026-01-01T00:00:00Z"}});
    assert!(plans::build("x", &ok, now, now).is_ok());
    assert_eq!(
        field(json!({"asset_id": "a", "title": "t", "tasks": []})),
        "calendar"
    );
    assert_eq!(field(json!({"title": "t", "tasks": []})), "asset_id");
    assert_eq!(field(json!({"asset_id": "a", "title": "t"})), "tasks");
    let mut bad = ok.clone();
    bad["calendar"]["every"] = json!(0);
    assert_eq!(field(bad), "calendar.every");
    let mut bad = ok.clone();
    bad["calendar"]["unit"] = json!("fortnights");
    assert_eq!(field(bad), "calendar");
    let mut bad = ok.clone();
    bad["meter"] =
        json!({"device_id": "pump-1", "metric": "Running", "kind": "run_hours", "every": 5});
    assert_eq!(field(bad), "meter.metric");
    let mut bad = ok.clone();
    bad["lead"] = json!({"meter": 3});
    assert_eq!(field(bad), "lead.meter");
    let mut bad = ok.clone();
    bad["colour"] = json!("red");
    assert_eq!(field(bad), "colour");
    // A patch is merged and checked whole.
    let p = plans::build("x", &ok, now, now).expect("plan");
    let paused = plans::patched(&p, &json!({"paused": true}), now).expect("patched");
    assert!(paused.paused);
    assert_eq!(paused.calendar, p.calendar);
    let removed = plans::patched(&p, &json!({"calendar": null}), now);
    assert!(removed.is_err(), "no trigger left");
}

/// 1,000 run-hour plans, each on its own device, and a stream where most samples are of
/// series no plan watches: every watched sample is counted once, the rest cost a lookup.
/// `cargo test -p plantd-maintenance --release counting_1000 -- --nocapture` prints the
/// cost per sample.
#[test]
fn counting_1000_meter_plans_from_a_mixed_stream() {
    use std::collections::BTreeMap;

    use plantd_contracts::health::StoredSample;

    use crate::actor::PlanState;
    use crate::samples::count;
    use crate::series::SeriesIndex;

    let mut index = SeriesIndex::new();
    let mut plans = BTreeMap::new();
    for i in 0..1000 {
        let device = DeviceId::parse(&format!("pump-{i}")).expect("id");
        let mut p = plan(None, Some((MeterKind::RunHours, 500.0)));
        p.id = format!("plan-{i}");
        if let Some(m) = p.meter.as_mut() {
            m.device_id = device.clone();
        }
        index
            .entry("running".into())
            .or_default()
            .entry(device)
            .or_default()
            .push(p.id.clone());
        let sched = Schedule::new(&p, 0);
        plans.insert(
            p.id.clone(),
            PlanState {
                plan: p,
                meter: Meter::default(),
                sched,
            },
        );
    }
    // 2,000 devices × 5 metrics × 10 samples a second apart: 100,000 samples, one in ten
    // of a watched series.
    let start = t("2026-01-01T00:00:00Z");
    let metrics = ["running", "vib", "temp", "current", "pressure"];
    let mut samples = Vec::new();
    for k in 0..10 {
        for d in 0..2000 {
            for m in metrics {
                samples.push(StoredSample {
                    device_id: DeviceId::parse(&format!("pump-{d}")).expect("id"),
                    metric: m.into(),
                    ts: start + k * 1000,
                    value: 1.0,
                });
            }
        }
    }
    let began = std::time::Instant::now();
    let (moved, counted) = count(&index, &mut plans, &samples, GAP);
    let took = began.elapsed();
    assert_eq!(moved.len(), 1000);
    assert_eq!(counted, 10_000);
    let total = plans["plan-7"].meter.total;
    assert!((total - 9.0 / 3600.0).abs() < 1e-12, "{total}");
    println!(
        "counting: {} samples ({} watched) for 1,000 plans in {:?}: {:.0} ns a sample",
        samples.len(),
        counted,
        took,
        took.as_nanos() as f64 / samples.len() as f64
    );
    let unwatched: Vec<StoredSample> = samples
        .into_iter()
        .filter(|s| &*s.metric != "running")
        .collect();
    let began = std::time::Instant::now();
    let (moved, counted) = count(&index, &mut plans, &unwatched, GAP);
    let took = began.elapsed();
    assert_eq!((moved.len(), counted), (0, 0));
    println!(
        "counting: {} samples of unwatched series in {:?}: {:.0} ns a sample",
        unwatched.len(),
        took,
        took.as_nanos() as f64 / unwatched.len() as f64
    );
}
