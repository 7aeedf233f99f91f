//! The broker's settings, sized on purpose for a small plant. rumqttd keeps an in-memory
//! log per subscription filter (and per topic nobody subscribes to) of up to
//! `segment_size × segment_count` bytes; the gateway's filters (all device telemetry flows
//! through one) get their own, larger log so a burst — every device flushing its offline
//! buffer after a power cut — does not rotate past the gateway. Idle connections cost
//! rumqttd's fixed per-connection buffers (about 45 KiB each, measured), which no setting
//! changes. Per-client limits (topic length, filters, retained messages, sessions per
//! token, keep-alive) keep one client from growing the broker's memory without bound.

use std::net::SocketAddr;

use crate::tls::TlsFiles;

#[derive(Debug, Clone)]
pub struct BrokerSettings {
    /// MQTT over TCP, 3.1.1 and 5 on the same port.
    pub listen: SocketAddr,
    /// MQTT over TLS; listens only when `tls` is set. `None`: off.
    pub tls_listen: Option<SocketAddr>,
    /// MQTT over WebSocket on path `/mqtt` (over TLS when `tls` is set). `None`: off.
    pub ws_listen: Option<SocketAddr>,
    /// The server certificate and key of the TLS and secure WebSocket listeners.
    pub tls: Option<TlsFiles>,
    /// Connections refused beyond this.
    pub max_connections: usize,
    /// Packets larger than this close the connection (telemetry has its own, lower limit).
    pub max_packet_bytes: usize,
    /// Packets rumqttd reads from one socket per batch.
    pub read_batch: usize,
    /// Bytes per log segment of an ordinary filter or topic.
    pub segment_size: usize,
    /// Segments kept per ordinary filter before the oldest is dropped.
    pub segment_count: usize,
    /// Bytes per log segment of a gateway filter (e.g. `devices/+/telemetry`).
    pub gateway_segment_size: usize,
    /// Segments kept per gateway filter.
    pub gateway_segment_count: usize,
    /// How long a new connection may take, from its accept, to finish its TLS and
    /// WebSocket handshakes and send CONNECT; it is closed after that.
    pub connect_timeout_ms: u16,
    /// Outgoing messages queued per connection before the router pauses it.
    pub max_outgoing_packets: u64,
    /// Back-pressure: above this many samples accepted by telemetry and not committed,
    /// device publishes are held unacknowledged (until half as many are left).
    pub backpressure_samples: usize,
    /// Longest topic name or filter (bytes) a client may publish or subscribe to: rumqttd
    /// keeps every topic and filter it saw in memory.
    pub max_topic_bytes: usize,
    /// Subscription filters one session may hold at once (a persistent session keeps its
    /// filters across reconnects, and so does the count).
    pub max_filters_per_session: usize,
    /// Retained messages one integration token may have set (an empty retained payload
    /// clears one and frees its place). Devices never retain.
    pub max_retained_per_token: usize,
    /// Live MQTT sessions one integration token may hold.
    pub max_sessions_per_token: usize,
    /// Keep-alive (seconds) a client is held to at most: 0 ("none") or more becomes this.
    pub max_keep_alive_s: u16,
    /// MQTT 5 receive maximum: QoS 1 and 2 publishes one client may have unacknowledged;
    /// one more ends its connection (DISCONNECT "receive maximum exceeded").
    pub receive_max: u16,
    /// Publishes a second one device session may send on average (bursts of twice as many);
    /// beyond, QoS 0 is dropped and QoS 1/2 held back unacknowledged. 0: no limit.
    pub device_max_msgs_per_s: u32,
    /// A device's QoS 1 telemetry is acknowledged only once telemetry committed it.
    pub puback_after_commit: bool,
}

impl Default for BrokerSettings {
    fn default() -> Self {
        BrokerSettings {
            listen: SocketAddr::from(([0, 0, 0, 0], 1883)),
            tls_listen: Some(SocketAddr::from(([0, 0, 0, 0], 8883))),
            ws_listen: Some(SocketAddr::from(([0, 0, 0, 0], 8083))),
            tls: None,
            max_connections: 20_000,
            max_packet_bytes: 1024 * 1024,
            read_batch: 100,
            segment_size: 256 * 1024,
            segment_count: 2,
            gateway_segment_size: 4 * 1024 * 1024,
            gateway_segment_count: 8,
            connect_timeout_ms: 10_000,
            max_outgoing_packets: 200,
            backpressure_samples: 10_000,
            max_topic_bytes: 256,
            max_filters_per_session: 100,
            max_retained_per_token: 1_000,
            max_sessions_per_token: 100,
            max_keep_alive_s: 1_200,
            receive_max: 100,
            device_max_msgs_per_s: 200,
            puback_after_commit: true,
        }
    }
}
