//! The `Control` actor: answers shadow and command messages from the HTTP edge, applies
//! devices' reports and command results (`DeviceMessage` from the broker's gateway), sends
//! devices their desired document, delta and commands (`PublishToDevice`), expires
//! commands on a timer, and re-sends the delta and open commands when a device connects.
//! Each change records its `shadow.*` / `command.*` event in the change's transaction.
//! It subscribes to `device.*` events (presence; a deleted device's open commands are
//! cancelled), handling each idempotently: a redelivered event changes nothing more.
//!
//! Every message that changes state is handled atomically (the actor takes the next
//! message only after the database has committed and the publishes are queued), so two
//! patches of one shadow never interleave and a device sees desired documents in order.
//! It may touch only `devices_shadow` and `devices_commands`.

use std::collections::HashSet;
use std::time::Duration;

use actix::prelude::*;
use plantd_contracts::broker::{HoldDevice, PublishToDevice};
use plantd_contracts::commands::{self as contract, CommandState, CommandView};
use plantd_contracts::devices::{DeviceMessage, DeviceView, FlushPending, GetDevice};
use plantd_contracts::events::{CommandRef, DeliverEvent, ShadowUpdated};
use plantd_contracts::log_throttle::clip;
use plantd_contracts::shadow::{GetShadow, ShadowView, UpdateDesired};
use plantd_contracts::time::now_ms;
use plantd_contracts::warn_throttled;
use plantd_contracts::{DeviceId, DomainError, Event, EventData};
use plantd_events::Outbox;
use plantd_storage::{Db, DbConnection, DbError};
use serde_json::Value;
use tracing::Instrument;

use super::commands;
use super::queue::{Pushed, QueueLimits, QueuedResult, Queues};
use super::shadow::{self, Rejection, Shadow};
use super::store::{self, CommandRow};

/// How often open commands are checked for expiry.
const EXPIRE_EVERY: Duration = Duration::from_secs(1);
/// After a device connects, plantd waits this long before it sends the delta and pending
/// commands, so a device on a clean session has time to subscribe (MQTT drops a publish
/// nobody is subscribed to). A device on a persistent session is subscribed already.
const CONNECT_SETTLE: Duration = Duration::from_millis(750);

pub struct Control {
    db: Db,
    devices: Recipient<GetDevice>,
    publisher: Recipient<PublishToDevice>,
    outbox: Outbox,
    /// Devices connected now, from `device.connected` / `device.disconnected` events.
    online: HashSet<DeviceId>,
    /// Parsed `state/reported` messages and command results waiting, per device, in
    /// arrival order. A device has an entry only while an `ApplyBatch` for it is queued:
    /// whatever it sends until that runs joins the same registry check and transaction
    /// (issue 14.4).
    queues: Queues,
    /// Devices whose command results are being written (one batch of them at a time).
    results_in_flight: HashSet<DeviceId>,
    /// The broker: holds a device whose queue is full.
    hold: Recipient<HoldDevice>,
}

impl Control {
    /// `devices` answers whether a device exists; `publisher` reaches devices over MQTT;
    /// `outbox` is told when `shadow.updated` / `command.*` events were committed; `hold`
    /// holds a device whose queue reached `limits`.
    pub fn new(
        db: Db,
        devices: Recipient<GetDevice>,
        publisher: Recipient<PublishToDevice>,
        outbox: Outbox,
        hold: Recipient<HoldDevice>,
        limits: QueueLimits,
    ) -> Control {
        Control {
            db,
            devices,
            publisher,
            outbox,
            online: HashSet::new(),
            queues: Queues::new(limits),
            results_in_flight: HashSet::new(),
            hold,
        }
    }

    fn send_to(&self, device_id: &DeviceId, subtopic: &str, payload: Vec<u8>, retain: bool) {
        self.publisher.do_send(PublishToDevice {
            device_id: device_id.clone(),
            subtopic: subtopic.to_owned(),
            payload,
            retain,
        });
    }

    /// The delta, if the device is online and it is not empty (or `always`).
    fn send_delta(&self, device_id: &DeviceId, s: &Shadow, always: bool) {
        let delta = s.delta();
        if self.online.contains(device_id) && (always || !delta.is_empty()) {
            self.send_to(device_id, "state/delta", s.delta_document(&delta), false);
        }
    }

