//! Unit tests of the ISA-18.2 state machine (`episode.rs`): every transition, the illegal
//! ones, latching, shelving (one-shot and timed), suppression, out of service, and the
//! events each change sends.

use chrono::{Duration, Utc};
use plantd_contracts::health::{Alarm, AlarmState, Severity};
use plantd_contracts::{DeviceId, EventData};

use crate::detect::Signal;
use crate::episode::{Overlay, Step, SYSTEM};

const NORMAL: Overlay = Overlay {
    out_of_service: false,
    suppressed: false,
};
const SUPPRESSED: Overlay = Overlay {
    out_of_service: false,
    suppressed: true,
};
const OOS: Overlay = Overlay {
    out_of_service: true,
    suppressed: false,
};

pub(crate) fn alarm(latching: bool) -> Alarm {
    let now = Utc::now();
    Alarm {
        id: "a1".into(),
        rule_id: "r1".into(),
        rule_name: "temp".into(),
        device_id: DeviceId::parse("pump-1").expect("id"),
        asset_id: None,
        metric: Some("temp".into()),
        state: AlarmState::ActiveUnack,
        severity: Severity::Major,
        peak_severity: Severity::Major,
        raised_at: now,
        value: 90.0,
        last_value: 90.0,
        condition_active: true,
        acknowledged: false,
        returned_at: None,
        cleared_at: None,
        shelved_until: None,
        shelved_one_shot: false,
        latching,
        create_work_order: false,
        chattering: false,
        announced: false,
        updated_at: now,
        history: Vec::new(),
    }
}

fn kinds(events: &[EventData]) -> Vec<&str> {
    events.iter().map(|e| e.kind()).collect()
}

/// Opens an episode under `overlay`; returns the alarm and the event types sent.
fn opened(latching: bool, overlay: Overlay) -> (Alarm, Vec<String>) {
    let mut a = alarm(latching);
    let mut step = Step::new(&mut a, Utc::now(), SYSTEM, None);
    step.open(overlay);
    let events = kinds(&step.changes.events)
        .into_iter()
        .map(str::to_owned)
        .collect();
    (a, events)
}

