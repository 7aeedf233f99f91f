//! The broker's actor face: publishes domain events to `plantd/events/{type}` (QoS 1)
//! through a local link (an outbox subscriber: an event it could not publish is refused,
//! and the dispatcher offers it again), ends sessions on request (at once, even idle ones), reports
//! device traffic to the devices module every second, holds a device's publishes while a
//! module's queue for it is full (`HoldDevice`), and reports readiness.

use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::Arc;

use actix::prelude::*;
use bytes::{BufMut, BytesMut};
use plantd_contracts::broker::{BrokerReady, DisconnectClient, HoldDevice, PublishToDevice};
use plantd_contracts::devices::{DeviceTraffic, TrafficEntry};
use plantd_contracts::events::DeliverEvent;
use plantd_contracts::DeviceId;
use rumqttd::local::LinkTx;
use rumqttd::protocol::{Packet, Publish};

use crate::policy::PolicyContext;

/// Closes the live connection of a client id (built in `embedded`, over rumqttd's router).
pub(crate) type Takeover = Box<dyn Fn(&str) -> Result<(), String> + Send>;

pub struct EventPublisher {
    pub(crate) link: LinkTx,
    pub(crate) ctx: Arc<PolicyContext>,
    pub(crate) server_alive: Arc<AtomicBool>,
    pub(crate) gateway_alive: Arc<AtomicBool>,
    pub(crate) next_pkid: AtomicU16,
    pub(crate) next_marker: u64,
    /// Takes over a client id in rumqttd's router, closing its connection (see `embedded`).
    pub(crate) takeover: Takeover,
    pub(crate) traffic: Recipient<DeviceTraffic>,
    /// Back-pressure state, for `HoldDevice`.
    pub(crate) pressure: Arc<crate::pressure::Pressure>,
}

/// How often device traffic is reported to the devices module.
const TRAFFIC_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl Actor for EventPublisher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(TRAFFIC_EVERY, |act, _| act.report_traffic());
    }
}

/// A QoS 1 publish. rumqttd's public constructor makes QoS 0 only; its own serial form
/// (header, packet id, topic, payload) is public and sets the QoS and the retain flag.
fn qos1_publish(topic: &str, payload: &[u8], pkid: u16, retain: bool) -> Publish {
    let mut buf = BytesMut::with_capacity(5 + topic.len() + payload.len());
    buf.put_u8(0b0011_0010 | u8::from(retain));
    buf.put_u16(pkid);
    buf.put_u16(u16::try_from(topic.len()).unwrap_or(u16::MAX));
    buf.extend_from_slice(topic.as_bytes());
    buf.extend_from_slice(payload);
    Publish::deserialize(buf.freeze())
}

impl Handler<DeliverEvent> for EventPublisher {
    type Result = Result<(), String>;

    fn handle(&mut self, DeliverEvent(event): DeliverEvent, _: &mut Context<Self>) -> Self::Result {
        let span = tracing::debug_span!("event_out", kind = %event.kind(), id = %event.id);
        let _guard = span.enter();
        let payload = serde_json::to_vec(&event)
            .map_err(|e| format!("cannot serialise event {}: {e}", event.id))?;
        self.send_qos1(&event.topic(), &payload, false)
            .inspect(|()| metrics::counter!("plantd_events_published_total").increment(1))
            .map_err(|e| {
                metrics::counter!("plantd_events_publish_failures_total").increment(1);
                format!("event not published: {e}")
            })
    }
}

impl EventPublisher {
    /// Sends the devices' traffic since the last report, in one message.
    fn report_traffic(&self) {
        let entries: Vec<TrafficEntry> = self
            .ctx
            .sessions
            .take_traffic()
            .into_iter()
            // Integrations (token ids) are not devices.
            .filter_map(|(username, messages_in, last_message_at)| {
                DeviceId::parse(&username)
                    .ok()
                    .map(|device_id| TrafficEntry {
                        device_id,
                        messages_in,
                        last_message_at,
                    })
            })
            .collect();
        if !entries.is_empty() {
            self.traffic.do_send(DeviceTraffic { entries });
        }
    }

