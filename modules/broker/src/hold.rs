//! One device connection's side of back-pressure (see `pressure.rs`): the packets it holds
//! back from the router while ingest is paused, in the order they came, and the MQTT 5
//! topic aliases it must resolve to know which publishes feed the gateway. Owned by that
//! connection's `Policy`; touches only the shared `Pressure`.
//!
//! Also a device a module asked to hold (`HoldDevice`: its queue there is full) is held
//! the same way until the module lets it go.
//!
//! Also the device's own rate (`mqtt_device_max_msgs_per_s`, a token bucket per session):
//! a publish over it is held back the same way (QoS 0 dropped, QoS 1/2 queued
//! unacknowledged), so one flooding device waits alone instead of filling ingest until
//! every device is paused. Held packets leave at the rate as the resume ticks (every
//! 10 ms while anyone holds) wake the connection.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

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

/// A token bucket: `rate` publishes a second on average, bursts of up to `burst`.
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket allowing `per_s` a second and bursts of twice that; `None` for 0.
    fn new(per_s: u32) -> Option<Bucket> {
        (per_s > 0).then(|| {
            let burst = 2.0 * f64::from(per_s);
            Bucket {
                rate: f64::from(per_s),
                burst,
                tokens: burst,
                at: Instant::now(),
            }
        })
    }

    /// Takes a token if one is there.
    fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

