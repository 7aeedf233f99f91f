//! The broker's listeners: MQTT over TCP (always), over TLS (when a certificate is set)
//! and over WebSocket at `/mqtt` (secure when a certificate is set), each a rumqttd
//! `Server` with plantd's `Policy` as its protocol, so every listener speaks MQTT 3.1.1
//! and 5 and passes the same policy layer. They share one router, one set of pending
//! wills and one TLS acceptor ([`TlsAcceptorCell`]).
//!
//! Touches only rumqttd's server API; counts handshakes that never became a session
//! (`plantd_mqtt_handshake_failures_total{listener,reason}`).

use std::net::SocketAddr;
use std::sync::Arc;

use plantd_contracts::warn_throttled;
use rumqttd::{HandshakeFailure, HandshakeObserver, LinkType, Server, ServerSettings};

use crate::policy::Policy;
use crate::settings::BrokerSettings;
use crate::tls::TlsAcceptorCell;

/// The path of the WebSocket listener, as Mosquitto's and EMQX's examples use.
pub const WS_PATH: &str = "/mqtt";

/// What a listener is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tcp,
    Tls,
    Ws,
    Wss,
}

impl Kind {
    /// The `listener` label of its metrics.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Tcp => "tcp",
            Kind::Tls => "tls",
            Kind::Ws => "ws",
            Kind::Wss => "wss",
        }
    }

    /// What the Settings page says of it.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Tcp => "MQTT 3.1.1 and 5 over TCP",
            Kind::Tls => "MQTT 3.1.1 and 5 over TLS",
            Kind::Ws => "MQTT 3.1.1 and 5 over WebSocket (path /mqtt)",
            Kind::Wss => "MQTT 3.1.1 and 5 over secure WebSocket (path /mqtt)",
        }
    }

    fn secure(self) -> bool {
        matches!(self, Kind::Tls | Kind::Wss)
    }
}

/// The listeners these settings open, in order: TCP, then TLS, then WebSocket.
pub fn planned(settings: &BrokerSettings) -> Vec<(Kind, SocketAddr)> {
    let mut listeners = vec![(Kind::Tcp, settings.listen)];
    let tls = settings.tls.is_some();
    if let Some(addr) = settings.tls_listen.filter(|_| tls) {
        listeners.push((Kind::Tls, addr));
    }
    if let Some(addr) = settings.ws_listen {
        listeners.push((if tls { Kind::Wss } else { Kind::Ws }, addr));
    }
    listeners
}

/// Counts a failed handshake on `listener`.
fn observer(listener: &'static str) -> HandshakeObserver {
    Arc::new(move |failure| {
        let reason = match failure {
            HandshakeFailure::Timeout => "timeout",
            HandshakeFailure::Upgrade => "tls",
            HandshakeFailure::WebSocket => "websocket",
            HandshakeFailure::Connect => "connect",
        };
        metrics::counter!(
            "plantd_mqtt_handshake_failures_total",
            "listener" => listener,
            "reason" => reason
        )
        .increment(1);
        warn_throttled!(
            "mqtt_handshake_failed",
            listener,
            reason,
            "MQTT connection closed before its session"
        );
    })
}

/// The servers of `planned` listeners, ready to start on the broker's runtime, made from
/// `template` (a server of the broker's router, never started itself): they share its
/// router and its pending wills. `tls` must be set when a secure listener is planned.
pub fn servers(
    planned: &[(Kind, SocketAddr)],
    template: &Server<Policy>,
    base: &ServerSettings,
    policy: &Policy,
    tls: Option<&Arc<TlsAcceptorCell>>,
) -> Vec<(Kind, Server<Policy>, LinkType)> {
    planned
        .iter()
        .map(|(kind, addr)| {
            let settings = ServerSettings {
                name: kind.label().to_owned(),
                listen: *addr,
                ..base.clone()
            };
            let mut server = template
                .sibling(settings, policy.clone())
                .with_handshake_observer(observer(kind.label()));
            if let Some(tls) = tls.filter(|_| kind.secure()) {
                server = server.with_upgrade(tls.upgrade());
            }
            let link = match kind {
                Kind::Ws | Kind::Wss => {
                    server = server.with_websocket_path(WS_PATH);
                    LinkType::Websocket
                }
                Kind::Tcp | Kind::Tls => LinkType::Remote,
            };
            (*kind, server, link)
        })
        .collect()
}
