//! Payloads of the firmware roll-out events (`firmware.*`), emitted by the devices
//! module's `Firmware` actor.

use serde::{Deserialize, Serialize};

use crate::firmware::{CampaignCounts, TargetState};
use crate::DeviceId;

/// `firmware.uploaded`: a new image is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareUploaded {
    pub firmware_id: String,
    pub version: String,
    pub sha256: String,
    pub size: i64,
}

/// `firmware.campaign_started`: `devices` targets were offered the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignStarted {
    pub campaign: String,
    pub firmware_id: String,
    pub devices: usize,
}

/// `firmware.campaign_finished`: every target is final.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignFinished {
    pub campaign: String,
    pub counts: CampaignCounts,
}

/// `firmware.campaign_cancelled`: a person stopped it; `cancelled_devices` had not finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignCancelled {
    pub campaign: String,
    pub cancelled_devices: usize,
}

/// `firmware.device_finished`: one device's part ended (`done` or `failed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareDeviceFinished {
    pub campaign: String,
    pub device_id: DeviceId,
    pub state: TargetState,
    pub detail: Option<String>,
}