    /// After the commit of a command's final state (its event recorded with it).
    fn command_finished(&self, row: &CommandRow) {
        let Some(state) = CommandState::parse(&row.state) else {
            return;
        };
        self.outbox.wake();
        metrics::counter!("plantd_commands_completed_total", "state" => state.as_str())
            .increment(1);
        tracing::info!(device = %row.device_id, command = %row.id, name = %row.name, state = %state, "command finished");
    }
}

impl Actor for Control {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.notify(RetainDesired);
        ctx.run_interval(EXPIRE_EVERY, |_, ctx| ctx.notify(ExpireDue));
    }
}

/// At start: publish every stored desired document again, retained. The broker keeps
/// retained messages in memory only, and a late subscriber must still find them after a
/// restart. Atomic, so no newer document can be overwritten by an older one meanwhile.
#[derive(Message)]
#[rtype(result = "()")]
struct RetainDesired;

impl Handler<RetainDesired> for Control {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, _: RetainDesired, _: &mut Context<Self>) -> Self::Result {
        let (db, publisher) = (self.db.clone(), self.publisher.clone());
        AtomicResponse::new(Box::pin(
            async move {
                let shadows = db.run(store::shadows_with_desired).await?;
                let mut published = 0usize;
                for (device, s) in shadows {
                    let Ok(device_id) = DeviceId::parse(&device) else {
                        continue;
                    };
                    let msg = PublishToDevice {
                        device_id,
                        subtopic: "state/desired".to_owned(),
                        payload: s.desired_document(),
                        retain: true,
                    };
                    // The broker refuses while its link is backed up: wait and try again.
                    for _ in 0..50 {
                        match publisher.send(msg.clone()).await {
                            Ok(Ok(())) => {
                                published += 1;
                                break;
                            }
                            Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
                            Err(_) => break,
                        }
                    }
                }
                Ok::<_, DomainError>(published)
            }
            .into_actor(self)
            .map(|result, _, _| match result {
                Ok(n) => tracing::info!(shadows = n, "desired documents retained again"),
                Err(e) => {
                    tracing::error!(error = %e, "cannot publish the stored desired documents")
                }
            }),
        ))
    }
}

/// The registry's view of a device, or `NotFound` for one it does not know (or deleted).
async fn known(devices: &Recipient<GetDevice>, id: &DeviceId) -> Result<DeviceView, DomainError> {
    devices
        .send(GetDevice { id: id.clone() })
        .await
        .map_err(|_| DomainError::Unavailable("the device registry is not answering".into()))?
}

/// Publishes each command: a pending one is first marked delivered (a failed publish puts
/// it back to pending); a delivered one that is still open is published again, as MQTT
/// QoS 1 would (the connection it went to may have died before it arrived: delivery is at
/// least once, and a device recognises a repeat by the command id). Returns the rows as
/// they are now.
async fn deliver(
    db: &Db,
    publisher: &Recipient<PublishToDevice>,
    rows: Vec<CommandRow>,
) -> Result<Vec<CommandRow>, DomainError> {
    let mut out = Vec::with_capacity(rows.len());
    for mut row in rows {
        let now = now_ms();
        let again = row.state == CommandState::Delivered.as_str();
        let id = row.id.clone();
        if !again && !db.run(move |c| store::mark_delivered(c, &id, now)).await? {
            out.push(row);
            continue;
        }
        let device_id = DeviceId::parse(&row.device_id)?;
        let payload = commands::payload(&row.name, &row.args_value(), row.expires_at);
        let sent = publisher
            .send(PublishToDevice {
                device_id,
                subtopic: format!("commands/{}", row.id),
                payload,
                retain: false,
            })
            .await;
        match (matches!(sent, Ok(Ok(()))), again) {
            (true, false) => {
                metrics::counter!("plantd_commands_delivered_total").increment(1);
                tracing::info!(device = %row.device_id, command = %row.id, name = %row.name, "command delivered");
                row.state = CommandState::Delivered.as_str().to_owned();
                row.delivered_at = Some(now);
            }
            (true, true) => {
                metrics::counter!("plantd_commands_redelivered_total").increment(1);
                tracing::info!(device = %row.device_id, command = %row.id, name = %row.name, "unanswered command sent again");
            }
            (false, false) => {
                tracing::warn!(device = %row.device_id, command = %row.id, "command not published; it stays pending");
                let id = row.id.clone();
                db.run(move |c| store::unmark_delivered(c, &id)).await?;
            }
            (false, true) => {
                tracing::warn!(device = %row.device_id, command = %row.id, "command not published again");
            }
        }
        out.push(row);
    }
    Ok(out)
}

