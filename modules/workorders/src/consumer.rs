//! What the work-order module hears on the outbox: `alarm.raised` of a rule with
//! `create_work_order` (one order per episode, or a comment on the rule's open order on
//! the same equipment; a repeat failure flagged), `alarm.returned_to_normal` /
//! `alarm.cleared` (a comment on the episode's order, never a close) and
//! `maintenance.due` (one preventive order per plan occurrence). Idempotent: each event
//! is claimed (`plantd_events::claim`) in the transaction of its change, and the unique
//! alarm / occurrence columns back that up; answered after the commit, so an error gets
//! the event redelivered and a kill between any two steps neither loses nor doubles.

use actix::prelude::*;
use chrono::{DateTime, Duration, Utc};
use plantd_contracts::events::{AlarmEvent, DeliverEvent, MaintenanceDue};
use plantd_contracts::health::AlarmState;
use plantd_contracts::workorders::{Priority, WorkOrder, WorkOrderType};
use plantd_contracts::EventData;
use plantd_storage::{DbConnection, DbError};
use uuid::Uuid;

use crate::actor::WorkOrders;
use crate::input::{Editable, NewOrder};
use crate::machine::{self, SYSTEM};
use crate::store::{self, Equipment};
use crate::write::{self, Created};

/// One event's change, run in the transaction that claims the event.
type Work = Box<dyn FnOnce(&mut DbConnection, &mut Created) -> Result<(), DbError> + Send>;

/// The consumer's name in `events_processed`.
pub(crate) const CONSUMER: &str = "workorders";

impl Handler<DeliverEvent> for WorkOrders {
    type Result = AtomicResponse<Self, Result<(), String>>;

    fn handle(&mut self, msg: DeliverEvent, _: &mut Context<Self>) -> Self::Result {
        let event = msg.0;
        let kind = event.kind().to_owned();
        let id = event.id;
        let window = Duration::from_std(self.settings.repeat_window).unwrap_or(Duration::MAX);
        let work: Work = match event.data {
            EventData::AlarmRaised(a) if wants_order(&a) => {
                Box::new(move |c, created| on_raised(c, created, &a, window))
            }
            // Only a rule that asks for orders can have one to comment on: the others'
            // returns and clears cost no transaction.
            EventData::AlarmReturnedToNormal(a) if a.create_work_order => Box::new(move |c, _| {
                note_alarm(
                    c,
                    &a,
                    format!("Alarm returned to normal (value {})", a.value),
                )
            }),
            EventData::AlarmCleared(a) if a.create_work_order => {
                Box::new(move |c, _| note_alarm(c, &a, format!("Alarm cleared by {}", a.by)))
            }
            EventData::MaintenanceDue(d) => Box::new(move |c, created| on_due(c, created, &d)),
            _ => return AtomicResponse::new(Box::pin(fut::ready(Ok(())))),
        };
        let span = tracing::info_span!("workorders_consume", kind = %kind, event = %id);
        let response = self.commit(move |conn, created| {
            let _guard = span.enter();
            if !plantd_events::claim(conn, CONSUMER, id, Utc::now().timestamp_millis())? {
                tracing::debug!("event handled before; skipped");
                return Ok(());
            }
            work(conn, created)
        });
        AtomicResponse::new(Box::pin(response.map(move |result, _, _| {
            result.map_err(|e| {
                metrics::counter!("plantd_workorders_consumer_failures_total", "type" => kind.clone())
                    .increment(1);
                tracing::warn!(kind = %kind, event = %id, error = %e, "event not handled; it is redelivered");
                e.to_string()
            })
        })))
    }
}

/// A raise asks for an order unless the alarm is out of service, suppressed or shelved.
fn wants_order(a: &AlarmEvent) -> bool {
    a.create_work_order
        && !matches!(
            a.state,
            AlarmState::OutOfService | AlarmState::Suppressed | AlarmState::Shelved
        )
}

fn equipment(a: &AlarmEvent) -> Equipment {
    Equipment {
        rule_id: a.rule_id.clone(),
        asset_id: a.asset_id.clone(),
        device_id: a.device_id.to_string(),
    }
}

