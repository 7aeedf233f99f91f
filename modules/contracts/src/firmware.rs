//! Messages of firmware roll-outs: images, campaigns that bring a set of devices to an
//! image's version, each device's progress, and the download check for a device.
//!
//! The MQTT side is in `mqtt-contract.md`: plantd publishes the retained
//! `devices/{id}/firmware/available` notice, the device answers on `firmware/status`.

use actix::Message;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{DeviceId, DomainError};

/// A stored firmware image. The bytes live under the data directory, named by the id.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FirmwareView {
    pub id: String,
    /// The version a device reports once it runs this image.
    pub version: String,
    /// A human name (the uploaded file's name by default).
    pub name: String,
    /// Hex SHA-256 of the image.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// Base64 ed25519 signature of the raw 32-byte SHA-256 digest, by plantd's firmware
    /// signing key ([`GetSigningKey`]); the `firmware/available` notice carries it too.
    pub signature: String,
    pub created_at: DateTime<Utc>,
}

/// plantd's firmware signing public key (base64 of the 32-byte ed25519 key), for device
/// makers to build into their devices.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "String")]
pub struct GetSigningKey;

/// Most image bytes one message carries, either way ([`UploadChunk`], [`ReadImage`]): the
/// edge streams an image in pieces of this size, so neither side holds a whole image.
///
/// Measured with a 50 MB image over loopback (release build): 64 KiB chunks upload at about
/// 210 MB/s, 256 KiB and 1 MiB at 360-380 MB/s (as fast as the former direct file path),
/// 4 MiB slower again; downloads reach about 550 MB/s from 256 KiB on. Larger chunks buy
/// nothing and cost memory (two chunks per transfer in flight).
pub const MAX_CHUNK_BYTES: usize = 256 * 1024;

/// Start uploading an image. The firmware module checks the version and the declared size
/// now (so a refused upload sends no body), opens a temporary file of its own and answers
/// the upload's id. Bytes follow in [`UploadChunk`]s, then [`FinishUpload`] or
/// [`AbortUpload`]; an upload without a chunk for a while is dropped by the module.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<String, DomainError>")]
pub struct BeginUpload {
    /// The version a device reports once it runs the image.
    pub version: String,
    /// A human name (default: "firmware {version}").
    pub name: Option<String>,
    /// The size the client announced (`Content-Length`), if any: over the limit is refused.
    pub declared_size: Option<u64>,
    /// Who uploads, for the log.
    pub by: String,
}

/// The next bytes of an upload, at most [`MAX_CHUNK_BYTES`], in order: the edge sends one
/// after the previous was answered. Answers the bytes received so far. Past the upload
/// limit the module drops the upload (`DomainError::TooLarge`).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<u64, DomainError>")]
pub struct UploadChunk {
    pub upload_id: String,
    pub bytes: Vec<u8>,
}

/// Keep the uploaded image: the module has hashed it as the chunks arrived, moves it among
/// its images and answers the stored image. A refused image (empty) is dropped.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<FirmwareView, DomainError>")]
pub struct FinishUpload {
    pub upload_id: String,
}

/// Drop an upload (the client went away, the body was bad): its temporary file is removed.
/// An unknown or finished upload is ignored.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct AbortUpload {
    pub upload_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<Vec<FirmwareView>, DomainError>")]
pub struct ListFirmware;

#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<FirmwareView, DomainError>")]
pub struct GetFirmware {
    pub id: String,
}

/// Delete an image: its bytes are removed and it is no longer listed, offered or
/// downloadable; campaigns that used it keep their history. While a running campaign
/// offers it, a conflict.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<(), DomainError>")]
pub struct DeleteFirmware {
    pub id: String,
    pub by: String,
}

/// Which devices a campaign targets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignTargets {
    Devices(Vec<DeviceId>),
    /// Every device carrying this label (resolved when the campaign starts).
    Label(String),
}

/// Start rolling an image out: every target gets the retained `firmware/available` notice.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<CampaignDetail, DomainError>")]
pub struct StartCampaign {
    pub firmware_id: String,
    pub targets: CampaignTargets,
    /// Seconds a device has to make progress in each state (default: the setting).
    pub timeout_s: Option<u64>,
    /// Times a device that timed out is offered the image again (default: the setting).
    pub retries: Option<u32>,
    /// Who started it, for the log and the view.
    pub created_by: String,
}

