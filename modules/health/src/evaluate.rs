//! Live evaluation: telemetry forwards each committed batch (`SamplesStored`); every
//! sample goes to the rules indexed under its metric and its device or asset (`index.rs`:
//! no allocation, no look at other devices' rules) — O(1) detector work per (rule,
//! device) — and the verdict moves that rule's alarm through
//! `episode.rs`. The clock does what samples cannot: `no_data` silences, shelve expiry.

use std::borrow::Cow;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use plantd_contracts::health::{Alarm, AlarmChange, AlarmState, Rule, SamplesStored};
use plantd_contracts::time::{now_ms, to_datetime, Millis};
use plantd_contracts::DeviceId;
use uuid::Uuid;

use crate::actor::{Compiled, Health, Slot};
use crate::detect::{Check, Signal};
use crate::episode::{Changes, Overlay, Step, SYSTEM};
use crate::rules;

/// Raises within this window that make an alarm chatter (ISA-18.2: ≥ 3 a minute).
const CHATTER_WINDOW_MS: Millis = 60_000;
const CHATTER_RAISES: usize = 3;

/// A change to write once the slots are no longer borrowed.
type Written = (Alarm, Changes, Option<Millis>);

impl Handler<SamplesStored> for Health {
    type Result = ();

    fn handle(&mut self, msg: SamplesStored, ctx: &mut Context<Self>) {
        let _span = tracing::debug_span!("health.evaluate", samples = msg.samples.len()).entered();
        metrics::counter!("plantd_health_samples_evaluated_total")
            .increment(msg.samples.len() as u64);
        let mut written = Vec::new();
        for (i, s) in msg.samples.iter().enumerate() {
            // The values of one sample object (same device, same time) are seen together:
            // `running: false` suppresses `flow: 0` of the same payload whatever their order.
            let first_of_group = i == 0 || {
                let prev = &msg.samples[i - 1];
                prev.device_id != s.device_id || prev.ts != s.ts
            };
            if first_of_group {
                for t in msg.samples[i..]
                    .iter()
                    .take_while(|t| t.device_id == s.device_id && t.ts == s.ts)
                {
                    let latest = match self.latest.get_mut(&t.device_id) {
                        Some(l) => l,
                        None => self.latest.entry(t.device_id.clone()).or_default(),
                    };
                    if let Some(v) = latest.get_mut(&*t.metric) {
                        *v = t.value;
                    } else {
                        latest.insert(t.metric.to_string(), t.value);
                    }
                }
            }
            let asset = self.device_assets.get(&s.device_id).map(String::as_str);
            let rules = self.index.for_sample(&s.metric, &s.device_id, asset);
            for id in rules.iter() {
                self.evaluate(
                    id,
                    &s.device_id,
                    &s.metric,
                    s.ts,
                    s.value,
                    msg.received_at,
                    &mut written,
                );
            }
        }
        self.queue_all(written);
        self.flush_writes(ctx);
    }
}

impl Health {
    fn queue_all(&mut self, written: Vec<Written>) {
        for (alarm, changes, received) in written {
            self.queue_write(&alarm, changes, None, received);
        }
        crate::metrics::set_open_gauges(self.open_alarms());
    }

    /// Whether `rule` watches `device`.
    fn watches(&self, rule: &Rule, device: &DeviceId) -> bool {
        match (&rule.input.device_id, &rule.input.asset_id) {
            (Some(d), _) => d == device.as_str(),
            (None, Some(a)) => self.device_assets.get(device) == Some(a),
            _ => false,
        }
    }

    /// What keeps an alarm of `rule` on `device` out of view now.
    pub(crate) fn overlay_for(&self, rule: &Rule, device: &DeviceId) -> Overlay {
        let asset = self.asset_of(rule, device);
        let out_of_service = rule.input.maintenance_aware
            && asset
                .as_ref()
                .and_then(|a| self.assets.get(a))
                .is_some_and(|a| a.in_maintenance);
        let suppressed = rule.input.suppress_when.as_ref().is_some_and(|c| {
            let value = self
                .latest
                .get(device)
                .and_then(|m| m.get(&c.metric))
                .copied()
                .or_else(|| {
                    let asset = asset.as_ref()?;
                    self.device_assets
                        .iter()
                        .filter(|(_, a)| *a == asset)
                        .find_map(|(d, _)| self.latest.get(d)?.get(&c.metric).copied())
                });
            match (value, rules::comparison(c.op, c.value, c.low, c.high, "")) {
                (Some(v), Ok(cmp)) => cmp.holds(v),
                _ => false,
            }
        });
        Overlay {
            out_of_service,
            suppressed,
        }
    }

