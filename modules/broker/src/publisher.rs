//! The broker's actor face: publishes domain events to `plantd/events/{type}` (QoS 1)
//! through a local link, ends sessions on request, and reports readiness.

use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::Arc;

use actix::prelude::*;
use bytes::{BufMut, BytesMut};
use plantd_contracts::broker::{BrokerReady, DisconnectClient, PublishToDevice};
use plantd_contracts::DomainEvent;
use rumqttd::local::LinkTx;
use rumqttd::protocol::{Packet, Publish};

use crate::policy::PolicyContext;

pub struct EventPublisher {
    pub(crate) link: LinkTx,
    pub(crate) ctx: Arc<PolicyContext>,
    pub(crate) server_alive: Arc<AtomicBool>,
    pub(crate) gateway_alive: Arc<AtomicBool>,
    pub(crate) next_pkid: AtomicU16,
    pub(crate) next_marker: u64,
}

impl Actor for EventPublisher {
    type Context = Context<Self>;
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

impl Handler<DomainEvent> for EventPublisher {
    type Result = ();

    fn handle(&mut self, event: DomainEvent, _: &mut Context<Self>) {
        let span = tracing::debug_span!("event_out", kind = %event.kind, id = %event.id);
        let _guard = span.enter();
        let payload = match serde_json::to_vec(&event) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot serialise a domain event");
                return;
            }
        };
        match self.send_qos1(&event.topic(), &payload, false) {
            Ok(()) => metrics::counter!("plantd_events_published_total").increment(1),
            Err(e) => {
                metrics::counter!("plantd_events_dropped_total").increment(1);
                tracing::warn!(kind = %event.kind, error = %e, "event not published");
            }
        }
    }
}

impl EventPublisher {
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

    fn handle(&mut self, msg: DisconnectClient, _: &mut Context<Self>) -> usize {
        let n = self.ctx.sessions.kill(&msg.username);
        tracing::info!(username = %msg.username, sessions = n, "MQTT sessions told to end");
        n
    }
}

impl Handler<BrokerReady> for EventPublisher {
    type Result = bool;

    fn handle(&mut self, _: BrokerReady, _: &mut Context<Self>) -> bool {
        self.server_alive.load(Ordering::Relaxed) && self.gateway_alive.load(Ordering::Relaxed)
    }
}
