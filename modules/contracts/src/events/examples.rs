//! One example of every event type: for documentation and for the tests that prove each
//! type round-trips (here, and through the outbox's stored rows).

use super::*;
use crate::firmware::{CampaignCounts, TargetState};
use crate::health::{AlarmState, Severity};
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
        EventData::DeviceProvisioned(DeviceProvisioned {
            device_id: device(),
            asset_id: Some("pump-p101".into()),
        }),
        EventData::DeviceUpdated(DeviceUpdated {
            device_id: device(),
            fields: vec!["name".into(), "labels".into()],
            labels: vec!["line-2".into()],
            asset_id: None,
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
        EventData::AlarmRaised(alarm(AlarmState::ActiveUnack, None)),
        EventData::AlarmAcknowledged(alarm(AlarmState::ActiveAck, None)),
        EventData::AlarmReturnedToNormal(alarm(AlarmState::RtnUnack, None)),
        EventData::AlarmCleared(alarm(AlarmState::Cleared, None)),
        EventData::AlarmSeverityChanged(alarm(AlarmState::ActiveUnack, Some(Severity::Major))),
        EventData::AlarmShelved(alarm(AlarmState::Shelved, None)),
        EventData::AlarmUnshelved(alarm(AlarmState::ActiveAck, None)),
    ]
}

fn alarm(state: AlarmState, previous_severity: Option<Severity>) -> AlarmEvent {
    AlarmEvent {
        alarm_id: "al-1".into(),
        rule_id: "rule-1".into(),
        rule_name: "P-101 vibration".into(),
        device_id: device(),
        asset_id: Some("pump-p101".into()),
        metric: Some("vibration_mm_s".into()),
        state,
        severity: if previous_severity.is_some() {
            Severity::Critical
        } else {
            Severity::Major
        },
        previous_severity,
        value: 7.4,
        create_work_order: true,
        by: "system".into(),
        comment: None,
    }
}
