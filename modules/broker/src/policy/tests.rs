//! Every decision of the policy layer, each with a test, driven the way rumqttd drives it:
//! a client's packet is encoded with rumqttd's own codec and read through `read_mut` (what
//! comes out is what the router gets), and what the router sends is passed to `write` (what
//! comes out is what the client gets). Stand-ins for the devices and identity modules answer
//! logins from fixed tables on an actix arbiter, as the real ones answer from memory.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use actix::{Actor, Arbiter, Context, Handler, MessageResult, System, SystemRunner};
use bytes::{BufMut, BytesMut};
use plantd_contracts::devices::{
    AuthenticateDevice, DeviceAuth, DeviceConnected, DeviceDisconnected,
};
use plantd_contracts::identity::{self, AuthenticateToken, Scope};
use plantd_contracts::DeviceId;
use rumqttd::protocol::v4::V4;
use rumqttd::protocol::v5::V5;
use rumqttd::protocol::{
    ConnAck, Connect, ConnectReturnCode, Error, Filter, LastWill, LastWillProperties, Login,
    Packet, PingReq, Protocol, Publish, PublishProperties, QoS, RetainForwardRule, SubAck,
    Subscribe, SubscribeReasonCode, UnsubAck, Unsubscribe,
};

use super::{integration_session_id, Policy, PolicyContext, DENIED_TOPIC, VOID_FILTER};
use crate::auth::Authenticator;
use crate::hold::RESUME_SUBSCRIBE_PKID;
use crate::limits::{Filters, Limits, Retained};
use crate::pressure::{Pressure, RESUME_TOPIC};
use crate::sessions::Sessions;
use crate::BrokerSettings;

const SECRET: &str = "device-secret";
const TOKEN_SECRET: &str = "token-secret";
const STAMP: &str = "stamp-of-this-process";
const MAX_PACKET: usize = 1 << 20;

/// A login: (username, password).
type Credentials = (&'static str, &'static str);

/// What the layer reported about presence, as the devices module got it.
#[derive(Debug, PartialEq)]
enum Presence {
    Connected {
        device: String,
        session: u64,
        protocol: u8,
    },
    Disconnected {
        device: String,
        session: u64,
    },
}

/// The devices and identity modules, reduced to their answers: devices `press-1` and
/// `press-2` (secret [`SECRET`]), `off-1` (disabled); tokens `tok.mqtt` (scope mqtt),
/// `tok.reader` (read) and `tok.admin` (admin, which does not imply mqtt). `rotated-1`
/// (secret [`SECRET`]) is accepted, and its credential rotated just after the answer: the
/// broker is told to cut it before the answer reaches the connection.
struct Modules {
    presence: mpsc::Sender<Presence>,
    broker: Arc<Mutex<Weak<PolicyContext>>>,
}

impl Actor for Modules {
    type Context = Context<Self>;
}

impl Handler<AuthenticateDevice> for Modules {
    type Result = MessageResult<AuthenticateDevice>;

    fn handle(&mut self, msg: AuthenticateDevice, _: &mut Context<Self>) -> Self::Result {
        // A verified client certificate stands for the secret (devices then checks only
        // that the device exists and is enabled).
        let right = msg.secret == SECRET || msg.certified;
        if msg.device_id == "rotated-1" && right {
            // What `DisconnectClient` does in the broker, run before this answer is read.
            if let Some(ctx) = self.broker.lock().expect("lock").upgrade() {
                assert!(ctx.sessions.kill("rotated-1").is_empty(), "no session yet");
            }
            return MessageResult(DeviceAuth::Accepted);
        }
        MessageResult(match msg.device_id.as_str() {
            "press-1" | "press-2" if right => DeviceAuth::Accepted,
            "off-1" if right => DeviceAuth::Disabled,
            "press-1" | "press-2" | "off-1" => DeviceAuth::BadSecret,
            _ => DeviceAuth::UnknownDevice,
        })
    }
}

impl Handler<AuthenticateToken> for Modules {
    type Result = MessageResult<AuthenticateToken>;

    fn handle(&mut self, msg: AuthenticateToken, _: &mut Context<Self>) -> Self::Result {
        let scopes = match msg.id.as_str() {
            "tok.mqtt" => vec![Scope::Mqtt],
            "tok.reader" => vec![Scope::Read],
            "tok.admin" => vec![Scope::Admin],
            _ => return MessageResult(None),
        };
        MessageResult((msg.secret == TOKEN_SECRET).then(|| identity::Principal {
            name: format!("token:{}", msg.id),
            scopes,
        }))
    }
}

impl Handler<DeviceConnected> for Modules {
    type Result = ();

    fn handle(&mut self, msg: DeviceConnected, _: &mut Context<Self>) {
        let _ = self.presence.send(Presence::Connected {
            device: msg.device_id.to_string(),
            session: msg.session,
            protocol: msg.protocol_version,
        });
    }
}

impl Handler<DeviceDisconnected> for Modules {
    type Result = ();

    fn handle(&mut self, msg: DeviceDisconnected, _: &mut Context<Self>) {
        let _ = self.presence.send(Presence::Disconnected {
            device: msg.device_id.to_string(),
            session: msg.session,
        });
    }
}

/// One broker's shared policy state, with the stand-in modules on their own thread.
struct Harness {
    ctx: Arc<PolicyContext>,
    pressure: Arc<Pressure>,
    presence: Receiver<Presence>,
    arbiter: Option<Arbiter>,
    _system: SystemRunner,
}

impl Harness {
    fn new() -> Harness {
        Harness::with_limits(Limits::from(&BrokerSettings::default()))
    }

    fn with_limits(limits: Limits) -> Harness {
        let system = System::new();
        let arbiter = Arbiter::new();
        let (tx, presence) = mpsc::channel();
        let broker = Arc::new(Mutex::new(Weak::new()));
        let modules_broker = broker.clone();
        let modules = Modules::start_in_arbiter(&arbiter.handle(), move |_| Modules {
            presence: tx,
            broker: modules_broker,
        });
        let ctx = Arc::new(PolicyContext {
            auth: Authenticator {
                devices: modules.clone().recipient(),
                tokens: modules.clone().recipient(),
                arbiter: arbiter.handle(),
            },
            connected: modules.clone().recipient(),
            disconnected: modules.recipient(),
            sessions: Sessions::new(1),
            stamp: STAMP.to_owned(),
            draining: AtomicBool::new(false),
            limits,
            filters: Filters::default(),
            retained: Retained::default(),
        });
        *broker.lock().expect("lock") = Arc::downgrade(&ctx);
        Harness {
            ctx,
            pressure: Arc::new(Pressure::new(1 << 20, 1_000)),
            presence,
            arbiter: Some(arbiter),
            _system: system,
        }
    }

    /// A new connection speaking MQTT 3.1.1 (`v5` false) or 5.
    fn connection(&self, v5: bool) -> Conn {
        Conn {
            policy: Policy::new(self.ctx.clone(), self.pressure.clone()),
            v5,
        }
    }

    /// A connection whose login the layer accepted and whose CONNACK went out.
    fn logged_in(&self, v5: bool, client_id: &str, login: (&str, &str)) -> Conn {
        let mut conn = self.connection(v5);
        let sent = conn.send(connect(client_id, Some(login)));
        assert!(
            matches!(sent, Ok(Packet::Connect(..))),
            "{client_id} refused: {sent:?}"
        );
        conn.out(connack(ConnectReturnCode::Success));
        conn
    }