impl Handler<GetShadow> for Control {
    type Result = ResponseFuture<Result<ShadowView, DomainError>>;

    fn handle(&mut self, msg: GetShadow, _: &mut Context<Self>) -> Self::Result {
        let (db, devices) = (self.db.clone(), self.devices.clone());
        Box::pin(async move {
            known(&devices, &msg.device_id).await?;
            let id = msg.device_id.clone();
            let s = db.run(move |c| store::load_shadow(c, &id)).await?;
            Ok(s.view(msg.device_id))
        })
    }
}

impl Handler<UpdateDesired> for Control {
    type Result = AtomicResponse<Self, Result<ShadowView, DomainError>>;

    fn handle(&mut self, msg: UpdateDesired, _: &mut Context<Self>) -> Self::Result {
        let span = tracing::info_span!("shadow_desired", device = %msg.device_id, by = %msg.by);
        let (db, devices) = (self.db.clone(), self.devices.clone());
        let device_id = msg.device_id.clone();
        AtomicResponse::new(Box::pin(
            async move {
                known(&devices, &msg.device_id).await?;
                let id = msg.device_id.clone();
                let patch = msg.patch;
                let now = now_ms();
                let done = db
                    .run(move |c| {
                        c.transaction(|c| {
                            let mut s = store::load_shadow(c, &id)?;
                            let changed = s.patch_desired(&patch, now)?;
                            if changed {
                                store::save_shadow(c, &id, &s)?;
                                let event = EventData::ShadowUpdated(ShadowUpdated {
                                    device_id: id.clone(),
                                    version: s.version,
                                });
                                plantd_events::record(c, &[Event::new(event)])?;
                            }
                            Ok((s, changed))
                        })
                    })
                    .await?;
                Ok::<_, DomainError>(done)
            }
            .into_actor(self)
            .map(move |result, act, _| {
                let _guard = span.enter();
                let (s, changed) = result?;
                if changed {
                    metrics::counter!("plantd_shadow_desired_updates_total").increment(1);
                    tracing::info!(version = s.version, "desired state changed");
                    act.send_to(&device_id, "state/desired", s.desired_document(), true);
                    act.send_delta(&device_id, &s, false);
                    act.outbox.wake();
                }
                Ok(s.view(device_id))
            }),
        ))
    }
}

impl Handler<DeviceMessage> for Control {
    type Result = ();

    /// A report or command result is parsed and queued (no I/O, nothing to wait for), so
    /// the actor reads on through its mailbox and a device's messages gather into one
    /// batch (`ApplyBatch`).
    fn handle(&mut self, msg: DeviceMessage, ctx: &mut Context<Self>) {
        let span = tracing::debug_span!("device_control_in", device = %msg.device_id, subtopic = %msg.subtopic);
        let _guard = span.enter();
        if msg.subtopic == "state/reported" {
            return self.queue_report(msg, ctx);
        }
        let cmd = msg
            .subtopic
            .strip_prefix("commands/")
            .and_then(|rest| rest.strip_suffix("/result"))
            .map(str::to_owned);
        match cmd {
            Some(cmd) => self.queue_result(msg, cmd, ctx),
            None => tracing::debug!("device control message on a topic Control does not handle"),
        }
    }
}

/// Applies what one device sent since its last batch (see `Control::queues`).
#[derive(Message)]
#[rtype(result = "()")]
struct ApplyBatch(DeviceId);

/// What became of a batch of reports, decided inside the database work: the shadow after
/// the last of them, how many were applied and changed something, the rejections in order.
struct ReportsOutcome {
    shadow: Shadow,
    applied: usize,
    changed: usize,
    rejected: Vec<Rejection>,
}