/// Where a campaign stands as a whole.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Some devices have not finished.
    Running,
    /// Every device is done or failed.
    Finished,
    Cancelled,
}

/// Where one device stands in a campaign.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetState {
    /// Offered; the device has not reported yet.
    Pending,
    Downloading,
    Installing,
    Done,
    Failed,
    Cancelled,
}

impl TargetState {
    pub const ALL: [TargetState; 6] = [
        TargetState::Pending,
        TargetState::Downloading,
        TargetState::Installing,
        TargetState::Done,
        TargetState::Failed,
        TargetState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TargetState::Pending => "pending",
            TargetState::Downloading => "downloading",
            TargetState::Installing => "installing",
            TargetState::Done => "done",
            TargetState::Failed => "failed",
            TargetState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<TargetState> {
        TargetState::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Done, failed and cancelled are final.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TargetState::Done | TargetState::Failed | TargetState::Cancelled
        )
    }
}

impl CampaignStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::Running => "running",
            CampaignStatus::Finished => "finished",
            CampaignStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<CampaignStatus> {
        [
            CampaignStatus::Running,
            CampaignStatus::Finished,
            CampaignStatus::Cancelled,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// Devices per state.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignCounts {
    pub pending: usize,
    pub downloading: usize,
    pub installing: usize,
    pub done: usize,
    pub failed: usize,
    pub cancelled: usize,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CampaignView {
    pub id: String,
    pub firmware_id: String,
    pub version: String,
    pub status: CampaignStatus,
    pub timeout_s: u64,
    pub retries: u32,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub counts: CampaignCounts,
}

/// One device's progress.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetView {
    pub device_id: DeviceId,
    pub state: TargetState,
    /// Offers made so far (1 + retries used).
    pub attempts: u32,
    /// The version the device last reported.
    pub reported_version: Option<String>,
    /// The device's detail, or why plantd failed it (`timeout`, a version mismatch).
    pub detail: Option<String>,
    /// When the device must have made progress by, if it is expected to.
    pub deadline: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CampaignDetail {
    #[serde(flatten)]
    pub campaign: CampaignView,
    pub targets: Vec<TargetView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<Vec<CampaignView>, DomainError>")]
pub struct ListCampaigns;

#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<CampaignDetail, DomainError>")]
pub struct GetCampaign {
    pub id: String,
}

/// Stop a running campaign: unfinished devices are marked cancelled and their retained
/// notices cleared. A campaign that is not running is a conflict.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<CampaignDetail, DomainError>")]
pub struct CancelCampaign {
    pub id: String,
    pub by: String,
}

/// May this (authenticated) device download this image? Only a target of a running
/// campaign of the image that has not finished may; the reply names the content to read
/// with [`ReadImage`].
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<FirmwareContent, DomainError>")]
pub struct AuthorizeDownload {
    pub firmware_id: String,
    pub device_id: DeviceId,
}

/// An image's bytes as the firmware module holds them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FirmwareContent {
    /// What [`ReadImage`] reads (the image's id).
    pub content_id: String,
    pub size: u64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
}

/// Up to `len` (at most [`MAX_CHUNK_BYTES`]) bytes of an image from `offset`; fewer only at
/// the end, none past it. The edge reads an image in order, one chunk at a time.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<Vec<u8>, DomainError>")]
pub struct ReadImage {
    pub content_id: String,
    pub offset: u64,
    pub len: u32,
}

/// One device's firmware as the firmware module knows it: the version it last reported in
/// a `firmware/status` report, and its part in every campaign that targeted it.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "DeviceFirmware")]
pub struct GetDeviceFirmware {
    pub device_id: DeviceId,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeviceFirmware {
    /// The version in the device's latest `firmware/status` report (any campaign), if any.
    pub reported_version: Option<String>,
    /// When the device's progress in that campaign last changed (the report, or a later
    /// timeout or retry), so at or after the report.
    pub reported_at: Option<DateTime<Utc>>,
    /// Campaigns that targeted the device, newest first.
    pub campaigns: Vec<DeviceCampaign>,
}

/// A device's part in one campaign.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceCampaign {
    pub campaign_id: String,
    pub status: CampaignStatus,
    pub firmware_id: String,
    /// The version the campaign brings.
    pub version: String,
    #[serde(flatten)]
    pub target: TargetView,
}
