//! Per-series and per-device state kept in memory by the telemetry actor: the latest value
//! of each series (mirrored in `telemetry_series`) and each device's rejection count.

use std::collections::{BTreeMap, HashMap};

use plantd_contracts::telemetry::LatestValue;
use plantd_contracts::time::{to_datetime, Millis};
use plantd_contracts::DeviceId;

use crate::store::{SampleRow, SeriesRow};

#[derive(Default)]
pub struct SeriesIndex {
    by_device: BTreeMap<DeviceId, BTreeMap<String, SeriesRow>>,
}

impl SeriesIndex {
    pub fn load(rows: Vec<SeriesRow>) -> Self {
        let mut index = SeriesIndex::default();
        for row in rows {
            if let Ok(id) = DeviceId::parse(&row.device_id) {
                index
                    .by_device
                    .entry(id)
                    .or_default()
                    .insert(row.metric.clone(), row);
            }
        }
        index
    }

    /// The series rows a batch changes, merged with what is known: the newest sample wins,
    /// a late sample never replaces a newer latest value.
    pub fn merged_rows(&self, batch: &[SampleRow]) -> Vec<SeriesRow> {
        let mut merged: HashMap<(&str, &str), SeriesRow> = HashMap::new();
        for s in batch {
            let entry = merged
                .entry((s.device_id.as_str(), s.metric.as_str()))
                .or_insert_with(|| {
                    self.get(&s.device_id, &s.metric)
                        .cloned()
                        .unwrap_or(SeriesRow {
                            device_id: s.device_id.clone(),
                            metric: s.metric.clone(),
                            first_seen: s.ts,
                            last_ts: i64::MIN,
                            last_value: s.value,
                        })
                });
            entry.first_seen = entry.first_seen.min(s.ts);
            // Strictly newer: a sample at the same time is a duplicate, and the store keeps
            // the first one, so the latest value must too.
            if s.ts > entry.last_ts {
                entry.last_ts = s.ts;
                entry.last_value = s.value;
            }
        }
        merged.into_values().collect()
    }

    pub fn apply(&mut self, rows: Vec<SeriesRow>) {
        for row in rows {
            if let Ok(id) = DeviceId::parse(&row.device_id) {
                self.by_device
                    .entry(id)
                    .or_default()
                    .insert(row.metric.clone(), row);
            }
        }
    }

    fn get(&self, device_id: &str, metric: &str) -> Option<&SeriesRow> {
        let id = DeviceId::parse(device_id).ok()?;
        self.by_device.get(&id)?.get(metric)
    }

    pub fn latest(&self, devices: Option<&[DeviceId]>) -> BTreeMap<DeviceId, Vec<LatestValue>> {
        self.by_device
            .iter()
            .filter(|(id, _)| devices.is_none_or(|wanted| wanted.contains(id)))
            .map(|(id, metrics)| {
                let values = metrics
                    .values()
                    .map(|row| LatestValue {
                        metric: row.metric.clone(),
                        ts: to_datetime(row.last_ts),
                        value: row.last_value,
                    })
                    .collect();
                (id.clone(), values)
            })
            .collect()
    }
}

/// What the UI shows of a device's rejected payloads.
#[derive(Debug, Clone, Default)]
pub struct RejectionStats {
    pub count: u64,
    pub last_reason: Option<String>,
    pub last_at: Option<Millis>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(metric: &str, ts: i64, value: f64) -> SampleRow {
        SampleRow {
            device_id: "d1".into(),
            metric: metric.into(),
            ts,
            value,
        }
    }

    #[test]
    fn late_samples_do_not_replace_the_latest_value() {
        let mut index = SeriesIndex::default();
        let rows = index.merged_rows(&[
            sample("a", 10, 1.0),
            sample("a", 30, 3.0),
            sample("a", 20, 2.0),
        ]);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].first_seen, rows[0].last_ts, rows[0].last_value),
            (10, 30, 3.0)
        );
        index.apply(rows);
        let rows = index.merged_rows(&[sample("a", 5, 0.5)]);
        assert_eq!(
            (rows[0].first_seen, rows[0].last_ts, rows[0].last_value),
            (5, 30, 3.0)
        );
    }
}