impl Control {
    /// Parses a report and queues it with the device's others. So a device sending
    /// reports faster than storage takes them costs one registry check, one load and at
    /// most one save per batch, and the messages of other devices and the edge wait
    /// behind one batch, not behind each report (issue 14.4).
    fn queue_report(&mut self, msg: DeviceMessage, ctx: &mut Context<Self>) {
        let report = match shadow::parse_report(&msg.payload) {
            Ok(r) => r,
            Err(why) => {
                reject_report(&msg.device_id, why, msg.payload.len());
                return;
            }
        };
        let pushed = self
            .queues
            .push_report(&msg.device_id, report, msg.received_at);
        if !pushed.first {
            metrics::counter!("plantd_shadow_reports_coalesced_total").increment(1);
        }
        self.queued(&msg.device_id, pushed, ctx);
    }

    /// Parses a command result and queues it: each one is applied once, in its device's
    /// next batch (one registry check and one transaction for all of them).
    fn queue_result(&mut self, msg: DeviceMessage, cmd: String, ctx: &mut Context<Self>) {
        let outcome = if commands::is_valid_id(&cmd) {
            commands::parse_result(&msg.payload)
        } else {
            Err("not_open")
        };
        let outcome = match outcome {
            Ok(o) => o,
            Err(reason) => return reject_result(&msg.device_id, &cmd, reason),
        };
        let result = QueuedResult {
            command: cmd,
            outcome,
            received_at: msg.received_at,
        };
        let pushed = self.queues.push_result(&msg.device_id, result);
        if !pushed.first {
            metrics::counter!("plantd_command_results_coalesced_total").increment(1);
        }
        self.queued(&msg.device_id, pushed, ctx);
    }

    /// The first message of a batch schedules it; a queue that reached a cap holds its
    /// device at the broker until the batch takes it.
    fn queued(&mut self, device_id: &DeviceId, pushed: Pushed, ctx: &mut Context<Self>) {
        if pushed.first {
            ctx.notify(ApplyBatch(device_id.clone()));
        }
        if let Some(limit) = pushed.hold {
            metrics::counter!("plantd_control_queue_full_total", "limit" => limit).increment(1);
            warn_throttled!(
                "control_queue_full",
                device = %device_id,
                limit,
                "a device's messages wait faster than they are applied; its publishes are held"
            );
            self.hold_device(device_id, true);
        }
    }

    fn hold_device(&self, device_id: &DeviceId, hold: bool) {
        self.hold.do_send(HoldDevice {
            device_id: device_id.clone(),
            by: "devices.control".to_owned(),
            hold,
        });
    }
}

/// A batch of reports in one transaction, applied in order to one loaded shadow exactly
/// as one at a time would (each may be stale or ahead against the versions the earlier
/// ones left), saved once if any changed it.
fn apply_reports(
    c: &mut DbConnection,
    id: &DeviceId,
    reports: &[(shadow::Report, i64)],
) -> Result<ReportsOutcome, DbError> {
    c.transaction(|c| {
        let (mut applied, mut changed) = (0, 0);
        let mut rejected = Vec::new();
        let mut s = store::load_shadow(c, id)?;
        for (report, now) in reports {
            match s.apply_report(report, *now) {
                Ok(did) => {
                    applied += 1;
                    changed += usize::from(did);
                }
                Err(why) => rejected.push(why),
            }
        }
        if changed > 0 {
            store::save_shadow(c, id, &s)?;
        }
        Ok(ReportsOutcome {
            shadow: s,
            applied,
            changed,
            rejected,
        })
    })
}

/// A batch of results in one transaction: each moves its command from `delivered` (a
/// guarded UPDATE: a repeat or an unknown id changes nothing), with the `command.*`
/// events. Evaluates to each result's command row as it is now (`None`: not open).
fn apply_results(
    c: &mut DbConnection,
    id: &DeviceId,
    results: &[QueuedResult],
) -> Result<Vec<(String, Option<CommandRow>)>, DbError> {
    c.transaction(|c| {
        let mut rows = Vec::with_capacity(results.len());
        for r in results {
            let to = if r.outcome.ok {
                CommandState::Succeeded
            } else {
                CommandState::Failed
            };
            let now = r.received_at.max(now_ms());
            let row = store::complete(c, id.as_str(), &r.command, to, &r.outcome.result, now)?;
            record_finished(c, row.iter())?;
            rows.push((r.command.clone(), row));
        }
        Ok(rows)
    })
}

