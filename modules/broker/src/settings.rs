//! The broker's settings, sized on purpose for a small plant. rumqttd keeps an in-memory
//! log per subscription filter of up to `segment_size × segment_count` bytes, so those two
//! bound the memory of busy filters; idle connections cost only their own buffers.

use std::net::SocketAddr;

#[derive(Debug, Clone)]
pub struct BrokerSettings {
    /// MQTT over TCP, 3.1.1 and 5 on the same port.
    pub listen: SocketAddr,
    /// Connections refused beyond this.
    pub max_connections: usize,
    /// Packets larger than this close the connection (telemetry has its own, lower limit).
    pub max_packet_bytes: usize,
    /// QoS 1/2 messages in flight per connection.
    pub max_inflight: usize,
    /// Bytes per log segment of a subscription filter.
    pub segment_size: usize,
    /// Segments kept per filter before the oldest is dropped.
    pub segment_count: usize,
    /// How long a new TCP connection may take to send CONNECT.
    pub connect_timeout_ms: u16,
    /// Outgoing messages queued per connection before the router pauses it.
    pub max_outgoing_packets: u64,
}

impl Default for BrokerSettings {
    fn default() -> Self {
        BrokerSettings {
            listen: SocketAddr::from(([0, 0, 0, 0], 1883)),
            max_connections: 20_000,
            max_packet_bytes: 1024 * 1024,
            max_inflight: 100,
            segment_size: 1024 * 1024,
            segment_count: 4,
            connect_timeout_ms: 10_000,
            max_outgoing_packets: 200,
        }
    }
}
