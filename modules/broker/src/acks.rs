//! PUBACK after commit: a device's QoS 1 telemetry is acknowledged only once telemetry has
//! committed it, so a crash (kill -9, power cut) loses nothing a device saw acknowledged.
//!
//! rumqttd acknowledges a QoS 1 publish when it enters its in-memory log. So the policy
//! layer tags each QoS 1 telemetry publish of a device session with a receipt (the
//! session and a running number, as an MQTT 5 user property the router keeps with the
//! message), the gateway hands the receipt to telemetry with the payload, telemetry hands
//! it back once the payload is committed (or refused) in its `GetIngestBacklog` answer,
//! and the pacer raises the session's [`Watermark`]. Meanwhile the session's `Acks` holds
//! the router's PUBACK for that publish (and every PUBACK after it: MQTT wants them in
//! order) and writes them when the watermark passes them, woken by the watermark's
//! `Notify` (rumqttd patch: `Protocol::waker` / `Protocol::flush`).
//!
//! Owned by a device connection's `Policy`; the watermarks are shared with the pacer
//! through [`Watermarks`]. Touches nothing outside the broker.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use plantd_contracts::telemetry::IngestReceipt;
use rumqttd::protocol::{Packet, Publish, PublishProperties, QoS};
use tokio::sync::Notify;

/// The user property that carries a receipt from the policy layer to the gateway; the
/// policy layer takes it off every publish on its way out to a client.
pub const RECEIPT_PROPERTY: &str = "plantd-receipt";

const NOT_LOST: u8 = 0;
/// The broker's log skipped messages while the session waited for a commit.
const LOG_SKIPPED: u8 = 1;
/// Telemetry refused one of its payloads while storage was behind, or lost its batch.
const NOT_STORED: u8 = 2;

/// How far telemetry has committed one session's tagged publishes.
pub struct Watermark {
    committed: AtomicU64,
    /// The last receipt number given out.
    issued: AtomicU64,
    /// A message of this session may have been lost unseen: end the session. Why
    /// ([`NOT_LOST`], [`LOG_SKIPPED`], [`NOT_STORED`]).
    lost: AtomicU8,
    wake: Arc<Notify>,
}

impl Watermark {
    /// The session must end unacknowledged, for `reason` (the first one given stays).
    fn end(&self, reason: u8) {
        let _ = self
            .lost
            .compare_exchange(NOT_LOST, reason, Ordering::SeqCst, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

/// Every device session's watermark, by session number (shared by the policy layers and
/// the pacer).
#[derive(Default)]
pub struct Watermarks {
    sessions: Mutex<HashMap<u64, Arc<Watermark>>>,
}

impl Watermarks {
    fn register(&self, session: u64, mark: Arc<Watermark>) {
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.insert(session, mark);
        }
    }

    fn unregister(&self, session: u64) {
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.remove(&session);
        }
    }

    /// The broker's log skipped device messages (`gateway.rs`): any session with a receipt
    /// not settled yet may have lost one, which the next receipt of its session would
    /// acknowledge. Such sessions are ended instead (their devices send again what was not
    /// acknowledged; what was stored meanwhile comes back as duplicates, dropped).
    pub fn messages_lost(&self) {
        let Ok(sessions) = self.sessions.lock() else {
            return;
        };
        for mark in sessions.values() {
            if mark.issued.load(Ordering::SeqCst) > mark.committed.load(Ordering::SeqCst) {
                mark.end(LOG_SKIPPED);
            }
        }
    }

    /// Telemetry will not store a payload of each of these sessions (refused while storage
    /// was behind, or lost with its batch): end them unacknowledged, like [`Self::messages_lost`].
    /// Call before [`Self::settled`] with the same answer: a later receipt of such a
    /// session settles too, and would acknowledge the lost one.
    pub fn not_stored(&self, lost: &[u64]) {
        if lost.is_empty() {
            return;
        }
        let Ok(sessions) = self.sessions.lock() else {
            return;
        };
        for session in lost {
            if let Some(mark) = sessions.get(session) {
                mark.end(NOT_STORED);
            }
        }
    }

    /// Telemetry settled these receipts: raise each session's watermark and wake it.
    pub fn settled(&self, receipts: &[IngestReceipt]) {
        if receipts.is_empty() {
            return;
        }
        let Ok(sessions) = self.sessions.lock() else {
            return;
        };
        for receipt in receipts {
            // A lost session's watermark stays where it was: a connection task that read
            // `lost` just before `not_stored` set it must not then see a watermark raised
            // past the payload that was not stored.
            if let Some(mark) = sessions
                .get(&receipt.session)
                .filter(|m| m.lost.load(Ordering::SeqCst) == NOT_LOST)
            {
                mark.committed.fetch_max(receipt.n, Ordering::SeqCst);
                mark.wake.notify_one();
            }
        }
    }
}

/// One device connection's PUBACKs waiting for their commit.
pub struct Acks {
    watermarks: Option<Arc<Watermarks>>,
    wake: Arc<Notify>,
    /// Set once the session is known (a device logged in).
    session: Option<(u64, Arc<Watermark>)>,
    next: Cell<u64>,
    /// Packet id of a tagged publish → its receipt number.
    tagged: RefCell<HashMap<u16, u64>>,
    /// PUBACKs not written yet, in order, with the receipt each waits for.
    held: RefCell<VecDeque<(Packet, Option<u64>)>>,
}

impl Clone for Acks {
    /// A new connection starts with nothing tagged or held.
    fn clone(&self) -> Self {
        Acks::new(self.watermarks.clone())
    }
}

impl Acks {
    /// `None`: PUBACKs go out when rumqttd sends them (`mqtt_puback_after_commit` off).
    pub fn new(watermarks: Option<Arc<Watermarks>>) -> Self {
        Acks {
            watermarks,
            wake: Arc::new(Notify::new()),
            session: None,
            next: Cell::new(0),
            tagged: RefCell::new(HashMap::new()),
            held: RefCell::new(VecDeque::new()),
        }
    }

