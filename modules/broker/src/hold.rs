//! One device connection's side of back-pressure (see `pressure.rs`): the packets it holds
//! back from the router while ingest is paused, in the order they came, and the MQTT 5
//! topic aliases it must resolve to know which publishes feed the gateway. Owned by that
//! connection's `Policy`; touches only the shared `Pressure`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use rumqttd::protocol::{Filter, Packet, QoS, RetainForwardRule, Subscribe};

use crate::gateway;
use crate::pressure::{log_size, Pressure, RESUME_TOPIC};

/// Packets a connection may hold: far more than any client's in-flight window (rumqttc:
/// 100, MQTT 5 receive maximum: at most 65535, which no sane device uses); a client that
/// sends more without waiting for acknowledgements is disconnected (it keeps its
/// unacknowledged QoS 1 messages and sends them again).
const MAX_HELD_PACKETS: usize = 10_000;
const MAX_HELD_BYTES: usize = 16 * 1024 * 1024;

/// The packet id of the subscription to [`RESUME_TOPIC`] the layer sends on a client's
/// behalf: 0 is not a valid MQTT packet id, so no client's own SUBACK is ever taken for it.
pub const RESUME_SUBSCRIBE_PKID: u16 = 0;

/// What to do with a packet read from a device while ingest may be paused.
pub enum Verdict {
    /// Send it on to the router now.
    Pass(Packet),
    /// Taken: read on.
    Taken,
    /// Taken; send this packet (the resume subscription) to the router now.
    Inject(Packet),
    /// Too much held: end the connection.
    Overflow,
}

pub struct Hold {
    pressure: Option<Arc<Pressure>>,
    queue: VecDeque<Packet>,
    bytes: usize,
    subscribed: bool,
    /// MQTT 5 topic alias → the log size of its topic, when it is a gateway topic.
    aliases: HashMap<u16, Option<usize>>,
}

impl Clone for Hold {
    /// A new connection starts with nothing held.
    fn clone(&self) -> Self {
        Hold::with(self.pressure.clone())
    }
}

impl Hold {
    pub fn new(pressure: Arc<Pressure>) -> Self {
        Hold::with(Some(pressure))
    }

    fn with(pressure: Option<Arc<Pressure>>) -> Self {
        Hold {
            pressure,
            queue: VecDeque::new(),
            bytes: 0,
            subscribed: false,
            aliases: HashMap::new(),
        }
    }

    /// The oldest held packet, once ingest is no longer paused.
    pub fn release(&mut self) -> Option<Packet> {
        let pressure = self.pressure.as_ref()?;
        if self.queue.is_empty() || pressure.must_hold() {
            return None;
        }
        let packet = self.queue.pop_front()?;
        self.bytes = self.bytes.saturating_sub(packet_size(&packet));
        if self.queue.is_empty() {
            pressure.stop_holding();
        }
        if let Packet::Publish(publish, props) = &packet {
            self.count_appended(
                &publish.topic,
                publish.payload.len(),
                props.as_ref().and_then(|p| p.topic_alias),
            );
        }
        Some(packet)
    }

    /// A packet from a device connection (a publish already checked by the policy).
    pub fn admit(&mut self, client: &str, packet: Packet) -> Verdict {
        let Some(pressure) = self.pressure.clone() else {
            return Verdict::Pass(packet);
        };
        let holding = !self.queue.is_empty();
        match &packet {
            Packet::Publish(publish, props) => {
                let alias = props.as_ref().and_then(|p| p.topic_alias);
                if let (Some(alias), false) = (alias, publish.topic.is_empty()) {
                    let len = feeds_gateway(&publish.topic).then_some(publish.topic.len());
                    self.aliases.insert(alias, len);
                }
                if !holding && !pressure.must_hold() {
                    self.count_appended(&publish.topic, publish.payload.len(), alias);
                    return Verdict::Pass(packet);
                }
                // rumqttd keeps the QoS private; its meter length tells it (no packet id).
                let qos0 = publish.len() == 2 + publish.topic.len() + publish.payload.len();
                if qos0 {
                    pressure.dropped_qos0(client);
                    return Verdict::Taken;
                }
                metrics::counter!("plantd_mqtt_backpressure_held_total").increment(1);
            }
            // Keep-alive and acknowledgements of messages to the client go on at once, so a
            // waiting client stays connected and its subscriptions keep flowing.
            Packet::PingReq(..)
            | Packet::PubAck(..)
            | Packet::PubRec(..)
            | Packet::PubRel(..)
            | Packet::PubComp(..) => return Verdict::Pass(packet),
            // Anything else keeps its place behind the held publishes.
            _ if !holding => return Verdict::Pass(packet),
            _ => {}
        }
        if !holding {
            pressure.start_holding();
        }
        self.bytes += packet_size(&packet);
        self.queue.push_back(packet);
        if self.queue.len() > MAX_HELD_PACKETS || self.bytes > MAX_HELD_BYTES {
            metrics::counter!("plantd_mqtt_backpressure_disconnects_total").increment(1);
            tracing::warn!(
                client,
                held = self.queue.len(),
                bytes = self.bytes,
                "client sent too much unacknowledged while ingest was paused; disconnecting \
                 (its QoS 1 messages were not acknowledged and will be sent again)"
            );
            return Verdict::Overflow;
        }
        if self.subscribed {
            return Verdict::Taken;
        }
        self.subscribed = true;
        Verdict::Inject(resume_subscription())
    }