impl Handler<ApplyBatch> for Control {
    type Result = AtomicResponse<Self, ()>;

    /// Command results are written by a future of their own (one batch per device in
    /// flight): guarded UPDATEs need no atomicity, and the actor keeps reading its
    /// mailbox meanwhile, so a full queue holds its device at once. Reports are applied
    /// atomically, as every shadow change is; empty and stale reports ask for the delta:
    /// the device gets one, computed after the whole batch.
    fn handle(&mut self, msg: ApplyBatch, ctx: &mut Context<Self>) -> Self::Result {
        let device_id = msg.0;
        let results_free = !self.results_in_flight.contains(&device_id);
        let (batch, release) = self.queues.take(&device_id, results_free);
        if release {
            self.hold_device(&device_id, false);
        }
        if !batch.results.is_empty() {
            self.write_results(device_id.clone(), batch.results, ctx);
        }
        if batch.reports.is_empty() {
            return AtomicResponse::new(Box::pin(fut::ready(())));
        }
        let reports = batch.reports;
        let span =
            tracing::debug_span!("device_reports", device = %device_id, reports = reports.len());
        let asks = reports.iter().any(|(r, _)| r.state.is_empty());
        let (db, devices) = (self.db.clone(), self.devices.clone());
        let id = device_id.clone();
        AtomicResponse::new(Box::pin(
            async move {
                known(&devices, &id).await?;
                let outcome = db.run(move |c| apply_reports(c, &id, &reports)).await?;
                Ok::<_, DomainError>(outcome)
            }
            .instrument(span.clone())
            .into_actor(self)
            .map(move |outcome, act, _| {
                let _guard = span.enter();
                let b = match outcome {
                    Ok(b) => b,
                    Err(e) => return device_message_failed(&device_id, &e),
                };
                metrics::counter!("plantd_shadow_reports_total").increment(b.applied as u64);
                metrics::counter!("plantd_shadow_report_batches_total").increment(1);
                tracing::debug!(device = %device_id, version = b.shadow.version, applied = b.applied, changed = b.changed, "reports applied");
                let stale = b.rejected.contains(&Rejection::Stale);
                for why in &b.rejected {
                    reject_report(&device_id, *why, 0);
                }
                if asks || stale {
                    // What is wanted now, and the version to report.
                    act.send_delta(&device_id, &b.shadow, stale);
                }
            }),
        ))
    }
}

impl Control {
    /// Writes a device's command results (one registry check, one transaction); when
    /// done, a batch for whatever the device sent meanwhile is scheduled.
    fn write_results(
        &mut self,
        device_id: DeviceId,
        results: Vec<QueuedResult>,
        ctx: &mut Context<Self>,
    ) {
        self.results_in_flight.insert(device_id.clone());
        let span =
            tracing::debug_span!("device_results", device = %device_id, results = results.len());
        let (db, devices) = (self.db.clone(), self.devices.clone());
        let id = device_id.clone();
        ctx.spawn(
            async move {
                known(&devices, &id).await?;
                let rows = db.run(move |c| apply_results(c, &id, &results)).await?;
                Ok::<_, DomainError>(rows)
            }
            .instrument(span.clone())
            .into_actor(self)
            .map(move |rows, act, ctx| {
                let _guard = span.enter();
                act.results_in_flight.remove(&device_id);
                match rows {
                    Ok(rows) => {
                        for (command, row) in &rows {
                            match row {
                                Some(row) => act.command_finished(row),
                                None => reject_result(&device_id, command, "not_open"),
                            }
                        }
                    }
                    Err(e) => device_message_failed(&device_id, &e),
                }
                if act.queues.has(&device_id) {
                    ctx.notify(ApplyBatch(device_id));
                }
            }),
        );
    }
}

fn reject_report(device_id: &DeviceId, why: Rejection, bytes: usize) {
    metrics::counter!("plantd_shadow_reports_rejected_total", "reason" => why.as_str())
        .increment(1);
    warn_throttled!(
        "shadow_report_rejected",
        device = %device_id,
        reason = why.as_str(),
        bytes,
        "state report not applied"
    );
}