    /// The connection's signal that held PUBACKs may be due (device sessions only).
    pub fn waker(&self) -> Option<Arc<Notify>> {
        self.session.as_ref().map(|_| self.wake.clone())
    }

    /// A device session logged in: its telemetry is acknowledged after commit from now on.
    pub fn start(&mut self, session: u64) {
        let Some(watermarks) = &self.watermarks else {
            return;
        };
        let mark = Arc::new(Watermark {
            committed: AtomicU64::new(0),
            issued: AtomicU64::new(0),
            lost: AtomicU8::new(NOT_LOST),
            wake: self.wake.clone(),
        });
        watermarks.register(session, mark.clone());
        self.session = Some((session, mark));
    }

    /// Tags a device's QoS 1 telemetry publish (`topic`: its topic, an alias resolved) on
    /// its way to the router.
    pub fn tag(&self, topic: &str, publish: &Publish, props: &mut Option<PublishProperties>) {
        let Some((session, mark)) = &self.session else {
            return;
        };
        if publish.qos() != QoS::AtLeastOnce || !is_telemetry(topic) {
            return;
        }
        let n = self.next.get() + 1;
        self.next.set(n);
        mark.issued.store(n, Ordering::SeqCst);
        self.tagged.borrow_mut().insert(publish.pkid(), n);
        props
            .get_or_insert_with(Default::default)
            .user_properties
            .push((RECEIPT_PROPERTY.to_owned(), format!("{session}:{n}")));
    }

    /// A PUBACK rumqttd is about to write: `Some` to write it now, `None` when it is held.
    pub fn outgoing(&self, packet: Packet) -> Option<Packet> {
        let Some((_, mark)) = &self.session else {
            return Some(packet);
        };
        let Packet::PubAck(ack, _) = &packet else {
            return Some(packet);
        };
        if mark.lost.load(Ordering::SeqCst) != NOT_LOST {
            // The session ends unacknowledged (`Policy::flush`): no PUBACK may pass now.
            return None;
        }
        let receipt = self.tagged.borrow_mut().remove(&ack.pkid);
        let mut held = self.held.borrow_mut();
        let due = receipt.is_none_or(|n| n <= mark.committed.load(Ordering::SeqCst));
        if due && held.is_empty() {
            return Some(packet);
        }
        if held.is_empty() {
            metrics::gauge!("plantd_mqtt_pubacks_waiting_connections").increment(1.0);
        }
        held.push_back((packet, receipt));
        None
    }

