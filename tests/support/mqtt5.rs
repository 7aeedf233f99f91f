//! MQTT 5 helpers over rumqttc's v5 client, driven from the test's thread (connect and
//! keep the CONNACK, subscribe with options and identifiers, publish with properties,
//! collect messages), and a bare MQTT 5 socket for what that client cannot send.

use std::time::{Duration, Instant};

use rumqttc::v5::mqttbytes::v5::{
    ConnAck, ConnAckProperties, ConnectProperties, ConnectReturnCode, Filter, Packet, Publish,
    PublishProperties, SubscribeProperties, SubscribeReasonCode,
};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{Client, Connection, Event, MqttOptions};

use super::http::token;
use super::Server;

/// How long a test waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(10);

/// An MQTT 5 session driven from the test's thread.
pub struct V5 {
    pub client: Client,
    pub connection: Connection,
    pub connack: ConnAck,
    pub connack_props: Option<ConnAckProperties>,
}

/// Options for `client_id` logging in as `login`, changed by `tune` before connecting.
pub fn options(
    server: &Server,
    client_id: &str,
    login: (&str, &str),
    tune: impl FnOnce(&mut MqttOptions),
) -> MqttOptions {
    let (host, port) = server.mqtt_addr();
    let mut opts = MqttOptions::new(client_id, host, port);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_credentials(login.0, login.1);
    tune(&mut opts);
    opts
}

impl V5 {
    pub fn connect(opts: MqttOptions) -> V5 {
        let (client, connection) = Client::new(opts, 100);
        let mut v5 = V5 {
            client,
            connection,
            connack: ConnAck {
                session_present: false,
                code: ConnectReturnCode::Success,
                properties: None,
            },
            connack_props: None,
        };
        match v5.expect("CONNACK", |p| matches!(p, Packet::ConnAck(..))) {
            Packet::ConnAck(ack) => {
                v5.connack_props = ack.properties.clone();
                v5.connack = ack;
            }
            _ => unreachable!(),
        }
        v5
    }

    /// Runs the connection until a packet matching `pred` comes in; panics after `WAIT`.
    pub fn expect(&mut self, what: &str, pred: impl Fn(&Packet) -> bool) -> Packet {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.connection.recv_timeout(left) {
                Ok(Ok(Event::Incoming(p))) if pred(&p) => return p,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => panic!("MQTT 5 connection failed while waiting for {what}: {e}"),
                Err(_) => panic!("no {what} within {WAIT:?}"),
            }
        }
    }

    /// Every PUBLISH received until one with `payload` (included).
    pub fn until(&mut self, payload: &str) -> Vec<Publish> {
        let mut got = Vec::new();
        loop {
            match self.expect(&format!("a message {payload:?}"), |p| {
                matches!(p, Packet::Publish(..))
            }) {
                Packet::Publish(p) => {
                    let last = p.payload == payload.as_bytes();
                    got.push(p);
                    if last {
                        return got;
                    }
                }
                _ => unreachable!(),
            }
        }
    }

    /// The next `n` PUBLISHes.
    pub fn next_publishes(&mut self, n: usize) -> Vec<Publish> {
        (0..n)
            .map(
                |_| match self.expect("a message", |p| matches!(p, Packet::Publish(..))) {
                    Packet::Publish(p) => p,
                    _ => unreachable!(),
                },
            )
            .collect()
    }

    pub fn subscribe_filter(
        &mut self,
        filter: Filter,
        id: Option<usize>,
    ) -> Vec<SubscribeReasonCode> {
        let props = SubscribeProperties {
            id,
            user_properties: Vec::new(),
        };
        self.client
            .subscribe_many_with_properties([filter], props)
            .expect("subscribe");
        match self.expect("SUBACK", |p| matches!(p, Packet::SubAck(..))) {
            Packet::SubAck(ack) => ack.return_codes,
            _ => unreachable!(),
        }
    }

    /// Subscribes to `filter` expecting a refusal: rumqttc's v5 client ends the connection
    /// on a SUBACK failure code, with the code in its error.
    pub fn subscribe_refused(mut self, filter: Filter, id: Option<usize>) -> String {
        let props = SubscribeProperties {
            id,
            user_properties: Vec::new(),
        };
        let path = filter.path.clone();
        self.client
            .subscribe_many_with_properties([filter], props)
            .expect("subscribe");
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.connection.recv_timeout(left) {
                Ok(Ok(Event::Incoming(Packet::SubAck(ack)))) => {
                    panic!("{path} subscribed: {ack:?}")
                }
                Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                    panic!("a message came in for a refused {path}: {p:?}")
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return e.to_string(),
                Err(_) => panic!("no SUBACK for {path} within {WAIT:?}"),
            }
        }
    }

    /// Subscribes to `path` and returns the messages that came in before the SUBACK.
    pub fn publishes_before_suback(&mut self, path: &str) -> Vec<Publish> {
        self.client
            .subscribe(path, QoS::AtMostOnce)
            .expect("subscribe");
        let mut got = Vec::new();
        loop {
            match self.expect("SUBACK", |p| {
                matches!(p, Packet::SubAck(..) | Packet::Publish(..))
            }) {
                Packet::Publish(p) => got.push(p),
                _ => return got,
            }
        }
    }

    pub fn subscribe(&mut self, path: &str, qos: QoS) -> Vec<SubscribeReasonCode> {
        self.subscribe_filter(Filter::new(path, qos), None)
    }

    /// Publishes and, for QoS 1 and 2, waits for the PUBACK / PUBCOMP.
    pub fn publish(&mut self, topic: &str, qos: QoS, retain: bool, payload: &str) {
        self.publish_props(topic, qos, retain, payload, PublishProperties::default());
    }

    pub fn publish_props(
        &mut self,
        topic: &str,
        qos: QoS,
        retain: bool,
        payload: &str,
        props: PublishProperties,
    ) {
        self.client
            .publish_with_properties(topic, qos, retain, payload.to_owned(), props)
            .expect("publish");
        match qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                self.expect("PUBACK", |p| matches!(p, Packet::PubAck(..)));
            }
            QoS::ExactlyOnce => {
                self.expect("PUBCOMP", |p| matches!(p, Packet::PubComp(..)));
            }
        }
    }

    /// Sends DISCONNECT and runs the connection until it is closed.
    pub fn disconnect(mut self) {
        self.client.disconnect().expect("disconnect");
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            match self.connection.recv_timeout(Duration::from_millis(200)) {
                Ok(Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect))) => return,
                Ok(Err(_)) => return,
                _ => {}
            }
        }
    }
}

