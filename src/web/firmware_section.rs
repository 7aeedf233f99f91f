//! The device page's firmware section: one struct (`FirmwareSection`) that
//! `templates/partials/firmware.html` reads as `firmware`. The running version comes from
//! two sources, both shown: the device's latest `firmware/status` report (the MQTT
//! contract; the firmware module's `GetDeviceFirmware`) and the `firmware_version` key of
//! its reported shadow state (a convention the simulator follows at every connect, so it
//! is also there for a device that was never in a campaign). Read-only: campaigns are
//! started and cancelled on the firmware pages.

use super::local_time::exact_ms as format_ms;
use plantd_contracts::firmware::{DeviceFirmware, GetDeviceFirmware};
use plantd_contracts::shadow::GetShadow;
use plantd_contracts::{DeviceId, DomainError};

use crate::state::AppState;

/// The shadow's reported key that carries the running version.
const SHADOW_VERSION_KEY: &str = "firmware_version";

/// A time for the page, or empty.
fn time(ms: Option<i64>) -> String {
    ms.map(format_ms).unwrap_or_default()
}

/// A device's part in one campaign, formatted for the page.
pub struct CampaignLine {
    pub id: String,
    pub version: String,
    pub campaign_status: &'static str,
    pub state: &'static str,
    pub attempts: u32,
    pub reported_version: String,
    pub detail: String,
    pub deadline: String,
    pub updated_at: String,
}

pub struct FirmwareSection {
    /// From the latest `firmware/status` report, or empty.
    pub reported_version: String,
    pub reported_at: String,
    /// From the reported shadow state, or empty.
    pub shadow_version: String,
    /// Newest first.
    pub campaigns: Vec<CampaignLine>,
}

impl FirmwareSection {
    pub async fn load(
        state: &AppState,
        device_id: &DeviceId,
    ) -> Result<FirmwareSection, DomainError> {
        let unavailable = |_| DomainError::Unavailable("firmware is not answering".into());
        let firmware: DeviceFirmware = state
            .firmware
            .send(GetDeviceFirmware {
                device_id: device_id.clone(),
            })
            .await
            .map_err(unavailable)?;
        let shadow = state
            .control
            .send(GetShadow {
                device_id: device_id.clone(),
            })
            .await
            .map_err(unavailable)??;
        Ok(FirmwareSection {
            reported_version: firmware.reported_version.unwrap_or_default(),
            reported_at: time(firmware.reported_at.map(|t| t.timestamp_millis())),
            shadow_version: match &shadow.reported[SHADOW_VERSION_KEY] {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            },
            campaigns: firmware
                .campaigns
                .into_iter()
                .map(|c| CampaignLine {
                    campaign_status: c.status.as_str(),
                    state: c.target.state.as_str(),
                    attempts: c.target.attempts,
                    reported_version: c.target.reported_version.unwrap_or_default(),
                    detail: c.target.detail.unwrap_or_default(),
                    deadline: time(c.target.deadline.map(|t| t.timestamp_millis())),
                    updated_at: time(Some(c.target.updated_at.timestamp_millis())),
                    id: c.campaign_id,
                    version: c.version,
                })
                .collect(),
        })
    }
}