    /// Why the session must end unacknowledged (`log_skipped`, `not_stored`), if it must.
    pub fn lost(&self) -> Option<&'static str> {
        let (_, mark) = self.session.as_ref()?;
        match mark.lost.load(Ordering::SeqCst) {
            NOT_LOST => None,
            LOG_SKIPPED => Some("log_skipped"),
            _ => Some("not_stored"),
        }
    }

    /// The held PUBACKs that are due now, in order.
    pub fn due(&self) -> Vec<Packet> {
        let Some((_, mark)) = &self.session else {
            return Vec::new();
        };
        if mark.lost.load(Ordering::SeqCst) != NOT_LOST {
            return Vec::new();
        }
        let committed = mark.committed.load(Ordering::SeqCst);
        let mut held = self.held.borrow_mut();
        let mut out = Vec::new();
        while held
            .front()
            .is_some_and(|(_, n)| n.is_none_or(|n| n <= committed))
        {
            if let Some((packet, _)) = held.pop_front() {
                out.push(packet);
            }
        }
        if !out.is_empty() && held.is_empty() {
            metrics::gauge!("plantd_mqtt_pubacks_waiting_connections").decrement(1.0);
            // A burst's held PUBACKs (a packet each) and tags are given back once all
            // went out, not kept at their peak by an idle connection.
            *held = VecDeque::new();
            let mut tagged = self.tagged.borrow_mut();
            if tagged.is_empty() {
                *tagged = HashMap::new();
            }
        }
        out
    }
}

impl Drop for Acks {
    fn drop(&mut self) {
        if let (Some(watermarks), Some((session, _))) = (&self.watermarks, &self.session) {
            watermarks.unregister(*session);
            if !self.held.borrow().is_empty() {
                // Not acknowledged: the device sends them again on its next connection.
                metrics::gauge!("plantd_mqtt_pubacks_waiting_connections").decrement(1.0);
            }
        }
    }
}

/// `devices/{id}/telemetry`, the topic whose PUBACK waits for the commit.
fn is_telemetry(topic: &str) -> bool {
    topic.starts_with("devices/")
        && topic.ends_with("/telemetry")
        && topic.matches('/').count() == 2
}

/// The receipt a publish carries, taken off its properties (the gateway's side).
pub fn take_receipt(props: &mut Option<PublishProperties>) -> Option<IngestReceipt> {
    let props = props.as_mut()?;
    let index = props
        .user_properties
        .iter()
        .position(|(k, _)| k == RECEIPT_PROPERTY)?;
    let (_, value) = props.user_properties.remove(index);
    let (session, n) = value.split_once(':')?;
    Some(IngestReceipt {
        session: session.parse().ok()?,
        n: n.parse().ok()?,
    })
}

