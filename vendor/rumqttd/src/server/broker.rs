use crate::link::alerts::{self};
use crate::link::console::ConsoleLink;
use crate::link::network::{self, Network, N};
use crate::link::remote::{self, mqtt_connect, RemoteLink};
use crate::link::{bridge, timer};
use crate::local::LinkBuilder;
use crate::protocol::v4::V4;
use crate::protocol::v5::V5;
use crate::protocol::{Packet, Protocol};
#[cfg(any(feature = "use-rustls", feature = "use-native-tls"))]
use crate::server::tls::{self, TLSAcceptor};
use crate::{meters, ConnectionSettings, Meter};
use flume::{RecvError, SendError, Sender};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tracing::{debug, error, field, info, warn, Instrument};
use uuid::Uuid;

#[cfg(feature = "websocket")]
use async_tungstenite::tokio::accept_hdr_async;
#[cfg(feature = "websocket")]
use async_tungstenite::tungstenite::handshake::server::{
    Callback, ErrorResponse, Request, Response,
};
#[cfg(feature = "websocket")]
use async_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
#[cfg(feature = "websocket")]
use ws_stream_tungstenite::WsStream;

use metrics::gauge;
use metrics_exporter_prometheus::PrometheusBuilder;
use std::time::Duration;
use std::{io, thread};

use crate::link::console;
use crate::link::local::{self, LinkRx, LinkTx};
use crate::router::{Event, Router};
use crate::{Config, ConnectionId, ServerSettings};

use tokio::net::{TcpListener, TcpStream};
use tokio::time::error::Elapsed;
use tokio::{task, time};