    fn device(&self, v5: bool, id: &str) -> Conn {
        let conn = self.logged_in(v5, id, (id, SECRET));
        assert!(matches!(self.next_presence(), Presence::Connected { .. }));
        conn
    }

    fn integration(&self, v5: bool, client_id: &str) -> Conn {
        self.logged_in(v5, client_id, ("tok.mqtt", TOKEN_SECRET))
    }

    fn next_presence(&self) -> Presence {
        self.presence
            .recv_timeout(Duration::from_secs(5))
            .expect("a presence report within 5 s")
    }

    /// Proves that nothing about presence was reported: a marker sent now, on the same
    /// mailbox as the layer's reports, is the next thing that arrives.
    fn no_presence(&self) {
        self.ctx.connected.do_send(DeviceConnected {
            device_id: DeviceId::parse("marker").expect("id"),
            session: 0,
            protocol_version: 0,
            client_address: None,
            at: chrono::Utc::now(),
        });
        assert_eq!(
            self.next_presence(),
            Presence::Connected {
                device: "marker".to_owned(),
                session: 0,
                protocol: 0
            }
        );
    }

    /// Stops the stand-in modules: from now on nobody answers a login.
    fn stop_modules(&mut self) {
        if let Some(arbiter) = self.arbiter.take() {
            arbiter.stop();
            arbiter.join().expect("arbiter thread");
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop_modules();
    }
}

/// One client connection's policy layer.
struct Conn {
    policy: Policy,
    v5: bool,
}

impl Conn {
    /// The client sends `packet`: what the layer hands to the router.
    fn send(&mut self, packet: Packet) -> Result<Packet, Error> {
        let mut stream = BytesMut::new();
        let encoded = if self.v5 {
            V5.write(packet, &mut stream)
        } else {
            V4.write(packet, &mut stream)
        };
        encoded.expect("encode the client's packet");
        self.policy.read_mut(&mut stream, MAX_PACKET)
    }

    /// rumqttd reads again with nothing new from the client (a wake-up).
    fn read_again(&mut self) -> Result<Packet, Error> {
        self.policy.read_mut(&mut BytesMut::new(), MAX_PACKET)
    }

    /// The router sends `packet` to the client: the bytes that go on the wire.
    fn out(&self, packet: Packet) -> Vec<u8> {
        let mut wire = BytesMut::new();
        let written = self.policy.write(packet, &mut wire).expect("write");
        assert_eq!(written, wire.len());
        wire.to_vec()
    }