fn on_raised(
    conn: &mut DbConnection,
    created: &mut Created,
    a: &AlarmEvent,
    window: Duration,
) -> Result<(), DbError> {
    if store::by_alarm(conn, &a.alarm_id)?.is_some() {
        return Ok(());
    }
    let now = Utc::now();
    let on = equipment(a);
    let text = format!(
        "Alarm {} raised again: {} = {} ({})",
        a.rule_name,
        a.metric.as_deref().unwrap_or("value"),
        a.value,
        a.severity.as_str()
    );
    if let Some(mut open) = store::open_for(conn, &on)? {
        let h = machine::comment(&mut open, &text, now, SYSTEM);
        store::update_order(conn, &mut open)?;
        store::append_history(conn, &open.id, &[h])?;
        tracing::info!(work_order = %open.id, alarm = %a.alarm_id, "alarm noted on the open order");
        return Ok(());
    }
    let since = now
        .checked_sub_signed(window)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let previous = store::done_since(conn, &on, since.timestamp_millis())?;
    let order = write::create(conn, created, "alarm", now, |number| {
        let mut o = machine::build(
            Uuid::new_v4().to_string(),
            number,
            NewOrder {
                fields: Editable::system(
                    format!("{} on {}", a.rule_name, a.device_id),
                    format!(
                        "Opened by alarm {} of rule {}: {} = {} ({}) on device {}.",
                        a.alarm_id,
                        a.rule_name,
                        a.metric.as_deref().unwrap_or("value"),
                        a.value,
                        a.severity.as_str(),
                        a.device_id
                    ),
                    Priority::from_severity(a.severity),
                ),
                asset_id: a.asset_id.clone(),
                device_id: Some(a.device_id.clone()),
                checklist: Vec::new(),
            },
            WorkOrderType::Corrective,
            None,
            now,
            SYSTEM,
        );
        o.alarm_id = Some(a.alarm_id.clone());
        o.rule_id = Some(a.rule_id.clone());
        if let Some(p) = &previous {
            o.repeat_failure = true;
            o.repeat_of = Some(p.id.clone());
        }
        o
    })?;
    tracing::info!(work_order = %order.id, number = order.number, alarm = %a.alarm_id, repeat = order.repeat_failure, "work order opened by an alarm");
    Ok(())
}

/// A comment on the open order of this alarm episode, if there is one.
fn note_alarm(conn: &mut DbConnection, a: &AlarmEvent, text: String) -> Result<(), DbError> {
    let Some(mut order) = store::by_alarm(conn, &a.alarm_id)? else {
        return Ok(());
    };
    if !order.status.is_open() {
        return Ok(());
    }
    let h = machine::comment(&mut order, &text, Utc::now(), SYSTEM);
    store::update_order(conn, &mut order)?;
    store::append_history(conn, &order.id, &[h])
}

fn on_due(
    conn: &mut DbConnection,
    created: &mut Created,
    d: &MaintenanceDue,
) -> Result<(), DbError> {
    if store::by_occurrence(conn, &d.plan_id, d.occurrence)?.is_some() {
        return Ok(());
    }
    let now = Utc::now();
    let order: WorkOrder = write::create(conn, created, "plan", now, |number| {
        let mut fields = Editable::system(d.title.clone(), d.description.clone(), Priority::Medium);
        fields.kind = Some(WorkOrderType::Preventive);
        fields.due_at = d.due_at;
        fields.estimated_hours = d.estimated_hours;
        fields.stops_asset = d.stops_asset;
        fields.skills = d.skills.clone();
        fields.tools = d.tools.clone();
        fields.parts = d.parts.clone();
        let mut o = machine::build(
            Uuid::new_v4().to_string(),
            number,
            NewOrder {
                fields,
                asset_id: Some(d.asset_id.clone()),
                device_id: None,
                checklist: d.tasks.clone(),
            },
            WorkOrderType::Preventive,
            None,
            now,
            SYSTEM,
        );
        o.plan_id = Some(d.plan_id.clone());
        o.occurrence = Some(d.occurrence);
        o.interval_days = d.interval_days;
        o
    })?;
    tracing::info!(work_order = %order.id, plan = %d.plan_id, occurrence = d.occurrence, "preventive order opened");
    Ok(())
}
