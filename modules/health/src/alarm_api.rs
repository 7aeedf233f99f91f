//! The alarm messages of the API: list and read (from the database: memory holds only
//! open episodes), an operator's action (on the open episode in memory, answered once
//! written), and the alarm-system health figures (`stats.rs`).

use actix::prelude::*;
use chrono::Utc;
use plantd_contracts::health::*;
use plantd_contracts::{DeviceId, DomainError};
use tokio::sync::oneshot;

use crate::actor::Health;
use crate::episode::Step;
use crate::stats;
use crate::store::{self, AlarmQuery, AlarmRow, HistoryRow};

type Reply<T> = ResponseActFuture<Health, Result<T, DomainError>>;

/// An alarm from its row (and history rows, when read one by one).
pub(crate) fn decode(row: &AlarmRow, history: &[HistoryRow]) -> Result<Alarm, DomainError> {
    let mut alarm: Alarm = serde_json::from_str(&row.doc).map_err(|e| {
        DomainError::Unavailable(format!("stored alarm {} does not decode: {e}", row.id))
    })?;
    alarm.history = history
        .iter()
        .filter_map(|h| serde_json::from_str(&h.change).ok())
        .collect();
    Ok(alarm)
}

impl Handler<ListAlarms> for Health {
    type Result = Reply<AlarmPage>;

    fn handle(&mut self, msg: ListAlarms, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        let limit = msg.limit.clamp(1, 1000);
        Box::pin(
            async move {
                let before = match &msg.after {
                    Some(id) => {
                        let key = id.clone();
                        let found = db.run(move |c| store::get_alarm(c, &key)).await?;
                        let (row, _) =
                            found.ok_or_else(|| DomainError::NotFound(format!("cursor {id}")))?;
                        Some((row.raised_at, row.id))
                    }
                    None => None,
                };
                let q = AlarmQuery {
                    state: msg.state.map(|s| s.as_str().to_owned()),
                    open: msg.open,
                    severity: msg.severity.map(|s| s.as_str().to_owned()),
                    asset_id: msg.asset_id,
                    device_id: msg.device_id,
                    rule_id: msg.rule_id,
                    before,
                    limit: limit as i64 + 1,
                };
                let rows = db.run(move |c| store::list_alarms(c, &q)).await?;
                let mut items = rows
                    .iter()
                    .map(|r| decode(r, &[]))
                    .collect::<Result<Vec<_>, _>>()?;
                let next_cursor = if items.len() > limit {
                    items.truncate(limit);
                    items.last().map(|a| a.id.clone())
                } else {
                    None
                };
                Ok(AlarmPage { items, next_cursor })
            }
            .into_actor(self),
        )
    }
}

impl Handler<GetAlarm> for Health {
    type Result = Reply<Alarm>;

    fn handle(&mut self, msg: GetAlarm, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move {
                let id = msg.0.clone();
                let found = db.run(move |c| store::get_alarm(c, &id)).await?;
                let (row, history) =
                    found.ok_or_else(|| DomainError::NotFound(format!("alarm {}", msg.0)))?;
                decode(&row, &history)
            }
            .into_actor(self),
        )
    }
}

impl Handler<ActOnAlarm> for Health {
    type Result = Reply<Alarm>;

