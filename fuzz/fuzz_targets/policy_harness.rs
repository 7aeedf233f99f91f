//! What the three MQTT policy targets share: the broker's real policy layer (`Policy`, one
//! per connection, over a fresh `PolicyContext` per input), stand-ins for the devices and
//! identity modules that answer logins from fixed tables on an actix arbiter (as the real
//! ones answer from memory), a structured input (`arbitrary`) for logins and topics, and an
//! oracle: the MQTT contract's topic rules written out again from `mqtt-contract.md`.
//!
//! Each packet is encoded with rumqttd's own codec and read through `read_mut`, as rumqttd
//! drives it: what comes out is what the router would get.

// Each target uses its part of this module.
#![allow(dead_code)]

use std::mem::ManuallyDrop;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use actix::{Actor, Addr, Arbiter, Context, Handler, MessageResult, System, SystemRunner};
use arbitrary::Arbitrary;
use bytes::{BufMut, Bytes, BytesMut};
use plantd_broker::fuzzing::{
    Authenticator, Filters, Limits, Policy, PolicyContext, Pressure, Principal, Retained, Sessions,
};
use plantd_contracts::devices::{
    AuthenticateDevice, DeviceAuth, DeviceConnected, DeviceDisconnected,
};
use plantd_contracts::identity::{self, AuthenticateToken, Scope};
use rumqttd::protocol::v4::V4;
use rumqttd::protocol::v5::V5;
use rumqttd::protocol::{
    ConnAck, Connect, ConnectReturnCode, Error, LastWill, Login, Packet, Protocol, Publish,
    PublishProperties, QoS,
};

pub const SECRET: &str = "device-secret";
pub const TOKEN_SECRET: &str = "token-secret";
pub const STAMP: &str = "stamp-of-this-process";
pub const MAX_PACKET: usize = 1 << 20;
/// What the layer makes of a refused publish and a refused filter (policy.rs).
pub const DENIED_TOPIC: &[u8] = b"$plantd/denied";
pub const VOID_FILTER: &str = "plantd/void";

/// Provisioned devices: accepted with [`SECRET`], except `off-1` (disabled).
pub const DEVICES: [&str; 4] = ["press-1", "press-2", "off-1", "press"];
/// Tokens: `tok.mqtt` has the mqtt scope, the others do not.
pub const TOKENS: [&str; 3] = ["tok.mqtt", "tok.reader", "tok.admin"];

struct Modules;

impl Actor for Modules {
    type Context = Context<Self>;
}

impl Handler<AuthenticateDevice> for Modules {
    type Result = MessageResult<AuthenticateDevice>;

