//! Messages the MQTT broker (embedded or, later, a bridge to an external cluster) accepts.

use actix::Message;
use serde::{Deserialize, Serialize};

/// End every live MQTT session that logged in with this username (a device id or a token
/// id), e.g. after its credential was revoked. Sessions end at their next packet.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "usize")]
pub struct DisconnectClient {
    pub username: String,
}

/// Whether the broker is listening and its gateway is running.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "bool")]
pub struct BrokerReady;
