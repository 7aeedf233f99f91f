//! MQTT 5 flow control from a client to plantd: the receive maximum plantd announces in
//! the CONNACK (`mqtt_receive_max`) and holds each MQTT 5 client to. A QoS 1 publish is in
//! flight until plantd's PUBACK, a QoS 2 one until its PUBCOMP (or a PUBREC that refuses
//! it); a new one beyond the maximum ends the connection with DISCONNECT "receive maximum
//! exceeded" (MQTT 5 §3.3.4). The policy layer calls it on each packet it reads and writes;
//! it keeps one connection's packet ids and touches nothing else.

use std::cell::RefCell;
use std::collections::HashSet;

use rumqttd::protocol::{Packet, PubRecReason, QoS};

/// The QoS 1 and 2 publishes one MQTT 5 client has in flight towards plantd.
#[derive(Clone)]
pub struct Window {
    max: u16,
    open: RefCell<HashSet<u16>>,
}

/// A publish that took the client over its receive maximum.
#[derive(Debug, PartialEq, Eq)]
pub struct Exceeded;

impl Window {
    pub fn new(max: u16) -> Self {
        Window {
            max,
            open: RefCell::new(HashSet::new()),
        }
    }

    /// The receive maximum announced to the client.
    pub fn max(&self) -> u16 {
        self.max
    }

    /// A packet from the client: a new QoS 1 or 2 publish opens its packet id (a resent
    /// one, same id, does not count twice).
    pub fn incoming(&self, packet: &Packet) -> Result<(), Exceeded> {
        let Packet::Publish(publish, _) = packet else {
            return Ok(());
        };
        if publish.qos() == QoS::AtMostOnce {
            return Ok(());
        }
        let mut open = self.open.borrow_mut();
        if open.insert(publish.pkid()) && open.len() > usize::from(self.max) {
            return Err(Exceeded);
        }
        Ok(())
    }

    /// A packet to the client: the acknowledgement that ends a publish's flight closes its
    /// packet id.
    pub fn outgoing(&self, packet: &Packet) {
        let pkid = match packet {
            Packet::PubAck(ack, _) => ack.pkid,
            Packet::PubComp(comp, _) => comp.pkid,
            Packet::PubRec(rec, _) if is_refusal(&rec.reason) => rec.pkid,
            _ => return,
        };
        self.open.borrow_mut().remove(&pkid);
    }
}

/// A PUBREC with a reason code of 0x80 or above ends the QoS 2 exchange (MQTT 5 §4.3.3).
fn is_refusal(reason: &PubRecReason) -> bool {
    !matches!(
        reason,
        PubRecReason::Success | PubRecReason::NoMatchingSubscribers
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use rumqttd::protocol::v5::V5;
    use rumqttd::protocol::{Protocol, PubAck, PubAckReason, PubComp, PubCompReason, PubRec};

    /// An MQTT 5 PUBLISH on topic `t` with no properties and no payload, as a client sends
    /// it (the codec's fields are private outside rumqttd).
    fn publish(pkid: u16, qos: QoS) -> Packet {
        let [hi, lo] = pkid.to_be_bytes();
        let bytes: Vec<u8> = match qos {
            QoS::AtMostOnce => vec![0x30, 4, 0, 1, b't', 0],
            QoS::AtLeastOnce => vec![0x32, 6, 0, 1, b't', hi, lo, 0],
            QoS::ExactlyOnce => vec![0x34, 6, 0, 1, b't', hi, lo, 0],
        };
        V5.read_mut(&mut BytesMut::from(&bytes[..]), 1024)
            .expect("a PUBLISH")
    }

    #[test]
    fn counts_qos_1_and_2_until_their_acknowledgement() {
        let w = Window::new(2);
        assert_eq!(w.incoming(&publish(0, QoS::AtMostOnce)), Ok(()));
        assert_eq!(w.incoming(&publish(1, QoS::AtLeastOnce)), Ok(()));
        assert_eq!(w.incoming(&publish(2, QoS::ExactlyOnce)), Ok(()));
        // A resend of an open id is not a new publish.
        assert_eq!(w.incoming(&publish(2, QoS::ExactlyOnce)), Ok(()));
        assert_eq!(w.incoming(&publish(3, QoS::AtLeastOnce)), Err(Exceeded));

        let w = Window::new(2);
        w.incoming(&publish(1, QoS::AtLeastOnce)).expect("1");
        w.incoming(&publish(2, QoS::ExactlyOnce)).expect("2");
        let ack = PubAck {
            pkid: 1,
            reason: PubAckReason::Success,
        };
        w.outgoing(&Packet::PubAck(ack, None));
        // A PUBREC that accepts keeps a QoS 2 publish in flight; its PUBCOMP ends it.
        let rec = PubRec {
            pkid: 2,
            reason: PubRecReason::Success,
        };
        w.outgoing(&Packet::PubRec(rec, None));
        assert_eq!(w.incoming(&publish(3, QoS::AtLeastOnce)), Ok(()));
        assert_eq!(w.incoming(&publish(4, QoS::AtLeastOnce)), Err(Exceeded));
        let comp = PubComp {
            pkid: 2,
            reason: PubCompReason::Success,
        };
        w.outgoing(&Packet::PubComp(comp, None));
        assert_eq!(w.incoming(&publish(5, QoS::AtLeastOnce)), Err(Exceeded));
    }
}
