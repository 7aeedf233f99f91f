//! The firmware actor's device side: `firmware/status` reports (through the broker's
//! gateway) and presence (`device.connected` / `device.disconnected` events), applied to
//! the campaigns' state machines.

use actix::prelude::*;
use plantd_contracts::devices::DeviceMessage;
use plantd_contracts::events::DeliverEvent;
use plantd_contracts::firmware::TargetState;
use plantd_contracts::log_throttle::clip;
use plantd_contracts::time::now_ms;
use plantd_contracts::warn_throttled;

use super::actor::Firmware;
use super::campaign::StatusReport;

impl Handler<DeviceMessage> for Firmware {
    type Result = ();

    fn handle(&mut self, msg: DeviceMessage, ctx: &mut Context<Self>) {
        let span = tracing::debug_span!("firmware_status", device = %msg.device_id);
        let _guard = span.enter();
        let ignore = |reason: &'static str, detail: String| {
            metrics::counter!("plantd_firmware_reports_ignored_total", "reason" => reason)
                .increment(1);
            // `detail` may be the device's `campaign` string, up to 1 MiB: clipped.
            warn_throttled!(
                "firmware_report_ignored",
                device = %msg.device_id,
                reason,
                detail = %clip(&detail),
                "firmware status ignored"
            );
        };
        if msg.subtopic != "firmware/status" {
            return ignore("topic", msg.subtopic.clone());
        }
        let mut report: StatusReport = match serde_json::from_slice(&msg.payload) {
            Ok(r) => r,
            Err(e) => return ignore("malformed", e.to_string()),
        };
        for field in report.clip(
            self.settings.max_report_detail_bytes,
            self.settings.max_report_version_bytes,
        ) {
            metrics::counter!("plantd_firmware_report_fields_clipped_total", "field" => field)
                .increment(1);
        }
        let Some(campaign) = self.campaigns.get_mut(&report.campaign) else {
            return ignore("unknown_campaign", report.campaign);
        };
        // A device repeats itself after a reboot (the notice is retained until cleared):
        // a report on a finished part is normal, not worth a warning.
        let repeated = !campaign.is_running()
            || campaign
                .targets
                .get(&msg.device_id)
                .is_some_and(|t| t.state.is_final());
        match campaign.report(&msg.device_id, &report, msg.received_at) {
            Ok(outcome) => {
                if let Some(state) = TargetState::parse(&report.state) {
                    metrics::counter!("plantd_firmware_reports_total", "state" => state.as_str())
                        .increment(1);
                }
                tracing::info!(device = %msg.device_id, campaign = %report.campaign, state = %report.state, "firmware status");
                self.apply(&report.campaign, outcome);
                self.save(ctx);
            }
            Err(reason) if repeated => {
                metrics::counter!("plantd_firmware_reports_ignored_total", "reason" => "finished")
                    .increment(1);
                tracing::debug!(device = %msg.device_id, %reason, "firmware status after the device finished");
            }
            Err(reason) => ignore("not_applicable", reason),
        }
    }
}

impl Handler<DeliverEvent> for Firmware {
    type Result = Result<(), String>;

    /// Presence moves deadlines and retries. Idempotent: a redelivered connect or disconnect
    /// finds the state it would make.
    fn handle(&mut self, DeliverEvent(event): DeliverEvent, _: &mut Context<Self>) -> Self::Result {
        let Some((device, connected)) = event.data.presence() else {
            return Ok(());
        };
        let device = device.clone();
        let now = now_ms();
        if connected {
            self.online.insert(device.clone());
        } else {
            self.online.remove(&device);
        }
        for campaign in self.campaigns.values_mut() {
            let changed = if connected {
                campaign.connected(&device, now)
            } else {
                campaign.disconnected(&device)
            };
            if changed {
                self.dirty_targets
                    .insert((campaign.row.id.clone(), device.clone()));
            }
        }
        Ok(())
    }
}