    fn handle(&mut self, msg: ActOnAlarm, ctx: &mut Context<Self>) -> Self::Result {
        let found = self.slots.iter().find_map(|(rule, slots)| {
            slots
                .iter()
                .find(|(_, s)| s.alarm.as_ref().is_some_and(|a| a.id == msg.id))
                .map(|(d, _)| (rule.clone(), d.clone()))
        });
        let Some((rule_id, device)) = found else {
            // Not open: cleared (409) or unknown (404).
            let db = self.db.clone();
            let id = msg.id.clone();
            return Box::pin(
                async move {
                    let key = id.clone();
                    match db.run(move |c| store::get_alarm(c, &key)).await? {
                        Some(_) => Err(DomainError::Conflict(format!(
                            "alarm {id} is cleared: a cleared alarm is final"
                        ))),
                        None => Err(DomainError::NotFound(format!("alarm {id}"))),
                    }
                }
                .into_actor(self),
            );
        };
        let overlay = match self.rules.get(&rule_id) {
            Some(c) => self.overlay_for(&c.rule, &device),
            None => Default::default(),
        };
        let max_until = Utc::now()
            + chrono::Duration::from_std(self.settings.max_shelve)
                .unwrap_or(chrono::Duration::hours(8));
        let Some(alarm) = self.alarm_mut(&rule_id, &device) else {
            return Box::pin(fut::ready(Err(DomainError::NotFound(format!(
                "alarm {}",
                msg.id
            )))));
        };
        let now = Utc::now();
        let mut step = Step::new(alarm, now, &msg.by, msg.comment.as_deref());
        let outcome = match &msg.action {
            OperatorAction::Acknowledge => step.acknowledge(overlay),
            OperatorAction::Shelve { until, reason } => {
                if reason.trim().is_empty() {
                    return Box::pin(fut::ready(Err(DomainError::invalid(
                        "reason",
                        "say why the alarm is shelved",
                    ))));
                }
                if until.is_some_and(|u| u <= now) {
                    return Box::pin(fut::ready(Err(DomainError::invalid(
                        "until",
                        "must be in the future",
                    ))));
                }
                step.comment = Some(reason.as_str());
                let capped = until.map_or(max_until, |u| u.min(max_until));
                step.shelve(capped, until.is_none(), overlay)
            }
            OperatorAction::Unshelve => step.unshelve(overlay),
            OperatorAction::Clear => step.clear(overlay),
        };
        if let Err(e) = outcome {
            return Box::pin(fut::ready(Err(DomainError::Conflict(e.0))));
        }
        let changes = step.changes;
        let snapshot = alarm.clone();
        if snapshot.state == AlarmState::Cleared {
            if let Some(slot) = self
                .slots
                .get_mut(&rule_id)
                .and_then(|s| s.get_mut(&device))
            {
                slot.alarm = None;
            }
        }
        let (tx, rx) = oneshot::channel();
        self.queue_write(&snapshot, changes, Some(tx), None);
        crate::metrics::set_open_gauges(self.open_alarms());
        self.flush_writes(ctx);
        Box::pin(
            async move {
                rx.await
                    .map_err(|_| DomainError::Unavailable("health stopped".into()))?
            }
            .into_actor(self),
        )
    }
}

impl Health {
    fn alarm_mut(&mut self, rule_id: &str, device: &DeviceId) -> Option<&mut Alarm> {
        self.slots.get_mut(rule_id)?.get_mut(device)?.alarm.as_mut()
    }
}

impl Handler<CountOpenAlarms> for Health {
    type Result = MessageResult<CountOpenAlarms>;

    fn handle(&mut self, _: CountOpenAlarms, _: &mut Context<Self>) -> Self::Result {
        let mut counts = AlarmCounts::default();
        for alarm in self.open_alarms().filter(|a| a.state.is_open()) {
            counts.add(alarm.severity);
        }
        MessageResult(counts)
    }
}

impl Handler<GetAlarmStats> for Health {
    type Result = Reply<AlarmStats>;

    fn handle(&mut self, msg: GetAlarmStats, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        let open: Vec<Alarm> = self.open_alarms().cloned().collect();
        let chattering_rules: Vec<String> = self.chattering.keys().cloned().collect();
        Box::pin(
            async move {
                let (from, to) = (msg.from_ms, msg.to_ms);
                let rows = db.run(move |c| store::raised_between(c, from, to)).await?;
                let raised = rows
                    .iter()
                    .map(stats::Raised::try_from)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(stats::compute(
                    from,
                    to,
                    &raised,
                    &open,
                    chattering_rules,
                    Utc::now(),
                ))
            }
            .into_actor(self),
        )
    }
}