    /// The packet the client decodes from [`Conn::out`] (rumqttd's v5 codec decodes no
    /// CONNACK or UNSUBACK: check those bytes directly).
    fn out_packet(&self, packet: Packet) -> Packet {
        let mut wire = BytesMut::from(&self.out(packet)[..]);
        let decoded = if self.v5 {
            V5.read_mut(&mut wire, MAX_PACKET)
        } else {
            V4.read_mut(&mut wire, MAX_PACKET)
        };
        assert!(wire.is_empty(), "one packet");
        decoded.expect("the client can decode it")
    }
}

fn connect(client_id: &str, login: Option<(&str, &str)>) -> Packet {
    connect_with(client_id, login, 30, true, None)
}

fn connect_with(
    client_id: &str,
    login: Option<(&str, &str)>,
    keep_alive: u16,
    clean_session: bool,
    will: Option<LastWill>,
) -> Packet {
    Packet::Connect(
        Connect {
            keep_alive,
            client_id: client_id.to_owned(),
            clean_session,
        },
        None,
        will,
        None,
        login.map(|(username, password)| Login {
            username: username.to_owned(),
            password: password.to_owned(),
        }),
    )
}

fn connack(code: ConnectReturnCode) -> Packet {
    Packet::ConnAck(
        ConnAck {
            session_present: true,
            code,
        },
        None,
    )
}

/// A QoS 1 PUBLISH (rumqttd keeps QoS and packet id private; its wire form is public).
fn publish(topic: &[u8], payload: &[u8], pkid: u16, retain: bool) -> Publish {
    let mut buf = BytesMut::new();
    buf.put_u8(0b0011_0010 | u8::from(retain));
    buf.put_u16(pkid);
    buf.put_u16(u16::try_from(topic.len()).expect("short topic"));
    buf.extend_from_slice(topic);
    buf.extend_from_slice(payload);
    Publish::deserialize(buf.freeze())
}

/// What a refused PUBLISH becomes: the same packet id and QoS (the client still gets its
/// PUBACK), on the denied topic, empty, not retained.
fn denied(pkid: u16) -> Publish {
    publish(DENIED_TOPIC, b"", pkid, false)
}

fn filter(path: &str, qos: QoS) -> Filter {
    Filter {
        path: path.to_owned(),
        qos,
        nolocal: false,
        preserve_retain: false,
        retain_forward_rule: RetainForwardRule::OnEverySubscribe,
    }
}

fn subscribe(pkid: u16, paths: &[&str]) -> Packet {
    Packet::Subscribe(
        Subscribe {
            pkid,
            filters: paths.iter().map(|p| filter(p, QoS::AtLeastOnce)).collect(),
        },
        None,
    )
}

fn suback(pkid: u16, return_codes: Vec<SubscribeReasonCode>) -> Packet {
    Packet::SubAck(SubAck { pkid, return_codes }, None)
}

fn unsubscribe(pkid: u16, filters: &[&str]) -> Packet {
    Packet::Unsubscribe(
        Unsubscribe {
            pkid,
            filters: filters.iter().map(|f| f.to_string()).collect(),
        },
        None,
    )
}

fn will(topic: &[u8]) -> LastWill {
    LastWill {
        topic: bytes::Bytes::copy_from_slice(topic),
        message: bytes::Bytes::from_static(b"gone"),
        qos: QoS::AtLeastOnce,
        retain: false,
    }
}

/// The filters of the SUBSCRIBE the router got.
fn paths(packet: Result<Packet, Error>) -> (u16, Vec<String>) {
    match packet {
        Ok(Packet::Subscribe(s, _)) => (s.pkid, s.filters.into_iter().map(|f| f.path).collect()),
        other => panic!("expected a SUBSCRIBE, got {other:?}"),
    }
}

/// The CONNECT the router got: (client id, keep-alive, clean session, will, login).
fn router_connect(
    packet: Result<Packet, Error>,
) -> (String, u16, bool, Option<LastWill>, Option<Login>) {
    match packet {
        Ok(Packet::Connect(c, _, will, _, login)) => {
            (c.client_id, c.keep_alive, c.clean_session, will, login)
        }
        other => panic!("expected a CONNECT, got {other:?}"),
    }
}

fn stamped(username: &str) -> Option<Login> {
    Some(Login {
        username: username.to_owned(),
        password: STAMP.to_owned(),
    })
}

// --- logins --------------------------------------------------------------------------

#[test]
fn a_device_with_its_secret_is_let_in_under_its_id_with_the_stamp_not_its_secret() {
    for v5 in [false, true] {
        let h = Harness::new();
        let mut conn = h.connection(v5);
        let (client_id, keep_alive, clean, will, login) =
            router_connect(conn.send(connect("press-1", Some(("press-1", SECRET)))));
        assert_eq!(
            (client_id.as_str(), keep_alive, clean, will),
            ("press-1", 30, true, None)
        );
        assert_eq!(
            login,
            stamped("press-1"),
            "rumqttd's auth hook sees the stamp"
        );

        // The CONNACK goes out as it came, and only then is the device online.
        let wire = conn.out(connack(ConnectReturnCode::Success));
        assert_eq!(&wire[..4], [0x20, wire[1], 1, 0], "success, v5: {v5}");
        let Presence::Connected {
            device,
            session,
            protocol,
        } = h.next_presence()
        else {
            panic!("expected DeviceConnected");
        };
        assert_eq!(
            (device.as_str(), protocol),
            ("press-1", if v5 { 5 } else { 4 })
        );
        assert_eq!(
            h.ctx.sessions.kill("press-1"),
            vec!["press-1".to_owned()],
            "the session is known by its client id"
        );
        drop(conn);
        assert_eq!(
            h.next_presence(),
            Presence::Disconnected {
                device: "press-1".to_owned(),
                session
            },
            "the same session ends"
        );
    }
}

#[test]
fn a_client_certificate_naming_the_device_stands_for_its_secret_and_for_no_other_device() {
    use rumqttd::protocol::Protocol;
    let h = Harness::new();
    let certified = |names: &str| Conn {
        policy: Policy::new(h.ctx.clone(), h.pressure.clone())
            .with_peer_identity(Some(names.to_owned())),
        v5: false,
    };
    let (client_id, _, _, _, login) = router_connect(
        certified("press-1").send(connect("press-1", Some(("press-1", "no secret")))),
    );
    assert_eq!((client_id.as_str(), login), ("press-1", stamped("press-1")));
    let (client_id, _, _, _, login) =
        router_connect(certified("gw,press-2").send(connect("press-2", None)));
    assert_eq!(
        (client_id.as_str(), login),
        ("press-2", stamped("press-2")),
        "no login at all: the client id is the device the certificate names"
    );

    let mut other = certified("press-1");
    let refused = other.send(connect("press-2", Some(("press-2", "no secret"))));
    assert!(
        !matches!(refused, Ok(Packet::Connect(ref c, ..)) if c.client_id == "press-2"),
        "press-1's certificate is no login for press-2: {refused:?}"
    );
    let wire = other.out(connack(ConnectReturnCode::Success));
    assert_eq!(wire[3], 4, "bad user name or password");
    let mut disabled = certified("off-1");
    let _ = disabled.send(connect("off-1", Some(("off-1", "no secret"))));
    let wire = disabled.out(connack(ConnectReturnCode::Success));
    assert_eq!(
        wire[3], 5,
        "a disabled device stays out with its certificate"
    );
}

#[test]
fn an_integration_is_let_in_under_any_client_id_in_a_namespace_of_its_token() {
    let h = Harness::new();
    // Device-shaped, plantd-shaped and ordinary ids alike: the client keeps the id it sent
    // (nothing on the wire names another), and rumqttd keeps the session under the token.
    for client_id in [
        "press-1",
        "myclientid",
        "plantd.gateway",
        "Dashboard.1",
        "svc:orders",
    ] {
        for v5 in [false, true] {
            let mut conn = h.connection(v5);
            let (session_id, _, _, _, login) =
                router_connect(conn.send(connect(client_id, Some(("tok.mqtt", TOKEN_SECRET)))));
            assert_eq!(
                session_id,
                format!("plantd.i.tok.mqtt.{client_id}"),
                "the router knows the session under its token"
            );
            assert_eq!(session_id, integration_session_id("tok.mqtt", client_id));
            assert_eq!(login, stamped("tok.mqtt"));
            let expected = if v5 {
                [[0x20, 11, 1, 0].as_slice(), &connack_properties()].concat()
            } else {
                vec![0x20, 2, 1, 0]
            };
            assert_eq!(
                conn.out(connack(ConnectReturnCode::Success)),
                expected,
                "a plain CONNACK: no assigned id, v5: {v5}"
            );
        }
    }
    h.no_presence();
}

/// Each refusal: the CONNECT is steered into rumqttd's "empty client id" branch (empty id,
/// no clean session, no will, the stamp under an empty username), the CONNACK rumqttd
/// answers with carries the refusal's code instead, and the connection takes nothing more.
#[test]
fn each_refused_login_gets_its_own_connack_code_and_nothing_else() {
    // (what, client id, login, MQTT 3.1.1 code, MQTT 5 reason code)
    let cases: &[(&str, &str, Option<Credentials>, u8, u8)] = &[
        ("no credentials", "press-1", None, 5, 0x87),
        (
            "unknown device",
            "ghost-1",
            Some(("ghost-1", SECRET)),
            4,
            0x86,
        ),
        (
            "wrong secret",
            "press-1",
            Some(("press-1", "guess")),
            4,
            0x86,
        ),
        ("disabled device", "off-1", Some(("off-1", SECRET)), 5, 0x87),
        (
            "device under another client id",
            "press-2",
            Some(("press-1", SECRET)),
            2,
            0x85,
        ),
        (
            "device with an empty client id",
            "",
            Some(("press-1", SECRET)),
            2,
            0x85,
        ),
        (
            "unknown token",
            "Dash.1",
            Some(("tok.nobody", TOKEN_SECRET)),
            4,
            0x86,
        ),
        (
            "wrong token secret",
            "Dash.1",
            Some(("tok.mqtt", "guess")),
            4,
            0x86,
        ),
        (
            "token without the mqtt scope",
            "Dash.1",
            Some(("tok.reader", TOKEN_SECRET)),
            5,
            0x87,
        ),
        (
            "admin token (admin does not imply mqtt)",
            "Dash.1",
            Some(("tok.admin", TOKEN_SECRET)),
            5,
            0x87,
        ),
    ];
    let h = Harness::new();
    for &(what, client_id, login, v4_code, v5_code) in cases {
        for v5 in [false, true] {
            let mut conn = h.connection(v5);
            let sent = conn.send(connect_with(
                client_id,
                login,
                0,
                true,
                Some(will(b"devices/press-1/state/reported")),
            ));
            let (sent_id, keep_alive, clean, sent_will, sent_login) = router_connect(sent);
            assert_eq!(
                (sent_id.as_str(), keep_alive, clean, sent_will, sent_login),
                ("", 1, false, None, stamped("")),
                "{what}, v5: {v5}"
            );
            let wire = conn.out(connack(ConnectReturnCode::ClientIdentifierNotValid));
            let expected = if v5 {
                vec![0x20, 3, 0, v5_code, 0]
            } else {
                vec![0x20, 2, 0, v4_code]
            };
            assert_eq!(
                wire, expected,
                "{what}, v5: {v5}: CONNACK, no session present"
            );
            assert!(
                matches!(
                    conn.send(Packet::PingReq(PingReq)),
                    Err(Error::InvalidProtocol)
                ),
                "{what}: nothing after a refused CONNECT"
            );
            assert!(
                matches!(
                    conn.send(connect("press-1", Some(("press-1", SECRET)))),
                    Err(Error::InvalidProtocol)
                ),
                "{what}: no second try on the same connection"
            );
        }
    }
    h.no_presence();
}

#[test]
fn while_draining_logins_are_refused_as_unavailable_and_live_sessions_end() {
    let h = Harness::new();
    let mut live = h.device(false, "press-1");
    assert!(matches!(
        live.send(Packet::PingReq(PingReq)),
        Ok(Packet::PingReq(_))
    ));
    h.ctx.draining.store(true, Ordering::Relaxed);
    for (v5, expected) in [
        (false, vec![0x20, 2, 0, 3]),
        (true, vec![0x20, 3, 0, 0x88, 0]),
    ] {
        let mut conn = h.connection(v5);
        let (client_id, ..) =
            router_connect(conn.send(connect("press-2", Some(("press-2", SECRET)))));
        assert_eq!(client_id, "");
        assert_eq!(
            conn.out(connack(ConnectReturnCode::Success)),
            expected,
            "server unavailable (MQTT 5 has its own code for it), v5: {v5}"
        );
    }
    assert!(
        matches!(
            live.send(Packet::PingReq(PingReq)),
            Err(Error::InvalidProtocol)
        ),
        "a live session ends at its next packet"
    );
}

/// The attack (issue 14.12): log in with a credential that is being rotated or revoked,
/// so that the answer ("accepted") is made just before the change commits and the
/// broker's cut (`DisconnectClient`) runs while the answer is on its way: the cut finds no
/// session, and today's code then registered the session, which outlived its credential.
/// The stand-in devices module cuts `rotated-1` right after answering, every time.
#[test]
fn a_login_answered_before_a_cut_registers_no_session_after_it() {
    let h = Harness::new();
    for v5 in [false, true] {
        let mut conn = h.connection(v5);
        let (sent_id, ..) =
            router_connect(conn.send(connect("rotated-1", Some(("rotated-1", SECRET)))));
        assert_eq!(sent_id, "", "steered to a refusal (v5: {v5})");
        let expected: &[u8] = if v5 {
            &[0x20, 3, 0, 0x86, 0]
        } else {
            &[0x20, 2, 0, 4]
        };
        assert_eq!(
            conn.out(connack(ConnectReturnCode::Success)),
            expected,
            "v5: {v5}"
        );
        // No session is left to outlive the credential, and nothing was announced.
        assert!(h.ctx.sessions.kill("rotated-1").is_empty());
        h.no_presence();
    }
    // Logins of other devices are not affected.
    drop(h.device(false, "press-1"));
}

#[test]
fn a_login_nobody_answers_is_refused_as_unavailable() {
    let mut h = Harness::new();
    h.stop_modules();
    for (login, what) in [
        (("press-1", SECRET), "device"),
        (("tok.mqtt", TOKEN_SECRET), "token"),
    ] {
        let mut conn = h.connection(false);
        let client_id = if what == "device" {
            "press-1"
        } else {
            "Dash.1"
        };
        let (sent_id, ..) = router_connect(conn.send(connect(client_id, Some(login))));
        assert_eq!(sent_id, "", "{what}");
        let expected: &[u8] = if what == "device" {
            &[0x20, 2, 0, 3]
        } else {
            // The identity module answers "no such token" and "not answering" alike.
            &[0x20, 2, 0, 4]
        };
        assert_eq!(
            conn.out(connack(ConnectReturnCode::Success)),
            expected,
            "{what}"
        );
    }
}

// --- what an accepted CONNECT carries ----------------------------------------------------

/// The attack: keep-alive 0 (or 65,535 s) so that a silent client's session, and what it
/// holds, outlives the client by hours; rumqttd ends a session only after 1.5 keep-alives
/// of silence. Today's code turned 0 into 65,535 s.
#[test]
fn keep_alive_zero_or_above_the_maximum_becomes_the_maximum_and_mqtt5_is_told() {
    let h = Harness::new();
    let max = BrokerSettings::default().max_keep_alive_s;
    for v5 in [false, true] {
        for (asked, sent) in [
            (0, max),
            (u16::MAX, max),
            (max + 1, max),
            (max, max),
            (1, 1),
        ] {
            let mut conn = h.connection(v5);
            let (_, keep_alive, ..) = router_connect(conn.send(connect_with(
                "Dash.1",
                Some(("tok.mqtt", TOKEN_SECRET)),
                asked,
                true,
                None,
            )));
            assert_eq!(keep_alive, sent, "keep-alive {asked}, v5: {v5}");
            let wire = conn.out(connack(ConnectReturnCode::Success));
            let expected = match (v5, asked == sent) {
                (false, _) => vec![0x20, 2, 1, 0],
                (true, true) => [[0x20, 11, 1, 0].as_slice(), &connack_properties()].concat(),
                // Server Keep Alive (0x13), two bytes.
                (true, false) => [
                    [0x20, 14, 1, 0, 11].as_slice(),
                    &connack_properties()[1..],
                    &[0x13],
                    &sent.to_be_bytes(),
                ]
                .concat(),
            };
            assert_eq!(wire, expected, "keep-alive {asked}, v5: {v5}");
        }
    }
}

#[test]
fn an_empty_client_id_is_named_by_the_layer_and_mqtt5_clients_are_told() {
    let h = Harness::new();
    let mut named = Vec::new();
    for v5 in [false, true] {
        let mut conn = h.connection(v5);
        let (client_id, ..) =
            router_connect(conn.send(connect("", Some(("tok.mqtt", TOKEN_SECRET)))));
        assert!(
            client_id.starts_with("plantd.anon-"),
            "named under the reserved prefix: {client_id}"
        );
        let wire = conn.out(connack(ConnectReturnCode::Success));
        if v5 {
            // Assigned Client Identifier (0x12), a length-prefixed string.
            let mut property = vec![0x12];
            property.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
            property.extend_from_slice(client_id.as_bytes());
            assert_eq!(&wire[2..4], [1, 0], "accepted, as rumqttd answered");
            let mut properties = connack_properties()[1..].to_vec();
            properties.extend(property);
            assert_eq!(usize::from(wire[4]), properties.len());
            assert_eq!(&wire[5..], properties, "the CONNACK names {client_id}");
        } else {
            assert_eq!(wire, [0x20, 2, 1, 0], "MQTT 3.1.1 has no way to say it");
        }
        named.push((client_id, conn));
    }
    let mut cut = h.ctx.sessions.kill("tok.mqtt");
    cut.sort();
    let mut expected: Vec<String> = named.iter().map(|(id, _)| id.clone()).collect();
    expected.sort();
    assert_eq!(cut, expected, "each session can be cut by its name");
    assert_ne!(expected[0], expected[1], "each session has its own name");

    // Without a clean session an empty id is rumqttd's to refuse: the layer names nothing.
    let mut conn = h.connection(false);
    let (client_id, _, clean, ..) = router_connect(conn.send(connect_with(
        "",
        Some(("tok.mqtt", TOKEN_SECRET)),
        30,
        false,
        None,
    )));
    assert_eq!((client_id.as_str(), clean), ("", false));
}

#[test]
fn a_will_outside_the_clients_topics_is_dropped() {
    let h = Harness::new();
    // (client id, login, will topic, kept)
    let device = ("press-1", SECRET);
    let token = ("tok.mqtt", TOKEN_SECRET);
    let cases: &[(&str, Credentials, &[u8], bool)] = &[
        ("press-1", device, b"devices/press-1/state/reported", true),
        ("press-1", device, b"devices/press-2/state/reported", false),
        (
            "press-1",
            device,
            b"plantd/events/device.disconnected",
            false,
        ),
        ("press-1", device, b"devices/press-1/\xff", false),
        ("Dash.1", token, b"plant/line-1/status", true),
        ("Dash.1", token, b"devices/press-1/telemetry", false),
        ("Dash.1", token, b"plantd/events/x", false),
        ("Dash.1", token, b"$SYS/x", false),
    ];
    for &(client_id, login, topic, kept) in cases {
        let mut conn = h.connection(true);
        let props = LastWillProperties {
            delay_interval: Some(5),
            payload_format_indicator: None,
            message_expiry_interval: None,
            content_type: Some("text/plain".to_owned()),
            response_topic: None,
            correlation_data: None,
            user_properties: Vec::new(),
        };
        let Packet::Connect(c, p, _, _, l) = connect(client_id, Some(login)) else {
            unreachable!()
        };
        let sent = conn.send(Packet::Connect(
            c,
            p,
            Some(will(topic)),
            Some(props.clone()),
            l,
        ));
        let Ok(Packet::Connect(connect, _, sent_will, sent_props, _)) = sent else {
            panic!("{client_id} refused: {sent:?}");
        };
        let session_id = if login == token {
            integration_session_id("tok.mqtt", client_id)
        } else {
            client_id.to_owned()
        };
        assert_eq!(
            connect.client_id, session_id,
            "the login itself is accepted"
        );
        let topic_text = String::from_utf8_lossy(topic);
        if kept {
            assert_eq!(sent_will, Some(will(topic)), "{topic_text}");
            assert_eq!(sent_props, Some(props), "{topic_text}: with its properties");
        } else {
            assert_eq!((sent_will, sent_props), (None, None), "{topic_text}");
        }
    }
}

#[test]
fn a_wills_receipt_property_is_removed_and_its_own_properties_kept() {
    // A receipt in a will would reach the gateway as the device's own message and settle
    // another session's held PUBACKs: receipts are plantd's alone.
    let h = Harness::new();
    let mut conn = h.connection(true);
    let props = LastWillProperties {
        delay_interval: None,
        payload_format_indicator: None,
        message_expiry_interval: None,
        content_type: None,
        response_topic: None,
        correlation_data: None,
        user_properties: vec![
            (
                crate::acks::RECEIPT_PROPERTY.to_owned(),
                "1:18446744073709551615".to_owned(),
            ),
            ("site".to_owned(), "north".to_owned()),
        ],
    };
    let Packet::Connect(c, p, _, _, l) = connect("press-1", Some(("press-1", SECRET))) else {
        unreachable!()
    };
    let topic: &[u8] = b"devices/press-1/telemetry";
    let sent = conn.send(Packet::Connect(c, p, Some(will(topic)), Some(props), l));
    let Ok(Packet::Connect(_, _, sent_will, sent_props, _)) = sent else {
        panic!("refused: {sent:?}");
    };
    assert_eq!(sent_will, Some(will(topic)), "the will itself is kept");
    assert_eq!(
        sent_props.map(|p| p.user_properties),
        Some(vec![("site".to_owned(), "north".to_owned())]),
        "only the receipt property is removed"
    );
}

// --- PUBLISH ---------------------------------------------------------------------------

#[test]
fn a_device_publishes_on_its_own_topics_and_nothing_else_gets_through() {
    let h = Harness::new();
    let mut conn = h.device(false, "press-1");
    let allowed: &[&[u8]] = &[
        b"devices/press-1/telemetry",
        b"devices/press-1/state/reported",
        b"devices/press-1/commands/0123abcd/result",
        b"devices/press-1/firmware/status",
    ];
    for (pkid, topic) in (1..).zip(allowed) {
        let sent = publish(topic, br#"{"values": {"a": 1}}"#, pkid, false);
        assert_eq!(
            conn.send(Packet::Publish(sent.clone(), None)),
            Ok(Packet::Publish(sent, None)),
            "{}",
            String::from_utf8_lossy(topic)
        );
        // Retained: passed on, not retained (rumqttd would keep it as long as it lives).
        let retained = publish(topic, b"{}", pkid, true);
        assert_eq!(
            conn.send(Packet::Publish(retained, None)),
            Ok(Packet::Publish(publish(topic, b"{}", pkid, false), None)),
            "{}: retained",
            String::from_utf8_lossy(topic)
        );
    }
    let refused: &[&[u8]] = &[
        b"devices/press-2/telemetry",
        b"devices/press-10/telemetry",
        b"devices/press-1",
        b"devices/press-1/",
        b"devices/press/telemetry",
        b"plantd/events/device.connected",
        b"plantd/broker/resume",
        b"plant/line-1/orders",
        b"$plantd/denied",
        b"devices/press-1/#",
        b"devices/+/telemetry",
        b"",
        b"devices/press-1/\xfftelemetry",
        // Under its own prefix, beyond the contract: each a new topic (and log) in rumqttd.
        b"devices/press-1/x",
        b"devices/press-1/telemetry/1",
        b"devices/press-1/a/b/c/d/e/f",
        b"devices/press-1/state/desired",
        b"devices/press-1/commands/c-1",
        b"devices/press-1/commands/c-1/result/x",
        b"devices/press-1/firmware/available",
    ];
    for (pkid, topic) in (100..).zip(refused) {
        assert_eq!(
            conn.send(Packet::Publish(publish(topic, b"forged", pkid, true), None)),
            Ok(Packet::Publish(denied(pkid), None)),
            "{}",
            String::from_utf8_lossy(topic)
        );
    }
}

#[test]
fn an_integration_publishes_anywhere_but_under_devices_and_plantd() {
    let h = Harness::new();
    let mut conn = h.integration(false, "Dash.1");
    let allowed: &[&[u8]] = &[
        b"plant/line-1/orders",
        b"devicesx/y",
        b"plantdx",
        b"erp/devices/press-1",
    ];
    for (pkid, topic) in (1..).zip(allowed) {
        // Retained, QoS 1: a plain broker's service on these topics.
        let sent = publish(topic, b"payload", pkid, true);
        assert_eq!(
            conn.send(Packet::Publish(sent.clone(), None)),
            Ok(Packet::Publish(sent, None)),
            "{}",
            String::from_utf8_lossy(topic)
        );
    }
    let refused: &[&[u8]] = &[
        b"devices/press-1/telemetry",
        b"devices/press-1/state/desired",
        b"devices",
        b"plantd/events/device.connected",
        b"plantd/broker/resume",
        b"plantd",
        b"$SYS/broker",
        b"$plantd/denied",
        b"plant/+/orders",
        b"",
        b"plant/\xff",
    ];
    for (pkid, topic) in (100..).zip(refused) {
        assert_eq!(
            conn.send(Packet::Publish(publish(topic, b"forged", pkid, true), None)),
            Ok(Packet::Publish(denied(pkid), None)),
            "{}",
            String::from_utf8_lossy(topic)
        );
    }
}

#[test]
fn an_empty_topic_passes_only_as_an_mqtt5_topic_alias() {
    let h = Harness::new();
    let alias = PublishProperties {
        topic_alias: Some(1),
        ..PublishProperties::default()
    };
    let mut v5 = h.device(true, "press-1");
    // The alias is set by a checked publish first, then used with an empty topic.
    let setting = publish(b"devices/press-1/telemetry", b"{}", 1, false);
    assert_eq!(
        v5.send(Packet::Publish(setting.clone(), Some(alias.clone()))),
        Ok(Packet::Publish(setting, Some(alias.clone())))
    );
    let using = publish(b"", b"{}", 2, false);
    assert_eq!(
        v5.send(Packet::Publish(using.clone(), Some(alias.clone()))),
        Ok(Packet::Publish(using, Some(alias)))
    );
    assert_eq!(
        v5.send(Packet::Publish(publish(b"", b"{}", 3, false), None)),
        Ok(Packet::Publish(denied(3), None)),
        "no alias: an empty topic is refused"
    );
    let mut v4 = h.device(false, "press-2");
    assert_eq!(
        v4.send(Packet::Publish(publish(b"", b"{}", 4, false), None)),
        Ok(Packet::Publish(denied(4), None)),
        "MQTT 3.1.1 has no aliases"
    );
}

// --- SUBSCRIBE and UNSUBSCRIBE -----------------------------------------------------------

#[test]
fn refused_filters_become_the_inert_filter_and_fail_in_the_suback() {
    for v5 in [false, true] {
        let h = Harness::new();
        let mut conn = h.device(v5, "press-1");
        let asked = [
            "devices/press-1/commands/+",
            "devices/press-2/#",
            "#",
            "devices/press-1/state/desired",
            "$share/g/devices/press-1/#",
        ];
        assert_eq!(
            paths(conn.send(subscribe(7, &asked))),
            (
                7,
                vec![
                    "devices/press-1/commands/+".to_owned(),
                    VOID_FILTER.to_owned(),
                    VOID_FILTER.to_owned(),
                    "devices/press-1/state/desired".to_owned(),
                    VOID_FILTER.to_owned(),
                ]
            ),
            "v5: {v5}"
        );
        // rumqttd grants all five; the client learns which it did not get.
        let granted = SubscribeReasonCode::Success(QoS::AtLeastOnce);
        let (ok, refused) = if v5 {
            (
                SubscribeReasonCode::QoS1,
                SubscribeReasonCode::NotAuthorized,
            )
        } else {
            (granted, SubscribeReasonCode::Failure)
        };
        assert_eq!(
            conn.out_packet(suback(7, vec![granted; 5])),
            suback(7, vec![ok, refused, refused, ok, refused]),
            "v5: {v5}"
        );
        // Only that SUBSCRIBE's answer is rewritten, and only once.
        assert_eq!(
            conn.out_packet(suback(7, vec![granted])),
            suback(7, vec![ok])
        );
        assert_eq!(
            conn.out_packet(suback(8, vec![granted])),
            suback(8, vec![ok])
        );
    }
}

#[test]
fn an_integration_subscribes_to_everything_but_dollar_topics() {
    let h = Harness::new();
    let mut conn = h.integration(false, "Dash.1");
    let asked = [
        "#",
        "devices/+/telemetry",
        "plantd/events/#",
        "$share/workers/plant/jobs",
        "$SYS/#",
        "$share/g/$plantd/denied",
        "$share//plant/jobs",
    ];
    let (_, sent) = paths(conn.send(subscribe(3, &asked)));
    assert_eq!(
        sent,
        [
            "#",
            "devices/+/telemetry",
            "plantd/events/#",
            "$share/workers/plant/jobs",
            VOID_FILTER,
            VOID_FILTER,
            VOID_FILTER,
        ]
    );
}

#[test]
fn unsubscribing_refused_filters_is_answered_by_the_layer() {
    let h = Harness::new();
    let mut conn = h.device(false, "press-1");
    assert_eq!(
        paths(conn.send(subscribe(8, &["devices/press-1/commands/+"]))),
        (8, vec!["devices/press-1/commands/+".to_owned()])
    );
    // Refused filters are left out of what rumqttd is asked to remove.
    match conn.send(unsubscribe(
        9,
        &["devices/press-1/commands/+", "devices/press-2/#"],
    )) {
        Ok(Packet::Unsubscribe(u, _)) => {
            assert_eq!(
                (u.pkid, u.filters),
                (9, vec!["devices/press-1/commands/+".to_owned()])
            );
        }
        other => panic!("expected an UNSUBSCRIBE, got {other:?}"),
    }
    // Only refused filters: rumqttd would never answer, so it gets a SUBSCRIBE of the inert
    // filter under the same packet id, and its SUBACK goes out as the UNSUBACK.
    match conn.send(unsubscribe(10, &["#", "devices/press-2/#"])) {
        Ok(Packet::Subscribe(s, None)) => {
            let void = Filter {
                retain_forward_rule: RetainForwardRule::Never,
                ..filter(VOID_FILTER, QoS::AtMostOnce)
            };
            assert_eq!((s.pkid, s.filters), (10, vec![void]));
        }
        other => panic!("expected the inert SUBSCRIBE, got {other:?}"),
    }
    let granted = SubscribeReasonCode::Success(QoS::AtMostOnce);
    assert_eq!(
        conn.out_packet(suback(10, vec![granted])),
        Packet::UnsubAck(
            UnsubAck {
                pkid: 10,
                reasons: Vec::new()
            },
            None
        )
    );
    assert_eq!(
        conn.out_packet(suback(10, vec![granted])),
        suback(10, vec![granted]),
        "once"
    );

    // MQTT 5: one success reason per filter of the UNSUBSCRIBE.
    let mut v5 = h.device(true, "press-2");
    assert!(matches!(
        v5.send(unsubscribe(11, &["#", "devices/press-1/#", "plantd/#"])),
        Ok(Packet::Subscribe(s, None)) if s.pkid == 11
    ));
    assert_eq!(
        v5.out(suback(11, vec![granted])),
        [0xB0, 6, 0, 11, 0, 0, 0, 0],
        "UNSUBACK 11, no properties, three successes"
    );
}

// --- what goes out to the client ---------------------------------------------------------

#[test]
fn back_pressure_traffic_is_swallowed_on_the_way_to_devices_only() {
    let h = Harness::new();
    let device = h.device(false, "press-1");
    let integration = h.integration(false, "Dash.1");
    let tick = || Packet::Publish(Publish::new(RESUME_TOPIC, "", false), None);
    assert!(device
        .out(suback(
            RESUME_SUBSCRIBE_PKID,
            vec![SubscribeReasonCode::Success(QoS::AtMostOnce)]
        ))
        .is_empty());
    assert!(device.out(tick()).is_empty());
    assert_eq!(
        integration.out_packet(tick()),
        tick(),
        "an integration reading `#` gets the tick"
    );
    // A device's own traffic still goes out.
    let own = Publish::new("devices/press-1/commands/0123abcd", "{}", false);
    assert_eq!(
        device.out_packet(Packet::Publish(own.clone(), None)),
        Packet::Publish(own, None)
    );
}

#[test]
fn mqtt5_publish_properties_never_reach_an_mqtt311_client() {
    let h = Harness::new();
    let props = PublishProperties {
        user_properties: vec![("origin".to_owned(), "v5-client".to_owned())],
        content_type: Some("application/json".to_owned()),
        ..PublishProperties::default()
    };
    let message = publish(b"plant/line-1/orders", b"{}", 5, false);
    let v4 = h.integration(false, "Old.1");
    assert_eq!(
        v4.out_packet(Packet::Publish(message.clone(), Some(props.clone()))),
        Packet::Publish(message.clone(), None),
        "stripped (rumqttd's v4 codec would panic on them)"
    );
    let v5 = h.integration(true, "New.1");
    assert_eq!(
        v5.out_packet(Packet::Publish(message.clone(), Some(props.clone()))),
        Packet::Publish(message, Some(props)),
        "kept for MQTT 5"
    );
}

// --- the session's life --------------------------------------------------------------------

#[test]
fn a_session_flagged_to_end_ends_at_its_next_packet_and_no_other() {
    let h = Harness::new();
    let mut doomed = h.device(false, "press-1");
    let mut other = h.device(false, "press-2");
    assert_eq!(h.ctx.sessions.kill("press-1"), vec!["press-1".to_owned()]);
    assert!(matches!(
        doomed.send(Packet::PingReq(PingReq)),
        Err(Error::InvalidProtocol)
    ));
    assert!(matches!(
        other.send(Packet::PingReq(PingReq)),
        Ok(Packet::PingReq(_))
    ));
}

#[test]
fn only_one_connect_and_nothing_before_it() {
    let h = Harness::new();
    let mut before = h.connection(false);
    assert!(matches!(
        before.send(Packet::PingReq(PingReq)),
        Err(Error::InvalidProtocol)
    ));
    let mut live = h.device(false, "press-1");
    assert!(matches!(
        live.send(connect("press-1", Some(("press-1", SECRET)))),
        Err(Error::InvalidProtocol)
    ));
}

#[test]
fn only_device_sessions_are_reported_and_each_once() {
    let h = Harness::new();
    let integration = h.integration(false, "Dash.1");
    let device = h.device(false, "press-1");
    // A second success CONNACK (never sent by rumqttd) announces nothing more.
    device.out(connack(ConnectReturnCode::Success));
    drop(integration);
    h.no_presence();
    drop(device);
    assert!(matches!(
        h.next_presence(),
        Presence::Disconnected { device, .. } if device == "press-1"
    ));
}

#[test]
fn while_ingest_is_paused_a_devices_publish_waits_and_an_integrations_does_not() {
    let h = Harness::new();
    let mut device = h.device(false, "press-1");
    let mut integration = h.integration(false, "Dash.1");
    h.pressure.set_samples(1_001);
    assert!(h.pressure.must_hold(), "paused");

    let sample = publish(
        b"devices/press-1/telemetry",
        br#"{"values": {"a": 1}}"#,
        1,
        false,
    );
    match device.send(Packet::Publish(sample.clone(), None)) {
        Ok(Packet::Subscribe(s, None)) => {
            assert_eq!(s.pkid, RESUME_SUBSCRIBE_PKID);
            assert_eq!(
                s.filters
                    .iter()
                    .map(|f| f.path.as_str())
                    .collect::<Vec<_>>(),
                [RESUME_TOPIC]
            );
        }
        other => panic!("expected the resume subscription instead of the publish: {other:?}"),
    }
    assert!(
        matches!(device.read_again(), Err(Error::InsufficientBytes(_))),
        "held: the router does not see it, so nothing acknowledges it"
    );
    let order = publish(b"plant/line-1/orders", b"{}", 2, false);
    assert_eq!(
        integration.send(Packet::Publish(order.clone(), None)),
        Ok(Packet::Publish(order, None)),
        "integrations are not held"
    );

    h.pressure.set_samples(0);
    assert!(h.pressure.update(), "resumed");
    assert_eq!(
        device.read_again(),
        Ok(Packet::Publish(sample, None)),
        "released as it came"
    );
}

// --- per-client limits: each test is an attack on the broker's memory ---------------------

/// Small limits, so the tests can reach them.
fn small_limits() -> Limits {
    Limits {
        topic_bytes: 128,
        filters_per_session: 8,
        retained_per_token: 2,
        sessions_per_token: 2,
        keep_alive_s: 60,
        receive_max: 100,
    }
}

/// The attack: a device subscribes to filters of its own prefix beyond the contract (`#`,
/// any depth), each a filter with its own log in rumqttd. Today's code granted them.
#[test]
fn a_device_subscribes_only_the_contracts_topics() {
    let h = Harness::new();
    let mut conn = h.device(false, "press-1");
    let asked = [
        "devices/press-1/state/desired",
        "devices/press-1/state/delta",
        "devices/press-1/commands/+",
        "devices/press-1/commands/c-1",
        "devices/press-1/firmware/available",
        "devices/press-1/#",
        "devices/press-1/+/+",
        "devices/press-1/commands/#",
        "devices/press-1/x/y/z",
        "devices/press-1/telemetry",
        "devices/press-1/state/reported",
    ];
    let (_, sent) = paths(conn.send(subscribe(3, &asked)));
    let mut expected: Vec<&str> = asked[..5].to_vec();
    expected.extend([VOID_FILTER; 6]);
    assert_eq!(sent, expected);
}

/// The attack: topics and filters of any length (up to the packet size), each kept by
/// rumqttd. Today's code passed them on.
#[test]
fn topics_and_filters_longer_than_the_maximum_are_refused() {
    let h = Harness::with_limits(small_limits());
    let mut conn = h.integration(false, "Dash.1");
    let at_max = format!("plant/{}", "a".repeat(128 - 6));
    let over = format!("{at_max}b");
    let sent = publish(at_max.as_bytes(), b"x", 1, false);
    assert_eq!(
        conn.send(Packet::Publish(sent.clone(), None)),
        Ok(Packet::Publish(sent, None))
    );
    assert_eq!(
        conn.send(Packet::Publish(
            publish(over.as_bytes(), b"x", 2, false),
            None
        )),
        Ok(Packet::Publish(denied(2), None))
    );
    assert_eq!(
        paths(conn.send(subscribe(3, &[&at_max, &over]))),
        (3, vec![at_max.clone(), VOID_FILTER.to_owned()])
    );
    // A will on an over-long topic is dropped.
    let mut conn = h.connection(false);
    let (.., will, _) = router_connect(conn.send(connect_with(
        "Dash.2",
        Some(("tok.mqtt", TOKEN_SECRET)),
        30,
        true,
        Some(will(over.as_bytes())),
    )));
    assert_eq!(will, None);
}

/// The attack: one session subscribes to ever more filters (a device to ever more
/// `commands/{cmd}`), each with its own log; a persistent session would keep adding at
/// every reconnect. Today's code granted every one.
#[test]
fn a_session_holds_at_most_the_maximum_filters_and_unsubscribing_frees_one() {
    let h = Harness::with_limits(small_limits());
    let mut conn = h.device(false, "press-1");
    let names: Vec<String> = (0..10)
        .map(|i| format!("devices/press-1/commands/c-{i}"))
        .collect();
    let asked: Vec<&str> = names.iter().map(String::as_str).collect();
    let (_, sent) = paths(conn.send(subscribe(1, &asked)));
    assert_eq!(&sent[..8], &asked[..8], "up to the maximum");
    assert_eq!(&sent[8..], [VOID_FILTER; 2], "beyond it refused");
    // Renewing a held filter takes no new place; unsubscribing frees one.
    assert_eq!(paths(conn.send(subscribe(2, &asked[..1]))).1, asked[..1]);
    assert!(matches!(
        conn.send(unsubscribe(3, &asked[..1])),
        Ok(Packet::Unsubscribe(u, _)) if u.filters == asked[..1]
    ));
    assert_eq!(paths(conn.send(subscribe(4, &asked[8..9]))).1, asked[8..9]);

    // A persistent session's filters stay in rumqttd across reconnects, and so does their
    // count; a clean session starts from none.
    let mut persistent = h.connection(false);
    router_connect(persistent.send(connect_with(
        "Dash.p",
        Some(("tok.mqtt", TOKEN_SECRET)),
        30,
        false,
        None,
    )));
    let filters: Vec<String> = (0..8).map(|i| format!("plant/{i}")).collect();
    let filters: Vec<&str> = filters.iter().map(String::as_str).collect();
    assert_eq!(paths(persistent.send(subscribe(1, &filters))).1, filters);
    drop(persistent);
    let mut again = h.connection(false);
    router_connect(again.send(connect_with(
        "Dash.p",
        Some(("tok.mqtt", TOKEN_SECRET)),
        30,
        false,
        None,
    )));
    assert_eq!(
        paths(again.send(subscribe(2, &["plant/more"]))).1,
        [VOID_FILTER]
    );
    drop(again);
    let mut clean = h.integration(false, "Dash.p");
    assert_eq!(
        paths(clean.send(subscribe(3, &["plant/more"]))).1,
        ["plant/more"]
    );
}

/// The attack: an integration retains a message on ever new topics; rumqttd keeps every
/// one for as long as the process lives. Today's code retained them all.
#[test]
fn an_integration_token_retains_at_most_the_maximum_and_clearing_frees_one() {
    let h = Harness::with_limits(small_limits());
    let mut a = h.integration(true, "Dash.a");
    let mut b = h.integration(false, "Dash.b");
    let pass = |conn: &mut Conn, topic: &[u8], payload: &[u8], pkid| {
        let sent = publish(topic, payload, pkid, true);
        assert_eq!(
            conn.send(Packet::Publish(sent.clone(), None)),
            Ok(Packet::Publish(sent, None)),
            "{}",
            String::from_utf8_lossy(topic)
        );
    };
    pass(&mut a, b"plant/1", b"x", 1);
    pass(&mut b, b"plant/2", b"x", 2);
    pass(&mut a, b"plant/1", b"y", 3);
    // The token's two places are taken, whichever of its sessions took them.
    assert_eq!(
        a.send(Packet::Publish(publish(b"plant/3", b"x", 4, true), None)),
        Ok(Packet::Publish(denied(4), None))
    );
    // Not retained, the same topic goes through.
    let plain = publish(b"plant/3", b"x", 5, false);
    assert_eq!(
        a.send(Packet::Publish(plain.clone(), None)),
        Ok(Packet::Publish(plain, None))
    );
    // Through a topic alias it is the same topic, and the same count.
    let alias = PublishProperties {
        topic_alias: Some(1),
        ..PublishProperties::default()
    };
    let setting = publish(b"plant/4", b"x", 6, false);
    assert_eq!(
        a.send(Packet::Publish(setting.clone(), Some(alias.clone()))),
        Ok(Packet::Publish(setting, Some(alias.clone())))
    );
    assert_eq!(
        a.send(Packet::Publish(
            publish(b"", b"x", 7, true),
            Some(alias.clone())
        )),
        Ok(Packet::Publish(denied(7), Some(alias.clone())))
    );
    // Clearing one (an empty retained payload) frees its place.
    pass(&mut b, b"plant/2", b"", 8);
    pass(&mut a, b"plant/3", b"x", 9);
    // A retained will takes a place too: none is left for it.
    let mut conn = h.connection(false);
    let retained_will = LastWill {
        retain: true,
        ..will(b"plant/will")
    };
    let (.., sent_will, _) = router_connect(conn.send(connect_with(
        "Dash.w",
        Some(("tok.mqtt", TOKEN_SECRET)),
        30,
        true,
        Some(retained_will),
    )));
    assert_eq!(sent_will, None);
}

/// The attack: one `mqtt` token opens session after session (up to the broker's whole
/// connection limit). Today's code let every one in.
#[test]
fn a_token_holds_at_most_the_maximum_sessions() {
    let h = Harness::with_limits(small_limits());
    let first = h.integration(false, "Dash.1");
    let _second = h.integration(true, "Dash.2");
    for (v5, expected) in [
        (false, vec![0x20, 2, 0, 5]),
        (true, vec![0x20, 3, 0, 0x97, 0]),
    ] {
        let mut conn = h.connection(v5);
        let (client_id, ..) =
            router_connect(conn.send(connect("Dash.3", Some(("tok.mqtt", TOKEN_SECRET)))));
        assert_eq!(client_id, "", "steered to a refusal");
        assert_eq!(
            conn.out(connack(ConnectReturnCode::ClientIdentifierNotValid)),
            expected,
            "not authorized (3.1.1) / quota exceeded (5), v5: {v5}"
        );
    }
    // A takeover of one of its own sessions is no new session.
    let _taken_over = h.integration(false, "Dash.2");
    // One ended frees its place.
    drop(first);
    let _third = h.integration(false, "Dash.3");
}

/// Found by the `mqtt_connect_policy` fuzz target (its oracle was wrong, the layer right):
/// sessions without a client id count against the cap too, one kept under the empty id
/// (no clean session: rumqttd then refuses it itself) and one given a fresh `plantd.anon-`
/// name, so a third anonymous login finds no place.
#[test]
fn sessions_without_a_client_id_count_against_the_token_cap() {
    let h = Harness::with_limits(small_limits());
    let token = Some(("tok.mqtt", TOKEN_SECRET));
    let mut kept = h.connection(true);
    let (id, ..) = router_connect(kept.send(connect_with("", token, 30, false, None)));
    assert_eq!(id, "", "kept under the empty id");
    let mut named = h.connection(true);
    let (id, _, _, _, login) = router_connect(named.send(connect_with("", token, 30, true, None)));
    assert!(id.starts_with("plantd.anon-"), "{id}");
    assert_eq!(login, stamped("tok.mqtt"));
    let mut third = h.connection(true);
    let (id, _, _, _, login) = router_connect(third.send(connect_with("", token, 30, true, None)));
    assert_eq!(
        (id.as_str(), login),
        ("", stamped("")),
        "steered to a refusal"
    );
    assert_eq!(
        third.out(connack(ConnectReturnCode::ClientIdentifierNotValid)),
        vec![0x20, 3, 0, 0x97, 0],
        "quota exceeded"
    );
}

/// An MQTT 5 CONNACK's properties length, Receive Maximum (0x21) and Maximum Packet Size
/// (0x27): what every accepted MQTT 5 client is told (the QoS 1 and 2 publishes it may have
/// unacknowledged, the largest packet the layer reads).
fn connack_properties() -> Vec<u8> {
    let max = u32::try_from(MAX_PACKET).expect("fits");
    // Receive Maximum (0x21, `small_limits`' 100), then Maximum Packet Size (0x27).
    [[8u8, 0x21, 0, 100, 0x27].as_slice(), &max.to_be_bytes()].concat()
}