fn reject_result(device_id: &DeviceId, cmd: &str, reason: &'static str) {
    metrics::counter!("plantd_command_results_rejected_total", "reason" => reason).increment(1);
    warn_throttled!(
        "command_result_rejected",
        device = %device_id,
        command = %clip(cmd),
        reason,
        "command result not applied (malformed, or the command is unknown, not delivered, already finished or expired)"
    );
}

fn device_message_failed(device_id: &DeviceId, e: &DomainError) {
    match e {
        DomainError::NotFound(_) => {
            metrics::counter!("plantd_control_unknown_device_total").increment(1);
            warn_throttled!(
                "control_unknown_device",
                device = %device_id,
                "control message from a device not in the registry; ignored"
            );
        }
        other => {
            metrics::counter!("plantd_control_errors_total").increment(1);
            tracing::error!(device = %device_id, error = %other, "device control message lost");
        }
    }
}

impl Handler<DeliverEvent> for Control {
    type Result = ResponseActFuture<Self, Result<(), String>>;

    fn handle(
        &mut self,
        DeliverEvent(event): DeliverEvent,
        ctx: &mut Context<Self>,
    ) -> Self::Result {
        match &event.data {
            EventData::DeviceConnected(e) => {
                self.online.insert(e.device_id.clone());
                ctx.notify_later(
                    Resync {
                        device_id: e.device_id.clone(),
                    },
                    CONNECT_SETTLE,
                );
            }
            EventData::DeviceDisconnected(e) => {
                self.online.remove(&e.device_id);
            }
            EventData::DeviceDeleted(e) => return self.forget(e.device_id.clone()),
            _ => {}
        }
        Box::pin(fut::ready(Ok(())))
    }
}

impl Control {
    /// A deleted device's open commands can never be delivered: cancel them. Idempotent
    /// by its natural key: a redelivered `device.deleted` finds no open command left.
    fn forget(&mut self, device_id: DeviceId) -> ResponseActFuture<Self, Result<(), String>> {
        self.online.remove(&device_id);
        let db = self.db.clone();
        let device = device_id.to_string();
        Box::pin(
            async move {
                db.run(move |c| {
                    c.transaction(|c| {
                        let rows = store::cancel_open_of(c, &device, now_ms())?;
                        record_finished(c, rows.iter())?;
                        Ok(rows)
                    })
                })
                .await
            }
            .into_actor(self)
            .map(move |result, act, _| {
                let rows = result.map_err(|e| e.to_string())?;
                if !rows.is_empty() {
                    tracing::info!(device = %device_id, commands = rows.len(), "open commands of a deleted device cancelled");
                }
                rows.iter().for_each(|row| act.command_finished(row));
                Ok(())
            }),
        )
    }
}

/// The event data of a command row.
fn command_ref(row: &CommandRow) -> Result<CommandRef, DbError> {
    Ok(CommandRef {
        device_id: DeviceId::parse(&row.device_id).map_err(DbError::from)?,
        command_id: row.id.clone(),
        name: row.name.clone(),
    })
}

/// Records the `command.*` event of each row in a final state.
fn record_finished<'a>(
    conn: &mut DbConnection,
    rows: impl Iterator<Item = &'a CommandRow>,
) -> Result<(), DbError> {
    let mut events = Vec::new();
    for row in rows {
        let command = command_ref(row)?;
        let data = match CommandState::parse(&row.state) {
            Some(CommandState::Succeeded) => EventData::CommandSucceeded(command),
            Some(CommandState::Failed) => EventData::CommandFailed(command),
            Some(CommandState::Expired) => EventData::CommandExpired(command),
            Some(CommandState::Cancelled) => EventData::CommandCancelled(command),
            _ => continue,
        };
        events.push(Event::new(data));
    }
    plantd_events::record(conn, &events)
}

/// Send a (re)connected device its delta and its open commands.
#[derive(Message)]
#[rtype(result = "()")]
struct Resync {
    device_id: DeviceId,
}