#[derive(Debug, thiserror::Error)]
#[error("Acceptor error")]
pub enum Error {
    #[error("I/O {0}")]
    Io(#[from] io::Error),
    #[error("Timeout")]
    Timeout(#[from] Elapsed),
    #[error("Channel recv error")]
    Recv(#[from] RecvError),
    #[error("Channel send error")]
    Send(#[from] SendError<(ConnectionId, Event)>),
    #[cfg(any(feature = "use-rustls", feature = "use-native-tls"))]
    #[error("Certs error = {0}")]
    Certs(#[from] tls::Error),
    #[error("Accept error = {0}")]
    Accept(String),
    #[error("Remote error = {0}")]
    Remote(#[from] remote::Error),
    #[error("Invalid configuration")]
    Config(String),
}

pub struct Broker {
    config: Arc<Config>,
    router_tx: Sender<(ConnectionId, Event)>,
}

impl Broker {
    pub fn new(config: Config) -> Broker {
        let config = Arc::new(config);
        let router_config = config.router.clone();
        let router: Router = Router::new(config.id, router_config);

        // Setup cluster if cluster settings are configured.
        match config.cluster.clone() {
            Some(_cluster_config) => {
                // let node_id = cluster_config.node_id;
                // let listen = cluster_config.listen;
                // let seniors = cluster_config.seniors;
                // let mut cluster = RemoteCluster::new(node_id, &listen, seniors);
                // Broker::setup_remote_cluster(&mut router, node_id, &mut cluster);

                // Start router first and then cluster in the background
                let router_tx = router.spawn();
                // cluster.spawn();
                Broker { config, router_tx }
            }
            None => {
                let router_tx = router.spawn();
                Broker { config, router_tx }
            }
        }
    }

    // pub fn new_local_cluster(
    //     config: Config,
    //     node_id: NodeId,
    //     seniors: Vec<(NodeId, Sender<ReplicationData>)>,
    // ) -> (Broker, Sender<ReplicationData>) {
    //     let config = Arc::new(config);
    //     let router_config = config.router.clone();

    //     let mut router = Router::new(config.id, router_config);
    //     let (mut cluster, tx) = LocalCluster::new(node_id, seniors);
    //     Broker::setup_local_cluster(&mut router, node_id, &mut cluster);

    //     // Start router first and then cluster in the background
    //     let router_tx = router.spawn();
    //     cluster.spawn();

    //     (Broker { config, router_tx }, tx)
    // }

    // fn setup_remote_cluster(router: &mut Router, node_id: NodeId, cluster: &mut RemoteCluster) {
    //     // Retrieve pre-configured list of router <-> replica link from router
    //     // and add the link to cluster
    //     let nodes: Vec<NodeId> = (0..MAX_NODES).filter(|v| *v != node_id).collect();
    //     for node_id in nodes {
    //         let link = router.get_replica_handle(node_id);
    //         cluster.add_replica_router_handle(node_id, link);
    //     }
    // }

    // fn setup_local_cluster(router: &mut Router, node_id: NodeId, cluster: &mut LocalCluster) {
    //     // Retrieve pre-configured list of router <-> replica link from router
    //     // and add the link to cluster
    //     let nodes: Vec<NodeId> = (0..MAX_NODES).filter(|v| *v != node_id).collect();
    //     for node_id in nodes {
    //         let link = router.get_replica_handle(node_id);
    //         cluster.add_replica_router_handle(node_id, link);
    //     }
    // }

    // Link to get meters
    pub fn meters(&self) -> Result<meters::MetersLink, meters::LinkError> {
        let link = meters::MetersLink::new(self.router_tx.clone())?;
        Ok(link)
    }

    // Link to get alerts
    pub fn alerts(&self) -> Result<alerts::AlertsLink, alerts::LinkError> {
        let link = alerts::AlertsLink::new(self.router_tx.clone())?;
        Ok(link)
    }

    pub fn link(&self, client_id: &str) -> Result<(LinkTx, LinkRx), local::LinkError> {
        // Register this connection with the router. Router replies with ack which if ok will
        // start the link. Router can sometimes reject the connection (ex. max connection limit).
        let (link_tx, link_rx, _ack) =
            LinkBuilder::new(client_id, self.router_tx.clone()).build()?;
        Ok((link_tx, link_rx))
    }

    #[tracing::instrument(skip(self))]
    pub fn start(&mut self) -> Result<(), Error> {
        if self.config.v4.is_none()
            && self.config.v5.is_none()
            && (cfg!(not(feature = "websocket")) || self.config.ws.is_none())
        {
            return Err(Error::Config(
                "Atleast one server config must be specified, \
                consider adding either of [v4.x]/[v5.x] or [ws.x] (if enabled) in config file."
                    .to_string(),
            ));
        }

        // we don't know which servers (v4/v5/ws) user will spawn
        // so we collect handles for all of the spawned servers
        let mut server_thread_handles = Vec::new();

        if let Some(metrics_config) = self.config.metrics.clone() {
            let timer_thread = thread::Builder::new().name("timer".to_owned());
            let router_tx = self.router_tx.clone();
            timer_thread.spawn(move || {
                let mut runtime = tokio::runtime::Builder::new_current_thread();
                let runtime = runtime.enable_all().build().unwrap();

                runtime.block_on(async move {
                    timer::start(metrics_config, router_tx).await;
                });
            })?;
        }

        // Spawn bridge in a separate thread.
        if let Some(bridge_config) = self.config.bridge.clone() {
            let bridge_thread = thread::Builder::new().name(bridge_config.name.clone());
            let router_tx = self.router_tx.clone();
            bridge_thread.spawn(move || {
                let mut runtime = tokio::runtime::Builder::new_current_thread();
                let runtime = runtime.enable_all().build().unwrap();

                runtime.block_on(async move {
                    if let Err(e) = bridge::start(bridge_config, router_tx, V4).await {
                        error!(error=?e, "Bridge Link error");
                    };
                });
            })?;
        }

        // Spawn servers in a separate thread.
        if let Some(v4_config) = &self.config.v4 {
            for (_, config) in v4_config.clone() {
                let server_thread = thread::Builder::new().name(config.name.clone());
                let mut server = Server::new(config, self.router_tx.clone(), V4);
                let handle = server_thread.spawn(move || {
                    let mut runtime = tokio::runtime::Builder::new_current_thread();
                    let runtime = runtime.enable_all().build().unwrap();

                    runtime.block_on(async {
                        if let Err(e) = server.start(LinkType::Remote).await {
                            error!(error=?e, "Server error - V4");
                        }
                    });
                })?;
                server_thread_handles.push(handle)
            }
        }

        if let Some(v5_config) = &self.config.v5 {
            for (_, config) in v5_config.clone() {
                let server_thread = thread::Builder::new().name(config.name.clone());
                let mut server = Server::new(config, self.router_tx.clone(), V5);
                let handle = server_thread.spawn(move || {
                    let mut runtime = tokio::runtime::Builder::new_current_thread();
                    let runtime = runtime.enable_all().build().unwrap();

                    runtime.block_on(async {
                        if let Err(e) = server.start(LinkType::Remote).await {
                            error!(error=?e, "Server error - V5");
                        }
                    });
                })?;
                server_thread_handles.push(handle)
            }
        }

        #[cfg(not(feature = "websocket"))]
        if self.config.ws.is_some() {
            warn!("websocket feature is disabled, [ws] config will be ignored.");
        }

        #[cfg(feature = "websocket")]
        if let Some(ws_config) = &self.config.ws {
            for (_, config) in ws_config.clone() {
                let server_thread = thread::Builder::new().name(config.name.clone());
                //TODO: Add support for V5 procotol with websockets. Registered in config or on ServerSettings
                let mut server = Server::new(config, self.router_tx.clone(), V4);
                let handle = server_thread.spawn(move || {
                    let mut runtime = tokio::runtime::Builder::new_current_thread();
                    let runtime = runtime.enable_all().build().unwrap();

                    runtime.block_on(async {
                        if let Err(e) = server.start(LinkType::Websocket).await {
                            error!(error=?e, "Server error - WS");
                        }
                    });
                })?;
                server_thread_handles.push(handle)
            }
        }

        if let Some(prometheus_setting) = &self.config.prometheus {
            let timeout = prometheus_setting.interval;
            // If port is specified use it instead of listen.
            // NOTE: This means listen is ignored when `port` is specified.
            // `port` will be removed in future release in favour of `listen`
            let addr = {
                #[allow(deprecated)]
                match prometheus_setting.port {
                    Some(port) => SocketAddr::new("127.0.0.1".parse().unwrap(), port),
                    None => prometheus_setting.listen.unwrap_or(SocketAddr::new(
                        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
                        9042,
                    )),
                }
            };
            let metrics_thread = thread::Builder::new().name("Metrics".to_owned());
            let meter_link = self.meters().unwrap();
            metrics_thread.spawn(move || {
                let builder = PrometheusBuilder::new().with_http_listener(addr);
                builder.install().unwrap();

                let total_publishes = gauge!("metrics.router.total_publishes");
                let total_connections = gauge!("metrics.router.total_connections");
                let failed_publishes = gauge!("metrics.router.failed_publishes");
                loop {
                    if let Ok(metrics) = meter_link.recv() {
                        for m in metrics {
                            match m {
                                Meter::Router(_, ref r) => {
                                    total_connections.set(r.total_connections as f64);
                                    total_publishes.set(r.total_publishes as f64);
                                    failed_publishes.set(r.failed_publishes as f64);
                                }
                                _ => continue,
                            }
                        }
                    }

                    std::thread::sleep(Duration::from_secs(timeout));
                }
            })?;
        }

        if let Some(console) = self.config.console.clone() {
            let console_link = ConsoleLink::new(console, self.router_tx.clone());

            let console_link = Arc::new(console_link);
            let console_thread = thread::Builder::new().name("Console".to_string());
            console_thread.spawn(move || {
                let mut runtime = tokio::runtime::Builder::new_current_thread();
                let runtime = runtime.enable_all().build().unwrap();
                runtime.block_on(console::start(console_link));
            })?;
        }

        // in ideal case, where server doesn't crash, join() will never resolve
        // we still try to join threads so that we don't return from function
        // unless everything crashes.
        server_thread_handles.into_iter().for_each(|handle| {
            // join() might panic in case the thread panics
            // we just ignore it
            let _ = handle.join();
        });

        Ok(())
    }
}

#[derive(Copy, Clone)]
pub enum LinkType {
    #[cfg(feature = "websocket")]
    Websocket,
    Remote,
}

#[derive(PartialEq)]
enum AwaitingWill {
    Cancel,
    Fire,
}

/// plantd patch: what a stream upgrade (TLS, done by the embedder) hands back: the
/// upgraded stream, the tenant id (as rumqttd's own TLS gives it) and the peer's identity
/// (e.g. from a client certificate), which is given to the connection's `Protocol`.
pub struct Upgraded {
    pub stream: Box<dyn N>,
    pub tenant_id: Option<String>,
    pub peer_identity: Option<String>,
}

/// plantd patch: turns an accepted TCP stream into the stream MQTT (or the WebSocket
/// handshake) is read from. Called in the connection's own task, under its connect deadline.
pub type StreamUpgrade = Arc<
    dyn Fn(TcpStream) -> Pin<Box<dyn Future<Output = io::Result<Upgraded>> + Send>>
        + Send
        + Sync,
>;

/// plantd patch: why a new connection never became an MQTT session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeFailure {
    /// TLS, WebSocket and CONNECT together took longer than `connection_timeout_ms`.
    Timeout,
    /// The stream upgrade (TLS) failed.
    Upgrade,
    /// The WebSocket handshake failed or asked for another path.
    WebSocket,
    /// The first packet was not a valid CONNECT, or the socket failed before it.
    Connect,
}

/// plantd patch: told of each [`HandshakeFailure`] (to count them).
pub type HandshakeObserver = Arc<dyn Fn(HandshakeFailure) + Send + Sync>;

pub struct Server<P> {
    config: ServerSettings,
    router_tx: Sender<(ConnectionId, Event)>,
    protocol: P,
    awaiting_will_handler: Arc<Mutex<HashMap<String, Sender<AwaitingWill>>>>,
    // plantd patch: an embedder's stream upgrade, a failure observer and the one path a
    // WebSocket listener answers on.
    upgrade: Option<StreamUpgrade>,
    observer: Option<HandshakeObserver>,
    ws_path: Option<Arc<str>>,
}

impl<P: Protocol + Clone + Send + 'static> Server<P> {
    pub fn new(
        config: ServerSettings,
        router_tx: Sender<(ConnectionId, Event)>,
        protocol: P,
    ) -> Server<P> {
        Server {
            config,
            router_tx,
            protocol,
            awaiting_will_handler: Arc::new(Mutex::new(HashMap::default())),
            upgrade: None,
            observer: None,
            ws_path: None,
        }
    }

    /// plantd patch: another listener of the same broker that shares this one's pending
    /// wills (a client reconnecting through another listener cancels or fires its will).
    pub fn sibling<Q: Protocol + Clone + Send + 'static>(
        &self,
        config: ServerSettings,
        protocol: Q,
    ) -> Server<Q> {
        let mut server = Server::new(config, self.router_tx.clone(), protocol);
        server.awaiting_will_handler = self.awaiting_will_handler.clone();
        server
    }

    /// plantd patch: upgrade each accepted stream with `upgrade` (e.g. the embedder's TLS,
    /// with one acceptor it can swap) instead of `ServerSettings::tls`.
    pub fn with_upgrade(mut self, upgrade: StreamUpgrade) -> Self {
        self.upgrade = Some(upgrade);
        self
    }

    /// plantd patch: tell `observer` of every connection that fails before its session.
    pub fn with_handshake_observer(mut self, observer: HandshakeObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// plantd patch: a WebSocket listener refuses (404) an upgrade to any other path.
    pub fn with_websocket_path(mut self, path: &str) -> Self {
        self.ws_path = Some(Arc::from(path));
        self
    }

    // plantd patch: rumqttd's own TLS (`ServerSettings::tls`), with ONE acceptor built at
    // start instead of one per connection. Compiled only with `use-rustls` /
    // `use-native-tls`, which plantd does not enable (it supplies its own upgrade).
    #[cfg(any(feature = "use-rustls", feature = "use-native-tls"))]
    fn settings_upgrade(&self) -> Result<Option<StreamUpgrade>, Error> {
        let Some(c) = &self.config.tls else {
            return Ok(None);
        };
        let acceptor = Arc::new(TLSAcceptor::new(c)?);
        let upgrade: StreamUpgrade = Arc::new(move |stream: TcpStream| {
            let acceptor = acceptor.clone();
            Box::pin(async move {
                let (tenant_id, stream) = acceptor
                    .accept(stream)
                    .await
                    .map_err(|e| io::Error::new(io::ErrorKind::Other, e.to_string()))?;
                Ok(Upgraded {
                    stream,
                    tenant_id,
                    peer_identity: None,
                })
            })
        });
        Ok(Some(upgrade))
    }

    pub async fn start(&mut self, link_type: LinkType) -> Result<(), Error> {
        let listener = TcpListener::bind(&self.config.listen).await?;
        let delay = Duration::from_millis(self.config.next_connection_delay_ms);
        let mut count: usize = 0;

        let config = Arc::new(self.config.connections.clone());
        // plantd patch: built once, before the first accept.
        #[cfg(any(feature = "use-rustls", feature = "use-native-tls"))]
        let upgrade = match self.upgrade.clone() {
            Some(u) => Some(u),
            None => self.settings_upgrade()?,
        };
        #[cfg(not(any(feature = "use-rustls", feature = "use-native-tls")))]
        let upgrade = self.upgrade.clone();
        info!(
            config = self.config.name,
            listen_addr = self.config.listen.to_string(),
            "Listening for remote connections",
        );
        loop {
            // Await new network connection.
            let (stream, addr) = match listener.accept().await {
                Ok((s, r)) => (s, r),
                Err(e) => {
                    error!(error=?e, "Unable to accept socket.");
                    continue;
                }
            };

            // plantd patch: the TLS and WebSocket handshakes run in the connection's own
            // task, under one deadline with the CONNECT (`connection_timeout_ms`), so a
            // client that stalls in a handshake holds up no one else's accept.
            info!(name=?self.config.name, ?addr, count, "accept");

            let config = config.clone();
            let router_tx = self.router_tx.clone();
            count += 1;

            // plantd patch: boxed until the network takes it: a future keeps a slot for
            // each value it captures or takes as an argument even after moving it on, so an
            // inline protocol took three slots in every connection's task.
            let protocol = Box::new(self.protocol.clone());
            let upgrade = upgrade.clone();
            let observer = self.observer.clone();
            let ws_path = self.ws_path.clone();
            let wills = self.awaiting_will_handler.clone();
            let deadline = time::Instant::now()
                + Duration::from_millis(config.connection_timeout_ms.into());
            let span = match link_type {
                #[cfg(feature = "websocket")]
                LinkType::Websocket => tracing::info_span!(
                    "websocket_link",
                    client_id = field::Empty,
                    connection_id = field::Empty
                ),
                LinkType::Remote => tracing::error_span!(
                    "remote_link",
                    client_id = field::Empty,
                    connection_id = field::Empty,
                ),
            };
            let task = async move {
                    let fail = |failure: HandshakeFailure| {
                        if let Some(observer) = &observer {
                            observer(failure);
                        }
                    };
                    // plantd patch: boxed, so the handshake's state (TLS, WebSocket) is
                    // freed once it is done instead of sizing the connection's task.
                    let handshake = Box::pin(handshake(stream, upgrade, link_type, ws_path));
                    let (network, tenant_id, peer_identity) =
                        match time::timeout_at(deadline, handshake).await {
                            Ok(Ok(upgraded)) => upgraded,
                            // plantd patch: debug, not warn: a client causes these, and
                            // the observer counts (and may log) them.
                            Ok(Err((failure, e))) => {
                                debug!(error = %e, ?failure, "handshake failed");
                                fail(failure);
                                return;
                            }
                            Err(_) => {
                                debug!("handshake timed out");
                                fail(HandshakeFailure::Timeout);
                                return;
                            }
                        };
                    let protocol = Box::new((*protocol).with_peer_identity(peer_identity));
                    remote(
                        config, tenant_id, router_tx, network, protocol, wills, deadline,
                        observer,
                    )
                    .await
                }
                .instrument(span);
            // plantd patch: what each connection's task holds inline (its future), once
            // per listener, to keep an eye on the per-connection cost.
            if count == 1 {
                debug!(task_bytes = std::mem::size_of_val(&task), "connection task size");
            }
            task::spawn(task);

            // plantd patch: a zero delay means none (tokio's sleep still waits for the next
            // timer tick, about 1 ms, which capped accepts at about 1,000 a second).
            if !delay.is_zero() {
                time::sleep(delay).await;
            }
        }
    }
}

/// plantd patch: the handshakes before MQTT, in the connection's task: the stream
/// upgrade (TLS) if any, then the WebSocket handshake on a WebSocket listener.
async fn handshake(
    stream: TcpStream,
    upgrade: Option<StreamUpgrade>,
    link_type: LinkType,
    ws_path: Option<Arc<str>>,
) -> Result<(Box<dyn N>, Option<String>, Option<String>), (HandshakeFailure, String)> {
    let (network, tenant_id, peer_identity): (Box<dyn N>, _, _) = match upgrade {
        Some(upgrade) => {
            let upgraded = upgrade(stream)
                .await
                .map_err(|e| (HandshakeFailure::Upgrade, e.to_string()))?;
            (upgraded.stream, upgraded.tenant_id, upgraded.peer_identity)
        }
        None => (Box::new(stream), None, None),
    };
    match link_type {
        #[cfg(feature = "websocket")]
        LinkType::Websocket => {
            let ws = accept_hdr_async(network, WSCallback { path: ws_path })
                .await
                .map_err(|e| (HandshakeFailure::WebSocket, e.to_string()))?;
            Ok((Box::new(WsStream::new(ws)), tenant_id, peer_identity))
        }
        LinkType::Remote => {
            let _ = ws_path;
            Ok((network, tenant_id, peer_identity))
        }
    }
}

/// Configures the Websocket connection to indicate the correct protocol
/// by adding the "sec-websocket-protocol" with value of "mqtt" to the response header
#[cfg(feature = "websocket")]
struct WSCallback {
    // plantd patch: the one path answered (any when `None`).
    path: Option<Arc<str>>,
}
#[cfg(feature = "websocket")]
impl Callback for WSCallback {
    fn on_request(
        self,
        request: &Request,
        mut response: Response,
    ) -> Result<Response, ErrorResponse> {
        // plantd patch: another path is refused with 404, and the subprotocol is named only
        // when the client offered `mqtt` (RFC 6455: a server picks one of those offered).
        if let Some(path) = &self.path {
            if request.uri().path() != &**path {
                let mut refusal = ErrorResponse::new(Some("no MQTT endpoint here".to_owned()));
                *refusal.status_mut() = StatusCode::NOT_FOUND;
                return Err(refusal);
            }
        }
        let offered = request
            .headers()
            .get_all("sec-websocket-protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| p.trim().eq_ignore_ascii_case("mqtt"));
        if offered {
            response
                .headers_mut()
                .insert("sec-websocket-protocol", HeaderValue::from_static("mqtt"));
        }
        Ok(response)
    }
}

/// A new network connection should wait for a mqtt connect packet. This should be handled
/// asynchronously to avoid blocking other new connections while this connection is
/// waiting for mqtt connect packet. Also this honours connection wait time as per config to prevent
/// denial of service attacks (rogue clients which only establish network connections without
/// sending a mqtt connection packet to make the server reach its concurrent connection limit).
async fn remote<P: Protocol>(
    config: Arc<ConnectionSettings>,
    tenant_id: Option<String>,
    router_tx: Sender<(ConnectionId, Event)>,
    stream: Box<dyn N>,
    // plantd patch: boxed (see the accept loop).
    protocol: Box<P>,
    will_handlers: Arc<Mutex<HashMap<String, Sender<AwaitingWill>>>>,
    // plantd patch: the connect deadline (from the accept, so it covers the handshakes
    // too) and who is told when the CONNECT never came.
    deadline: time::Instant,
    observer: Option<HandshakeObserver>,
) {
    let mut network = Network::new(
        stream,
        config.max_payload_size,
        config.max_inflight_count,
        *protocol,
    );

    let dynamic_filters = config.dynamic_filters;

    // plantd patch: the CONNECT's state (its packet, the login) is boxed, so it is freed
    // once the session starts instead of sizing every connection's task for good.
    let connect_packet = match Box::pin(mqtt_connect(config, &mut network, deadline)).await {
        Ok(p) => p,
        Err(e) => {
            // plantd patch: with an observer (which counts them), at debug level: a client
            // causes these (a silent socket, a refused login), one line each.
            if observer.is_some() {
                debug!(error=?e, "Error while handling MQTT connect packet");
            } else {
                error!(error=?e, "Error while handling MQTT connect packet");
            }
            if let Some(observer) = &observer {
                // A refused login (a CONNACK with a code) is not a handshake failure.
                match e {
                    remote::Error::Timeout(_) => observer(HandshakeFailure::Timeout),
                    remote::Error::NotConnectPacket(_)
                    | remote::Error::Network(_)
                    | remote::Error::Io(_) => observer(HandshakeFailure::Connect),
                    _ => {}
                }
            }
            return;
        }
    };

    let (mut client_id, clean_session) = match &connect_packet {
        Packet::Connect(ref connect, _, _, _, _) => {
            (connect.client_id.clone(), connect.clean_session)
        }
        _ => unreachable!(),
    };

    let mut assigned_client_id = None;
    if client_id.is_empty() {
        let uuid = Uuid::new_v4().simple();
        client_id = format!("rumqtt-{uuid}");
        assigned_client_id = Some(client_id.clone());
    }

    if let Some(tenant_id) = &tenant_id {
        // client_id is set to "tenant_id.client_id"
        // this is to make sure we are consistent,
        // as Connection uses this format of client_id
        client_id = format!("{tenant_id}.{client_id}");
    }

    if let Some(sender) = will_handlers.lock().unwrap().remove(&client_id) {
        let awaiting_will = if clean_session {
            AwaitingWill::Fire
        } else {
            AwaitingWill::Cancel
        };
        sender.try_send(awaiting_will).unwrap();
    }

    let (will_tx, will_rx) = flume::bounded::<AwaitingWill>(1);
    will_handlers
        .lock()
        .unwrap()
        .insert(client_id.clone(), will_tx);

    // Start the link
    // plantd patch: boxed, like the CONNECT above.
    let mut link = match Box::pin(RemoteLink::new(
        router_tx.clone(),
        tenant_id.clone(),
        network,
        connect_packet,
        dynamic_filters,
        assigned_client_id,
    ))
    .await
    {
        Ok(l) => l,
        Err(e) => {
            error!(error=?e, "Remote link error");
            return;
        }
    };

    let connection_id = link.connection_id;
    let will_delay_interval = link.will_delay_interval;
    let mut send_disconnect = true;

    match link.start().await {
        // Connection got closed. This shouldn't usually happen.
        Ok(_) => error!("connection-stop"),
        // No need to send a disconnect message when disconnection
        // originated internally in the router.
        Err(remote::Error::Link(e)) => {
            error!(error=?e, "router-drop");
            send_disconnect = false;
        }
        // Connection was closed by peer
        Err(remote::Error::Network(network::Error::Io(err)) | remote::Error::Io(err))
            if err.kind() == io::ErrorKind::ConnectionAborted =>
        {
            info!(error=?err, "disconnected");
        }
        // plantd patch: a packet over the maximum size: the client is told (MQTT 5
        // DISCONNECT "packet too large") before the connection closes.
        Err(remote::Error::Network(network::Error::Protocol(
            crate::protocol::Error::PayloadSizeLimitExceeded(over),
        ))) => {
            warn!(over, "packet over the maximum size; disconnecting");
            // plantd patch: boxed: its linger buffer would otherwise size every
            // connection's task.
            Box::pin(link.disconnect_with(crate::protocol::DisconnectReasonCode::PacketTooLarge))
                .await;
        }
        // plantd patch: more publishes in flight than the receive maximum: the client is
        // told (MQTT 5 DISCONNECT "receive maximum exceeded") before the connection closes.
        Err(remote::Error::Network(network::Error::Protocol(
            crate::protocol::Error::ReceiveMaximumExceeded,
        ))) => {
            warn!("publishes over the receive maximum; disconnecting");
            // plantd patch: boxed like the arm above (the linger buffer).
            Box::pin(link.disconnect_with(
                crate::protocol::DisconnectReasonCode::ReceiveMaximumExceeded,
            ))
            .await;
        }
        // Any other error
        Err(e) => {
            error!(error=?e, "disconnected");
        }
    };

    if send_disconnect {
        // plantd patch: named by the link, so a late close cannot end a new connection
        // that took over the id (a reconnect storm: the router handles the new CONNECT,
        // ends this one and gives its id to the new one before this event arrives).
        let disconnect = Event::LinkClosed(link.identity());
        let message = (connection_id, disconnect);
        router_tx.send(message).ok();
    }

    // plantd patch: the will to publish is this link's (a newer connection with the same
    // client id may have registered its own by then); the identity keeps the name valid.
    let identity = link.identity();
    // this is important to stop the connection
    drop(link);

    let publish_will = match tokio::time::timeout(
        Duration::from_secs(will_delay_interval as u64),
        will_rx.recv_async(),
    )
    .await
    {
        Ok(w) => w.is_ok_and(|k| k == AwaitingWill::Fire),
        Err(_) => {
            // no need to keep the sender after timeout
            will_handlers.lock().unwrap().remove(&client_id);
            // as will delay interval has passed, publish the will message
            true
        }
    };

    if publish_will {
        let message = Event::PublishWill((client_id, tenant_id), identity);
        // is this connection_id really correct at this point?
        // as we have disconnected already, some other connection
        // might be using this connection ID!
        // It won't matter in this case as we don't use it
        // but might affect logs?
        router_tx.send((connection_id, message)).ok();
    }
}
