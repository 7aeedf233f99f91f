//! The metric registry in memory (mirrored in `telemetry_metrics`): a series id per
//! (device, metric), unit, first and latest sample, and how far the series is compacted.
//! Also each device's rejection count. The telemetry actor owns it; no I/O here.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use plantd_contracts::telemetry::{LatestValue, MetricInfo};
use plantd_contracts::time::{to_datetime, Millis};
use plantd_contracts::DeviceId;

use crate::store::MetricRow;

#[derive(Debug, Clone)]
pub struct Series {
    pub row: MetricRow,
    /// The registry row is in the database (false until the batch that first saw it commits).
    pub persisted: bool,
    /// The metric's name, shared with every stored sample forwarded to other modules.
    pub name: Arc<str>,
}

impl Series {
    fn new(row: MetricRow, persisted: bool) -> Self {
        Series {
            name: Arc::from(row.metric.as_str()),
            row,
            persisted,
        }
    }
}

#[derive(Default)]
pub struct Registry {
    by_id: HashMap<i64, Series>,
    by_device: BTreeMap<DeviceId, BTreeMap<String, i64>>,
    next_id: i64,
}

impl Registry {
    pub fn load(rows: Vec<MetricRow>) -> Self {
        let mut registry = Registry {
            next_id: 1,
            ..Registry::default()
        };
        for row in rows {
            registry.next_id = registry.next_id.max(row.id + 1);
            registry.insert(Series::new(row, true));
        }
        registry
    }

    fn insert(&mut self, series: Series) {
        if let Ok(device) = DeviceId::parse(&series.row.device_id) {
            self.by_device
                .entry(device)
                .or_default()
                .insert(series.row.metric.clone(), series.row.id);
        }
        self.by_id.insert(series.row.id, series);
    }

    /// The series id of (device, metric), registering it on first sight.
    pub fn id_for(&mut self, device: &DeviceId, metric: &str, ts: Millis) -> i64 {
        if let Some(id) = self.by_device.get(device).and_then(|m| m.get(metric)) {
            return *id;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.insert(Series::new(
            MetricRow {
                id,
                device_id: device.to_string(),
                metric: metric.to_owned(),
                unit: None,
                first_seen: ts,
                last_ts: i64::MIN,
                last_value: 0.0,
                compacted_to: -1,
            },
            false,
        ));
        id
    }

    pub fn get(&self, id: i64) -> Option<&Series> {
        self.by_id.get(&id)
    }

    pub fn get_mut(&mut self, id: i64) -> Option<&mut Series> {
        self.by_id.get_mut(&id)
    }

    pub fn find(&self, device: &DeviceId, metric: &str) -> Option<i64> {
        self.by_device.get(device)?.get(metric).copied()
    }

    pub fn device_series(&self, device: &DeviceId) -> Vec<i64> {
        self.by_device
            .get(device)
            .map(|m| m.values().copied().collect())
            .unwrap_or_default()
    }

    /// How many series the device has (registered, stored or not yet).
    pub fn series_count(&self, device: &DeviceId) -> usize {
        self.by_device.get(device).map_or(0, BTreeMap::len)
    }

    pub fn all_ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.by_id.keys().copied()
    }

    /// A committed sample: first seen and latest value (strictly newer wins: a sample at
    /// the same time is a duplicate and the first one is kept).
    pub fn observe(&mut self, id: i64, ts: Millis, value: f64) {
        if let Some(s) = self.by_id.get_mut(&id) {
            s.row.first_seen = s.row.first_seen.min(ts);
            if ts > s.row.last_ts {
                s.row.last_ts = ts;
                s.row.last_value = value;
            }
        }
    }

    pub fn latest(&self, devices: Option<&[DeviceId]>) -> BTreeMap<DeviceId, Vec<LatestValue>> {
        // Looked up one by one when named (a scan testing each against the list was a
        // million comparisons for a thousand devices).
        let chosen: Box<dyn Iterator<Item = (&DeviceId, &BTreeMap<String, i64>)>> = match devices {
            Some(wanted) => Box::new(
                wanted
                    .iter()
                    .filter_map(|d| self.by_device.get_key_value(d)),
            ),
            None => Box::new(self.by_device.iter()),
        };
        chosen
            .map(|(device, metrics)| {
                let values = metrics
                    .values()
                    .filter_map(|id| self.by_id.get(id))
                    .filter(|s| s.row.last_ts != i64::MIN)
                    .map(|s| LatestValue {
                        metric: s.row.metric.clone(),
                        ts: to_datetime(s.row.last_ts),
                        value: s.row.last_value,
                    })
                    .collect();
                (device.clone(), values)
            })
            .collect()
    }

    pub fn metrics_of(&self, device: &DeviceId) -> Vec<MetricInfo> {
        self.device_series(device)
            .into_iter()
            .filter_map(|id| self.by_id.get(&id))
            .filter(|s| s.row.last_ts != i64::MIN)
            .map(|s| MetricInfo {
                metric: s.row.metric.clone(),
                unit: s.row.unit.clone(),
                first_seen: to_datetime(s.row.first_seen),
                ts: to_datetime(s.row.last_ts),
                value: s.row.last_value,
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

    #[test]
    fn late_samples_do_not_replace_the_latest_value() {
        let mut registry = Registry::load(Vec::new());
        let device = DeviceId::parse("d1").expect("id");
        let id = registry.id_for(&device, "a", 10);
        assert_eq!(registry.id_for(&device, "a", 5), id, "one id per series");
        registry.observe(id, 10, 1.0);
        registry.observe(id, 30, 3.0);
        registry.observe(id, 20, 2.0);
        registry.observe(id, 30, 9.0);
        registry.observe(id, 5, 0.5);
        let row = &registry.get(id).expect("series").row;
        assert_eq!((row.first_seen, row.last_ts, row.last_value), (5, 30, 3.0));
        assert!(!registry.get(id).expect("series").persisted);
    }
}