    /// The check of a rule for one device: `iso20816` takes the bounds of the device's
    /// asset (or the rule's).
    pub(crate) fn check_for<'a>(&self, c: &'a Compiled, device: &DeviceId) -> Cow<'a, Check> {
        match &c.check {
            Check::Iso20816 { on_ms, .. } => {
                let bounds = self
                    .asset_of(&c.rule, device)
                    .and_then(|a| self.assets.get(&a))
                    .and_then(|a| a.iso20816)
                    .map(|class| class.boundaries());
                Cow::Owned(Check::Iso20816 {
                    bounds,
                    on_ms: *on_ms,
                })
            }
            other => Cow::Borrowed(other),
        }
    }

    fn in_maintenance(&self, rule: &Rule, device: &DeviceId) -> bool {
        self.asset_of(rule, device)
            .and_then(|a| self.assets.get(&a))
            .is_some_and(|a| a.in_maintenance)
    }

    #[allow(clippy::too_many_arguments)]
    fn evaluate(
        &mut self,
        rule_id: &str,
        device: &DeviceId,
        metric: &str,
        ts: Millis,
        value: f64,
        received_at: Millis,
        written: &mut Vec<Written>,
    ) {
        let Some(c) = self.rules.get(rule_id) else {
            return;
        };
        if !c.rule.input.enabled || !self.watches(&c.rule, device) {
            return;
        }
        let overlay = self.overlay_for(&c.rule, device);
        let check = self.check_for(c, device).into_owned();
        let maintenance = self.in_maintenance(&c.rule, device);
        let asset = self.asset_of(&c.rule, device);
        let watched = c.metrics.is_empty() || c.metrics.iter().any(|m| m == metric);
        let now = now_ms();
        let Some(c) = self.rules.get(rule_id) else {
            return;
        };
        if !self
            .slots
            .get(rule_id)
            .is_some_and(|s| s.contains_key(device))
        {
            self.slots
                .entry(rule_id.to_owned())
                .or_default()
                .insert(device.clone(), Slot::new(&check, now));
        }
        let Some(slot) = self.slots.get_mut(rule_id).and_then(|s| s.get_mut(device)) else {
            return;
        };
        let signal = if watched {
            let learn = !maintenance && !slot.alarm.as_ref().is_some_and(|a| a.condition_active);
            // `no_data` counts silence by arrival; every other check by sample time.
            let at = if matches!(check, Check::NoData { .. }) {
                now
            } else {
                ts
            };
            let signal = slot.state.on_sample(&check, metric, at, value, learn);
            slot.dirty = true;
            signal
        } else {
            None
        };
        if let Some(s) = signal {
            slot.last = Some(s);
        }
        if let Some(w) = apply(
            c,
            device,
            asset,
            slot,
            signal,
            overlay,
            ts,
            Some(received_at),
            &mut self.chattering,
        ) {
            written.push(w);
        }
    }

    /// The clock: `no_data` rules, shelve expiry, chattering memory.
    pub(crate) fn on_clock(&mut self, _ctx: &mut Context<Self>) {
        let now = now_ms();
        let mut written = Vec::new();
        let no_data: Vec<String> = self
            .rules
            .values()
            .filter(|c| c.rule.input.enabled && matches!(c.check, Check::NoData { .. }))
            .map(|c| c.rule.id.clone())
            .collect();
        for id in no_data {
            let Some(c) = self.rules.get(&id) else {
                continue;
            };
            for device in self.devices_of(&c.rule) {
                let overlay = self.overlay_for(&c.rule, &device);
                let asset = self.asset_of(&c.rule, &device);
                let slot = self
                    .slots
                    .entry(id.clone())
                    .or_default()
                    .entry(device.clone())
                    .or_insert_with(|| Slot::new(&c.check, now));
                if let Some(s) = slot.state.on_clock(&c.check, now, slot.since) {
                    slot.dirty = true;
                    slot.last = Some(s);
                    if let Some(w) = apply(
                        c,
                        &device,
                        asset,
                        slot,
                        Some(s),
                        overlay,
                        now,
                        None,
                        &mut self.chattering,
                    ) {
                        written.push(w);
                    }
                }
            }
        }
        let when = to_datetime(now);
        for slots in self.slots.values_mut() {
            for slot in slots.values_mut() {
                let Some(alarm) = slot.alarm.as_mut() else {
                    continue;
                };
                if alarm.shelved_until.is_some_and(|u| u <= when) {
                    // The overlay is recomputed at the next sample; shelving ends now.
                    let mut step = Step::new(alarm, when, SYSTEM, Some("shelve expired"));
                    if step.unshelve(Overlay::default()).is_ok() {
                        let changes = step.changes;
                        written.push((alarm.clone(), changes, None));
                        if alarm.state == AlarmState::Cleared {
                            slot.alarm = None;
                        }
                    }
                }
            }
        }
        self.chattering.retain(|_, at| now - *at < 86_400_000);
        if !written.is_empty() {
            self.queue_all(written);
        }
    }

    /// Maintenance of `asset` (every asset: `None`) changed: re-settle its open alarms.
    pub(crate) fn resettle(&mut self, asset: Option<&str>) {
        let now = to_datetime(now_ms());
        let mut written = Vec::new();
        let keys: Vec<(String, DeviceId)> = self
            .slots
            .iter()
            .flat_map(|(r, s)| {
                s.iter()
                    .filter(|(_, slot)| slot.alarm.is_some())
                    .map(move |(d, _)| (r.clone(), d.clone()))
            })
            .collect();
        for (rule_id, device) in keys {
            let Some(c) = self.rules.get(&rule_id) else {
                continue;
            };
            if asset.is_some() && self.asset_of(&c.rule, &device).as_deref() != asset {
                continue;
            }
            let overlay = self.overlay_for(&c.rule, &device);
            let Some(slot) = self
                .slots
                .get_mut(&rule_id)
                .and_then(|s| s.get_mut(&device))
            else {
                continue;
            };
            let Some(alarm) = slot.alarm.as_mut() else {
                continue;
            };
            let mut step = Step::new(alarm, now, SYSTEM, None);
            step.overlay(overlay);
            let changes = step.changes;
            if !changes.is_empty() {
                written.push((alarm.clone(), changes, None));
            }
        }
        self.queue_all(written);
    }
}

