//! One campaign's state machine, without I/O: each target device moves
//! pending → downloading → installing → done | failed (or cancelled), on the device's
//! reports and on deadlines. Every method says which targets changed (the actor writes
//! them) and what must happen outside (offer or withdraw the retained notice, events).

use std::collections::BTreeMap;

use plantd_contracts::firmware::{
    CampaignCounts, CampaignDetail, CampaignStatus, CampaignView, TargetState, TargetView,
};
use plantd_contracts::time::{to_datetime, Millis};
use plantd_contracts::DeviceId;
use serde::Deserialize;

use super::store::{CampaignRow, TargetRow};

/// What a device publishes on `firmware/status`.
#[derive(Debug, Clone, Deserialize)]
pub struct StatusReport {
    pub campaign: String,
    pub state: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub detail: Option<serde_json::Value>,
}

/// Marks a field clipped to its limit. Not a character a valid version has, so a clipped
/// version never matches the campaign's.
const CLIPPED: &str = "…";

/// `text` cut to at most `max` bytes (at a character boundary, [`CLIPPED`] included);
/// `None` when it fits.
fn clipped(text: &str, max: usize) -> Option<String> {
    if text.len() <= max {
        return None;
    }
    let mut end = max.saturating_sub(CLIPPED.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(format!("{}{CLIPPED}", &text[..end]))
}

impl StatusReport {
    /// Holds `detail` (as text) and `version` to their limits, before anything is kept:
    /// a device could otherwise park up to a payload's size per target in memory and in
    /// the database. Answers the fields it clipped.
    pub fn clip(&mut self, max_detail: usize, max_version: usize) -> Vec<&'static str> {
        let mut fields = Vec::new();
        if let Some(detail) = &self.detail {
            let text = match detail {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if let Some(short) = clipped(&text, max_detail) {
                fields.push("detail");
                self.detail = Some(serde_json::Value::String(short));
            }
        }
        if let Some(short) = self
            .version
            .as_deref()
            .and_then(|v| clipped(v, max_version))
        {
            fields.push("version");
            self.version = Some(short);
        }
        fields
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub state: TargetState,
    pub attempts: u32,
    pub reported_version: Option<String>,
    pub detail: Option<String>,
    pub deadline: Option<Millis>,
    pub updated_at: Millis,
}

/// Something the actor must do because a target changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Publish (again) the retained `firmware/available` notice to the device.
    Offer(DeviceId),
    /// Clear the device's retained notice.
    Withdraw(DeviceId),
    /// The device reached done or failed.
    DeviceFinished {
        device: DeviceId,
        state: TargetState,
        detail: Option<String>,
    },
    /// Every target is final now.
    CampaignFinished,
}

/// The result of one change: targets to write, effects to carry out.
#[derive(Debug, Default)]
pub struct Outcome {
    pub changed: Vec<DeviceId>,
    pub campaign_changed: bool,
    pub effects: Vec<Effect>,
}

pub struct Campaign {
    pub row: CampaignRow,
    pub status: CampaignStatus,
    /// The image's version: a `done` report must carry it.
    pub version: String,
    pub targets: BTreeMap<DeviceId, Target>,
}

impl Campaign {
    fn timeout_ms(&self) -> Millis {
        self.row.timeout_s.saturating_mul(1000)
    }

    fn retries(&self) -> u32 {
        u32::try_from(self.row.retries).unwrap_or(0)
    }

    pub fn is_running(&self) -> bool {
        self.status == CampaignStatus::Running
    }

    /// A device's report. `Err` says why it was ignored.
    pub fn report(
        &mut self,
        device: &DeviceId,
        report: &StatusReport,
        now: Millis,
    ) -> Result<Outcome, String> {
        if !self.is_running() {
            return Err(format!("campaign is {}", self.status.as_str()));
        }
        let timeout = self.timeout_ms();
        let expected = self.version.clone();
        let target = self
            .targets
            .get_mut(device)
            .ok_or_else(|| "device is not a target of this campaign".to_owned())?;
        if target.state.is_final() {
            return Err(format!("device already {}", target.state.as_str()));
        }
        let detail = report.detail.as_ref().map(|d| match d {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        if report.version.is_some() {
            target.reported_version = report.version.clone();
        }
        target.updated_at = now;
        target.detail = detail.clone();
        let mut outcome = Outcome {
            changed: vec![device.clone()],
            ..Outcome::default()
        };
        match report.state.as_str() {
            "downloading" | "installing" => {
                target.state = if report.state == "downloading" {
                    TargetState::Downloading
                } else {
                    TargetState::Installing
                };
                target.deadline = Some(now.saturating_add(timeout));
            }
            "done" | "failed" => {
                let ok = report.state == "done" && report.version.as_deref() == Some(&expected);
                target.state = if ok {
                    TargetState::Done
                } else {
                    TargetState::Failed
                };
                if report.state == "done" && !ok {
                    target.detail = Some(format!(
                        "reported version {}, expected {expected}",
                        report.version.as_deref().unwrap_or("(none)")
                    ));
                } else if report.state == "failed" && target.detail.is_none() {
                    target.detail = Some("the device reported failure".to_owned());
                }
                target.deadline = None;
                outcome.effects.push(Effect::Withdraw(device.clone()));
                outcome.effects.push(Effect::DeviceFinished {
                    device: device.clone(),
                    state: target.state,
                    detail: target.detail.clone(),
                });
            }
            other => return Err(format!("unknown state '{other}'")),
        }
        self.finish_if_done(now, &mut outcome);
        Ok(outcome)
    }

    /// Targets whose deadline passed: offered again while retries last, else failed.
    pub fn expire(&mut self, now: Millis, online: impl Fn(&DeviceId) -> bool) -> Outcome {
        let mut outcome = Outcome::default();
        if !self.is_running() {
            return outcome;
        }
        let timeout = self.timeout_ms();
        let retries = self.retries();
        for (device, target) in self.targets.iter_mut() {
            let expired = !target.state.is_final() && target.deadline.is_some_and(|d| d <= now);
            if !expired {
                continue;
            }
            outcome.changed.push(device.clone());
            target.updated_at = now;
            let stalled_in = target.state.as_str();
            if target.attempts <= retries {
                target.attempts += 1;
                target.state = TargetState::Pending;
                target.detail = Some(format!("timeout in {stalled_in}; offered again"));
                target.deadline = online(device).then(|| now.saturating_add(timeout));
                outcome.effects.push(Effect::Offer(device.clone()));
            } else {
                target.state = TargetState::Failed;
                target.detail = Some(format!("timeout in {stalled_in}"));
                target.deadline = None;
                outcome.effects.push(Effect::Withdraw(device.clone()));
                outcome.effects.push(Effect::DeviceFinished {
                    device: device.clone(),
                    state: TargetState::Failed,
                    detail: target.detail.clone(),
                });
            }
        }
        self.finish_if_done(now, &mut outcome);
        outcome
    }

    /// A target came online: a pending offer starts its clock now (an offline device
    /// waits without one). Returns whether the target changed.
    pub fn connected(&mut self, device: &DeviceId, now: Millis) -> bool {
        let timeout = self.timeout_ms();
        if !self.is_running() {
            return false;
        }
        match self.targets.get_mut(device) {
            Some(t) if t.state == TargetState::Pending && t.deadline.is_none() => {
                t.deadline = Some(now.saturating_add(timeout));
                true
            }
            _ => false,
        }
    }

    /// A target went offline before starting: its offer waits for it without a clock.
    pub fn disconnected(&mut self, device: &DeviceId) -> bool {
        match self.targets.get_mut(device) {
            Some(t) if t.state == TargetState::Pending && t.deadline.is_some() => {
                t.deadline = None;
                true
            }
            _ => false,
        }
    }

    pub fn cancel(&mut self, now: Millis) -> Outcome {
        let mut outcome = Outcome {
            campaign_changed: true,
            ..Outcome::default()
        };
        for (device, target) in self.targets.iter_mut() {
            if target.state.is_final() {
                continue;
            }
            target.state = TargetState::Cancelled;
            target.deadline = None;
            target.updated_at = now;
            outcome.changed.push(device.clone());
            outcome.effects.push(Effect::Withdraw(device.clone()));
        }
        self.status = CampaignStatus::Cancelled;
        self.row.status = self.status.as_str().to_owned();
        self.row.finished_at = Some(now);
        outcome
    }

    fn finish_if_done(&mut self, now: Millis, outcome: &mut Outcome) {
        if self.is_running() && self.targets.values().all(|t| t.state.is_final()) {
            self.status = CampaignStatus::Finished;
            self.row.status = self.status.as_str().to_owned();
            self.row.finished_at = Some(now);
            outcome.campaign_changed = true;
            outcome.effects.push(Effect::CampaignFinished);
        }
    }

    /// The devices that still expect the notice (running campaign, target not final).
    pub fn offered(&self) -> impl Iterator<Item = &DeviceId> {
        self.targets
            .iter()
            .filter(|(_, t)| self.is_running() && !t.state.is_final())
            .map(|(d, _)| d)
    }

    pub fn counts(&self) -> CampaignCounts {
        let mut c = CampaignCounts::default();
        for t in self.targets.values() {
            *match t.state {
                TargetState::Pending => &mut c.pending,
                TargetState::Downloading => &mut c.downloading,
                TargetState::Installing => &mut c.installing,
                TargetState::Done => &mut c.done,
                TargetState::Failed => &mut c.failed,
                TargetState::Cancelled => &mut c.cancelled,
            } += 1;
        }
        c
    }

    pub fn view(&self) -> CampaignView {
        CampaignView {
            id: self.row.id.clone(),
            firmware_id: self.row.firmware_id.clone(),
            version: self.version.clone(),
            status: self.status,
            timeout_s: u64::try_from(self.row.timeout_s).unwrap_or(0),
            retries: self.retries(),
            created_by: self.row.created_by.clone(),
            created_at: to_datetime(self.row.created_at),
            finished_at: self.row.finished_at.map(to_datetime),
            counts: self.counts(),
        }
    }

    pub fn detail(&self) -> CampaignDetail {
        CampaignDetail {
            campaign: self.view(),
            targets: self
                .targets
                .iter()
                .map(|(device, t)| TargetView {
                    device_id: device.clone(),
                    state: t.state,
                    attempts: t.attempts,
                    reported_version: t.reported_version.clone(),
                    detail: t.detail.clone(),
                    deadline: t.deadline.map(to_datetime),
                    updated_at: to_datetime(t.updated_at),
                })
                .collect(),
        }
    }

    pub fn target_row(&self, device: &DeviceId) -> Option<TargetRow> {
        self.targets.get(device).map(|t| TargetRow {
            campaign_id: self.row.id.clone(),
            device_id: device.to_string(),
            state: t.state.as_str().to_owned(),
            attempts: i32::try_from(t.attempts).unwrap_or(i32::MAX),
            reported_version: t.reported_version.clone(),
            detail: t.detail.clone(),
            deadline: t.deadline,
            updated_at: t.updated_at,
        })
    }
}

impl Target {
    pub fn from_row(row: &TargetRow) -> Option<Target> {
        Some(Target {
            state: TargetState::parse(&row.state)?,
            attempts: u32::try_from(row.attempts).unwrap_or(0),
            reported_version: row.reported_version.clone(),
            detail: row.detail.clone(),
            deadline: row.deadline,
            updated_at: row.updated_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_detail_and_version_are_clipped_at_a_character_boundary() {
        let mut r = StatusReport {
            campaign: "c1".into(),
            state: "failed".into(),
            version: Some("9".repeat(100)),
            detail: Some(serde_json::json!({ "log": "é".repeat(600) })),
        };
        assert_eq!(r.clip(100, 64), vec!["detail", "version"]);
        let detail = r.detail.as_ref().and_then(|d| d.as_str()).expect("text");
        assert!(detail.len() <= 100 && detail.ends_with(CLIPPED), "{detail}");
        let version = r.version.as_deref().expect("version");
        assert!(version.len() <= 64 && version.ends_with(CLIPPED));
        let mut small = report("done", Some("1.0"));
        assert!(small.clip(100, 64).is_empty());
        assert_eq!(small.version.as_deref(), Some("1.0"));
    }

    /// Found by the `firmware_status` fuzz target (its oracle was wrong, `clip` right): a
    /// device may send the clip marker itself; a version that fits is kept as sent and not
    /// reported as clipped.
    #[test]
    fn a_version_ending_with_the_marker_that_fits_is_kept_as_sent() {
        let payload = br#"{"campaign": "c-0123", "state": "downlSading", "version": "1.\u2026", "detail": "42%"}"#;
        let mut r: StatusReport = serde_json::from_slice(payload).expect("decodes");
        assert_eq!(r.version.as_deref(), Some("1.\u{2026}"));
        assert!(r.clip(64, 16).is_empty());
        assert_eq!(r.version.as_deref(), Some("1.\u{2026}"));
        assert_eq!(r.detail, Some(serde_json::json!("42%")));
    }

    fn id(s: &str) -> DeviceId {
        DeviceId::parse(s).expect("id")
    }

    fn campaign(devices: &[&str], retries: i32) -> Campaign {
        Campaign {
            row: CampaignRow {
                id: "c1".into(),
                firmware_id: "f1".into(),
                status: "running".into(),
                timeout_s: 10,
                retries,
                created_by: "test".into(),
                created_at: 0,
                finished_at: None,
            },
            status: CampaignStatus::Running,
            version: "2.0.0".into(),
            targets: devices
                .iter()
                .map(|d| {
                    (
                        id(d),
                        Target {
                            state: TargetState::Pending,
                            attempts: 1,
                            reported_version: None,
                            detail: None,
                            deadline: Some(10_000),
                            updated_at: 0,
                        },
                    )
                })
                .collect(),
        }
    }

    fn report(state: &str, version: Option<&str>) -> StatusReport {
        StatusReport {
            campaign: "c1".into(),
            state: state.into(),
            version: version.map(str::to_owned),
            detail: None,
        }
    }

    #[test]
    fn success_needs_the_campaign_version_and_finishes_the_campaign() {
        let mut c = campaign(&["a", "b"], 0);
        c.report(&id("a"), &report("downloading", None), 1_000)
            .expect("ok");
        assert_eq!(c.targets[&id("a")].deadline, Some(11_000));
        let out = c
            .report(&id("a"), &report("done", Some("2.0.0")), 2_000)
            .expect("ok");
        assert!(out.effects.contains(&Effect::Withdraw(id("a"))));
        assert_eq!(c.targets[&id("a")].state, TargetState::Done);
        let out = c
            .report(&id("b"), &report("done", Some("1.9.0")), 3_000)
            .expect("ok");
        assert_eq!(c.targets[&id("b")].state, TargetState::Failed);
        assert!(out.effects.contains(&Effect::CampaignFinished));
        assert_eq!(c.status, CampaignStatus::Finished);
        assert!(c
            .report(&id("b"), &report("done", Some("2.0.0")), 4_000)
            .is_err());
    }

    #[test]
    fn a_timeout_is_retried_then_fails() {
        let mut c = campaign(&["a"], 1);
        let out = c.expire(10_000, |_| false);
        assert_eq!(out.effects, vec![Effect::Offer(id("a"))]);
        assert_eq!(c.targets[&id("a")].deadline, None, "offline: no clock");
        assert!(c.connected(&id("a"), 20_000));
        assert!(c.expire(29_999, |_| true).changed.is_empty());
        let out = c.expire(30_000, |_| true);
        assert!(out.effects.contains(&Effect::CampaignFinished));
        assert_eq!(c.targets[&id("a")].state, TargetState::Failed);
        assert_eq!(
            c.targets[&id("a")].detail.as_deref(),
            Some("timeout in pending")
        );
    }

    #[test]
    fn cancel_withdraws_unfinished_offers() {
        let mut c = campaign(&["a", "b"], 0);
        c.report(&id("a"), &report("done", Some("2.0.0")), 1)
            .expect("ok");
        let out = c.cancel(2);
        assert_eq!(out.effects, vec![Effect::Withdraw(id("b"))]);
        assert_eq!(c.counts().cancelled, 1);
        assert_eq!(c.counts().done, 1);
        assert_eq!(c.status, CampaignStatus::Cancelled);
    }
}

#[cfg(test)]
mod proptests;
