//! The per-connection policy layer. rumqttd clones its `Protocol` for every connection and
//! drops it when the connection ends, so a wrapper around the v4/v5 codecs sees every
//! packet of one client and can:
//! - pick MQTT 3.1.1 or 5 from the CONNECT, so both share one port;
//! - check the login with the devices/identity modules and refuse with a proper CONNACK
//!   code (rumqttd itself would just close the socket);
//! - hold every client to a keep-alive of at most the maximum (0, "none", included; MQTT 5
//!   clients are told it in the CONNACK) and each integration token to a number of sessions;
//! - keep an integration's session apart from every device's and other token's, whatever
//!   client id it sends, by naming it under its token (`integration_session_id`);
//! - enforce the contract's topic rules on PUBLISH, SUBSCRIBE, UNSUBSCRIBE and the will, and
//!   the per-client limits of `limits.rs` (topic length, filters per session, retained
//!   messages per token; a device's `retain` flag is cleared);
//! - keep MQTT 5 properties away from MQTT 3.1.1 clients;
//! - report `DeviceConnected` / `DeviceDisconnected`, count each session's messages (for
//!   presence), and end a session on request;
//! - hold device PUBLISHes back, unacknowledged, while ingest is paused (`hold.rs`);
//! - hold a device's PUBACKs for telemetry until telemetry committed it (`acks.rs`).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix::Recipient;
use bytes::{Bytes, BytesMut};
use plantd_contracts::devices::{DeviceAuth, DeviceConnected, DeviceDisconnected};
use plantd_contracts::identity::Scope;
use plantd_contracts::ids::is_token_id;
use plantd_contracts::log_throttle::clip;
use plantd_contracts::warn_throttled;
use plantd_contracts::DeviceId;
use rumqttd::protocol::v4::V4;
use rumqttd::protocol::v5::V5;
use rumqttd::protocol::{
    Connect, ConnectProperties, ConnectReturnCode, Error, Filter, LastWill, Login, Packet,
    Protocol, Publish, QoS, RetainForwardRule, SubAck, Subscribe, SubscribeReasonCode, UnsubAck,
    UnsubAckReason,
};

use crate::acks::{strip_receipt, Acks, Watermarks, RECEIPT_PROPERTY};
use crate::auth::Authenticator;
use crate::hold::{Hold, Verdict, RESUME_SUBSCRIBE_PKID};
use crate::limits::{self, Admit, Filters, Limits, Retained};
use crate::pressure::{Pressure, RESUME_TOPIC};
use crate::principal::Principal;
use crate::receive_max::Window;
use crate::sessions::{NotRegistered, Sessions, Traffic};
use crate::sniff;

/// Where a refused publish goes: a `$` topic nobody may subscribe to (payload emptied).
const DENIED_TOPIC: &[u8] = b"$plantd/denied";
/// What a refused subscription is swapped for: a filter nothing is ever published to.
const VOID_FILTER: &str = "plantd/void";
/// Client ids plantd keeps for its own local links.
pub const RESERVED_CLIENT_PREFIX: &str = "plantd.";

/// The name rumqttd keeps an integration's session under: its client id, namespaced by its
/// token. rumqttd keys sessions (subscriptions, queued messages, takeover) by client id
/// alone; a device's client id is its device id, which never holds a '.', so no integration
/// can reach a device's session, or another token's, whatever id it sends. The client is
/// never told this name (MQTT echoes no id it chose), so it keeps the id it sent.
pub fn integration_session_id(token: &str, client_id: &str) -> String {
    format!("{RESERVED_CLIENT_PREFIX}i.{token}.{client_id}")
}

/// Shared by every connection's policy: the broker's own, never another module's state.
pub struct PolicyContext {
    pub auth: Authenticator,
    pub connected: Recipient<DeviceConnected>,
    pub disconnected: Recipient<DeviceDisconnected>,
    pub sessions: Sessions,
    /// Proof, per process, that a CONNECT went through this layer (rumqttd's auth hook
    /// accepts nothing else).
    pub stamp: String,
    /// Set on shutdown: new logins are refused and live sessions end at their next packet.
    pub draining: AtomicBool,
    pub limits: Limits,
    /// The filters each session holds, counted against `limits.filters_per_session`.
    pub filters: Filters,
    /// The retained messages each token set, counted against `limits.retained_per_token`.
    pub retained: Retained,
}

struct Live {
    principal: Principal,
    session: u64,
    kill: Arc<AtomicBool>,
    traffic: Arc<Traffic>,
    /// The client id this layer gave a client that sent none (so it can be cut by name).
    assigned_client_id: Option<String>,
    /// The client id rumqttd knows the session by.
    client_id: String,
    clean_session: bool,
    /// The keep-alive the client is held to, when it is not the one it asked for.
    server_keep_alive: Option<u16>,
}