    /// Counts a publish going to the router when the gateway will read it (an empty
    /// topic names an MQTT 5 alias, resolved as rumqttd does).
    fn count_appended(&self, topic: &[u8], payload_len: usize, alias: Option<u16>) {
        let Some(pressure) = &self.pressure else {
            return;
        };
        let topic_len = if topic.is_empty() {
            match alias.and_then(|a| self.aliases.get(&a).copied().flatten()) {
                Some(len) => len,
                None => return,
            }
        } else if feeds_gateway(topic) {
            topic.len()
        } else {
            return;
        };
        pressure.add_appended(log_size(topic_len, payload_len));
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let (Some(pressure), false) = (&self.pressure, self.queue.is_empty()) {
            // Nothing of it was acknowledged: QoS 1 senders still have it.
            tracing::debug!(
                held = self.queue.len(),
                "connection closed while holding unacknowledged packets"
            );
            pressure.stop_holding();
        }
    }
}

/// Whether a topic is one of the gateway's filters (what the gateway reads).
fn feeds_gateway(topic: &[u8]) -> bool {
    let topic = std::str::from_utf8(topic).unwrap_or("");
    gateway::FILTERS
        .iter()
        .any(|f| rumqttd::protocol::matches(topic, f))
}

fn packet_size(packet: &Packet) -> usize {
    match packet {
        Packet::Publish(p, _) => log_size(p.topic.len(), p.payload.len()) as usize,
        _ => 64,
    }
}

/// The subscription that lets the gateway's resume tick wake this connection.
fn resume_subscription() -> Packet {
    Packet::Subscribe(
        Subscribe {
            pkid: RESUME_SUBSCRIBE_PKID,
            filters: vec![Filter {
                path: RESUME_TOPIC.to_owned(),
                qos: QoS::AtMostOnce,
                nolocal: false,
                preserve_retain: false,
                retain_forward_rule: RetainForwardRule::Never,
            }],
        },
        None,
    )
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, BytesMut};
    use rumqttd::protocol::{PingReq, Publish};

    use super::*;

    fn publish(topic: &str, qos: u8, pkid: u16) -> Packet {
        let mut buf = BytesMut::new();
        buf.put_u8(0b0011_0000 | (qos << 1));
        buf.put_u16(pkid);
        buf.put_u16(topic.len() as u16);
        buf.extend_from_slice(topic.as_bytes());
        buf.extend_from_slice(br#"{"values": {"a": 1}}"#);
        Packet::Publish(Publish::deserialize(buf.freeze()), None)
    }

    #[test]
    fn while_paused_qos1_is_held_in_order_qos0_dropped_and_pings_pass() {
        let pressure = Arc::new(Pressure::new(1 << 20, 10));
        let mut hold = Hold::new(pressure.clone());
        let t = "devices/d1/telemetry";
        assert!(matches!(
            hold.admit("d1", publish(t, 1, 1)),
            Verdict::Pass(_)
        ));
        assert!(
            pressure.appended() > 0,
            "a passed telemetry publish is counted"
        );
        pressure.set_samples(11);
        assert!(
            matches!(hold.admit("d1", publish(t, 1, 2)), Verdict::Inject(Packet::Subscribe(s, _)) if s.pkid == RESUME_SUBSCRIBE_PKID),
            "the first held publish subscribes the connection to the resume tick"
        );
        assert!(matches!(hold.admit("d1", publish(t, 1, 3)), Verdict::Taken));
        assert!(matches!(hold.admit("d1", publish(t, 0, 0)), Verdict::Taken));
        assert!(matches!(
            hold.admit("d1", Packet::PingReq(PingReq)),
            Verdict::Pass(_)
        ));
        assert_eq!(pressure.holding(), 1);
        assert!(hold.release().is_none(), "still paused");
        pressure.set_samples(0);
        assert!(pressure.update(), "resumed");
        let released = std::iter::from_fn(|| hold.release())
            .filter(|p| matches!(p, Packet::Publish(..)))
            .count();
        assert_eq!(
            released, 2,
            "both QoS 1 publishes; the QoS 0 one was dropped"
        );
        assert_eq!(pressure.holding(), 0);
    }
}
