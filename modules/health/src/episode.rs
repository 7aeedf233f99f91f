//! The ISA-18.2 state machine of one alarm episode: what a change of the condition, of
//! suppression or maintenance, an operator's action or the clock does to an [`Alarm`], the
//! history entry each change leaves and the event each sends. Pure: no I/O, no clock of
//! its own (callers pass `now`). A cleared alarm is final: the next occurrence is a new one.
//!
//! The state is derived, never set by hand: the condition (active / normal) and the
//! acknowledgement give the base state (`active_unack`, `active_ack`, `rtn_unack`,
//! `cleared`; a latching alarm stays active until cleared by hand), and the overlays —
//! out of service (maintenance), shelved (by an operator), suppressed (by design) — take an
//! open alarm out of view, in that order of precedence. A return to normal while suppressed,
//! out of service or shelved one-shot ends the episode; a timed shelve holds until it ends.

use chrono::{DateTime, Utc};
use plantd_contracts::events::AlarmEvent;
use plantd_contracts::health::{Alarm, AlarmChange, AlarmState, Severity};
use plantd_contracts::EventData;

use crate::detect::Signal;

/// Who the evaluator is in the history.
pub const SYSTEM: &str = "system";

/// What takes the alarm out of view, from outside the alarm itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overlay {
    pub out_of_service: bool,
    pub suppressed: bool,
}

/// The changes of one step: history entries (in order) and the events to record.
#[derive(Debug, Default)]
pub struct Changes {
    pub history: Vec<AlarmChange>,
    pub events: Vec<EventData>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.history.is_empty()
    }
}

/// An operator's request that the alarm's state does not allow (→ 409).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Illegal(pub String);

fn base_state(a: &Alarm) -> AlarmState {
    match (a.condition_active || a.latching, a.acknowledged) {
        (true, false) => AlarmState::ActiveUnack,
        (true, true) => AlarmState::ActiveAck,
        (false, false) => AlarmState::RtnUnack,
        (false, true) => AlarmState::Cleared,
    }
}

fn shelved(a: &Alarm) -> bool {
    a.shelved_until.is_some() || a.shelved_one_shot
}

fn view_state(a: &Alarm, overlay: Overlay) -> AlarmState {
    let base = base_state(a);
    if base == AlarmState::Cleared {
        AlarmState::Cleared
    } else if overlay.out_of_service {
        AlarmState::OutOfService
    } else if shelved(a) {
        AlarmState::Shelved
    } else if overlay.suppressed {
        AlarmState::Suppressed
    } else {
        base
    }
}

/// The event of an alarm as it is now.
pub fn event_of(a: &Alarm, by: &str, comment: Option<&str>) -> AlarmEvent {
    AlarmEvent {
        alarm_id: a.id.clone(),
        rule_id: a.rule_id.clone(),
        rule_name: a.rule_name.clone(),
        device_id: a.device_id.clone(),
        asset_id: a.asset_id.clone(),
        metric: a.metric.clone(),
        state: a.state,
        severity: a.severity,
        previous_severity: None,
        value: a.last_value,
        create_work_order: a.create_work_order,
        by: by.to_owned(),
        comment: comment.map(str::to_owned),
    }
}

/// One step on an alarm: records history and events as it goes.
pub struct Step<'a> {
    pub alarm: &'a mut Alarm,
    pub now: DateTime<Utc>,
    pub by: &'a str,
    pub comment: Option<&'a str>,
    pub changes: Changes,
}

impl<'a> Step<'a> {
    pub fn new(
        alarm: &'a mut Alarm,
        now: DateTime<Utc>,
        by: &'a str,
        comment: Option<&'a str>,
    ) -> Self {
        Step {
            alarm,
            now,
            by,
            comment,
            changes: Changes::default(),
        }
    }

    fn log(&mut self, action: &str, from: Option<AlarmState>) {
        let a = &mut *self.alarm;
        a.updated_at = self.now;
        if a.state == AlarmState::Cleared && a.cleared_at.is_none() {
            a.cleared_at = Some(self.now);
            a.shelved_until = None;
            a.shelved_one_shot = false;
        }
        self.changes.history.push(AlarmChange {
            at: self.now,
            action: action.to_owned(),
            from,
            to: a.state,
            severity: a.severity,
            value: Some(a.last_value),
            by: self.by.to_owned(),
            comment: self.comment.map(str::to_owned),
        });
    }

    fn emit(&mut self, make: fn(AlarmEvent) -> EventData, previous: Option<Severity>) {
        let mut e = event_of(self.alarm, self.by, self.comment);
        e.previous_severity = previous;
        self.changes.events.push(make(e));
    }

    /// Recomputes the state under `overlay`; logs `action` when it changed (or always,
    /// with `force`). Sends `alarm.raised` the first time the alarm comes into view, and
    /// `alarm.cleared` when an announced alarm ends.
    fn settle(&mut self, overlay: Overlay, action: &str, force: bool) -> bool {
        let from = self.alarm.state;
        let to = view_state(self.alarm, overlay);
        if from == to && !force {
            return false;
        }
        self.alarm.state = to;
        self.log(action, Some(from));
        let in_view = matches!(
            to,
            AlarmState::ActiveUnack | AlarmState::ActiveAck | AlarmState::RtnUnack
        );
        if in_view && !self.alarm.announced {
            self.alarm.announced = true;
            self.emit(EventData::AlarmRaised, None);
        } else if to == AlarmState::Cleared && self.alarm.announced {
            self.emit(EventData::AlarmCleared, None);
        }
        true
    }

    /// Sets the alarm's state for a fresh episode and announces it if in view.
    pub fn open(&mut self, overlay: Overlay) {
        let to = view_state(self.alarm, overlay);
        self.alarm.state = to;
        self.log("raised", None);
        if matches!(to, AlarmState::ActiveUnack) {
            self.alarm.announced = true;
            self.emit(EventData::AlarmRaised, None);
        }
    }