fn signal(a: &mut Alarm, active: bool, severity: Severity, overlay: Overlay) -> Vec<String> {
    let mut step = Step::new(a, Utc::now(), SYSTEM, None);
    step.signal(
        Signal {
            active,
            severity: Some(severity),
            value: if active { 90.0 } else { 50.0 },
        },
        severity,
        overlay,
    );
    kinds(&step.changes.events)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

fn by_operator(
    a: &mut Alarm,
    f: impl FnOnce(&mut Step) -> Result<(), crate::episode::Illegal>,
) -> Result<Vec<String>, String> {
    let mut step = Step::new(a, Utc::now(), "alice", Some("checked"));
    f(&mut step).map_err(|e| e.0)?;
    Ok(kinds(&step.changes.events)
        .into_iter()
        .map(str::to_owned)
        .collect())
}

#[test]
fn raise_ack_return_clears() {
    let (mut a, events) = opened(false, NORMAL);
    assert_eq!(a.state, AlarmState::ActiveUnack);
    assert_eq!(events, ["alarm.raised"]);
    let events = by_operator(&mut a, |s| s.acknowledge(NORMAL)).expect("ack");
    assert_eq!(
        (a.state, events.as_slice()),
        (
            AlarmState::ActiveAck,
            &["alarm.acknowledged".to_owned()][..]
        )
    );
    let events = signal(&mut a, false, Severity::Major, NORMAL);
    assert_eq!(a.state, AlarmState::Cleared);
    assert_eq!(events, ["alarm.returned_to_normal", "alarm.cleared"]);
    assert!(a.cleared_at.is_some());
}

#[test]
fn raise_return_then_ack_clears() {
    let (mut a, _) = opened(false, NORMAL);
    let events = signal(&mut a, false, Severity::Major, NORMAL);
    assert_eq!(a.state, AlarmState::RtnUnack);
    assert_eq!(events, ["alarm.returned_to_normal"]);
    let events = by_operator(&mut a, |s| s.acknowledge(NORMAL)).expect("ack");
    assert_eq!(a.state, AlarmState::Cleared);
    assert_eq!(events, ["alarm.acknowledged", "alarm.cleared"]);
}

#[test]
fn return_then_reactivate_needs_a_new_ack() {
    let (mut a, _) = opened(false, NORMAL);
    signal(&mut a, false, Severity::Major, NORMAL);
    let events = signal(&mut a, true, Severity::Major, NORMAL);
    assert_eq!(
        a.state,
        AlarmState::ActiveUnack,
        "same episode, active again"
    );
    assert!(events.is_empty(), "no second alarm.raised: {events:?}");
    assert!(a.condition_active && !a.acknowledged && a.returned_at.is_none());
}

#[test]
fn illegal_operator_actions_are_refused() {
    let (mut a, _) = opened(false, NORMAL);
    let err = by_operator(&mut a, |s| s.clear(NORMAL)).expect_err("condition active");
    assert!(err.contains("still active"), "{err}");
    by_operator(&mut a, |s| s.acknowledge(NORMAL)).expect("ack");
    let err = by_operator(&mut a, |s| s.acknowledge(NORMAL)).expect_err("twice");
    assert!(err.contains("active_ack"), "{err}");
    let err = by_operator(&mut a, |s| s.unshelve(NORMAL)).expect_err("not shelved");
    assert!(err.contains("not shelved"), "{err}");
    signal(&mut a, false, Severity::Major, NORMAL);
    assert_eq!(a.state, AlarmState::Cleared);
    for f in [
        (|s: &mut Step| s.acknowledge(NORMAL))
            as fn(&mut Step) -> Result<(), crate::episode::Illegal>,
        |s: &mut Step| s.clear(NORMAL),
        |s: &mut Step| s.unshelve(NORMAL),
        |s: &mut Step| s.shelve(Utc::now() + Duration::hours(1), false, NORMAL),
    ] {
        assert!(by_operator(&mut a, f).is_err(), "a cleared alarm is final");
    }
}

#[test]
fn latching_stays_until_acknowledged_and_cleared_by_hand() {
    let (mut a, _) = opened(true, NORMAL);
    let events = signal(&mut a, false, Severity::Major, NORMAL);
    assert_eq!(a.state, AlarmState::ActiveUnack, "latched");
    assert_eq!(events, ["alarm.returned_to_normal"]);
    by_operator(&mut a, |s| s.acknowledge(NORMAL)).expect("ack");
    assert_eq!(
        a.state,
        AlarmState::ActiveAck,
        "still latched after the ack"
    );
    let events = by_operator(&mut a, |s| s.clear(NORMAL)).expect("reset");
    assert_eq!(a.state, AlarmState::Cleared);
    assert_eq!(events, ["alarm.cleared"]);
}

#[test]
fn severity_escalates_and_deescalates_while_active() {
    let (mut a, _) = opened(false, NORMAL);
    let events = signal(&mut a, true, Severity::Critical, NORMAL);
    assert_eq!(events, ["alarm.severity_changed"]);
    assert_eq!(
        (a.severity, a.peak_severity),
        (Severity::Critical, Severity::Critical)
    );
    signal(&mut a, true, Severity::Major, NORMAL);
    assert_eq!(
        (a.severity, a.peak_severity),
        (Severity::Major, Severity::Critical)
    );
    assert_eq!(
        a.history.len(),
        0,
        "history is returned in changes, not kept on the alarm"
    );
}

#[test]
fn one_shot_shelve_ends_with_the_condition() {
    let (mut a, _) = opened(false, NORMAL);
    let events = by_operator(&mut a, |s| {
        s.shelve(Utc::now() + Duration::hours(8), true, NORMAL)
    })
    .expect("shelve");
    assert_eq!(a.state, AlarmState::Shelved);
    assert_eq!(events, ["alarm.shelved"]);
    let events = signal(&mut a, false, Severity::Major, NORMAL);
    assert_eq!(
        a.state,
        AlarmState::Cleared,
        "one-shot: back to normal ends it"
    );
    assert!(events.contains(&"alarm.cleared".to_owned()), "{events:?}");
}

#[test]
fn timed_shelve_holds_through_returns_and_unshelves_to_the_truth() {
    let (mut a, _) = opened(false, NORMAL);
    by_operator(&mut a, |s| {
        s.shelve(Utc::now() + Duration::hours(1), false, NORMAL)
    })
    .expect("shelve");
    signal(&mut a, false, Severity::Major, NORMAL);
    assert_eq!(
        a.state,
        AlarmState::Shelved,
        "timed: holds through a return"
    );
    signal(&mut a, true, Severity::Major, NORMAL);
    assert_eq!(a.state, AlarmState::Shelved, "and a reactivation");
    let events = by_operator(&mut a, |s| s.unshelve(NORMAL)).expect("unshelve");
    assert_eq!(
        a.state,
        AlarmState::ActiveUnack,
        "active: shown, unacknowledged"
    );
    assert_eq!(events, ["alarm.unshelved"]);
    // Shelved then normal at expiry: nothing left to show.
    let (mut b, _) = opened(false, NORMAL);
    by_operator(&mut b, |s| {
        s.shelve(Utc::now() + Duration::hours(1), false, NORMAL)
    })
    .expect("shelve");
    signal(&mut b, false, Severity::Major, NORMAL);
    let mut step = Step::new(&mut b, Utc::now(), SYSTEM, Some("shelve expired"));
    step.unshelve(NORMAL).expect("expiry");
    assert_eq!(b.state, AlarmState::Cleared);
}

#[test]
fn suppressed_by_design_is_not_announced_until_it_comes_into_view() {
    let (mut a, events) = opened(false, SUPPRESSED);
    assert_eq!(a.state, AlarmState::Suppressed);
    assert!(events.is_empty(), "no alarm.raised while suppressed");
    assert!(by_operator(&mut a, |s| s.acknowledge(SUPPRESSED)).is_err());
    let events = signal(&mut a, true, Severity::Major, NORMAL);
    assert_eq!(
        a.state,
        AlarmState::ActiveUnack,
        "the pump runs again, the condition holds"
    );
    assert_eq!(events, ["alarm.raised"]);
    // Suppressed again, then normal: the episode ends quietly... with its cleared event,
    // since it was announced.
    signal(&mut a, true, Severity::Major, SUPPRESSED);
    assert_eq!(a.state, AlarmState::Suppressed);
    let events = signal(&mut a, false, Severity::Major, SUPPRESSED);
    assert_eq!(a.state, AlarmState::Cleared);
    assert_eq!(events, ["alarm.returned_to_normal", "alarm.cleared"]);
    // Never announced: ends without a word.
    let (mut b, _) = opened(false, SUPPRESSED);
    let events = signal(&mut b, false, Severity::Major, SUPPRESSED);
    assert_eq!(b.state, AlarmState::Cleared);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn out_of_service_wins_over_shelved_and_suppressed_and_returns() {
    let (mut a, _) = opened(false, NORMAL);
    by_operator(&mut a, |s| {
        s.shelve(Utc::now() + Duration::hours(1), false, NORMAL)
    })
    .expect("shelve");
    let mut step = Step::new(&mut a, Utc::now(), SYSTEM, None);
    step.overlay(OOS);
    assert_eq!(a.state, AlarmState::OutOfService);
    let mut step = Step::new(&mut a, Utc::now(), SYSTEM, None);
    step.overlay(NORMAL);
    assert_eq!(
        a.state,
        AlarmState::Shelved,
        "back in service: still shelved"
    );
    let mut step = Step::new(&mut a, Utc::now(), SYSTEM, None);
    step.end(NORMAL);
    assert_eq!(a.state, AlarmState::Cleared, "a deleted rule ends it");
}
