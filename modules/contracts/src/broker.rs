//! Messages the MQTT broker (embedded or, later, a bridge to an external cluster) accepts.

use actix::Message;
use serde::{Deserialize, Serialize};

/// End every live MQTT session that logged in with this username (a device id or a token
/// id), e.g. after its credential was revoked or the device was disabled: at once, even
/// an idle one. Replies with the number of sessions.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "usize")]
pub struct DisconnectClient {
    pub username: String,
}

/// Whether the broker is listening and its gateway is running.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "bool")]
pub struct BrokerReady;

/// Something plantd sends to one device, on `devices/{device_id}/{subtopic}` at QoS 1
/// (the shadow's desired document and delta, commands, firmware notices). `retain` keeps it
/// for late subscribers; a retained empty payload clears the topic, as MQTT says.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<(), String>")]
pub struct PublishToDevice {
    pub device_id: crate::DeviceId,
    pub subtopic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}
