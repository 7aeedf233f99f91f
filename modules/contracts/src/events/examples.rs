//! One example of every event type: for documentation and for the tests that prove each
//! type round-trips (here, and through the outbox's stored rows).

use super::*;
use crate::firmware::{CampaignCounts, TargetState};
use crate::DeviceId;

fn device() -> DeviceId {
    DeviceId::parse("press-1").expect("id")
}

/// One example of every known type, for documentation and tests (a test fails when a type
/// is added to `event_types!` without an example here).
pub fn examples() -> Vec<EventData> {
    let command = CommandRef {
        device_id: device(),
        command_id: "c-1".into(),
        name: "reboot".into(),
    };
    let d = || DeviceRef {
        device_id: device(),
    };
    vec![
        EventData::DeviceProvisioned(d()),
        EventData::DeviceUpdated(DeviceUpdated {
            device_id: device(),
            fields: vec!["name".into(), "labels".into()],
            labels: vec!["line-2".into()],
        }),
        EventData::DeviceDeleted(d()),
        EventData::DeviceCredentialsRotated(d()),
        EventData::DeviceDisabled(d()),
        EventData::DeviceEnabled(d()),
        EventData::DeviceConnected(DeviceConnected {
            device_id: device(),
            protocol_version: 5,
        }),
        EventData::DeviceDisconnected(d()),
        EventData::ShadowUpdated(ShadowUpdated {
            device_id: device(),
            version: 7,
        }),
        EventData::CommandCreated(command.clone()),
        EventData::CommandSucceeded(command.clone()),
        EventData::CommandFailed(command.clone()),
        EventData::CommandExpired(command.clone()),
        EventData::CommandCancelled(command),
        EventData::FirmwareUploaded(FirmwareUploaded {
            firmware_id: "fw-1".into(),
            version: "1.2.0".into(),
            sha256: "ab".repeat(32),
            size: 1024,
        }),
        EventData::CampaignStarted(CampaignStarted {
            campaign: "cmp-1".into(),
            firmware_id: "fw-1".into(),
            devices: 3,
        }),
        EventData::CampaignFinished(CampaignFinished {
            campaign: "cmp-1".into(),
            counts: CampaignCounts {
                done: 2,
                failed: 1,
                ..CampaignCounts::default()
            },
        }),
        EventData::CampaignCancelled(CampaignCancelled {
            campaign: "cmp-1".into(),
            cancelled_devices: 2,
        }),
        EventData::FirmwareDeviceFinished(FirmwareDeviceFinished {
            campaign: "cmp-1".into(),
            device_id: device(),
            state: TargetState::Failed,
            detail: Some("checksum mismatch".into()),
        }),
    ]
}