impl Handler<Resync> for Control {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, msg: Resync, _: &mut Context<Self>) -> Self::Result {
        if !self.online.contains(&msg.device_id) {
            return AtomicResponse::new(Box::pin(fut::ready(())));
        }
        let span = tracing::debug_span!("device_resync", device = %msg.device_id);
        let (db, publisher) = (self.db.clone(), self.publisher.clone());
        let device_id = msg.device_id.clone();
        AtomicResponse::new(Box::pin(
            async move {
                let id = msg.device_id.clone();
                let now = now_ms();
                let (s, pending) = db
                    .run(move |c| {
                        let s = store::load_shadow(c, &id)?;
                        let pending = store::open_for(c, id.as_str(), now)?;
                        Ok((s, pending))
                    })
                    .await?;
                let delivered = deliver(&db, &publisher, pending).await?;
                Ok::<_, DomainError>((s, delivered.len()))
            }
            .into_actor(self)
            .map(move |result, act, _| {
                let _guard = span.enter();
                match result {
                    Ok((s, commands)) => {
                        tracing::debug!(commands, version = s.version, "device resynced");
                        act.send_delta(&device_id, &s, false);
                    }
                    Err(e) => {
                        tracing::warn!(device = %device_id, error = %e, "cannot resync a connected device")
                    }
                }
            }),
        ))
    }
}

/// Expire commands whose time is up (timer).
#[derive(Message)]
#[rtype(result = "()")]
struct ExpireDue;

impl Handler<ExpireDue> for Control {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, _: ExpireDue, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        let now = now_ms();
        AtomicResponse::new(Box::pin(
            async move {
                db.run(move |c| {
                    c.transaction(|c| {
                        let rows = store::expire_due(c, now)?;
                        record_finished(c, rows.iter())?;
                        Ok(rows)
                    })
                })
                .await
            }
            .into_actor(self)
            .map(|result, act, _| match result {
                Ok(rows) => rows.iter().for_each(|row| act.command_finished(row)),
                Err(e) => tracing::warn!(error = %e, "cannot expire commands; will retry"),
            }),
        ))
    }
}

impl Handler<contract::SendCommand> for Control {
    type Result = AtomicResponse<Self, Result<CommandView, DomainError>>;

    fn handle(&mut self, msg: contract::SendCommand, _: &mut Context<Self>) -> Self::Result {
        let span = tracing::info_span!("command_send", device = %msg.device_id, by = %msg.by);
        let new = match commands::validate(&msg) {
            Ok(n) => n,
            Err(e) => return AtomicResponse::new(Box::pin(fut::ready(Err(e)))),
        };
        let online = self.online.contains(&msg.device_id);
        let (db, devices, publisher) = (
            self.db.clone(),
            self.devices.clone(),
            self.publisher.clone(),
        );
        AtomicResponse::new(Box::pin(
            async move {
                known(&devices, &msg.device_id).await?;
                let now = now_ms();
                let row = CommandRow {
                    id: commands::new_id(now),
                    device_id: msg.device_id.to_string(),
                    name: new.name,
                    args: Value::Object(new.args).to_string(),
                    state: CommandState::Pending.as_str().to_owned(),
                    created_at: now,
                    delivered_at: None,
                    completed_at: None,
                    expires_at: now + new.timeout_ms,
                    result: None,
                };
                let stored = row.clone();
                db.run(move |c| {
                    c.transaction(|c| {
                        store::insert_command(c, &stored)?;
                        let created = EventData::CommandCreated(command_ref(&stored)?);
                        plantd_events::record(c, &[Event::new(created)])
                    })
                })
                .await?;
                let row = if online {
                    deliver(&db, &publisher, vec![row.clone()])
                        .await?
                        .pop()
                        .unwrap_or(row)
                } else {
                    row
                };
                Ok::<_, DomainError>(row)
            }
            .into_actor(self)
            .map(move |row, act, _| {
                let _guard = span.enter();
                let row = row?;
                metrics::counter!("plantd_commands_created_total").increment(1);
                tracing::info!(command = %row.id, name = %row.name, state = %row.state, "command created");
                act.outbox.wake();
                row.view()
                    .ok_or_else(|| DomainError::Unavailable("a stored command is unreadable".into()))
            }),
        ))
    }
}

impl Handler<contract::CancelCommand> for Control {
    type Result = AtomicResponse<Self, Result<CommandView, DomainError>>;