/// Why a login was refused: a CONNACK code and a reason for logs and metrics.
enum Refusal {
    NoCredentials,
    BadCredentials,
    NotAllowed(&'static str),
    BadClientId(&'static str),
    Unavailable(&'static str),
    TooManySessions,
    /// The credential was rotated or revoked (or the device disabled) while the login was
    /// being answered: the answer no longer holds.
    CutSinceLogin,
}

#[derive(Clone)]
pub struct Policy {
    ctx: Arc<PolicyContext>,
    version: Option<u8>,
    live: Option<Arc<Live>>,
    refusal: Option<ConnectReturnCode>,
    announced: Cell<bool>,
    denied_subscriptions: RefCell<HashMap<u16, Vec<usize>>>,
    /// UNSUBSCRIBEs of refused filters only, sent on as a SUBSCRIBE of [`VOID_FILTER`]:
    /// packet id → number of filters, for the UNSUBACK `write` makes of its SUBACK.
    void_unsubscribes: RefCell<HashMap<u16, usize>>,
    /// Back-pressure: what this connection holds back while ingest is paused.
    hold: Hold,
    /// MQTT 5 topic aliases this client set: alias → topic (`None`: set by a refused
    /// publish), so a retained publish through an alias is counted on its topic.
    aliases: RefCell<HashMap<u16, Option<String>>>,
    /// PUBACKs of a device's telemetry held until telemetry committed it.
    acks: Acks,
    /// The names of a verified client certificate this connection presented (TLS with
    /// `tls_client_ca_file`): a device whose id is one of them logs in without its secret.
    certificate_names: Option<Arc<[String]>>,
    /// MQTT 5 topic aliases rumqttd set towards this client (alias → topic), so a message
    /// sent by alias alone is still recognised (`is_resume_traffic`). At most the client's
    /// own topic alias maximum.
    server_aliases: RefCell<HashMap<u16, Bytes>>,
    /// The largest packet rumqttd reads from a client (told to MQTT 5 clients in the
    /// CONNACK as the maximum packet size).
    max_packet: Cell<usize>,
    /// An MQTT 5 client's QoS 1 and 2 publishes not yet acknowledged, held to the receive
    /// maximum announced in the CONNACK.
    window: Window,
}

impl Policy {
    /// The signed-in username, for log lines (empty before the login).
    fn username(&self) -> &str {
        self.live
            .as_ref()
            .map(|l| l.principal.username())
            .unwrap_or("")
    }

    pub fn new(ctx: Arc<PolicyContext>, pressure: Arc<Pressure>) -> Self {
        let ctx_receive_max = ctx.limits.receive_max;
        Policy {
            acks: Acks::new(None),
            hold: Hold::new(pressure),
            ctx,
            version: None,
            live: None,
            refusal: None,
            announced: Cell::new(false),
            denied_subscriptions: RefCell::new(HashMap::new()),
            void_unsubscribes: RefCell::new(HashMap::new()),
            aliases: RefCell::new(HashMap::new()),
            certificate_names: None,
            server_aliases: RefCell::new(HashMap::new()),
            max_packet: Cell::new(0),
            window: Window::new(ctx_receive_max),
        }
    }

    /// Acknowledges device telemetry only after its commit, watched through `watermarks`.
    pub fn with_acks_after_commit(mut self, watermarks: Arc<Watermarks>) -> Self {
        self.acks = Acks::new(Some(watermarks));
        self
    }

    /// The connection's verified client certificate names this device id.
    fn certified(&self, device_id: &str) -> bool {
        self.certificate_names
            .as_ref()
            .is_some_and(|names| names.iter().any(|n| n == device_id))
    }

    fn code(&self, refusal: &Refusal) -> ConnectReturnCode {
        match refusal {
            Refusal::NoCredentials | Refusal::NotAllowed(_) => ConnectReturnCode::NotAuthorized,
            Refusal::TooManySessions if self.version == Some(5) => ConnectReturnCode::QuotaExceeded,
            Refusal::TooManySessions => ConnectReturnCode::NotAuthorized,
            Refusal::BadCredentials | Refusal::CutSinceLogin => {
                ConnectReturnCode::BadUserNamePassword
            }
            Refusal::BadClientId(_) => ConnectReturnCode::ClientIdentifierNotValid,
            Refusal::Unavailable(_) if self.version == Some(5) => {
                ConnectReturnCode::ServerUnavailable
            }
            Refusal::Unavailable(_) => ConnectReturnCode::ServiceUnavailable,
        }
    }

    fn authorize(&self, client_id: &str, login: Option<&Login>) -> Result<Principal, Refusal> {
        if self.ctx.draining.load(Ordering::Relaxed) {
            return Err(Refusal::Unavailable("shutting down"));
        }
        let Some(login) = login else {
            // A client certificate may stand for the whole login (its client id is then
            // the device id it names).
            if self.certified(client_id) {
                return match self.ctx.auth.device(client_id, "", true) {
                    Some(DeviceAuth::Accepted) => Ok(Principal::Device(client_id.to_owned())),
                    Some(DeviceAuth::Disabled) => Err(Refusal::NotAllowed("device is disabled")),
                    Some(_) => Err(Refusal::BadCredentials),
                    None => Err(Refusal::Unavailable("devices module did not answer")),
                };
            }
            return Err(Refusal::NoCredentials);
        };
        if is_token_id(&login.username) {
            let principal = self
                .ctx
                .auth
                .token(&login.username, &login.password)
                .ok_or(Refusal::BadCredentials)?;
            if !principal.has(Scope::Mqtt) {
                return Err(Refusal::NotAllowed("token lacks the mqtt scope"));
            }
            return Ok(Principal::Integration(login.username.clone()));
        }
        let certified = self.certified(&login.username);
        match self
            .ctx
            .auth
            .device(&login.username, &login.password, certified)
        {
            Some(DeviceAuth::Accepted) if client_id == login.username => {
                Ok(Principal::Device(login.username.clone()))
            }
            Some(DeviceAuth::Accepted) => {
                Err(Refusal::BadClientId("client id must equal the device id"))
            }
            Some(DeviceAuth::UnknownDevice) | Some(DeviceAuth::BadSecret) => {
                Err(Refusal::BadCredentials)
            }
            Some(DeviceAuth::Disabled) => Err(Refusal::NotAllowed("device is disabled")),
            None => Err(Refusal::Unavailable("devices module did not answer")),
        }
    }

    fn on_connect(&mut self, packet: Packet) -> Result<Packet, Error> {
        let Packet::Connect(mut connect, props, will, will_props, login) = packet else {
            return Ok(packet);
        };
        let username = login
            .as_ref()
            .map(|l| l.username.clone())
            .unwrap_or_default();
        // No username here: a refused one may be a secret typed in the wrong field.
        let span = tracing::info_span!("mqtt_connect", client_id = %clip(&connect.client_id));
        let _guard = span.enter();
        // Read before the login is checked: a cut (rotation, revocation) that commits while
        // the answer is on its way finds no session yet, and is caught at registration.
        // Sessions are registered under the principal's name: with a certificate and no
        // username, that is the device id the client id must equal.
        let cuts_at_login = self.ctx.sessions.cuts(if username.is_empty() {
            &connect.client_id
        } else {
            &username
        });
        let principal = match self.authorize(&connect.client_id, login.as_ref()) {
            Ok(principal) => principal,
            Err(refusal) => return Ok(self.refuse(refusal, connect, props)),
        };
        let session = self.ctx.sessions.next_session();
        // An empty client id (allowed with a clean session) gets a name here rather
        // than from rumqttd, so `DisconnectClient` can cut the session by it. Only plantd
        // names sessions under the reserved prefix: device ids never have a '.', and an
        // integration's own id is namespaced under its token.
        let assigned_client_id = (connect.client_id.is_empty() && connect.clean_session)
            .then(|| format!("{RESERVED_CLIENT_PREFIX}anon-{session}"));
        if let Some(id) = &assigned_client_id {
            connect.client_id = id.clone();
        } else if let Principal::Integration(token) = &principal {
            // An empty id without a clean session stays empty: rumqttd refuses it, as
            // MQTT 3.1.1 asks.
            if !connect.client_id.is_empty() {
                connect.client_id = integration_session_id(token, &connect.client_id);
            }
        }
        // A device has one session (a second one takes the first over); a token's are
        // counted, a takeover of one of its own client ids excepted.
        let cap = matches!(principal, Principal::Integration(_))
            .then_some(self.ctx.limits.sessions_per_token);
        let (kill, traffic) = match self.ctx.sessions.try_register(
            principal.username(),
            &connect.client_id,
            session,
            cap,
            cuts_at_login,
        ) {
            Ok(registered) => registered,
            Err(NotRegistered::Cap) => {
                limits::hit("sessions_per_token");
                return Ok(self.refuse(Refusal::TooManySessions, connect, props));
            }
            Err(NotRegistered::CutSinceLogin) => {
                return Ok(self.refuse(Refusal::CutSinceLogin, connect, props));
            }
        };
        let max_keep_alive = self.ctx.limits.keep_alive_s;
        // MQTT: 0 turns keep-alive off, and rumqttd refuses 0; a session without one (or a
        // very long one) would outlive its client's silence for hours.
        let server_keep_alive = (connect.keep_alive == 0 || connect.keep_alive > max_keep_alive)
            .then_some(max_keep_alive);
        if let Some(keep_alive) = server_keep_alive {
            limits::hit("keep_alive");
            connect.keep_alive = keep_alive;
        }
        // A will is published as the client's own message: a receipt property in it would
        // settle another session's held PUBACKs (receipts are plantd's alone).
        let will_props = will_props.map(|mut p| {
            p.user_properties.retain(|(k, _)| k != RECEIPT_PROPERTY);
            p
        });
        // Checked once the session is let in: a retained will takes a place of its token's.
        let (will, will_props) = match will {
            Some(w) if !self.will_allowed(&principal, &w) => {
                metrics::counter!("plantd_mqtt_denied_publishes_total", "kind" => "will")
                    .increment(1);
                warn_throttled!(
                    "mqtt_will_dropped",
                    client = principal.username(),
                    topic = %clip(&String::from_utf8_lossy(&w.topic)),
                    "will message outside the client's topics or limits dropped"
                );
                (None, None)
            }
            Some(mut w) if matches!(principal, Principal::Device(_)) => {
                // Only plantd retains on device topics.
                w.retain = false;
                (Some(w), will_props)
            }
            other => (other, will_props),
        };
        if !connect.client_id.is_empty() {
            self.ctx
                .filters
                .begin(&connect.client_id, session, connect.clean_session);
        }
        // An MQTT 5 CONNECT always reaches rumqttd with properties: that is how its link
        // tells MQTT 5 (session expiry, receive maximum, maximum packet size) from 3.1.1.
        let props = match self.version {
            Some(5) => Some(props.unwrap_or_else(no_connect_properties)),
            _ => props,
        };
        // MQTT 5: the session ends with the connection when its expiry interval is 0 (the
        // default), whatever the clean start flag; MQTT 3.1.1: when it is clean.
        let ends_with_connection = match &props {
            Some(p) => p.session_expiry_interval.unwrap_or(0) == 0,
            None => connect.clean_session,
        };
        let login = Some(Login {
            username: principal.username().to_owned(),
            password: self.ctx.stamp.clone(),
        });
        if matches!(principal, Principal::Device(_)) {
            self.acks.start(session);
        }
        self.live = Some(Arc::new(Live {
            principal,
            session,
            kill,
            traffic,
            assigned_client_id,
            client_id: connect.client_id.clone(),
            clean_session: ends_with_connection,
            server_keep_alive,
        }));
        Ok(Packet::Connect(connect, props, will, will_props, login))
    }

    /// A will is published like any message of the client: its topic and, for a retained
    /// one of an integration, a place among the token's retained messages (taken now).
    fn will_allowed(&self, principal: &Principal, will: &LastWill) -> bool {
        let Some(topic) = topic_str(&will.topic) else {
            return false;
        };
        if topic.len() > self.ctx.limits.topic_bytes {
            limits::hit("topic_bytes");
            return false;
        }
        if !principal.may_publish(topic) {
            return false;
        }
        if let Principal::Integration(token) = principal {
            if will.retain && !self.admit_retained(token, topic, will.message.is_empty()) {
                return false;
            }
        }
        true
    }

    /// Answers a refused login: logs and counts it, and steers the CONNECT to a CONNACK
    /// that `write` gives the refusal's code.
    fn refuse(
        &mut self,
        refusal: Refusal,
        mut connect: Connect,
        props: Option<ConnectProperties>,
    ) -> Packet {
        let reason = match &refusal {
            Refusal::NoCredentials => "no credentials",
            Refusal::BadCredentials => "bad username or password",
            Refusal::TooManySessions => "too many sessions for this token",
            Refusal::CutSinceLogin => "credential changed while the login was checked",
            Refusal::NotAllowed(r) | Refusal::BadClientId(r) | Refusal::Unavailable(r) => r,
        };
        metrics::counter!("plantd_mqtt_auth_failures_total", "reason" => reason).increment(1);
        // Never the username: it may be a secret typed in the wrong field.
        warn_throttled!("mqtt_login_refused", reason, "MQTT login refused");
        self.refusal = Some(self.code(&refusal));
        // rumqttd writes a CONNACK only for an empty client id without a clean
        // session; steer the refused CONNECT there and rewrite the code in `write`.
        connect.client_id.clear();
        connect.clean_session = false;
        connect.keep_alive = connect.keep_alive.max(1);
        let login = Some(Login {
            username: String::new(),
            password: self.ctx.stamp.clone(),
        });
        Packet::Connect(connect, props, None::<LastWill>, None, login)
    }

    fn admit_retained(&self, token: &str, topic: &str, empty: bool) -> bool {
        let admitted =
            self.ctx
                .retained
                .admit(token, topic, empty, self.ctx.limits.retained_per_token);
        if !admitted {
            limits::hit("retained_per_token");
        }
        admitted
    }

    fn on_publish(&self, live: &Live, packet: Packet) -> Packet {
        let Packet::Publish(mut publish, mut props) = packet else {
            return packet;
        };
        // Only plantd's own receipts travel to the gateway.
        strip_receipt(&mut props);
        crate::metrics::hot::MESSAGES_IN.increment(1);
        live.traffic.record(chrono::Utc::now().timestamp_millis());
        let alias = props.as_ref().and_then(|p| p.topic_alias);
        let allowed = self.may_publish(&live.principal, &publish, alias);
        if let (Some(alias), false) = (alias, publish.topic.is_empty()) {
            // A refused publish still sets its alias (to `DENIED_TOPIC`, as rewritten).
            self.aliases.borrow_mut().insert(
                alias,
                allowed.then(|| String::from_utf8_lossy(&publish.topic).into_owned()),
            );
        }
        if !allowed {
            metrics::counter!("plantd_mqtt_denied_publishes_total", "kind" => "publish")
                .increment(1);
            warn_throttled!(
                "mqtt_publish_refused",
                client = live.principal.username(),
                topic = %clip(&String::from_utf8_lossy(&publish.topic)),
                "publish outside the client's topics or limits dropped"
            );
            publish.topic = Bytes::from_static(DENIED_TOPIC);
            publish.payload = Bytes::new();
            publish.retain = false;
        } else if publish.retain && matches!(live.principal, Principal::Device(_)) {
            // Only plantd retains on device topics: a device's retained messages would be
            // kept by rumqttd for as long as the process lives.
            metrics::counter!("plantd_mqtt_device_retain_cleared_total").increment(1);
            publish.retain = false;
        }
        Packet::Publish(publish, props)
    }

    /// Whether `principal` may publish `publish` (as it came in): its topic, the topic's
    /// length, and for an integration's retained message a place among its token's.
    fn may_publish(&self, principal: &Principal, publish: &Publish, alias: Option<u16>) -> bool {
        let topic = match topic_str(&publish.topic) {
            // An empty topic names an MQTT 5 topic alias, which rumqttd resolves to the topic
            // an earlier publish of this connection set it with; that publish was checked
            // here (and a refused one set the alias to DENIED_TOPIC). Anything else with an
            // empty topic, rumqttd routes as is, and `#` matches it.
            Some("") => {
                let Some(alias) = alias.filter(|_| self.version == Some(5)) else {
                    return false;
                };
                match self.aliases.borrow().get(&alias) {
                    Some(Some(topic)) => topic.clone(),
                    Some(None) => return false,
                    // Never set: rumqttd refuses it; a retained one is not counted, so
                    // it is not let through.
                    None => return !publish.retain,
                }
            }
            Some(topic) => {
                if topic.len() > self.ctx.limits.topic_bytes {
                    limits::hit("topic_bytes");
                    return false;
                }
                if !principal.may_publish(topic) {
                    return false;
                }
                topic.to_owned()
            }
            None => return false,
        };
        match principal {
            Principal::Integration(token) if publish.retain => {
                self.admit_retained(token, &topic, publish.payload.is_empty())
            }
            _ => true,
        }
    }

    fn on_subscribe(&self, live: &Live, packet: Packet) -> Packet {
        let Packet::Subscribe(mut subscribe, props) = packet else {
            return packet;
        };
        let mut denied = Vec::new();
        let limits = &self.ctx.limits;
        for (index, filter) in subscribe.filters.iter_mut().enumerate() {
            let allowed = if filter.path.len() > limits.topic_bytes {
                limits::hit("topic_bytes");
                false
            } else if !live.principal.may_subscribe(&filter.path) {
                false
            } else if self.ctx.filters.add(
                &live.client_id,
                &filter.path,
                limits.filters_per_session,
            ) == Admit::Full
            {
                limits::hit("filters_per_session");
                false
            } else {
                true
            };
            if !allowed {
                metrics::counter!("plantd_mqtt_denied_subscriptions_total").increment(1);
                warn_throttled!(
                    "mqtt_subscription_refused",
                    client = live.principal.username(),
                    filter = %clip(&filter.path),
                    "subscription outside the client's topics or limits refused"
                );
                filter.path = VOID_FILTER.to_owned();
                denied.push(index);
            }
        }
        if !denied.is_empty() {
            self.denied_subscriptions
                .borrow_mut()
                .insert(subscribe.pkid, denied);
        }
        Packet::Subscribe(subscribe, props)
    }

    /// A refused filter was never subscribed (it went to rumqttd as [`VOID_FILTER`]), and
    /// rumqttd answers an UNSUBSCRIBE only for filters it holds: the client would wait for
    /// its UNSUBACK forever. Filters the session does not hold (refused, or never
    /// subscribed) are dropped from the packet; if none is left,
    /// it goes on as a SUBSCRIBE of the inert void filter with the same packet id, which
    /// rumqttd always acknowledges, and `write` turns that SUBACK into the UNSUBACK.
    fn on_unsubscribe(&self, live: &Live, packet: Packet) -> Packet {
        let Packet::Unsubscribe(mut unsubscribe, props) = packet else {
            return packet;
        };
        let count = unsubscribe.filters.len();
        unsubscribe
            .filters
            .retain(|f| self.ctx.filters.remove(&live.client_id, f));
        if !unsubscribe.filters.is_empty() {
            return Packet::Unsubscribe(unsubscribe, props);
        }
        let pkid = unsubscribe.pkid;
        self.void_unsubscribes.borrow_mut().insert(pkid, count);
        let void = Filter {
            path: VOID_FILTER.to_owned(),
            qos: QoS::AtMostOnce,
            nolocal: false,
            preserve_retain: false,
            retain_forward_rule: RetainForwardRule::Never,
        };
        Packet::Subscribe(
            Subscribe {
                pkid,
                filters: vec![void],
            },
            None,
        )
    }

    fn announce_connected(&self) {
        let Some(live) = &self.live else { return };
        self.announced.set(true);
        metrics::counter!("plantd_mqtt_connects_total").increment(1);
        match &live.principal {
            Principal::Device(id) => {
                metrics::gauge!("plantd_mqtt_connections", "kind" => "device").increment(1.0);
                if let Ok(device_id) = DeviceId::parse(id) {
                    self.ctx.connected.do_send(DeviceConnected {
                        device_id,
                        session: live.session,
                        protocol_version: self.version.unwrap_or(4),
                        // rumqttd 0.20 does not give the policy layer the peer's address.
                        client_address: None,
                        at: chrono::Utc::now(),
                    });
                }
            }
            Principal::Integration(_) => {
                metrics::gauge!("plantd_mqtt_connections", "kind" => "integration").increment(1.0);
            }
        }
    }
}

/// A topic as text; `None` for one that is not UTF-8 (which MQTT forbids: it is refused).
fn topic_str(topic: &[u8]) -> Option<&str> {
    std::str::from_utf8(topic).ok()
}

impl Policy {
    /// The next packet for the router: a held one once ingest resumed, else the next one
    /// from the client that back-pressure does not take.
    fn next_packet(&mut self, stream: &mut BytesMut, max_size: usize) -> Result<Packet, Error> {
        loop {
            if let Some(live) = &self.live {
                if live.kill.load(Ordering::Relaxed) || self.ctx.draining.load(Ordering::Relaxed) {
                    tracing::info!(
                        client = live.principal.username(),
                        "ending MQTT session on request"
                    );
                    return Err(Error::InvalidProtocol);
                }
            }
            if let Some(packet) = self.hold.release() {
                return Ok(self.tag(packet));
            }
            let packet = self.read_packet(stream, max_size)?;
            let Some(live) = self.live.clone() else {
                return Ok(packet);
            };
            if !matches!(live.principal, Principal::Device(_)) {
                return Ok(packet);
            }
            match self.hold.admit(live.principal.username(), packet) {
                Verdict::Pass(packet) => return Ok(self.tag(packet)),
                Verdict::Inject(packet) => return Ok(packet),
                Verdict::Taken => continue,
                Verdict::Overflow => return Err(Error::InvalidProtocol),
            }
        }
    }

    /// A device publish on its way to the router: its QoS 1 telemetry gets a receipt.
    fn tag(&self, packet: Packet) -> Packet {
        let Packet::Publish(publish, mut props) = packet else {
            return packet;
        };
        let aliases = self.aliases.borrow();
        let topic = match topic_str(&publish.topic) {
            Some("") => props
                .as_ref()
                .and_then(|p| p.topic_alias)
                .and_then(|a| aliases.get(&a).cloned().flatten()),
            Some(topic) => Some(topic.to_owned()),
            None => None,
        };
        if let Some(topic) = topic {
            self.acks.tag(&topic, &publish, &mut props);
        }
        Packet::Publish(publish, props)
    }

    /// Writes a packet in the client's protocol version.
    fn encode(&self, packet: Packet, write: &mut BytesMut) -> Result<usize, Error> {
        match self.version {
            Some(5) => V5.write(packet, write),
            _ => V4.write(packet, write),
        }
    }

    fn read_packet(&mut self, stream: &mut BytesMut, max_size: usize) -> Result<Packet, Error> {
        let version = match self.version {
            Some(v) => v,
            None => match sniff::connect_protocol_level(stream) {
                Ok(Some(level)) => {
                    let v = if level == 5 { 5 } else { 4 };
                    self.version = Some(v);
                    v
                }
                Ok(None) => return Err(Error::InsufficientBytes(1)),
                // Not a CONNECT: let the v4 codec report it.
                Err(()) => 4,
            },
        };
        let packet = match version {
            5 => V5.read_mut(stream, max_size),
            _ => V4.read_mut(stream, max_size),
        };
        let packet = match packet {
            Err(Error::PayloadSizeLimitExceeded(over)) => {
                metrics::counter!("plantd_mqtt_oversized_packets_total").increment(1);
                warn_throttled!(
                    "mqtt_packet_oversized",
                    client = self.username(),
                    over_by = over,
                    "MQTT packet over the size limit; closing the connection"
                );
                return Err(Error::PayloadSizeLimitExceeded(over));
            }
            other => other?,
        };
        if self.version == Some(5) && self.window.incoming(&packet).is_err() {
            limits::hit("receive_maximum");
            warn_throttled!(
                "mqtt_receive_maximum",
                client = self.username(),
                max = self.window.max(),
                "MQTT 5 client over its receive maximum; disconnecting"
            );
            return Err(Error::ReceiveMaximumExceeded);
        }
        match (&packet, self.live.clone()) {
            (Packet::Connect(..), None) if self.refusal.is_none() => self.on_connect(packet),
            (Packet::Connect(..), _) => Err(Error::InvalidProtocol),
            (Packet::Publish(..), Some(live)) => Ok(self.on_publish(&live, packet)),
            (Packet::Subscribe(..), Some(live)) => Ok(self.on_subscribe(&live, packet)),
            (Packet::Unsubscribe(..), Some(live)) => Ok(self.on_unsubscribe(&live, packet)),
            (_, Some(_)) => Ok(packet),
            (_, None) => Err(Error::InvalidProtocol),
        }
    }
}

/// The back-pressure layer's own traffic to a device: the SUBACK of the resume
/// subscription it sent for the client, and the resume ticks (QoS 0, as subscribed), none
/// of the device's business. An integration reading `#` or `plantd/#` gets the ticks as
/// ordinary messages: rumqttd forwards at the subscription's QoS, and a QoS 1 message
/// swallowed here would never be acknowledged (rumqttd then drops the connection).
///
/// An MQTT 5 device that accepts topic aliases gets messages by alias: the alias rumqttd
/// set with a message's topic is remembered in `aliases`, so a tick sent by alias alone is
/// still recognised (the client never sees the alias either way).
fn is_resume_traffic(packet: &Packet, aliases: &RefCell<HashMap<u16, Bytes>>) -> bool {
    match packet {
        Packet::SubAck(ack, _) => ack.pkid == RESUME_SUBSCRIBE_PKID,
        Packet::Publish(publish, props) => {
            let alias = props.as_ref().and_then(|p| p.topic_alias);
            match alias {
                Some(alias) if publish.topic.is_empty() => aliases
                    .borrow()
                    .get(&alias)
                    .is_some_and(|t| t == RESUME_TOPIC.as_bytes()),
                Some(alias) => {
                    aliases.borrow_mut().insert(alias, publish.topic.clone());
                    publish.topic == RESUME_TOPIC.as_bytes()
                }
                None => publish.topic == RESUME_TOPIC.as_bytes(),
            }
        }
        _ => false,
    }
}

/// The properties of an MQTT 5 CONNECT that sent none (every one of them absent).
fn no_connect_properties() -> ConnectProperties {
    ConnectProperties {
        session_expiry_interval: None,
        receive_maximum: None,
        max_packet_size: None,
        topic_alias_max: None,
        request_response_info: None,
        request_problem_info: None,
        user_properties: Vec::new(),
        authentication_method: None,
        authentication_data: None,
    }
}

impl Protocol for Policy {
    fn read_mut(&mut self, stream: &mut BytesMut, max_size: usize) -> Result<Packet, Error> {
        self.max_packet.set(max_size);
        self.next_packet(stream, max_size)
    }

    fn waker(&self) -> Option<Arc<tokio::sync::Notify>> {
        self.acks.waker()
    }

    /// The held PUBACKs whose telemetry is committed now. A session that may have lost a
    /// message it would acknowledge ends here (`Acks::lost`).
    fn flush(&self, write: &mut BytesMut) -> Result<usize, Error> {
        if let Some(reason) = self.acks.lost() {
            tracing::warn!(
                reason,
                client = self.username(),
                "ending a device session that may have lost a message (the broker's log \
                 skipped it, or telemetry could not store it); it sends again what was not \
                 acknowledged"
            );
            metrics::counter!("plantd_mqtt_unacknowledged_session_ends_total", "reason" => reason)
                .increment(1);
            return Err(Error::InvalidProtocol);
        }
        let mut written = 0;
        for ack in self.acks.due() {
            self.window.outgoing(&ack);
            written += self.encode(ack, write)?;
        }
        Ok(written)
    }

    /// The TLS upgrade's peer identity: the device ids a verified client certificate names,
    /// separated by `,` (which no device id holds).
    fn with_peer_identity(mut self, identity: Option<String>) -> Self {
        self.certificate_names = identity.map(|names| {
            names
                .split(',')
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect()
        });
        self
    }

    fn write(&self, mut packet: Packet, write: &mut BytesMut) -> Result<usize, Error> {
        let device = self
            .live
            .as_ref()
            .is_some_and(|l| matches!(l.principal, Principal::Device(_)));
        let mut written = 0;
        if device {
            written += self.flush(write)?;
            if is_resume_traffic(&packet, &self.server_aliases) {
                return Ok(written);
            }
            match self.acks.outgoing(packet) {
                Some(p) => packet = p,
                None => return Ok(written),
            }
        }
        if let Packet::SubAck(SubAck { pkid, .. }, _) = &packet {
            let pkid = *pkid;
            if let Some(count) = self.void_unsubscribes.borrow_mut().remove(&pkid) {
                // MQTT 5 wants a reason per filter; nothing to remove is a success.
                let reasons = vec![UnsubAckReason::Success; count];
                packet = Packet::UnsubAck(UnsubAck { pkid, reasons }, None);
            }
        }
        match &mut packet {
            Packet::ConnAck(ack, props) => {
                if let Some(code) = self.refusal {
                    ack.code = code;
                    ack.session_present = false;
                } else if ack.code == ConnectReturnCode::Success && !self.announced.get() {
                    self.announce_connected();
                    // No session was present (a clean start, or an MQTT 5 session that
                    // expired): the filters counted for this client id are gone with it.
                    if !ack.session_present {
                        if let Some(live) = &self.live {
                            self.ctx.filters.begin(&live.client_id, live.session, true);
                        }
                    }
                    // MQTT 5 tells a client the id it was given and the keep-alive it is
                    // held to (MQTT 3.1.1 has no way to say either).
                    if let Some(live) = self.live.as_ref().filter(|_| self.version == Some(5)) {
                        if let Some(id) = live.assigned_client_id.clone() {
                            props
                                .get_or_insert_with(Default::default)
                                .assigned_client_identifier = Some(id);
                        }
                        if let Some(keep_alive) = live.server_keep_alive {
                            props.get_or_insert_with(Default::default).server_keep_alive =
                                Some(keep_alive);
                        }
                        // The QoS 1 and 2 publishes it may have unacknowledged.
                        props.get_or_insert_with(Default::default).receive_max =
                            Some(self.window.max());
                        // The largest packet plantd reads; a bigger one ends the connection.
                        if let Ok(max) = u32::try_from(self.max_packet.get()) {
                            if max > 0 {
                                props.get_or_insert_with(Default::default).max_packet_size =
                                    Some(max);
                            }
                        }
                    }
                }
            }
            Packet::SubAck(ack, _) => {
                if let Some(denied) = self.denied_subscriptions.borrow_mut().remove(&ack.pkid) {
                    let refused = if self.version == Some(5) {
                        SubscribeReasonCode::NotAuthorized
                    } else {
                        SubscribeReasonCode::Failure
                    };
                    for index in denied {
                        if let Some(code) = ack.return_codes.get_mut(index) {
                            *code = refused;
                        }
                    }
                }
            }
            // MQTT 3.1.1 has no server DISCONNECT (rumqttd sends one with a reason to say
            // why it closes a connection): a 3.1.1 client just sees the socket close.
            Packet::Disconnect(..) if self.version != Some(5) => return Ok(0),
            // rumqttd forwards a message with its publisher's MQTT 5 properties, and its v4
            // codec panics on them, ending the subscriber's connection: MQTT 3.1.1 has none.
            Packet::Publish(_, props) if self.version != Some(5) => *props = None,
            Packet::Publish(_, props) => strip_receipt(props),
            _ => {}
        }
        self.window.outgoing(&packet);
        Ok(written + self.encode(packet, write)?)
    }
}

impl Drop for Policy {
    fn drop(&mut self) {
        let Some(live) = self.live.take() else { return };
        self.ctx
            .sessions
            .unregister(live.principal.username(), live.session);
        self.ctx
            .filters
            .end(&live.client_id, live.session, live.clean_session);
        if !self.announced.get() {
            return;
        }
        match &live.principal {
            Principal::Device(id) => {
                metrics::gauge!("plantd_mqtt_connections", "kind" => "device").decrement(1.0);
                if let Ok(device_id) = DeviceId::parse(id) {
                    self.ctx.disconnected.do_send(DeviceDisconnected {
                        device_id,
                        session: live.session,
                        at: chrono::Utc::now(),
                    });
                }
            }
            Principal::Integration(_) => {
                metrics::gauge!("plantd_mqtt_connections", "kind" => "integration").decrement(1.0);
            }
        }
    }
}

#[cfg(test)]
mod tests;