    fn handle(&mut self, msg: AuthenticateDevice, _: &mut Context<Self>) -> Self::Result {
        let known = DEVICES.contains(&msg.device_id.as_str());
        MessageResult(match (known, msg.secret == SECRET) {
            (false, _) => DeviceAuth::UnknownDevice,
            (true, false) => DeviceAuth::BadSecret,
            (true, true) if msg.device_id == "off-1" => DeviceAuth::Disabled,
            (true, true) => DeviceAuth::Accepted,
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
    fn handle(&mut self, _: DeviceConnected, _: &mut Context<Self>) {}
}

impl Handler<DeviceDisconnected> for Modules {
    type Result = ();
    fn handle(&mut self, _: DeviceDisconnected, _: &mut Context<Self>) {}
}

struct World {
    modules: Addr<Modules>,
    arbiter: Arbiter,
    /// Kept (and never dropped) for as long as the process lives.
    _system: ManuallyDrop<SystemRunner>,
}

thread_local! {
    static WORLD: World = {
        // The system lives as long as the process (libFuzzer calls the target on one thread).
        let system = ManuallyDrop::new(System::new());
        let arbiter = Arbiter::new();
        let modules = Modules::start_in_arbiter(&arbiter.handle(), |_| Modules);
        World {
            modules,
            arbiter,
            _system: system,
        }
    };
}

/// Limits small enough for the fuzzer to reach them.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct SmallLimits {
    topic_bytes: u8,
    filters: u8,
    retained: u8,
    sessions: u8,
    keep_alive: u16,
}

impl SmallLimits {
    pub fn limits(self) -> Limits {
        Limits {
            topic_bytes: usize::from(self.topic_bytes).max(1),
            filters_per_session: usize::from(self.filters % 8) + 1,
            retained_per_token: usize::from(self.retained % 4) + 1,
            sessions_per_token: usize::from(self.sessions % 3) + 1,
            keep_alive_s: self.keep_alive.max(1),
        }
    }
}

/// One broker's shared policy state for one input.
pub fn context(limits: Limits) -> Arc<PolicyContext> {
    WORLD.with(|w| {
        Arc::new(PolicyContext {
            auth: Authenticator {
                devices: w.modules.clone().recipient(),
                tokens: w.modules.clone().recipient(),
                arbiter: w.arbiter.handle(),
            },
            connected: w.modules.clone().recipient(),
            disconnected: w.modules.clone().recipient(),
            sessions: Sessions::new(1),
            stamp: STAMP.to_owned(),
            draining: AtomicBool::new(false),
            limits,
            filters: Filters::default(),
            retained: Retained::default(),
        })
    })
}

/// A client's connection: the layer and the protocol the client speaks.
pub struct Conn {
    pub policy: Policy,
    pub v5: bool,
}

impl Conn {
    pub fn new(ctx: &Arc<PolicyContext>, v5: bool) -> Conn {
        Conn {
            policy: Policy::new(ctx.clone(), Arc::new(Pressure::new(1 << 20, 1_000))),
            v5,
        }
    }

    /// Encodes `packet` as the client would; `None` when rumqttd's codec cannot.
    pub fn encode(&self, packet: Packet) -> Option<BytesMut> {
        let mut stream = BytesMut::new();
        let written = if self.v5 {
            V5.write(packet, &mut stream)
        } else {
            V4.write(packet, &mut stream)
        };
        written.ok().map(|_| stream)
    }

    /// The client sends `packet`: what the layer hands the router. `None` when it cannot
    /// be encoded.
    pub fn send(&mut self, packet: Packet) -> Option<Result<Packet, Error>> {
        let mut stream = self.encode(packet)?;
        Some(self.policy.read_mut(&mut stream, MAX_PACKET))
    }

    /// The router sends `packet`: the bytes on the wire to the client.
    pub fn out(&self, packet: Packet) -> Vec<u8> {
        let mut wire = BytesMut::new();
        let written = self.policy.write(packet, &mut wire).expect("write");
        assert_eq!(written, wire.len());
        wire.to_vec()
    }

    /// The CONNACK code byte the client gets for the router's success.
    pub fn connack_code(&self) -> u8 {
        let wire = self.out(Packet::ConnAck(
            ConnAck {
                session_present: false,
                code: ConnectReturnCode::Success,
            },
            None,
        ));
        wire[3]
    }
}

/// A login as the fuzzer picks it.
#[derive(Arbitrary, Debug, Clone)]
pub enum User {
    Device(u8),
    Token(u8),
    Raw(String),
}

#[derive(Arbitrary, Debug, Clone)]
pub struct LoginIn {
    pub user: User,
    pub right_secret: bool,
}

impl LoginIn {
    pub fn username(&self) -> String {
        match &self.user {
            User::Device(i) => DEVICES[usize::from(*i) % DEVICES.len()].to_owned(),
            User::Token(i) => TOKENS[usize::from(*i) % TOKENS.len()].to_owned(),
            User::Raw(s) => s.clone(),
        }
    }

    pub fn login(&self) -> Login {
        let username = self.username();
        let password = match (self.right_secret, username.starts_with("tok.")) {
            (false, _) => "wrong".to_owned(),
            (true, true) => TOKEN_SECRET.to_owned(),
            (true, false) => SECRET.to_owned(),
        };
        Login { username, password }
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub enum ClientIdIn {
    SameAsUser,
    Empty,
    Device(u8),
    Reserved(String),
    Raw(String),
}

impl ClientIdIn {
    pub fn make(&self, username: &str) -> String {
        match self {
            ClientIdIn::SameAsUser => username.to_owned(),
            ClientIdIn::Empty => String::new(),
            ClientIdIn::Device(i) => DEVICES[usize::from(*i) % DEVICES.len()].to_owned(),
            ClientIdIn::Reserved(s) => format!("plantd.{s}"),
            ClientIdIn::Raw(s) => s.clone(),
        }
    }
}

/// One level of a topic or filter: the contract's words, wildcards, and anything else.
#[derive(Arbitrary, Debug, Clone)]
pub enum Level {
    Devices,
    Plantd,
    Own,
    Device(u8),
    Plus,
    Hash,
    Dollar(String),
    Share,
    Sys,
    Telemetry,
    State,
    Reported,
    Desired,
    Delta,
    Commands,
    Result,
    Firmware,
    Status,
    Available,
    Events,
    Empty,
    Name(String),
}

/// A topic or filter: levels joined by `/`, a contract topic, or raw bytes.
#[derive(Arbitrary, Debug, Clone)]
pub enum TopicIn {
    Levels(Vec<Level>),
    /// `devices/{device}/` and one of the contract's topics (`cmd` as the command level).
    Contract {
        device: Option<u8>,
        kind: u8,
        cmd: String,
    },
    Text(String),
    Bytes(Vec<u8>),
}

impl TopicIn {
    /// `own`: the connection's username.
    pub fn bytes(&self, own: &str) -> Vec<u8> {
        match self {
            TopicIn::Levels(levels) => levels
                .iter()
                .map(|l| match l {
                    Level::Devices => "devices".to_owned(),
                    Level::Plantd => "plantd".to_owned(),
                    Level::Own => own.to_owned(),
                    Level::Device(i) => DEVICES[usize::from(*i) % DEVICES.len()].to_owned(),
                    Level::Plus => "+".to_owned(),
                    Level::Hash => "#".to_owned(),
                    Level::Dollar(s) => format!("${s}"),
                    Level::Share => "$share".to_owned(),
                    Level::Sys => "$SYS".to_owned(),
                    Level::Telemetry => "telemetry".to_owned(),
                    Level::State => "state".to_owned(),
                    Level::Reported => "reported".to_owned(),
                    Level::Desired => "desired".to_owned(),
                    Level::Delta => "delta".to_owned(),
                    Level::Commands => "commands".to_owned(),
                    Level::Result => "result".to_owned(),
                    Level::Firmware => "firmware".to_owned(),
                    Level::Status => "status".to_owned(),
                    Level::Available => "available".to_owned(),
                    Level::Events => "events".to_owned(),
                    Level::Empty => String::new(),
                    Level::Name(s) => s.clone(),
                })
                .collect::<Vec<_>>()
                .join("/")
                .into_bytes(),
            TopicIn::Contract { device, kind, cmd } => {
                let id = device.map_or(own.to_owned(), |i| {
                    DEVICES[usize::from(i) % DEVICES.len()].to_owned()
                });
                let rest = match kind % 9 {
                    0 => "telemetry".to_owned(),
                    1 => "state/reported".to_owned(),
                    2 => format!("commands/{cmd}/result"),
                    3 => "firmware/status".to_owned(),
                    4 => "state/desired".to_owned(),
                    5 => "state/delta".to_owned(),
                    6 => format!("commands/{cmd}"),
                    7 => "commands/+".to_owned(),
                    _ => "firmware/available".to_owned(),
                };
                format!("devices/{id}/{rest}").into_bytes()
            }
            TopicIn::Text(s) => s.clone().into_bytes(),
            TopicIn::Bytes(b) => b.clone(),
        }
    }

    pub fn text(&self, own: &str) -> String {
        String::from_utf8_lossy(&self.bytes(own)).into_owned()
    }
}

pub fn qos(n: u8) -> QoS {
    match n % 3 {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// A PUBLISH as it comes in (rumqttd keeps QoS and packet id private; the form its
/// `deserialize` takes is public).
pub fn publish(topic: &[u8], payload: &[u8], qos: u8, pkid: u16, retain: bool) -> Publish {
    let qos = qos % 3;
    let mut buf = BytesMut::new();
    buf.put_u8(0b0011_0000 | (qos << 1) | u8::from(retain));
    // This form always carries a packet id (0 for QoS 0).
    buf.put_u16(if qos > 0 { pkid.max(1) } else { 0 });
    let topic = &topic[..topic.len().min(usize::from(u16::MAX))];
    buf.put_u16(u16::try_from(topic.len()).unwrap_or(u16::MAX));
    buf.extend_from_slice(topic);
    buf.extend_from_slice(payload);
    Publish::deserialize(buf.freeze())
}

pub fn publish_packet(publish: Publish, alias: Option<u16>) -> Packet {
    let props = alias.map(|a| PublishProperties {
        payload_format_indicator: None,
        message_expiry_interval: None,
        topic_alias: Some(a),
        response_topic: None,
        correlation_data: None,
        user_properties: Vec::new(),
        subscription_identifiers: Vec::new(),
        content_type: None,
    });
    Packet::Publish(publish, props)
}

pub fn connect_packet(
    client_id: String,
    keep_alive: u16,
    clean_session: bool,
    will: Option<LastWill>,
    login: Option<Login>,
) -> Packet {
    Packet::Connect(
        Connect {
            keep_alive,
            client_id,
            clean_session,
        },
        None,
        will,
        None,
        login,
    )
}

pub fn will(topic: &[u8], empty: bool, retain: bool, q: u8) -> LastWill {
    LastWill {
        topic: Bytes::copy_from_slice(topic),
        message: if empty {
            Bytes::new()
        } else {
            Bytes::from_static(b"gone")
        },
        qos: qos(q),
        retain,
    }
}

// ---- The oracle: the contract's rules, written out again from mqtt-contract.md. ----

fn no_wildcard(level: &str) -> bool {
    !level.is_empty() && !level.contains(['+', '#'])
}

/// A device may publish exactly its "Device → plantd" topics.
pub fn device_may_publish(id: &str, topic: &str) -> bool {
    let levels: Vec<&str> = topic.split('/').collect();
    match levels.as_slice() {
        ["devices", d, "telemetry"]
        | ["devices", d, "state", "reported"]
        | ["devices", d, "firmware", "status"] => *d == id,
        ["devices", d, "commands", cmd, "result"] => *d == id && no_wildcard(cmd),
        _ => false,
    }
}

/// A device may subscribe exactly its "plantd → device" topics (`+` for the command).
pub fn device_may_subscribe(id: &str, filter: &str) -> bool {
    let levels: Vec<&str> = filter.split('/').collect();
    match levels.as_slice() {
        ["devices", d, "state", "desired" | "delta"] | ["devices", d, "firmware", "available"] => {
            *d == id
        }
        ["devices", d, "commands", cmd] => *d == id && (*cmd == "+" || no_wildcard(cmd)),
        _ => false,
    }
}

/// An integration publishes anywhere but `$…`, `devices/…` and `plantd/…`.
pub fn integration_may_publish(topic: &str) -> bool {
    let first = topic.split('/').next().unwrap_or_default();
    !topic.is_empty()
        && !topic.contains(['+', '#'])
        && !topic.starts_with('$')
        && first != "devices"
        && first != "plantd"
}

/// An integration reads everything but `$…`, except shared subscriptions of non-`$` filters.
pub fn integration_may_subscribe(filter: &str) -> bool {
    match filter.strip_prefix("$share/") {
        Some(rest) => match rest.split_once('/') {
            Some((group, inner)) => !group.is_empty() && !inner.starts_with('$'),
            None => false,
        },
        None => !filter.starts_with('$'),
    }
}

pub fn may_publish(principal: &Principal, topic: &str) -> bool {
    match principal {
        Principal::Device(id) => device_may_publish(id, topic),
        Principal::Integration(_) => integration_may_publish(topic),
    }
}

pub fn may_subscribe(principal: &Principal, filter: &str) -> bool {
    match principal {
        Principal::Device(id) => device_may_subscribe(id, filter),
        Principal::Integration(_) => integration_may_subscribe(filter),
    }
}

/// The principal the contract gives `login` with `client_id`, if it may connect at all
/// (ignoring the per-token session cap).
pub fn expected_principal(login: &Login, client_id: &str) -> Option<Principal> {
    let user = login.username.as_str();
    if user.starts_with("tok.") {
        let device_shaped = plantd_contracts::ids::is_valid_device_id(client_id);
        return (user == "tok.mqtt"
            && login.password == TOKEN_SECRET
            && !client_id.starts_with("plantd.")
            && !device_shaped)
            .then(|| Principal::Integration(user.to_owned()));
    }
    (DEVICES.contains(&user) && user != "off-1" && login.password == SECRET && client_id == user)
        .then(|| Principal::Device(user.to_owned()))
}

/// Logs `login` in on a new connection; the connection and its principal when the layer
/// accepted it, as the oracle says it must.
pub fn log_in(
    ctx: &Arc<PolicyContext>,
    v5: bool,
    login: &LoginIn,
    client_id: &ClientIdIn,
) -> Option<(Conn, Principal, String)> {
    let login = login.login();
    let client_id = client_id.make(&login.username);
    let want = expected_principal(&login, &client_id);
    let mut conn = Conn::new(ctx, v5);
    let sent = conn.send(connect_packet(
        client_id.clone(),
        30,
        true,
        None,
        Some(login.clone()),
    ))?;
    let accepted = match sent {
        Ok(Packet::Connect(connect, _, _, _, Some(l))) => {
            assert_eq!(l.password, STAMP);
            (!l.username.is_empty()).then_some(connect.client_id)
        }
        Ok(other) => panic!("a CONNECT became {other:?}"),
        Err(_) => return None,
    };
    let code = conn.connack_code();
    match (accepted, want) {
        (Some(id), Some(principal)) => {
            assert_eq!(code, 0, "accepted with code 0");
            Some((conn, principal, id))
        }
        (None, None) => {
            assert_ne!(code, 0, "a refusal has a failure code");
            None
        }
        (got, want) => {
            panic!("login {login:?} client id {client_id:?}: got {got:?}, want {want:?}")
        }
    }
}

impl SmallLimits {
    /// The broker's default limits.
    pub fn limits_default() -> Limits {
        Limits::from(&plantd_broker::BrokerSettings::default())
    }
}

/// A connection that logs in first, as the fuzzer picks it (the SUBSCRIBE and PUBLISH
/// targets' start).
#[derive(Arbitrary, Debug)]
pub struct SessionIn {
    v5: bool,
    login: LoginIn,
    client_id: ClientIdIn,
    limits: SmallLimits,
}

/// A logged-in connection, its principal and the limits it is held to.
pub struct Session {
    pub conn: Conn,
    pub principal: Principal,
    pub limits: Limits,
    /// Shared by the connection; kept for as long as it lives.
    pub ctx: Arc<PolicyContext>,
}

impl SessionIn {
    /// Logs in; `None` when the layer refused it (as the oracle says it must).
    pub fn open(&self) -> Option<Session> {
        let limits = self.limits.limits();
        let ctx = context(limits.clone());
        let (conn, principal, _) = log_in(&ctx, self.v5, &self.login, &self.client_id)?;
        Some(Session {
            conn,
            principal,
            limits,
            ctx,
        })
    }
}
