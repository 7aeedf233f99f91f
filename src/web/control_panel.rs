//! The device-control panel's data: one struct (`ControlPanel`) that the shadow and
//! commands partials (`templates/partials/{shadow,commands}.html`) read as `control`.
//! A page that shows them has a field `control: ControlPanel` and includes both.

use super::local_time::exact_ms as format_ms;
use plantd_contracts::commands::{CommandView, ListCommands};
use plantd_contracts::identity::Role;
use plantd_contracts::shadow::GetShadow;
use plantd_contracts::{DeviceId, DomainError};
use serde_json::Value;

use crate::state::AppState;

/// How many recent commands the panel lists.
const RECENT_COMMANDS: usize = 20;

pub struct CommandLine {
    pub id: String,
    pub name: String,
    pub args: String,
    pub state: String,
    pub created_at: String,
    pub delivered_at: String,
    pub completed_at: String,
    pub expires_at: String,
    pub result: String,
    /// Pending or delivered: it can still be cancelled.
    pub open: bool,
}

pub struct ControlPanel {
    pub device_id: String,
    pub csrf_token: String,
    /// Admins and engineers change; viewers only read.
    pub can_change: bool,
    /// Where the forms send the browser back to.
    pub back: String,
    pub version: i64,
    pub desired: String,
    pub reported: String,
    pub delta: String,
    pub delta_empty: bool,
    pub updated_at: String,
    /// `(key, time)` of desired and of reported top-level keys.
    pub desired_times: Vec<(String, String)>,
    pub reported_times: Vec<(String, String)>,
    pub commands: Vec<CommandLine>,
    /// A refused form: the message and what was typed, shown again.
    pub shadow_error: Option<String>,
    pub patch_text: String,
    pub command_error: Option<String>,
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A time as the panel shows it (plant time zone, to the second), or a dash.
macro_rules! time {
    ($t:expr) => {
        $t.map(|t| format_ms(t.timestamp_millis()))
            .unwrap_or_else(|| "—".to_owned())
    };
}

/// `(key, time)` pairs of a metadata map.
macro_rules! times {
    ($m:expr) => {
        $m.iter()
            .map(|(k, t)| (k.clone(), format_ms(t.timestamp_millis())))
            .collect()
    };
}

fn line(c: CommandView) -> CommandLine {
    CommandLine {
        args: c.args.to_string(),
        state: c.state.as_str().to_owned(),
        created_at: time!(Some(c.created_at)),
        delivered_at: time!(c.delivered_at),
        completed_at: time!(c.completed_at),
        expires_at: time!(Some(c.expires_at)),
        result: c.result.map(|r| r.to_string()).unwrap_or_default(),
        open: !c.state.is_final(),
        id: c.id,
        name: c.name,
    }
}

impl ControlPanel {
    /// Reads the device's shadow and recent commands; `NotFound` for an unknown device.
    pub async fn load(
        state: &AppState,
        device_id: DeviceId,
        csrf_token: String,
        role: Role,
    ) -> Result<ControlPanel, DomainError> {
        let unavailable = |_| DomainError::Unavailable("device control is not answering".into());
        let shadow = state
            .control
            .send(GetShadow {
                device_id: device_id.clone(),
            })
            .await
            .map_err(unavailable)??;
        let commands = state
            .control
            .send(ListCommands {
                device_id: device_id.clone(),
                limit: RECENT_COMMANDS,
                before: None,
            })
            .await
            .map_err(unavailable)??;
        Ok(ControlPanel {
            back: format!("/devices/{device_id}/control"),
            device_id: device_id.to_string(),
            csrf_token,
            can_change: role != Role::Viewer,
            version: shadow.version,
            desired: pretty(&shadow.desired),
            reported: pretty(&shadow.reported),
            delta_empty: shadow.delta.as_object().is_none_or(|d| d.is_empty()),
            delta: pretty(&shadow.delta),
            updated_at: time!(shadow.updated_at),
            desired_times: times!(shadow.metadata.desired),
            reported_times: times!(shadow.metadata.reported),
            commands: commands.into_iter().map(line).collect(),
            shadow_error: None,
            patch_text: String::new(),
            command_error: None,
        })
    }
}
