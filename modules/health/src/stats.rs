//! The alarm-system health figures of ISA-18.2 / EEMUA 191 over a window: alarm rate per
//! 10 minutes (target ≤ 1–2 per operator), flood (> 10 alarms in 10 minutes: counted by
//! aligned 10-minute windows), chattering, stale (active > 24 h), shelved, suppressed and
//! out of service now, and the ten "bad actor" rules. The rates count announced alarms
//! only (not those raised out of service or suppressed). Pure: callers read the rows; an
//! alarm of the window is read from its columns and three fields of its document
//! ([`Raised`]), never decoded whole (a year of alarms was the reports page's largest cost).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use plantd_contracts::health::{Alarm, AlarmState, AlarmStats, RuleCount};
use plantd_contracts::time::{to_datetime, Millis};
use plantd_contracts::DomainError;
use serde::Deserialize;

use crate::store::AlarmRow;

const TEN_MIN: Millis = 600_000;
const FLOOD_ABOVE: u64 = 10;
const STALE_MS: Millis = 24 * 3_600_000;

/// What the figures read of an alarm raised in the window.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Raised {
    #[serde(skip)]
    pub raised_at: Millis,
    #[serde(skip)]
    pub rule_id: String,
    pub rule_name: String,
    #[serde(default)]
    pub announced: bool,
    #[serde(default)]
    pub chattering: bool,
}

impl TryFrom<&AlarmRow> for Raised {
    type Error = DomainError;

    /// The row's columns and the three fields of its document the figures need (serde
    /// skips the rest without building it).
    fn try_from(row: &AlarmRow) -> Result<Raised, DomainError> {
        let mut r: Raised = serde_json::from_str(&row.doc).map_err(|e| {
            DomainError::Unavailable(format!("stored alarm {} does not decode: {e}", row.id))
        })?;
        r.raised_at = row.raised_at;
        r.rule_id.clone_from(&row.rule_id);
        Ok(r)
    }
}

pub fn compute(
    from: Millis,
    to: Millis,
    raised: &[Raised],
    open: &[Alarm],
    mut chattering_rules: Vec<String>,
    now: DateTime<Utc>,
) -> AlarmStats {
    let span = (to - from).max(1);
    // Rates count what an operator was shown: an episode raised out of service (its asset
    // held by a work order) or suppressed by design, and never announced, is not one.
    let raised: Vec<&Raised> = raised.iter().filter(|a| a.announced).collect();
    let alarms = raised.len() as u64;
    let mut windows: HashMap<Millis, u64> = HashMap::new();
    let mut per_rule: HashMap<&str, (&str, u64)> = HashMap::new();
    for a in &raised {
        let t = a.raised_at;
        *windows.entry((t - from).div_euclid(TEN_MIN)).or_default() += 1;
        let e = per_rule
            .entry(a.rule_id.as_str())
            .or_insert((a.rule_name.as_str(), 0));
        e.1 += 1;
    }
    let peak_10_min = windows.values().copied().max().unwrap_or(0);
    let flood_windows = windows.values().filter(|n| **n > FLOOD_ABOVE).count() as i64;
    let flood_seconds = flood_windows * TEN_MIN / 1000;
    let mut top: Vec<RuleCount> = per_rule
        .into_iter()
        .map(|(id, (name, n))| RuleCount {
            rule_id: id.to_owned(),
            rule_name: name.to_owned(),
            alarms: n,
        })
        .collect();
    top.sort_by(|a, b| b.alarms.cmp(&a.alarms).then(a.rule_id.cmp(&b.rule_id)));
    top.truncate(10);
    chattering_rules.sort();
    let count = |s: AlarmState| open.iter().filter(|a| a.state == s).count() as u64;
    let now_ms = now.timestamp_millis();
    AlarmStats {
        from: to_datetime(from),
        to: to_datetime(to),
        alarms,
        per_10_min: alarms as f64 * TEN_MIN as f64 / span as f64,
        peak_10_min,
        flood_seconds,
        flood_percent: (flood_seconds * 1000) as f64 * 100.0 / span as f64,
        chattering_alarms: raised.iter().filter(|a| a.chattering).count() as u64,
        chattering_rules,
        stale_alarms: open
            .iter()
            .filter(|a| a.condition_active && now_ms - a.raised_at.timestamp_millis() > STALE_MS)
            .count() as u64,
        shelved_now: count(AlarmState::Shelved),
        suppressed_now: count(AlarmState::Suppressed),
        out_of_service_now: count(AlarmState::OutOfService),
        open_now: open.len() as u64,
        top_rules: top,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raised_alarm_reads_its_columns_and_three_fields_of_its_document() {
        let mut alarm = crate::tests::alarm(false);
        alarm.announced = true;
        alarm.chattering = true;
        let row = AlarmRow {
            id: alarm.id.clone(),
            rule_id: "rule-from-column".into(),
            device_id: alarm.device_id.to_string(),
            asset_id: None,
            state: "active_unack".into(),
            severity: "major".into(),
            raised_at: 1_234,
            updated_at: 1_234,
            doc: serde_json::to_string(&alarm).expect("json"),
            search_text: String::new(),
        };
        let raised = Raised::try_from(&row).expect("decodes");
        assert_eq!(
            raised,
            Raised {
                raised_at: 1_234,
                rule_id: "rule-from-column".into(),
                rule_name: "temp".into(),
                announced: true,
                chattering: true,
            }
        );
        let broken = AlarmRow {
            doc: "{".into(),
            ..row
        };
        let err = Raised::try_from(&broken).expect_err("a broken document is an error");
        assert!(err.to_string().contains("a1"), "{err}");
    }
}
