//! One device's firmware for its page (`GetDeviceFirmware`): the version of its latest
//! `firmware/status` report and its part in every campaign that targeted it. Answers from
//! the firmware actor's memory; touches nothing else.

use actix::prelude::*;
use plantd_contracts::firmware::{DeviceCampaign, DeviceFirmware, GetDeviceFirmware, TargetView};
use plantd_contracts::time::to_datetime;

use super::actor::Firmware;

impl Handler<GetDeviceFirmware> for Firmware {
    type Result = MessageResult<GetDeviceFirmware>;

    fn handle(&mut self, msg: GetDeviceFirmware, _: &mut Context<Self>) -> Self::Result {
        let _span = tracing::debug_span!("device_firmware", device = %msg.device_id).entered();
        let mut reported: Option<(i64, String)> = None;
        let mut campaigns = Vec::new();
        // Campaign ids sort by creation time, so the newest is last.
        for campaign in self.campaigns.values().rev() {
            let Some(target) = campaign.targets.get(&msg.device_id) else {
                continue;
            };
            if let Some(version) = &target.reported_version {
                if reported
                    .as_ref()
                    .is_none_or(|(at, _)| target.updated_at > *at)
                {
                    reported = Some((target.updated_at, version.clone()));
                }
            }
            campaigns.push(DeviceCampaign {
                campaign_id: campaign.row.id.clone(),
                status: campaign.status,
                firmware_id: campaign.row.firmware_id.clone(),
                version: campaign.version.clone(),
                target: TargetView {
                    device_id: msg.device_id.clone(),
                    state: target.state,
                    attempts: target.attempts,
                    reported_version: target.reported_version.clone(),
                    detail: target.detail.clone(),
                    deadline: target.deadline.map(to_datetime),
                    updated_at: to_datetime(target.updated_at),
                },
            });
        }
        MessageResult(DeviceFirmware {
            reported_at: reported.as_ref().map(|(at, _)| to_datetime(*at)),
            reported_version: reported.map(|(_, v)| v),
            campaigns,
        })
    }
}
