//! Starting the embedded broker: rumqttd's router, its listeners (TCP, TLS, WebSocket; each
//! MQTT 3.1.1 and 5 behind the policy layer: `listeners.rs`), the gateway link, and the
//! event publisher.

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use actix::prelude::*;
use plantd_contracts::devices::{
    AuthenticateDevice, DeviceConnected, DeviceDisconnected, DeviceMessage, DeviceTraffic,
};
use plantd_contracts::identity::AuthenticateToken;
use plantd_contracts::telemetry::{GetIngestBacklog, IngestPayloads};
use rumqttd::local::LinkBuilder;
use rumqttd::protocol::{Disconnect, DisconnectReasonCode, Packet};
use rumqttd::{ConnectionSettings, Router, RouterConfig, SegmentConfig, Server, ServerSettings};

use crate::auth::Authenticator;
use crate::limits::{Filters, Limits, Retained};
use crate::listeners;
use crate::pacer::Pacer;
use crate::policy::{Policy, PolicyContext};
use crate::pressure::Pressure;
use crate::publisher::{EventPublisher, PublishDrainMarker};
use crate::sessions::Sessions;
use crate::tls::TlsAcceptorCell;
use crate::{gateway, BrokerSettings};

/// Bytes of device messages queued ahead of telemetry (broker log, gateway, telemetry's
/// mailbox) above which devices are paused: about 25,000 small samples.
const MAX_QUEUED_BYTES: usize = 2 * 1024 * 1024;

/// The recipients the broker talks to, wired in by the composition root.
pub struct BrokerWiring {
    pub authenticate_device: Recipient<AuthenticateDevice>,
    pub authenticate_token: Recipient<AuthenticateToken>,
    pub device_connected: Recipient<DeviceConnected>,
    pub device_disconnected: Recipient<DeviceDisconnected>,
    /// Per-device message counts, about once a second.
    pub device_traffic: Recipient<DeviceTraffic>,
    pub telemetry: Recipient<IngestPayloads>,
    /// Telemetry's backlog, for back-pressure.
    pub telemetry_backlog: Recipient<GetIngestBacklog>,
    /// Shadow reports and command results.
    pub device_control: Recipient<DeviceMessage>,
    /// Firmware progress reports.
    pub firmware_status: Recipient<DeviceMessage>,
}

pub struct BrokerHandle {
    pub publisher: Addr<EventPublisher>,
    ctx: Arc<PolicyContext>,
    drained: Arc<AtomicU64>,
    tls: Option<Arc<TlsAcceptorCell>>,
}

impl BrokerHandle {
    /// Reads the TLS certificate and key again (SIGHUP); new connections use them, open ones
    /// keep theirs. A failure keeps the old ones (logged, counted). `None`: no TLS.
    pub fn reload_tls(&self) -> Option<Result<(), String>> {
        self.tls.as_ref().map(|tls| tls.reload())
    }

    /// The TLS certificate in use, to reload from another task (SIGHUP); `None`: no TLS.
    pub fn tls(&self) -> Option<Arc<TlsAcceptorCell>> {
        self.tls.clone()
    }

