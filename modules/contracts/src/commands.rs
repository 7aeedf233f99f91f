//! Messages of device commands (the devices module's `Control` actor): a named call with
//! arguments sent to one device, tracked pending → delivered → succeeded | failed | expired
//! (or cancelled by a person before it finished).

use std::fmt;

use actix::Message;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{DeviceId, DomainError};

/// Where a command is. `delivered` means plantd published it (QoS 1) to the device's
/// topic while the device was connected, not that the device acted on it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommandState {
    Pending,
    Delivered,
    Succeeded,
    Failed,
    Expired,
    Cancelled,
}

impl CommandState {
    pub const ALL: [CommandState; 6] = [
        CommandState::Pending,
        CommandState::Delivered,
        CommandState::Succeeded,
        CommandState::Failed,
        CommandState::Expired,
        CommandState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CommandState::Pending => "pending",
            CommandState::Delivered => "delivered",
            CommandState::Succeeded => "succeeded",
            CommandState::Failed => "failed",
            CommandState::Expired => "expired",
            CommandState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<CommandState> {
        CommandState::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Everything but pending and delivered is final.
    pub fn is_final(self) -> bool {
        !matches!(self, CommandState::Pending | CommandState::Delivered)
    }
}

impl fmt::Display for CommandState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A command and what became of it. `result` is the device's answer
/// (`{"status": "ok" | "error", "detail": any}`) once it gave one.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandView {
    /// Also the `{cmd}` of its MQTT topics; ids sort by creation time.
    pub id: String,
    pub device_id: DeviceId,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub args: serde_json::Value,
    pub state: CommandState,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub result: Option<serde_json::Value>,
}

/// Create a command; it is published at once if the device is online, else when it
/// connects, unless it expired first.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<CommandView, DomainError>")]
pub struct SendCommand {
    pub device_id: DeviceId,
    pub name: String,
    pub args: Option<serde_json::Value>,
    /// Seconds until the command expires (default 300, at most 7 days).
    pub timeout_s: Option<u64>,
    /// Who asked, for the log.
    pub by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<CommandView, DomainError>")]
pub struct GetCommand {
    pub device_id: DeviceId,
    pub id: String,
}

/// A device's commands, newest first; `before` is the previous page's last id.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<Vec<CommandView>, DomainError>")]
pub struct ListCommands {
    pub device_id: DeviceId,
    pub limit: usize,
    pub before: Option<String>,
}

/// Cancel a command that has not finished: a pending one is never sent, a delivered one's
/// result is no longer recorded. A finished command is a conflict.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<CommandView, DomainError>")]
pub struct CancelCommand {
    pub device_id: DeviceId,
    pub id: String,
    /// Who asked, for the log.
    pub by: String,
}
