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

/// Hold one device's publishes at the broker (`hold: true`) or let them go again. While
/// held, its QoS 1 publishes wait unacknowledged (the device keeps them and nothing it was
/// told is lost) and its QoS 0 ones are dropped and counted. A module whose queue for the
/// device is full asks; `by` names the queue, and the device is held while any queue holds
/// it (issue 14.4).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct HoldDevice {
    pub device_id: crate::DeviceId,
    pub by: String,
    pub hold: bool,
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
