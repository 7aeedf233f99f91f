//! Unit tests of the detectors: threshold delays and deadband (no chatter at the limit),
//! ISO 20816-3 zones for every group and foundation, rate, no data and recovery, all / any.

use plantd_contracts::health::{Foundation, Iso20816Class, Op, Severity};

use super::*;

fn gt(limit: f64) -> Comparison {
    Comparison {
        op: Op::Gt,
        limit,
        band: (0.0, 0.0),
    }
}

fn threshold(limit: f64, on_ms: i64, off_ms: i64, deadband: f64) -> Check {
    Check::Threshold {
        cmp: gt(limit),
        on_ms,
        off_ms,
        deadband,
    }
}

/// Feeds `(ts, value)` samples; returns the activity after each.
fn run(check: &Check, samples: &[(i64, f64)]) -> Vec<bool> {
    let mut s = DetectorState::new(check);
    samples
        .iter()
        .map(|(ts, v)| {
            s.on_sample(check, "m", *ts, *v, true)
                .map(|x| x.active)
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn threshold_without_delays_follows_the_value() {
    let c = threshold(7.1, 0, 0, 0.0);
    assert_eq!(
        run(&c, &[(0, 7.0), (1, 7.2), (2, 7.1), (3, 8.0)]),
        [false, true, false, true]
    );
}

#[test]
fn on_delay_needs_the_condition_to_hold_that_long() {
    let c = threshold(10.0, 5_000, 0, 0.0);
    // True at 0 s, false at 3 s (resets), true from 4 s: active at 9 s, not before.
    let out = run(
        &c,
        &[
            (0, 11.0),
            (3_000, 9.0),
            (4_000, 11.0),
            (8_000, 12.0),
            (9_000, 11.0),
        ],
    );
    assert_eq!(out, [false, false, false, false, true]);
}

#[test]
fn off_delay_needs_normal_to_hold_that_long() {
    let c = threshold(10.0, 0, 3_000, 0.0);
    let out = run(
        &c,
        &[
            (0, 11.0),
            (1_000, 9.0),
            (2_000, 11.0),
            (3_000, 9.0),
            (5_000, 9.0),
            (6_000, 9.0),
        ],
    );
    // Normal at 1 s is interrupted at 2 s; normal from 3 s holds 3 s at 6 s.
    assert_eq!(out, [true, true, true, true, true, false]);
}

#[test]
fn deadband_stops_chatter_on_a_signal_hovering_at_the_limit() {
    let hovering: Vec<(i64, f64)> = (0..200)
        .map(|i| (i * 100, 7.1 + if i % 2 == 0 { 0.05 } else { -0.05 }))
        .collect();
    let count_raises =
        |out: &[bool]| out.windows(2).filter(|w| !w[0] && w[1]).count() + usize::from(out[0]);
    let without = run(&threshold(7.1, 0, 0, 0.0), &hovering);
    assert!(
        count_raises(&without) > 50,
        "without a deadband it chatters"
    );
    let with = run(&threshold(7.1, 0, 0, 0.3), &hovering);
    assert_eq!(count_raises(&with), 1, "with a 0.3 deadband: one raise");
    assert!(with.iter().skip(1).all(|a| *a), "and it stays active");
    // Back below 6.8 it returns.
    let mut samples = hovering.clone();
    samples.push((30_000, 6.7));
    assert_eq!(
        run(&threshold(7.1, 0, 0, 0.3), &samples).last(),
        Some(&false)
    );
}

#[test]
fn outside_band_and_its_deadband() {
    let c = Check::Threshold {
        cmp: Comparison {
            op: Op::Outside,
            limit: 0.0,
            band: (10.0, 20.0),
        },
        on_ms: 0,
        off_ms: 0,
        deadband: 1.0,
    };
    let out = run(
        &c,
        &[
            (0, 15.0),
            (1, 9.0),
            (2, 10.5),
            (3, 11.5),
            (4, 21.0),
            (5, 19.5),
            (6, 18.0),
        ],
    );
    assert_eq!(out, [false, true, true, false, true, true, false]);
}

fn iso(group: u8, foundation: Foundation) -> Check {
    Check::Iso20816 {
        bounds: Some(
            Iso20816Class {
                group,
                foundation,
                zones: None,
            }
            .boundaries(),
        ),
        on_ms: 0,
    }
}

#[test]
fn iso20816_zones_for_each_group_and_foundation() {
    for (group, foundation, [ab, bc, cd]) in [
        (1, Foundation::Rigid, [2.3, 4.5, 7.1]),
        (1, Foundation::Flexible, [3.5, 7.1, 11.0]),
        (2, Foundation::Rigid, [1.4, 2.8, 4.5]),
        (2, Foundation::Flexible, [2.3, 4.5, 7.1]),
    ] {
        let c = iso(group, foundation);
        let Check::Iso20816 {
            bounds: Some(b), ..
        } = &c
        else {
            panic!("bounds")
        };
        assert_eq!(*b, [ab, bc, cd], "group {group} {foundation:?}");
        assert_eq!(zone(b, ab - 0.01), 'A');
        assert_eq!(zone(b, ab), 'B');
        assert_eq!(zone(b, bc), 'C');
        assert_eq!(zone(b, cd), 'D');
        let mut s = DetectorState::new(&c);
        let mut at = |ts: i64, v: f64| s.on_sample(&c, "v", ts, v, true).expect("signal");
        let b_zone = at(0, (ab + bc) / 2.0);
        assert!(!b_zone.active, "zone B is normal");
        let c_zone = at(1, (bc + cd) / 2.0);
        assert!(c_zone.active);
        assert_eq!(c_zone.severity, Some(Severity::Major), "zone C: major");
        let d_zone = at(2, cd + 0.1);
        assert_eq!(
            d_zone.severity,
            Some(Severity::Critical),
            "zone D: critical"
        );
        // Just below C/D stays critical (hysteresis), well below de-escalates.
        assert_eq!(at(3, cd * 0.98).severity, Some(Severity::Critical));
        assert_eq!(at(4, cd * 0.9).severity, Some(Severity::Major));
        assert!(at(5, bc * 0.97).active, "hysteresis below B/C");
        assert!(!at(6, bc * 0.9).active, "back to normal");
    }
}

#[test]
fn iso20816_maker_zones_replace_the_standard() {
    let class = Iso20816Class {
        group: 1,
        foundation: Foundation::Rigid,
        zones: Some([1.0, 2.0, 3.0]),
    };
    assert_eq!(class.boundaries(), [1.0, 2.0, 3.0]);
}

#[test]
fn no_data_goes_active_after_the_silence_and_recovers_with_data() {
    let c = Check::NoData { silence_ms: 60_000 };
    let mut s = DetectorState::new(&c);
    assert_eq!(s.on_clock(&c, 30_000, 0), None, "silent 30 s of 60");
    let fired = s.on_clock(&c, 61_000, 0).expect("silent past 60 s");
    assert!(fired.active);
    assert_eq!(s.on_clock(&c, 62_000, 0), None, "fires once");
    let back = s.on_sample(&c, "m", 63_000, 1.0, true).expect("recovery");
    assert!(!back.active);
    assert_eq!(s.on_sample(&c, "m", 64_000, 1.0, true), None, "nothing new");
    assert_eq!(
        s.on_clock(&c, 100_000, 0),
        None,
        "counts from the last sample"
    );
    assert!(s.on_clock(&c, 125_000, 0).is_some_and(|x| x.active));
}

fn combined(all: bool) -> Check {
    Check::Combined {
        all,
        conditions: vec![("a".into(), gt(1.0), 0), ("b".into(), gt(1.0), 2_000)],
    }
}

#[test]
fn all_needs_every_condition_each_with_its_own_on_delay() {
    let c = combined(true);
    let mut s = DetectorState::new(&c);
    let mut feed = |m: &str, ts: i64, v: f64| s.on_sample(&c, m, ts, v, true).map(|x| x.active);
    assert_eq!(feed("a", 0, 2.0), Some(false), "a holds, b does not yet");
    assert_eq!(feed("b", 0, 2.0), Some(false), "b on-delay 2 s");
    assert_eq!(feed("b", 1_000, 2.0), Some(false));
    assert_eq!(feed("b", 2_000, 2.0), Some(true), "both hold");
    assert_eq!(feed("a", 3_000, 0.0), Some(false), "a fell");
    assert_eq!(feed("x", 4_000, 9.0), None, "other metrics say nothing");
}

#[test]
fn any_needs_one_condition() {
    let c = combined(false);
    let mut s = DetectorState::new(&c);
    let mut feed = |m: &str, ts: i64, v: f64| s.on_sample(&c, m, ts, v, true).map(|x| x.active);
    assert_eq!(feed("a", 0, 0.0), Some(false));
    assert_eq!(feed("b", 0, 2.0), Some(false), "b waits its on-delay");
    assert_eq!(feed("a", 500, 2.0), Some(true), "a alone suffices");
    assert_eq!(feed("a", 1_000, 0.0), Some(false));
    assert_eq!(feed("b", 2_000, 2.0), Some(true), "b after 2 s");
}

#[test]
fn rate_is_change_per_minute_over_the_window() {
    let c = Check::Rate {
        cmp: gt(10.0),
        window_ms: 60_000,
        on_ms: 0,
    };
    let mut s = DetectorState::new(&c);
    assert_eq!(s.on_sample(&c, "m", 0, 0.0, true), None, "window empty");
    assert_eq!(
        s.on_sample(&c, "m", 20_000, 2.0, true),
        None,
        "under half a window"
    );
    let slow = s
        .on_sample(&c, "m", 30_000, 3.0, true)
        .expect("half a window");
    assert!(!slow.active);
    assert!(
        (slow.value - 6.0).abs() < 1e-9,
        "3 in 30 s = 6 a minute: {}",
        slow.value
    );
    let fast = s
        .on_sample(&c, "m", 60_000, 20.0, true)
        .expect("full window");
    assert!(fast.active, "20 in 60 s");
    assert_eq!(
        s.on_sample(&c, "m", 60_000, 30.0, true),
        None,
        "same time: ignored"
    );
}

#[test]
fn state_survives_a_json_round_trip() {
    let c = threshold(10.0, 5_000, 0, 0.0);
    let mut s = DetectorState::new(&c);
    s.on_sample(&c, "m", 0, 11.0, true);
    let text = serde_json::to_string(&s).expect("encode");
    let mut back: DetectorState = serde_json::from_str(&text).expect("decode");
    assert!(back.fits(&c));
    assert!(
        back.on_sample(&c, "m", 5_000, 11.0, true)
            .is_some_and(|x| x.active),
        "the on-delay kept its start"
    );
    assert!(!back.fits(&Check::NoData { silence_ms: 1 }));
}
