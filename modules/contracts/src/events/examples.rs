//! One example of every event type: for documentation and for the tests that prove each
//! type round-trips (here, and through the outbox's stored rows).

use super::*;
use crate::firmware::{CampaignCounts, TargetState};
use crate::health::{AlarmState, Severity};
use crate::workorders::{Priority, WorkOrderStatus, WorkOrderType};
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
        EventData::WorkOrderCreated(work_order(WorkOrderStatus::Open, None)),
        EventData::WorkOrderStatusChanged(work_order(
            WorkOrderStatus::InProgress,
            Some(WorkOrderStatus::Open),
        )),
        EventData::WorkOrderCompleted(work_order(
            WorkOrderStatus::Done,
            Some(WorkOrderStatus::InProgress),
        )),
        EventData::WorkRequestCreated(WorkRequestEvent {
            request_id: "wr-1".into(),
            asset_id: Some("pump-p101".into()),
            title: "Leak under the pump".into(),
            requested_by: "operator".into(),
        }),
        EventData::MaintenanceDue(MaintenanceDue {
            plan_id: "plan-1".into(),
            occurrence: 3,
            title: "Grease bearings".into(),
            description: String::new(),
            asset_id: "pump-p101".into(),
            trigger: "meter".into(),
            due_at: None,
            due_meter: Some(1500.0),
            tasks: vec!["Grease drive-end bearing".into()],
            estimated_hours: Some(0.5),
            skills: vec!["mechanical".into()],
            tools: vec!["grease gun".into()],
            parts: vec![],
            stops_asset: false,
            interval_days: None,
        }),
        EventData::MaintenanceMissed(MaintenanceMissed {
            plan_id: "plan-1".into(),
            occurrence: 4,
            title: "Grease bearings".into(),
            asset_id: "pump-p101".into(),
            open_work_order_id: Some("wo-1".into()),
            due_at: None,
        }),
    ]
}

fn work_order(status: WorkOrderStatus, previous_status: Option<WorkOrderStatus>) -> WorkOrderEvent {
    WorkOrderEvent {
        work_order_id: "wo-1".into(),
        number: 1,
        title: "P-101 vibration".into(),
        kind: WorkOrderType::Corrective,
        priority: Priority::High,
        status,
        previous_status,
        asset_id: Some("pump-p101".into()),
        device_id: Some(device()),
        assignee: Some("eve".into()),
        alarm_id: Some("al-1".into()),
        rule_id: Some("rule-1".into()),
        plan_id: None,
        occurrence: None,
        stops_asset: true,
        asset_held: status == WorkOrderStatus::InProgress,
        repeat_failure: false,
        completed_at: None,
        by: "system".into(),
    }
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