    /// The detector's verdict on a new sample (or silence).
    pub fn signal(&mut self, s: Signal, severity: Severity, overlay: Overlay) {
        self.alarm.last_value = s.value;
        if s.active && !self.alarm.condition_active {
            // Back in alarm within the same episode: it needs a fresh acknowledgement.
            self.alarm.condition_active = true;
            self.alarm.acknowledged = false;
            self.alarm.returned_at = None;
            self.settle(overlay, "reactivated", true);
        } else if !s.active && self.alarm.condition_active {
            self.alarm.condition_active = false;
            self.alarm.returned_at = Some(self.now);
            let out_of_view =
                overlay.out_of_service || overlay.suppressed || self.alarm.shelved_one_shot;
            if out_of_view {
                // Nobody needs to acknowledge what nobody was shown: the episode ends.
                self.alarm.acknowledged = true;
                if self.alarm.shelved_one_shot {
                    self.alarm.shelved_one_shot = false;
                    self.alarm.shelved_until = None;
                }
            }
            let announced = self.alarm.announced;
            self.settle(overlay, "returned_to_normal", true);
            if announced {
                self.emit(EventData::AlarmReturnedToNormal, None);
                self.reorder_cleared_last();
            }
        } else {
            self.overlay(overlay);
        }
        if s.active && severity != self.alarm.severity {
            let previous = self.alarm.severity;
            self.alarm.severity = severity;
            self.alarm.peak_severity = self.alarm.peak_severity.min(severity);
            let from = self.alarm.state;
            self.log("severity_changed", Some(from));
            if self.alarm.announced {
                self.emit(EventData::AlarmSeverityChanged, Some(previous));
            }
        }
    }

    /// `alarm.returned_to_normal` / `alarm.acknowledged` / `alarm.unshelved` read before
    /// `alarm.cleared` of the same step.
    fn reorder_cleared_last(&mut self) {
        let n = self.changes.events.len();
        if n >= 2 && matches!(self.changes.events[n - 2], EventData::AlarmCleared(_)) {
            self.changes.events.swap(n - 2, n - 1);
        }
    }

    /// Suppression or maintenance changed.
    pub fn overlay(&mut self, overlay: Overlay) {
        let action = match (overlay.out_of_service, self.alarm.state) {
            (true, _) => "out_of_service",
            (false, AlarmState::OutOfService) => "in_service",
            (false, _) if overlay.suppressed => "suppressed",
            _ => "unsuppressed",
        };
        self.settle(overlay, action, false);
    }

    pub fn acknowledge(&mut self, overlay: Overlay) -> Result<(), Illegal> {
        match self.alarm.state {
            AlarmState::ActiveUnack | AlarmState::RtnUnack => {
                self.alarm.acknowledged = true;
                self.settle(overlay, "acknowledged", true);
                self.emit(EventData::AlarmAcknowledged, None);
                self.reorder_cleared_last();
                Ok(())
            }
            other => Err(Illegal(format!(
                "an alarm in state {} cannot be acknowledged",
                other.as_str()
            ))),
        }
    }

    /// Shelves until `until` (the caller caps it); `one_shot` also ends the shelve, and
    /// the episode, when the condition returns to normal.
    pub fn shelve(
        &mut self,
        until: DateTime<Utc>,
        one_shot: bool,
        overlay: Overlay,
    ) -> Result<(), Illegal> {
        match self.alarm.state {
            AlarmState::ActiveUnack | AlarmState::ActiveAck | AlarmState::RtnUnack => {
                self.alarm.shelved_until = Some(until);
                self.alarm.shelved_one_shot = one_shot;
                self.settle(overlay, "shelved", true);
                self.emit(EventData::AlarmShelved, None);
                Ok(())
            }
            other => Err(Illegal(format!(
                "an alarm in state {} cannot be shelved",
                other.as_str()
            ))),
        }
    }

    pub fn unshelve(&mut self, overlay: Overlay) -> Result<(), Illegal> {
        if !shelved(self.alarm) || self.alarm.state == AlarmState::Cleared {
            return Err(Illegal(format!(
                "an alarm in state {} is not shelved",
                self.alarm.state.as_str()
            )));
        }
        self.alarm.shelved_until = None;
        self.alarm.shelved_one_shot = false;
        if !self.alarm.condition_active && !self.alarm.latching {
            // It returned to normal while shelved: nothing is left to show.
            self.alarm.acknowledged = true;
        }
        self.settle(overlay, "unshelved", true);
        self.emit(EventData::AlarmUnshelved, None);
        self.reorder_cleared_last();
        Ok(())
    }

    /// Ends the episode whatever the condition (its rule was deleted).
    pub fn end(&mut self, overlay: Overlay) {
        self.alarm.condition_active = false;
        self.alarm.acknowledged = true;
        self.alarm.latching = false;
        self.alarm.shelved_until = None;
        self.alarm.shelved_one_shot = false;
        self.settle(overlay, "cleared", true);
    }

    /// A manual clear: only when the condition is normal.
    pub fn clear(&mut self, overlay: Overlay) -> Result<(), Illegal> {
        if self.alarm.state == AlarmState::Cleared {
            return Err(Illegal("the alarm is already cleared".into()));
        }
        if self.alarm.condition_active {
            return Err(Illegal(
                "the condition is still active: an alarm is cleared only once it has returned to normal"
                    .into(),
            ));
        }
        self.alarm.acknowledged = true;
        self.alarm.latching = false;
        self.alarm.shelved_until = None;
        self.alarm.shelved_one_shot = false;
        self.settle(overlay, "cleared", true);
        Ok(())
    }
}