/// Takes plantd's receipt off a publish on its way to a client.
pub fn strip_receipt(props: &mut Option<PublishProperties>) {
    if let Some(p) = props.as_mut() {
        p.user_properties.retain(|(k, _)| k != RECEIPT_PROPERTY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, BytesMut};
    use rumqttd::protocol::PubAck;

    /// A QoS 1 publish with packet id `pkid` (rumqttd builds QoS 1 only from bytes).
    fn qos1(topic: &str, pkid: u16) -> Publish {
        let mut b = BytesMut::new();
        b.put_u8(0b0011_0010);
        b.put_u16(pkid);
        b.put_u16(topic.len() as u16);
        b.extend_from_slice(topic.as_bytes());
        b.extend_from_slice(b"{}");
        Publish::deserialize(b.freeze())
    }

    fn puback(pkid: u16) -> Packet {
        Packet::PubAck(
            PubAck {
                pkid,
                reason: rumqttd::protocol::PubAckReason::Success,
            },
            None,
        )
    }

    fn pkids(packets: Vec<Packet>) -> Vec<u16> {
        packets
            .into_iter()
            .map(|p| match p {
                Packet::PubAck(a, _) => a.pkid,
                _ => 0,
            })
            .collect()
    }

    #[test]
    fn pubacks_wait_for_their_commit_and_keep_their_order() {
        let watermarks = Arc::new(Watermarks::default());
        let mut acks = Acks::new(Some(watermarks.clone()));
        acks.start(7);
        let topic = "devices/press-1/telemetry";
        let mut receipts = Vec::new();
        for pkid in 1..=3 {
            let publish = qos1(topic, pkid);
            assert_eq!(publish.pkid(), pkid);
            let mut props = None;
            acks.tag(topic, &publish, &mut props);
            receipts.push(take_receipt(&mut props).expect("tagged"));
            assert!(props.is_some_and(|p| p.user_properties.is_empty()));
        }
        assert_eq!(receipts[2], IngestReceipt { session: 7, n: 3 });
        for pkid in 1..=3 {
            assert!(
                acks.outgoing(puback(pkid)).is_none(),
                "held until committed"
            );
        }
        // A PUBACK of another topic queues behind them (MQTT: PUBACKs in order).
        let mut props = None;
        acks.tag("devices/press-1/state/reported", &qos1("x", 9), &mut props);
        assert!(props.is_none(), "only telemetry is tagged");
        assert!(acks.outgoing(puback(9)).is_none());
        assert!(acks.due().is_empty());
        watermarks.settled(&[IngestReceipt { session: 7, n: 2 }]);
        assert_eq!(pkids(acks.due()), vec![1, 2]);
        watermarks.settled(&[IngestReceipt { session: 7, n: 3 }]);
        assert_eq!(pkids(acks.due()), vec![3, 9]);
        // Nothing held: an untagged PUBACK goes out at once.
        assert!(acks.outgoing(puback(10)).is_some());
        // All settled: a lost message in the log cuts no one.
        watermarks.messages_lost();
        assert_eq!(acks.lost(), None);
        // One receipt outstanding when the log lost messages: nothing more is acknowledged.
        let mut props = None;
        acks.tag(topic, &qos1(topic, 11), &mut props);
        assert!(acks.outgoing(puback(11)).is_none());
        watermarks.messages_lost();
        watermarks.settled(&[IngestReceipt { session: 7, n: 4 }]);
        assert_eq!(acks.lost(), Some("log_skipped"));
        assert!(acks.due().is_empty());
    }

    #[test]
    fn a_session_telemetry_did_not_store_acknowledges_nothing_more() {
        let watermarks = Arc::new(Watermarks::default());
        let mut acks = Acks::new(Some(watermarks.clone()));
        acks.start(8);
        let topic = "devices/press-2/telemetry";
        for pkid in 1..=2 {
            let mut props = None;
            acks.tag(topic, &qos1(topic, pkid), &mut props);
            assert!(acks.outgoing(puback(pkid)).is_none());
        }
        // One answer: payload 1 was refused, payload 2 (which would cover it) committed.
        watermarks.not_stored(&[8]);
        watermarks.settled(&[IngestReceipt { session: 8, n: 2 }]);
        assert_eq!(acks.lost(), Some("not_stored"));
        assert!(acks.due().is_empty(), "no PUBACK once lost");
        let mark = &acks.session.as_ref().expect("started").1;
        assert_eq!(
            mark.committed.load(Ordering::SeqCst),
            0,
            "a lost session's watermark is not raised (a connection that read `lost` first \
             must not see it move)"
        );
        let mut props = None;
        acks.tag(topic, &qos1(topic, 3), &mut props);
        assert!(acks.outgoing(puback(3)).is_none(), "nor a later one");
    }

    #[test]
    fn off_or_for_integrations_pubacks_pass() {
        let acks = Acks::new(None);
        assert!(acks.waker().is_none());
        let mut props = None;
        acks.tag(
            "devices/a/telemetry",
            &qos1("devices/a/telemetry", 1),
            &mut props,
        );
        assert!(props.is_none());
        assert!(acks.outgoing(puback(1)).is_some());
        // Enabled, but no device session started (an integration).
        let acks = Acks::new(Some(Arc::new(Watermarks::default())));
        assert!(acks.waker().is_none());
        assert!(acks.outgoing(puback(1)).is_some());
    }

    #[test]
    fn a_clients_own_receipt_property_is_stripped() {
        let mut props = Some(PublishProperties {
            user_properties: vec![
                (RECEIPT_PROPERTY.to_owned(), "1:99".to_owned()),
                ("k".to_owned(), "v".to_owned()),
            ],
            ..Default::default()
        });
        strip_receipt(&mut props);
        assert_eq!(
            props.map(|p| p.user_properties),
            Some(vec![("k".to_owned(), "v".to_owned())])
        );
    }
}