/// Moves one slot's alarm by a verdict (or by a changed overlay when `signal` is `None`).
#[allow(clippy::too_many_arguments)]
fn apply(
    c: &Compiled,
    device: &DeviceId,
    asset_id: Option<String>,
    slot: &mut Slot,
    signal: Option<Signal>,
    overlay: Overlay,
    ts: Millis,
    received_at: Option<Millis>,
    chattering: &mut std::collections::HashMap<String, Millis>,
) -> Option<Written> {
    let now: DateTime<Utc> = to_datetime(now_ms());
    let severity = |s: &Signal| s.severity.unwrap_or_else(|| rules::severity(&c.rule.input));
    match (slot.alarm.as_mut(), signal) {
        (None, Some(s)) if s.active => {
            let sev = severity(&s);
            let raised_at = to_datetime(ts);
            let mut alarm = Alarm {
                id: Uuid::new_v4().to_string(),
                rule_id: c.rule.id.clone(),
                rule_name: c.rule.input.name.clone(),
                device_id: device.clone(),
                asset_id,
                metric: c.rule.input.metric.clone(),
                state: AlarmState::ActiveUnack,
                severity: sev,
                peak_severity: sev,
                raised_at,
                value: s.value,
                last_value: s.value,
                condition_active: true,
                acknowledged: false,
                returned_at: None,
                cleared_at: None,
                shelved_until: None,
                shelved_one_shot: false,
                latching: c.rule.input.latching,
                create_work_order: c.rule.input.create_work_order,
                chattering: false,
                announced: false,
                updated_at: now,
                history: Vec::new(),
            };
            let mut step = Step::new(&mut alarm, now, SYSTEM, None);
            step.open(overlay);
            let mut changes = step.changes;
            chatter(
                &c.rule.id,
                &mut slot.raises,
                &mut alarm,
                &mut changes,
                now,
                chattering,
            );
            metrics::counter!("plantd_alarms_raised_total", "severity" => sev.as_str())
                .increment(1);
            slot.alarm = Some(alarm.clone());
            Some((alarm, changes, received_at))
        }
        (None, _) => None,
        (Some(alarm), s) => {
            let was_active = alarm.condition_active;
            let mut step = Step::new(alarm, now, SYSTEM, None);
            match s {
                Some(s) => step.signal(s, severity(&s), overlay),
                None => step.overlay(overlay),
            }
            let mut changes = step.changes;
            if s.is_some_and(|s| s.active) && !was_active {
                chatter(
                    &c.rule.id,
                    &mut slot.raises,
                    alarm,
                    &mut changes,
                    now,
                    chattering,
                );
            }
            if changes.is_empty() {
                return None;
            }
            let out = alarm.clone();
            if out.state == AlarmState::Cleared {
                slot.alarm = None;
            }
            Some((out, changes, None))
        }
    }
}

/// Counts a raise; the third within a minute flags the alarm (and its rule) as chattering.
fn chatter(
    rule_id: &str,
    raises: &mut std::collections::VecDeque<Millis>,
    alarm: &mut Alarm,
    changes: &mut Changes,
    now: DateTime<Utc>,
    chattering: &mut std::collections::HashMap<String, Millis>,
) {
    let at = now.timestamp_millis();
    raises.push_back(at);
    while raises.front().is_some_and(|t| at - *t > CHATTER_WINDOW_MS) {
        raises.pop_front();
    }
    if raises.len() >= CHATTER_RAISES && !alarm.chattering {
        alarm.chattering = true;
        chattering.insert(rule_id.to_owned(), at);
        metrics::counter!("plantd_alarms_chattering_total").increment(1);
        changes.history.push(AlarmChange {
            at: now,
            action: "chattering".into(),
            from: Some(alarm.state),
            to: alarm.state,
            severity: alarm.severity,
            value: Some(alarm.last_value),
            by: SYSTEM.into(),
            comment: Some(format!("{} raises within a minute", raises.len())),
        });
    }
}
