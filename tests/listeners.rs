//! The broker's listeners (issue 13, item 4) over real sockets: the connect deadline (a
//! socket that sends nothing is closed, and delays no one meanwhile) and MQTT over
//! WebSocket (path `/mqtt`, MQTT 3.1.1 and 5 through the policy layer). TLS is in `tls.rs`.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use rumqttc::{MqttOptions, QoS, Transport};

use crate::support::http::{metric, provision, stored_points};
use crate::support::mqtt::connect_with;
use crate::support::server::free_port;
use crate::support::{eventually, Server};

/// The deadline the tests set: long enough for a device to connect and publish while the
/// silent sockets wait, short enough to see them closed.
pub const DEADLINE_MS: &str = "5000";

/// Sockets that connect and then say nothing.
pub fn silent_sockets(port: u16, count: usize) -> Vec<TcpStream> {
    (0..count)
        .map(|_| {
            let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            s.set_nonblocking(true).expect("non-blocking");
            s
        })
        .collect()
}

/// The server has not closed `socket` (a read would wait).
pub fn still_open(socket: &TcpStream) -> bool {
    matches!(socket.peek(&mut [0u8; 1]), Err(e) if e.kind() == ErrorKind::WouldBlock)
}

/// The server closed `socket` (end of stream or a reset).
pub fn closed(socket: &TcpStream) -> bool {
    match socket.peek(&mut [0u8; 1]) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != ErrorKind::WouldBlock,
    }
}

/// Waits (at most 60 s) until the server closed every socket.
pub fn wait_all_closed(sockets: &[TcpStream], what: &str) {
    eventually(Duration::from_secs(60), what, || {
        sockets.iter().all(closed).then_some(())
    });
}

fn sample(value: u32) -> String {
    format!(r#"{{"values": {{"temperature_c": {value}}}}}"#)
}

/// Fifty sockets connect and send nothing. Meanwhile a device connects (CONNACK) and
/// publishes (PUBACK) while all fifty are still open, and its sample is stored; the fifty
/// are closed after the deadline and counted as timeouts of the TCP listener.
#[test]
fn silent_connections_are_closed_after_the_deadline_and_delay_no_one() {
    let server = Server::start_with(&[("PLANTD_MQTT_CONNECT_TIMEOUT_MS", DEADLINE_MS)]);
    let password = provision(&server, "press-1");
    let silent = silent_sockets(server.mqtt_port, 50);

    let opts = crate::support::mqtt::options(&server, "press-1", Some(("press-1", &password)));
    let mut device = connect_with(opts).expect("the device is served while 50 sockets hang");
    device.publish("devices/press-1/telemetry", sample(61), QoS::AtLeastOnce);
    assert!(
        silent.iter().all(still_open),
        "the device was served while the silent sockets were still waiting"
    );
    let points = stored_points(&server, "press-1", "temperature_c", 1);
    assert_eq!(points[0].1, 61.0);

    wait_all_closed(
        &silent,
        "the 50 silent sockets to be closed after the deadline",
    );
    eventually(Duration::from_secs(10), "the timeouts counted", || {
        let n = metric(
            &server,
            "plantd_mqtt_handshake_failures_total",
            r#"listener="tcp",reason="timeout""#,
        );
        (n >= 50.0).then_some(())
    });
    // The device, which did send its CONNECT, is still connected and served.
    device.publish("devices/press-1/telemetry", sample(62), QoS::AtLeastOnce);
    stored_points(&server, "press-1", "temperature_c", 2);
}

/// A plantd with the WebSocket listener on a free port; returns it and the port.
fn ws_server() -> (Server, u16) {
    let ws_port = free_port();
    let server = Server::start_with(&[
        ("PLANTD_MQTT_WS_ADDR", &format!("127.0.0.1:{ws_port}")),
        ("PLANTD_MQTT_CONNECT_TIMEOUT_MS", DEADLINE_MS),
    ]);
    (server, ws_port)
}

pub fn ws_options(url: &str, id: &str, password: &str) -> MqttOptions {
    let mut opts = MqttOptions::new(id, url, 0);
    opts.set_transport(Transport::Ws);
    opts.set_credentials(id, password);
    opts.set_keep_alive(Duration::from_secs(30));
    opts
}

/// An MQTT 5 client: connects and waits for the CONNACK (`Err`: the refusal), then hands
/// back the client and the packets it receives.
pub fn connect_v5(
    opts: rumqttc::v5::MqttOptions,
) -> Result<(rumqttc::v5::Client, Receiver<rumqttc::v5::Incoming>), String> {
    use rumqttc::v5::{Client, Event, Incoming};
    let (client, mut connection) = Client::new(opts, 100);
    let (tx, rx) = channel();
    let (first_tx, first_rx) = channel();
    std::thread::spawn(move || {
        let mut first = Some(first_tx);
        for event in connection.iter() {
            match event {
                Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                    if let Some(f) = first.take() {
                        let _ = f.send(Ok(()));
                    }
                }
                Ok(Event::Incoming(packet)) => {
                    if tx.send(packet).is_err() {
                        break;
                    }
                }
                Ok(Event::Outgoing(_)) => {}
                Err(e) => {
                    if let Some(f) = first.take() {
                        let _ = f.send(Err(e.to_string()));
                    }
                    break;
                }
            }
        }
    });
    match first_rx.recv_timeout(Duration::from_secs(15)) {
        Ok(Ok(())) => Ok((client, rx)),
        Ok(Err(e)) => Err(e),
        Err(_) => panic!("no MQTT 5 CONNACK within 15 s"),
    }
}