    fn handle(&mut self, msg: contract::CancelCommand, _: &mut Context<Self>) -> Self::Result {
        let span = tracing::info_span!("command_cancel", device = %msg.device_id, command = %msg.id, by = %msg.by);
        let (db, devices) = (self.db.clone(), self.devices.clone());
        let not_found = DomainError::NotFound(format!("command {}", msg.id));
        if !commands::is_valid_id(&msg.id) {
            return AtomicResponse::new(Box::pin(fut::ready(Err(not_found))));
        }
        AtomicResponse::new(Box::pin(
            async move {
                known(&devices, &msg.device_id).await?;
                let (device, id) = (msg.device_id.to_string(), msg.id.clone());
                let outcome = db
                    .run(move |c| {
                        c.transaction(|c| {
                            let outcome = store::cancel(c, &device, &id, now_ms())?;
                            if let Ok(row) = &outcome {
                                record_finished(c, row.iter())?;
                            }
                            Ok(outcome)
                        })
                    })
                    .await?;
                match outcome {
                    Ok(Some(row)) => Ok(row),
                    Ok(None) => Err(not_found),
                    Err(state) => Err(DomainError::Conflict(format!(
                        "command {} is {state}; only pending or delivered commands can be cancelled",
                        msg.id
                    ))),
                }
            }
            .into_actor(self)
            .map(move |row, act, _| {
                let _guard = span.enter();
                let row = row?;
                act.command_finished(&row);
                row.view()
                    .ok_or_else(|| DomainError::Unavailable("a stored command is unreadable".into()))
            }),
        ))
    }
}

impl Handler<contract::GetCommand> for Control {
    type Result = ResponseFuture<Result<CommandView, DomainError>>;

    fn handle(&mut self, msg: contract::GetCommand, _: &mut Context<Self>) -> Self::Result {
        let (db, devices) = (self.db.clone(), self.devices.clone());
        Box::pin(async move {
            known(&devices, &msg.device_id).await?;
            let not_found = || DomainError::NotFound(format!("command {}", msg.id));
            if !commands::is_valid_id(&msg.id) {
                return Err(not_found());
            }
            let (device, id) = (msg.device_id.to_string(), msg.id.clone());
            let row = db.run(move |c| store::get_command(c, &device, &id)).await?;
            row.and_then(|r| r.view()).ok_or_else(not_found)
        })
    }
}

impl Handler<contract::ListCommands> for Control {
    type Result = ResponseFuture<Result<Vec<CommandView>, DomainError>>;

    fn handle(&mut self, msg: contract::ListCommands, _: &mut Context<Self>) -> Self::Result {
        let (db, devices) = (self.db.clone(), self.devices.clone());
        Box::pin(async move {
            known(&devices, &msg.device_id).await?;
            let device = msg.device_id.to_string();
            let rows = db
                .run(move |c| store::list_commands(c, &device, msg.limit, msg.before.as_deref()))
                .await?;
            Ok(rows.iter().filter_map(CommandRow::view).collect())
        })
    }
}

/// How long a flush waits for the queued batches before it gives up.
const FLUSH_WITHIN: Duration = Duration::from_secs(10);

impl Handler<FlushPending> for Control {
    type Result = ResponseActFuture<Self, Result<(), DomainError>>;

    /// Every change is written inside its own (atomic) handler; what devices sent waits in
    /// `queues` for its batch. This waits (polling every 10 ms, so the batches run) until
    /// nothing is queued: a batch takes its queue inside its atomic handler, so an empty
    /// queue seen here means every batch before it has committed.
    fn handle(&mut self, _: FlushPending, _: &mut Context<Self>) -> Self::Result {
        let deadline = std::time::Instant::now() + FLUSH_WITHIN;
        Box::pin(
            async {}
                .into_actor(self)
                .then(move |(), act, _| flush(act, deadline)),
        )
    }
}

fn flush(
    act: &mut Control,
    deadline: std::time::Instant,
) -> ResponseActFuture<Control, Result<(), DomainError>> {
    if act.queues.is_empty() && act.results_in_flight.is_empty() {
        return Box::pin(fut::ready(Ok(())));
    }
    if std::time::Instant::now() > deadline {
        return Box::pin(fut::ready(Err(DomainError::Unavailable(
            "device messages are still queued".to_owned(),
        ))));
    }
    Box::pin(
        tokio::time::sleep(Duration::from_millis(10))
            .into_actor(act)
            .then(move |(), act, _| flush(act, deadline)),
    )
}
