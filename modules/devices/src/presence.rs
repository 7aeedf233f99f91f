//! Presence: the broker's connect / disconnect / traffic messages become the registry's
//! online state at once (logins and pages read memory), and are written — `last_seen` and
//! the `device.connected` / `device.disconnected` events in one transaction — by a group
//! commit: one write in flight, whatever arrived meanwhile goes in the next. A reconnect
//! storm of thousands of devices is a few transactions, and events keep their order.
//! Traffic alone (last message times) is written every few seconds.

use actix::prelude::*;
use plantd_contracts::devices::*;
use plantd_contracts::events::{DeviceConnected as Connected, DeviceRef};
use plantd_contracts::time::now_ms;
use plantd_contracts::{DeviceId, DomainError, Event, EventData};
use tokio::sync::oneshot;

use crate::actor::Devices;
use crate::store;

/// What a presence write carries.
type Batch = (Vec<(String, i64)>, Vec<Event>);

impl Devices {
    /// Queues a device's `last_seen` for the next write (a later time wins).
    fn queue_seen(&mut self, id: DeviceId, at: i64) {
        self.registry.seen_stored(&id, at);
        let seen = self.presence.unsaved_seen.entry(id).or_insert(at);
        *seen = (*seen).max(at);
    }

    /// Queues a presence event and writes now unless a write is in flight.
    fn queue_event(&mut self, data: EventData, ctx: &mut Context<Self>) {
        self.presence.unsaved_events.push(Event::new(data));
        self.persist(ctx);
    }

    /// Starts a write of everything queued, unless one is in flight (its completion starts
    /// the next). A failed write is queued again in front and retried by the timer.
    pub(crate) fn persist(&mut self, ctx: &mut Context<Self>) {
        let p = &mut self.presence;
        if p.writing || (p.unsaved_seen.is_empty() && p.unsaved_events.is_empty()) {
            if !p.writing {
                p.wake_waiters(Ok(()));
            }
            return;
        }
        p.writing = true;
        let batch: Batch = (
            p.unsaved_seen
                .drain()
                .map(|(id, at)| (id.to_string(), at))
                .collect(),
            std::mem::take(&mut p.unsaved_events),
        );
        let db = self.db.clone();
        ctx.spawn(
            async move {
                db.run_keeping(batch, |conn, (seen, events)| {
                    conn.transaction(|conn| {
                        store::set_last_seen(conn, seen)?;
                        plantd_events::record(conn, events)
                    })
                })
                .await
            }
            .into_actor(self)
            .map(|result, act, ctx| {
                act.presence.writing = false;
                match result {
                    Ok((_, Ok(()))) => {
                        act.outbox.wake();
                        act.persist(ctx);
                    }
                    Ok(((seen, events), Err(e))) => {
                        tracing::warn!(error = %e, devices = seen.len(), events = events.len(), "cannot store presence; will retry");
                        act.presence.requeue(seen, events);
                        act.presence.wake_waiters(Err(e.into()));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "presence write failed to run");
                        act.presence.wake_waiters(Err(e.into()));
                    }
                }
            }),
        );
    }
}

impl Handler<PersistPresence> for Devices {
    type Result = ResponseFuture<Result<usize, DomainError>>;

    /// At shutdown: every online device is seen now; returns once everything queued is
    /// written (or the write failed).
    fn handle(&mut self, _: PersistPresence, ctx: &mut Context<Self>) -> Self::Result {
        let now = now_ms();
        let online = self.registry.online_ids();
        let count = online.len();
        for id in online {
            self.presence.unsaved_seen.insert(id, now);
        }
        let (tx, rx) = oneshot::channel();
        self.presence.waiters.push(tx);
        self.persist(ctx);
        Box::pin(async move {
            rx.await
                .map_err(|_| DomainError::Unavailable("the devices actor stopped".into()))??;
            Ok(count)
        })
    }
}

impl Handler<DeviceConnected> for Devices {
    type Result = ();

    fn handle(&mut self, msg: DeviceConnected, ctx: &mut Context<Self>) {
        let at = msg.at.timestamp_millis();
        if self.registry.connected(
            &msg.device_id,
            msg.session,
            at,
            msg.protocol_version,
            msg.client_address.clone(),
        ) {
            tracing::info!(device = %msg.device_id, session = msg.session, "device online");
            crate::metrics::gauges(&self.registry);
            self.queue_seen(msg.device_id.clone(), at);
            self.queue_event(
                EventData::DeviceConnected(Connected {
                    device_id: msg.device_id,
                    protocol_version: msg.protocol_version,
                }),
                ctx,
            );
        }
    }
}

impl Handler<DeviceDisconnected> for Devices {
    type Result = ();

    fn handle(&mut self, msg: DeviceDisconnected, ctx: &mut Context<Self>) {
        let at = msg.at.timestamp_millis();
        if self.registry.disconnected(&msg.device_id, msg.session, at) {
            tracing::info!(device = %msg.device_id, session = msg.session, "device offline");
            crate::metrics::gauges(&self.registry);
            self.queue_seen(msg.device_id.clone(), at);
            self.queue_event(
                EventData::DeviceDisconnected(DeviceRef {
                    device_id: msg.device_id,
                }),
                ctx,
            );
        }
    }
}

impl Handler<DeviceTraffic> for Devices {
    type Result = ();

    fn handle(&mut self, msg: DeviceTraffic, _: &mut Context<Self>) {
        let span = tracing::trace_span!("device_traffic", devices = msg.entries.len());
        let _guard = span.enter();
        for entry in msg.entries {
            if let Some(seen) =
                self.registry
                    .traffic(&entry.device_id, entry.messages_in, entry.last_message_at)
            {
                self.queue_seen(entry.device_id, seen);
            }
        }
    }
}