/// Publishes at QoS 1 over MQTT 5 and waits for the PUBACK.
pub fn publish_v5(
    client: &rumqttc::v5::Client,
    packets: &Receiver<rumqttc::v5::Incoming>,
    topic: &str,
    payload: String,
) {
    client
        .publish(
            topic,
            rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
            false,
            payload,
        )
        .expect("publish");
    eventually(Duration::from_secs(10), "the MQTT 5 PUBACK", || {
        packets
            .try_recv()
            .ok()
            .filter(|p| matches!(p, rumqttc::v5::Incoming::PubAck(_)))
    });
}

pub fn ws_options_v5(url: &str, id: &str, password: &str) -> rumqttc::v5::MqttOptions {
    let mut opts = rumqttc::v5::MqttOptions::new(id, url, 0);
    opts.set_transport(Transport::Ws);
    opts.set_credentials(id, password);
    opts.set_keep_alive(Duration::from_secs(30));
    opts
}

/// MQTT 3.1.1 and MQTT 5 devices connect over WebSocket (`ws://…/mqtt`, subprotocol
/// `mqtt`) and publish; both samples are stored. Meanwhile a socket that opened the
/// WebSocket port and sent half a request hangs without delaying them, and is closed after
/// the deadline (counted as a timeout of the `ws` listener).
#[test]
fn devices_publish_over_websocket_with_mqtt_3_1_1_and_5() {
    let (server, ws_port) = ws_server();
    let url = format!("ws://127.0.0.1:{ws_port}/mqtt");
    let old = provision(&server, "ws-311");
    let new = provision(&server, "ws-5");
    let stalled = {
        let mut s = TcpStream::connect(("127.0.0.1", ws_port)).expect("connect");
        s.write_all(b"GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .expect("half a request");
        s.set_nonblocking(true).expect("non-blocking");
        s
    };

    let mut v311 = connect_with(ws_options(&url, "ws-311", &old)).expect("3.1.1 over WebSocket");
    v311.publish("devices/ws-311/telemetry", sample(40), QoS::AtLeastOnce);
    let (v5, packets) = connect_v5(ws_options_v5(&url, "ws-5", &new)).expect("5 over WebSocket");
    publish_v5(&v5, &packets, "devices/ws-5/telemetry", sample(50));
    assert!(
        still_open(&stalled),
        "both were served while the stalled request hung"
    );

    assert_eq!(
        stored_points(&server, "ws-311", "temperature_c", 1)[0].1,
        40.0
    );
    assert_eq!(
        stored_points(&server, "ws-5", "temperature_c", 1)[0].1,
        50.0
    );

    wait_all_closed(
        std::slice::from_ref(&stalled),
        "the stalled WebSocket request to be closed",
    );
    eventually(Duration::from_secs(10), "the timeout counted", || {
        let n = metric(
            &server,
            "plantd_mqtt_handshake_failures_total",
            r#"listener="ws",reason="timeout""#,
        );
        (n >= 1.0).then_some(())
    });
}

/// Over WebSocket, wrong credentials are refused (3.1.1 and 5) as on TCP, and another path
/// than `/mqtt` gets no WebSocket (404).
#[test]
fn websocket_refuses_wrong_credentials_and_other_paths() {
    let (server, ws_port) = ws_server();
    let url = format!("ws://127.0.0.1:{ws_port}/mqtt");
    provision(&server, "ws-dev");

    let refused = connect_with(ws_options(&url, "ws-dev", "not-the-secret"));
    assert!(
        matches!(
            refused,
            Err(rumqttc::ConnectionError::ConnectionRefused(
                rumqttc::ConnectReturnCode::BadUserNamePassword
                    | rumqttc::ConnectReturnCode::NotAuthorized
            ))
        ),
        "3.1.1 over WebSocket with a wrong password: {:?}",
        refused.err()
    );
    let refused = connect_v5(ws_options_v5(&url, "ws-dev", "not-the-secret"));
    let reason = refused
        .err()
        .expect("5 over WebSocket with a wrong password is refused");
    assert!(
        reason.contains("BadUserNamePassword") || reason.contains("NotAuthorized"),
        "the refusal: {reason}"
    );

    let mut socket = TcpStream::connect(("127.0.0.1", ws_port)).expect("connect");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    socket
        .write_all(
            b"GET /other HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
              Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
        )
        .expect("request");
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 404"),
        "another path is not an MQTT endpoint: {answer}"
    );
    eventually(Duration::from_secs(10), "the refusal counted", || {
        let n = metric(
            &server,
            "plantd_mqtt_handshake_failures_total",
            r#"listener="ws",reason="websocket""#,
        );
        (n >= 1.0).then_some(())
    });
}