    fn send_qos1(&mut self, topic: &str, payload: &[u8], retain: bool) -> Result<(), String> {
        if self.link.buffer().len() > 10_000 {
            return Err("the broker link is backed up".to_owned());
        }
        let pkid = self.next_pkid.fetch_add(1, Ordering::Relaxed).max(1);
        let publish = qos1_publish(topic, payload, pkid, retain);
        poll_to_end(self.link.send(Packet::Publish(publish, None)))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

impl Handler<PublishToDevice> for EventPublisher {
    type Result = Result<(), String>;

    fn handle(&mut self, msg: PublishToDevice, _: &mut Context<Self>) -> Self::Result {
        let topic = format!("devices/{}/{}", msg.device_id, msg.subtopic);
        let span = tracing::debug_span!("device_out", topic = %topic, retain = msg.retain);
        let _guard = span.enter();
        let result = self.send_qos1(&topic, &msg.payload, msg.retain);
        match &result {
            Ok(()) => metrics::counter!("plantd_device_messages_published_total").increment(1),
            Err(e) => {
                metrics::counter!("plantd_device_messages_dropped_total").increment(1);
                tracing::warn!(error = %e, "message to device not published");
            }
        }
        result
    }
}

/// `LinkTx::send` is `async` but never waits (it pushes and notifies the router's
/// channel); poll it to completion on this thread.
fn poll_to_end<F: std::future::Future>(future: F) -> F::Output {
    futures::executor::block_on(future)
}

/// Publishes the shutdown marker to [`crate::gateway::DRAIN_TOPIC`]; replies with its number.
#[derive(Message)]
#[rtype(result = "Result<u64, String>")]
pub(crate) struct PublishDrainMarker;

impl Handler<PublishDrainMarker> for EventPublisher {
    type Result = Result<u64, String>;

    fn handle(&mut self, _: PublishDrainMarker, _: &mut Context<Self>) -> Self::Result {
        let marker = self.next_marker;
        self.next_marker += 1;
        self.link
            .publish(crate::gateway::DRAIN_TOPIC, marker.to_string())
            .map(|_| marker)
            .map_err(|e| e.to_string())
    }
}

impl Handler<DisconnectClient> for EventPublisher {
    type Result = usize;

    /// Flags the sessions (a flagged session ends at its next packet), then takes over
    /// their client ids in the router, which closes an idle connection at once: the
    /// policy layer only runs when a packet comes, and rumqttd has no "close" call.
    fn handle(&mut self, msg: DisconnectClient, _: &mut Context<Self>) -> usize {
        let span = tracing::info_span!("mqtt_disconnect", username = %msg.username);
        let _guard = span.enter();
        let client_ids = self.ctx.sessions.kill(&msg.username);
        let mut cut = 0;
        for client_id in client_ids.iter().filter(|c| !c.is_empty()) {
            match (self.takeover)(client_id) {
                Ok(()) => cut += 1,
                Err(e) => {
                    tracing::warn!(client_id = %client_id, error = %e, "cannot cut the session now; it ends at its next packet")
                }
            }
        }
        metrics::counter!("plantd_mqtt_sessions_cut_total").increment(client_ids.len() as u64);
        tracing::info!(
            sessions = client_ids.len(),
            cut_now = cut,
            "MQTT sessions told to end"
        );
        client_ids.len()
    }
}

impl Handler<HoldDevice> for EventPublisher {
    type Result = ();

    /// The device's connections hold its publishes from their next one on, and let them go
    /// at the resume ticks once no queue holds it.
    fn handle(&mut self, msg: HoldDevice, _: &mut Context<Self>) {
        self.pressure
            .set_device_held(msg.device_id.as_str(), &msg.by, msg.hold);
        tracing::debug!(device = %msg.device_id, by = %msg.by, hold = msg.hold, "device hold changed");
    }
}

impl Handler<BrokerReady> for EventPublisher {
    type Result = bool;

    fn handle(&mut self, _: BrokerReady, _: &mut Context<Self>) -> bool {
        self.server_alive.load(Ordering::Relaxed) && self.gateway_alive.load(Ordering::Relaxed)
    }
}