    /// Refuses new logins, ends live sessions at their next packet (so nothing more is
    /// acknowledged), then waits until the gateway has handed on every message acknowledged
    /// before: it publishes a marker behind them and waits for the gateway to see it.
    pub async fn drain(&self, timeout: Duration) -> Result<(), String> {
        self.ctx.draining.store(true, Ordering::SeqCst);
        // A packet read just before the flag was set may still be on its way to the router.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let marker = self
            .publisher
            .send(PublishDrainMarker)
            .await
            .map_err(|e| e.to_string())??;
        let deadline = Instant::now() + timeout;
        while self.drained.load(Ordering::SeqCst) < marker {
            if Instant::now() > deadline {
                return Err(format!(
                    "the broker gateway did not drain within {timeout:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }
}

/// Starts the broker; must run inside the actix system (the publisher is an actor).
pub fn start(settings: &BrokerSettings, wiring: BrokerWiring) -> Result<BrokerHandle, String> {
    // Fail start-up with a clear line rather than a dead listener thread.
    let planned = listeners::planned(settings);
    for (kind, addr) in &planned {
        std::net::TcpListener::bind(addr).map_err(|e| {
            format!(
                "cannot listen for {} on {addr}: {e}",
                kind.describe().replace("MQTT 3.1.1 and 5", "MQTT")
            )
        })?;
    }
    let tls = settings
        .tls
        .clone()
        .map(TlsAcceptorCell::load)
        .transpose()?;

    let gateway_log = SegmentConfig {
        max_segment_size: settings.gateway_segment_size,
        max_segment_count: settings.gateway_segment_count,
    };
    let router = Router::new(
        0,
        RouterConfig {
            max_connections: settings.max_connections,
            max_outgoing_packet_count: settings.max_outgoing_packets,
            max_segment_size: settings.segment_size,
            max_segment_count: settings.segment_count,
            custom_segment: Some(
                gateway::FILTERS
                    .iter()
                    .map(|f| (f.to_string(), gateway_log.clone()))
                    .collect(),
            ),
            ..RouterConfig::default()
        },
    );
    let router_tx = router.spawn();

    let ctx = Arc::new(PolicyContext {
        auth: Authenticator {
            devices: wiring.authenticate_device,
            tokens: wiring.authenticate_token,
            arbiter: Arbiter::current(),
        },
        connected: wiring.device_connected,
        disconnected: wiring.device_disconnected,
        sessions: Sessions::new(u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(1)),
        stamp: hex::encode(rand::random::<[u8; 16]>()),
        draining: AtomicBool::new(false),
        limits: Limits::from(settings),
        filters: Filters::default(),
        retained: Retained::default(),
    });

    let mut connections = ConnectionSettings {
        connection_timeout_ms: settings.connect_timeout_ms,
        max_payload_size: settings.max_packet_bytes,
        max_inflight_count: settings.read_batch,
        auth: None,
        external_auth: None,
        // rumqttd drops publishes to topics nobody subscribes to (like a plain broker); a
        // dynamic filter per such topic would only cost memory.
        dynamic_filters: false,
    };
    let stamp = ctx.stamp.clone();
    connections.set_auth_handler(
        move |_client_id: String, _username: String, password: String| {
            let stamped = password == stamp;
            async move { stamped }
        },
    );
    let server_settings = ServerSettings {
        name: "tcp".to_owned(),
        listen: settings.listen,
        tls: None,
        next_connection_delay_ms: 0,
        connections,
    };

    let server_alive = Arc::new(AtomicBool::new(true));
    let alive = server_alive.clone();
    // Pause devices well before the gateway's log could rotate past the gateway (at half
    // of what the log keeps for certain: all its segments but the one being written), and
    // before much is queued ahead of telemetry (the ack → commit window grows with it).
    let kept =
        settings.gateway_segment_size * settings.gateway_segment_count.saturating_sub(1).max(1);
    let pressure = Arc::new(
        Pressure::new(
            (kept / 2).min(MAX_QUEUED_BYTES) as u64,
            settings.backpressure_samples as u64,
        )
        .with_device_rate(settings.device_max_msgs_per_s),
    );
    let watermarks = settings
        .puback_after_commit
        .then(|| Arc::new(crate::acks::Watermarks::default()));
    let mut policy = Policy::new(ctx.clone(), pressure.clone());
    if let Some(watermarks) = &watermarks {
        policy = policy.with_acks_after_commit(watermarks.clone());
    }
    let tx = router_tx.clone();
    let acceptor = tls.clone();
    thread::Builder::new()
        .name("mqtt-server".to_owned())
        .spawn(move || {
            // One worker, as rumqttd runs it (measured: two workers cost 10 MiB more and
            // connected no faster), but a multi-thread runtime: a login waiting for its
            // answer does so in `block_in_place` (`auth.rs`), and tokio moves the other
            // connections to a new thread meanwhile (issue 14.10).
            match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                // Logins waiting at once, each holding a thread, before the next one
                // stalls the others again (for at most its 3 s answer timeout).
                .max_blocking_threads(32)
                .thread_name("mqtt-conn")
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(async move {
                    let template = Server::new(server_settings.clone(), tx, policy.clone());
                    let servers = listeners::servers(
                        &planned,
                        &template,
                        &server_settings,
                        &policy,
                        acceptor.as_ref(),
                    );
                    let mut running = Vec::new();
                    for (kind, mut server, link) in servers {
                        running.push(tokio::spawn(async move {
                            if let Err(e) = server.start(link).await {
                                tracing::error!(
                                    error = ?e,
                                    listener = kind.label(),
                                    "MQTT listener stopped"
                                );
                            }
                        }));
                    }
                    // The broker is down when its TCP listener (the first) stops.
                    if let Some(tcp) = running.into_iter().next() {
                        let _ = tcp.await;
                    }
                }),
                Err(e) => tracing::error!(error = %e, "cannot start the MQTT listener's runtime"),
            }
            alive.store(false, Ordering::Relaxed);
        })
        .map_err(|e| format!("cannot start the MQTT listener thread: {e}"))?;

    let (mut link_tx, link_rx, _ack) = LinkBuilder::new("plantd.gateway", router_tx.clone())
        .build()
        .map_err(|e| format!("cannot open the broker's gateway link: {e}"))?;
    for filter in gateway::FILTERS {
        link_tx
            .subscribe(*filter)
            .map_err(|e| format!("cannot subscribe the gateway to {filter}: {e}"))?;
    }
    let gateway_alive = Arc::new(AtomicBool::new(true));
    let alive = gateway_alive.clone();
    let drained = Arc::new(AtomicU64::new(0));
    let seen = drained.clone();
    let pacer = Pacer::new(
        pressure.clone(),
        wiring.telemetry_backlog,
        LinkBuilder::new("plantd.pacer", router_tx.clone())
            .build()
            .map(|(tx, rx, _)| (tx, rx))
            .map_err(|e| format!("cannot open the broker's pacer link: {e}"))?,
    )
    .with_watermarks(watermarks);
    let routes = gateway::Routes {
        telemetry: wiring.telemetry,
        control: wiring.device_control,
        firmware: wiring.firmware_status,
    };
    thread::Builder::new()
        .name("mqtt-gateway".to_owned())
        .spawn(move || gateway::run(link_rx, routes, pacer, alive, seen))
        .map_err(|e| format!("cannot start the MQTT gateway thread: {e}"))?;

    // Closes the live connection of a client id now: a local link with the same client id
    // takes it over (MQTT's rule: the newer connection wins), and rumqttd drops the older
    // one whether or not it is sending. The local link, a clean session, then sends
    // DISCONNECT, so nothing of it stays in the router. A persistent session of the cut
    // connection is not kept, and its will is not published (the DISCONNECT clears the
    // client id's will). (rumqttd's router event type is private: a closure over its sender.)
    let takeover_tx = router_tx.clone();
    let takeover = Box::new(move |client_id: &str| {
        let (mut link, _rx, _ack) = LinkBuilder::new(client_id, takeover_tx.clone())
            .clean_session(true)
            .build()
            .map_err(|e| e.to_string())?;
        let disconnect = Disconnect {
            reason_code: DisconnectReasonCode::NormalDisconnection,
        };
        // `send` only queues and notifies the router; it never waits.
        futures::executor::block_on(link.send(Packet::Disconnect(disconnect, None)))
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let traffic = wiring.device_traffic;
    let publisher = EventPublisher {
        takeover,
        traffic,
        link: link_tx,
        ctx: ctx.clone(),
        server_alive,
        gateway_alive,
        next_pkid: AtomicU16::new(1),
        next_marker: 1,
        pressure,
    };
    // Its own thread: a backed-up router channel blocks its sends, and must not block the
    // modules (logins, API) on the main arbiter.
    let publisher = EventPublisher::start_in_arbiter(&Arbiter::new().handle(), |_| publisher);
    for (kind, addr) in listeners::planned(settings) {
        tracing::info!(listen = %addr, listener = kind.label(), "MQTT broker listening ({})", kind.describe());
    }
    Ok(BrokerHandle {
        publisher,
        ctx,
        drained,
        tls,
    })
}