pub struct Hold {
    pressure: Option<Arc<Pressure>>,
    /// The device this connection is (its username), once a packet came.
    client: String,
    /// The session's publish rate (`None`: no limit).
    bucket: Option<Bucket>,
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
            bucket: pressure.as_ref().and_then(|p| Bucket::new(p.device_rate())),
            pressure,
            client: String::new(),
            queue: VecDeque::new(),
            bytes: 0,
            subscribed: false,
            aliases: HashMap::new(),
        }
    }

    /// The oldest held packet, once ingest is no longer paused.
    pub fn release(&mut self) -> Option<Packet> {
        let pressure = self.pressure.clone()?;
        if self.queue.is_empty() || pressure.must_hold() {
            return None;
        }
        if matches!(self.queue.front(), Some(Packet::Publish(..)))
            && (pressure.device_held(&self.client) || !self.within_rate())
        {
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
        if self.client.is_empty() {
            client.clone_into(&mut self.client);
        }
        let holding = !self.queue.is_empty();
        match &packet {
            Packet::Publish(publish, props) => {
                let alias = props.as_ref().and_then(|p| p.topic_alias);
                if let (Some(alias), false) = (alias, publish.topic.is_empty()) {
                    let len = feeds_gateway(&publish.topic).then_some(publish.topic.len());
                    self.aliases.insert(alias, len);
                }
                let paused = pressure.must_hold();
                // A module's queue for this device is full (`HoldDevice`).
                let full = pressure.device_held(client);
                if !holding && !paused && !full && self.within_rate() {
                    self.count_appended(&publish.topic, publish.payload.len(), alias);
                    return Verdict::Pass(packet);
                }
                // rumqttd keeps the QoS private; its meter length tells it (no packet id).
                let qos0 = publish.len() == 2 + publish.topic.len() + publish.payload.len();
                // Not paused: this device is over its rate (or still sending on the
                // publishes it has held back for that).
                match (qos0, paused, full) {
                    (true, true, _) => pressure.dropped_qos0(client),
                    (true, false, true) => {
                        metrics::counter!("plantd_mqtt_device_queue_full_total", "qos" => "0")
                            .increment(1)
                    }
                    (true, false, false) => pressure.dropped_over_rate(client),
                    (false, true, _) => crate::metrics::hot::BACKPRESSURE_HELD.increment(1),
                    (false, false, true) => {
                        metrics::counter!("plantd_mqtt_device_queue_full_total", "qos" => "1")
                            .increment(1)
                    }
                    (false, false, false) => {
                        metrics::counter!("plantd_mqtt_rate_held_total").increment(1)
                    }
                }
                if qos0 {
                    return Verdict::Taken;
                }
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

    /// Whether one more publish fits the session's rate (taking its token).
    fn within_rate(&mut self) -> bool {
        self.bucket.as_mut().is_none_or(Bucket::take)
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

/// The bytes a held packet keeps in memory: what a client controls (filters, properties,
/// reason strings) counted in full, plus a fixed 16 for each packet and field header. A
/// flat size for everything but publishes would let a client hold `MAX_HELD_PACKETS`
/// subscriptions of kilobytes each under `MAX_HELD_BYTES` (issue 14.4).
fn packet_size(packet: &Packet) -> usize {
    const HEADER: usize = 16;
    fn props(user: &[(String, String)]) -> usize {
        user.iter().map(|(k, v)| HEADER + k.len() + v.len()).sum()
    }
    HEADER
        + match packet {
            Packet::Publish(p, _) => log_size(p.topic.len(), p.payload.len()) as usize,
            Packet::Subscribe(s, sp) => {
                s.filters
                    .iter()
                    .map(|f| HEADER + f.path.len())
                    .sum::<usize>()
                    + sp.as_ref().map_or(0, |p| props(&p.user_properties))
            }
            Packet::Unsubscribe(u, up) => {
                u.filters.iter().map(|f| HEADER + f.len()).sum::<usize>()
                    + up.as_ref().map_or(0, |p| props(&p.user_properties))
            }
            Packet::Disconnect(_, dp) => dp.as_ref().map_or(0, |p| {
                props(&p.user_properties)
                    + p.reason_string.as_ref().map_or(0, String::len)
                    + p.server_reference.as_ref().map_or(0, String::len)
            }),
            _ => 0,
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

    fn subscribe(path_len: usize) -> Packet {
        Packet::Subscribe(
            Subscribe {
                pkid: 7,
                filters: vec![Filter {
                    path: "f".repeat(path_len),
                    qos: QoS::AtLeastOnce,
                    nolocal: false,
                    preserve_retain: false,
                    retain_forward_rule: RetainForwardRule::Never,
                }],
            },
            None,
        )
    }

    /// The attack: while paused, a client sends subscriptions with long filters behind a
    /// held publish. Each used to count as 64 bytes whatever its size, so 10,000 of them
    /// (tens of megabytes) stayed under the 16 MiB cap; counted at their real size, the
    /// cap ends the connection.
    #[test]
    fn held_non_publish_packets_count_at_their_real_size() {
        assert!(packet_size(&subscribe(4_000)) > 4_000);
        assert!(packet_size(&subscribe(4_000)) > packet_size(&subscribe(10)));
        assert!(packet_size(&Packet::PingReq(PingReq)) > 0);

        let pressure = Arc::new(Pressure::new(1 << 20, 10));
        let mut hold = Hold::new(pressure.clone());
        pressure.set_samples(11);
        assert!(matches!(
            hold.admit("d1", publish("devices/d1/telemetry", 1, 1)),
            Verdict::Inject(_)
        ));
        // 16 MiB of 4 KiB filters is about 4,100 packets, well under MAX_HELD_PACKETS.
        let overflowed_at = (0..MAX_HELD_PACKETS)
            .position(|_| matches!(hold.admit("d1", subscribe(4_000)), Verdict::Overflow));
        let at = overflowed_at.expect("the held bytes reach the cap");
        assert!(
            (4_000..4_300).contains(&at),
            "ended after about 16 MiB of filters, not 10,000 packets: {at}"
        );
    }

    #[test]
    fn over_its_rate_a_device_drops_qos0_and_holds_qos1_without_pausing_anyone() {
        let pressure = Arc::new(Pressure::new(1 << 20, 1_000).with_device_rate(1));
        let mut hold = Hold::new(pressure.clone());
        let t = "devices/d1/telemetry";
        // A burst of twice the rate passes.
        for pkid in 1..=2 {
            assert!(matches!(
                hold.admit("d1", publish(t, 1, pkid)),
                Verdict::Pass(_)
            ));
        }
        assert!(matches!(hold.admit("d1", publish(t, 0, 0)), Verdict::Taken));
        assert!(matches!(
            hold.admit("d1", publish(t, 1, 3)),
            Verdict::Inject(Packet::Subscribe(..))
        ));
        assert!(!pressure.is_paused(), "nobody else is paused");
        assert_eq!(
            pressure.holding(),
            1,
            "the flooding connection waits for ticks"
        );
        assert!(hold.release().is_none(), "no token yet");
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert!(matches!(hold.release(), Some(Packet::Publish(..))));
        assert_eq!(pressure.holding(), 0);
        // Another session of the same device gets a bucket of its own.
        assert!(matches!(
            hold.clone().admit("d1", publish(t, 1, 4)),
            Verdict::Pass(_)
        ));
    }
}
