//! A bare MQTT 3.1.1 client over a `TcpStream`, for packets rumqttc will not build: a
//! PUBLISH whose topic is not UTF-8 (rumqttc takes topics as `String`), or bytes chosen
//! exactly (a keep-alive of 0). Only what the tests need: CONNECT/CONNACK, QoS 1
//! PUBLISH/PUBACK, and seeing the server close the connection.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::server::Server;

pub struct RawMqtt {
    stream: TcpStream,
}

impl RawMqtt {
    /// Connects with a clean session and username/password; panics unless the CONNACK
    /// accepts the login.
    pub fn connect(server: &Server, client_id: &str, username: &str, password: &str) -> RawMqtt {
        RawMqtt::connect_with_keep_alive(server, client_id, username, password, 30)
    }

    /// [`RawMqtt::connect`] asking for `keep_alive` seconds (0: none, as MQTT allows).
    pub fn connect_with_keep_alive(
        server: &Server,
        client_id: &str,
        username: &str,
        password: &str,
        keep_alive: u16,
    ) -> RawMqtt {
        let stream = TcpStream::connect(server.mqtt_addr()).expect("connect to the broker");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        let mut raw = RawMqtt { stream };
        let mut body = Vec::new();
        put_bytes(&mut body, b"MQTT");
        body.push(4); // protocol level: 3.1.1
        body.push(0b1100_0010); // username, password, clean session
        body.extend_from_slice(&keep_alive.to_be_bytes()); // keep-alive (s)
        for field in [client_id, username, password] {
            put_bytes(&mut body, field.as_bytes());
        }
        raw.send(0x10, &body);
        let (header, body) = raw.read_packet();
        assert_eq!(header, 0x20, "expected a CONNACK");
        assert_eq!(body.get(1), Some(&0), "CONNACK refused the login: {body:?}");
        raw
    }

    /// Publishes at QoS 1 with `pkid` and waits for its PUBACK.
    pub fn publish(&mut self, pkid: u16, topic: &[u8], payload: &[u8], retain: bool) {
        let mut body = Vec::new();
        put_bytes(&mut body, topic);
        body.extend_from_slice(&pkid.to_be_bytes());
        body.extend_from_slice(payload);
        self.send(0x32 | u8::from(retain), &body);
        let (header, body) = self.read_packet();
        assert_eq!(
            (header, body),
            (0x40, pkid.to_be_bytes().to_vec()),
            "expected the PUBACK of packet {pkid}"
        );
    }

    /// Sends nothing and waits until the server closes the connection; how long that took,
    /// or `None` if it was still open after `timeout`.
    pub fn closed_within(&mut self, timeout: Duration) -> Option<Duration> {
        let start = Instant::now();
        let mut byte = [0u8; 1];
        while start.elapsed() < timeout {
            let left = timeout
                .saturating_sub(start.elapsed())
                .max(Duration::from_millis(1));
            self.stream
                .set_read_timeout(Some(left))
                .expect("read timeout");
            match self.stream.read(&mut byte) {
                Ok(0) => return Some(start.elapsed()),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return Some(start.elapsed()),
            }
        }
        None
    }

    fn send(&mut self, header: u8, body: &[u8]) {
        let mut packet = vec![header];
        let mut len = body.len();
        loop {
            let byte = (len % 128) as u8;
            len /= 128;
            packet.push(if len > 0 { byte | 0x80 } else { byte });
            if len == 0 {
                break;
            }
        }
        packet.extend_from_slice(body);
        self.stream.write_all(&packet).expect("write to the broker");
    }

    /// The next packet's first byte and body; panics if the connection ends first.
    fn read_packet(&mut self) -> (u8, Vec<u8>) {
        let mut byte = [0u8; 1];
        self.stream
            .read_exact(&mut byte)
            .expect("the broker closed the connection or did not answer");
        let header = byte[0];
        let (mut len, mut shift) = (0usize, 0);
        loop {
            self.stream.read_exact(&mut byte).expect("remaining length");
            len |= usize::from(byte[0] & 0x7f) << shift;
            shift += 7;
            if byte[0] & 0x80 == 0 {
                break;
            }
        }
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body).expect("packet body");
        (header, body)
    }
}

/// An MQTT length-prefixed byte string.
fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(bytes);
}
