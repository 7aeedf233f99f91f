//! MQTT helpers over rumqttc's blocking client: connect and see the CONNACK, publish with
//! acknowledgement, subscribe and read the SUBACK, collect received messages.

use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use rumqttc::{Client, ConnectionError, Event, MqttOptions, Packet, QoS, SubscribeReasonCode};

use super::server::Server;

pub struct Mqtt {
    pub client: Client,
    events: Receiver<Result<Packet, String>>,
}

pub fn options(server: &Server, client_id: &str, login: Option<(&str, &str)>) -> MqttOptions {
    let (host, port) = server.mqtt_addr();
    let mut opts = MqttOptions::new(client_id, host, port);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_max_packet_size(4 * 1024 * 1024, 4 * 1024 * 1024);
    if let Some((user, password)) = login {
        opts.set_credentials(user, password);
    }
    opts
}

/// Connects and waits for the CONNACK; `Err` carries rumqttc's refusal.
pub fn connect(
    server: &Server,
    client_id: &str,
    login: Option<(&str, &str)>,
) -> Result<Mqtt, ConnectionError> {
    connect_with(options(server, client_id, login))
}

pub fn connect_with(opts: MqttOptions) -> Result<Mqtt, ConnectionError> {
    let (client, mut connection) = Client::new(opts, 1000);
    let (tx, rx) = channel();
    let (first_tx, first_rx) = channel();
    thread::spawn(move || {
        let mut first = Some(first_tx);
        for event in connection.iter() {
            match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    if let Some(f) = first.take() {
                        let _ = f.send(Ok(ack));
                    }
                }
                Ok(Event::Incoming(packet)) => {
                    if tx.send(Ok(packet)).is_err() {
                        break;
                    }
                }
                Ok(Event::Outgoing(_)) => {}
                Err(e) => {
                    match first.take() {
                        Some(f) => {
                            let _ = f.send(Err(e));
                        }
                        None => {
                            let _ = tx.send(Err(e.to_string()));
                        }
                    }
                    break;
                }
            }
        }
    });
    match first_rx.recv_timeout(Duration::from_secs(15)) {
        Ok(Ok(_)) => Ok(Mqtt { client, events: rx }),
        Ok(Err(e)) => Err(e),
        Err(_) => panic!("no CONNACK within 15 s"),
    }
}

impl Mqtt {
    /// Publishes and, for QoS 1, waits for the PUBACK.
    pub fn publish(&mut self, topic: &str, payload: impl Into<Vec<u8>>, qos: QoS) {
        self.client
            .publish(topic, qos, false, payload)
            .expect("publish");
        if qos == QoS::AtLeastOnce {
            self.expect(Duration::from_secs(10), "PUBACK", |p| {
                matches!(p, Packet::PubAck(_))
            });
        }
    }

    pub fn publish_retained(&mut self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, true, payload)
            .expect("publish");
        self.expect(Duration::from_secs(10), "PUBACK", |p| {
            matches!(p, Packet::PubAck(_))
        });
    }

    /// Subscribes and returns the SUBACK's codes.
    pub fn subscribe(&mut self, filter: &str) -> Vec<SubscribeReasonCode> {
        self.client
            .subscribe(filter, QoS::AtLeastOnce)
            .expect("subscribe");
        match self.expect(Duration::from_secs(10), "SUBACK", |p| {
            matches!(p, Packet::SubAck(_))
        }) {
            Packet::SubAck(ack) => ack.return_codes,
            _ => unreachable!(),
        }
    }

    /// Waits for a packet matching `pred`, skipping others; panics on timeout or error.
    pub fn expect(
        &mut self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Packet) -> bool,
    ) -> Packet {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Ok(p)) if pred(&p) => return p,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => panic!("connection failed while waiting for {what}: {e}"),
                Err(RecvTimeoutError::Timeout) => panic!("no {what} within {timeout:?}"),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("connection ended while waiting for {what}")
                }
            }
        }
    }

    /// Every PUBLISH received until `done` holds for all received so far, as (topic,
    /// payload); panics after `timeout`, showing what came.
    pub fn collect_until(
        &mut self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&[(String, Vec<u8>)]) -> bool,
    ) -> Vec<(String, Vec<u8>)> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while !done(&out) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Ok(Packet::Publish(p))) => out.push((p.topic.clone(), p.payload.to_vec())),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    panic!("connection failed while waiting for {what}: {e}; got {out:?}")
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no {what} within {timeout:?}; got {out:?}")
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("connection ended while waiting for {what}; got {out:?}")
                }
            }
        }
        out
    }

    /// Every PUBLISH received within `window`, as (topic, payload). It always waits the
    /// whole window: it is for proving that nothing (more) arrives. To wait for something,
    /// use [`Mqtt::collect_until`].
    pub fn received(&mut self, window: Duration) -> Vec<(String, Vec<u8>)> {
        let deadline = Instant::now() + window;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Ok(Packet::Publish(p))) => out.push((p.topic.clone(), p.payload.to_vec())),
                Ok(Ok(_)) => {}
                Ok(Err(_)) | Err(_) => return out,
            }
        }
    }

    /// Waits until the connection ends (the server closed it); returns the error text.
    pub fn closed_within(&mut self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Some(e),
                Err(RecvTimeoutError::Disconnected) => return Some("disconnected".to_owned()),
                Err(RecvTimeoutError::Timeout) => return None,
            }
        }
    }
}

/// A device's MQTT session: client id and username are the device id.
pub fn device(server: &Server, id: &str, password: &str) -> Mqtt {
    connect(server, id, Some((id, password)))
        .unwrap_or_else(|e| panic!("device {id} could not connect: {e}"))
}