/// A new integration token with the `mqtt` scope: (username, password).
pub fn mqtt_token(server: &Server) -> (String, String) {
    token(server, &["mqtt"])
}

pub fn integration(server: &Server, login: &(String, String), client_id: &str) -> V5 {
    V5::connect(options(server, client_id, (&login.0, &login.1), |_| {}))
}

pub fn text(p: &Publish) -> String {
    String::from_utf8_lossy(&p.payload).into_owned()
}

pub fn props(p: &Publish) -> PublishProperties {
    p.properties.clone().unwrap_or_default()
}

pub const GRANTED_2: SubscribeReasonCode = SubscribeReasonCode::Success(QoS::ExactlyOnce);
pub const GRANTED_1: SubscribeReasonCode = SubscribeReasonCode::Success(QoS::AtLeastOnce);

/// A bare MQTT 5 session over a socket, for what rumqttc's client cannot send (a
/// DISCONNECT with properties): packets encoded and decoded with rumqttc's own codec.
pub struct RawV5 {
    stream: std::net::TcpStream,
    read: tokio_util::bytes::BytesMut,
    /// The receive maximum the CONNACK announced.
    pub receive_max: Option<u16>,
}

impl RawV5 {
    /// Connects as `login` with a session expiry interval; returns the session and
    /// whether the CONNACK said a session was present.
    pub fn connect(
        server: &Server,
        login: &(String, String),
        client_id: &str,
        clean_start: bool,
        expiry: u32,
    ) -> (RawV5, bool) {
        use rumqttc::v5::mqttbytes::v5::{Connect, Login};
        let (host, port) = server.mqtt_addr();
        let stream = std::net::TcpStream::connect((host, port)).expect("connect");
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
        let mut raw = RawV5 {
            stream,
            read: tokio_util::bytes::BytesMut::new(),
            receive_max: None,
        };
        let mut props = ConnectProperties::new();
        props.session_expiry_interval = Some(expiry);
        raw.send(Packet::Connect(
            Connect {
                keep_alive: 30,
                client_id: client_id.to_owned(),
                clean_start,
                properties: Some(props),
            },
            None,
            Some(Login {
                username: login.0.clone(),
                password: login.1.clone(),
            }),
        ));
        match raw.next() {
            Packet::ConnAck(ack) => {
                let present = ack.session_present;
                raw.receive_max = ack.properties.and_then(|p| p.receive_max);
                (raw, present)
            }
            other => panic!("expected a CONNACK, got {other:?}"),
        }
    }

    pub fn send(&mut self, packet: Packet) {
        use std::io::Write;
        let mut out = tokio_util::bytes::BytesMut::new();
        packet.write(&mut out).expect("encode");
        self.stream.write_all(&out).expect("send");
    }

    /// The next packet from plantd; panics if none comes within `WAIT`.
    pub fn next(&mut self) -> Packet {
        use std::io::Read;
        loop {
            match Packet::read(&mut self.read, None) {
                Ok(packet) => return packet,
                Err(rumqttc::v5::mqttbytes::Error::InsufficientBytes(_)) => {}
                Err(e) => panic!("undecodable packet: {e:?}"),
            }
            let mut chunk = [0u8; 1024];
            let n = self.stream.read(&mut chunk).expect("read");
            assert!(n > 0, "connection closed; unread: {:?}", &self.read[..]);
            self.read.extend_from_slice(&chunk[..n]);
        }
    }

    pub fn subscribe(&mut self, path: &str) {
        let mut subscribe =
            rumqttc::v5::mqttbytes::v5::Subscribe::new(Filter::new(path, QoS::AtLeastOnce), None);
        subscribe.pkid = 1;
        self.send(Packet::Subscribe(subscribe));
        match self.next() {
            Packet::SubAck(ack) => assert_eq!(ack.return_codes, vec![GRANTED_1]),
            other => panic!("expected a SUBACK, got {other:?}"),
        }
    }

    /// Sends DISCONNECT with a new session expiry interval and waits for the close.
    pub fn disconnect(mut self, expiry: u32) {
        use std::io::{Read, Write};
        // rumqttc does not export its DISCONNECT properties: the packet by hand. Normal
        // disconnection (0x00), 5 bytes of properties: Session Expiry Interval (0x11).
        let mut packet = vec![0xE0, 7, 0x00, 5, 0x11];
        packet.extend_from_slice(&expiry.to_be_bytes());
        self.stream.write_all(&packet).expect("send");
        let mut rest = Vec::new();
        let _ = self.stream.read_to_end(&mut rest);
    }
}
