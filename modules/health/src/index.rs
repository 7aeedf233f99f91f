//! Which rules a sample goes to: by metric, then by the device a rule names or the asset
//! it watches (the device's asset at evaluation time), plus the `no_data` rules without a
//! metric, which every sample feeds. The lists are shared slices, so the evaluator holds
//! one while it evaluates without copying it: a sample costs no allocation here and only
//! the rules that watch its device, whatever the number of rules on its metric.
//!
//! Pure data; the health actor owns it.

use std::collections::HashMap;
use std::sync::Arc;

use plantd_contracts::health::RuleInput;
use plantd_contracts::DeviceId;

/// Rule ids.
pub(crate) type Ids = Arc<[Arc<str>]>;

#[derive(Default)]
pub(crate) struct RuleIndex {
    /// metric → device → rules naming that device.
    by_device: HashMap<String, HashMap<DeviceId, Ids>>,
    /// metric → asset → rules watching that asset.
    by_asset: HashMap<String, HashMap<String, Ids>>,
    any_metric: Ids,
}

/// The rules of one sample: those of its device, of its device's asset, of any metric.
pub(crate) struct ForSample(Option<Ids>, Option<Ids>, Ids);

impl ForSample {
    pub fn iter(&self) -> impl Iterator<Item = &Arc<str>> {
        self.0
            .iter()
            .chain(self.1.iter())
            .flat_map(|ids| ids.iter())
            .chain(self.2.iter())
    }
}

fn with(ids: &Ids, id: &Arc<str>) -> Ids {
    ids.iter().chain(std::iter::once(id)).cloned().collect()
}

impl RuleIndex {
    /// Indexes rule `id` under each of `metrics` (those it evaluates, and the one its
    /// `suppress_when` reads); `any` for a rule that every sample feeds.
    pub fn insert<'a>(
        &mut self,
        id: &str,
        input: &RuleInput,
        metrics: impl Iterator<Item = &'a String>,
        any: bool,
    ) {
        let id: Arc<str> = Arc::from(id);
        if any {
            self.any_metric = with(&self.any_metric, &id);
        }
        let device = input
            .device_id
            .as_deref()
            .and_then(|d| DeviceId::parse(d).ok());
        for m in metrics {
            if let Some(d) = &device {
                let ids = self
                    .by_device
                    .entry(m.clone())
                    .or_default()
                    .entry(d.clone())
                    .or_default();
                *ids = with(ids, &id);
            } else if let Some(a) = &input.asset_id {
                let ids = self
                    .by_asset
                    .entry(m.clone())
                    .or_default()
                    .entry(a.clone())
                    .or_default();
                *ids = with(ids, &id);
            }
        }
    }

    pub fn remove(&mut self, id: &str) {
        fn drop_from<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Ids>, id: &str) {
            for ids in map.values_mut() {
                if ids.iter().any(|r| &**r == id) {
                    *ids = ids.iter().filter(|r| &***r != id).cloned().collect();
                }
            }
            map.retain(|_, ids| !ids.is_empty());
        }
        for map in self.by_device.values_mut() {
            drop_from(map, id);
        }
        self.by_device.retain(|_, m| !m.is_empty());
        for map in self.by_asset.values_mut() {
            drop_from(map, id);
        }
        self.by_asset.retain(|_, m| !m.is_empty());
        if self.any_metric.iter().any(|r| &**r == id) {
            self.any_metric = self
                .any_metric
                .iter()
                .filter(|r| &***r != id)
                .cloned()
                .collect();
        }
    }

    /// The rules a sample of `metric` from `device` (attached to `asset`) goes to.
    pub fn for_sample(&self, metric: &str, device: &DeviceId, asset: Option<&str>) -> ForSample {
        let by_device = self
            .by_device
            .get(metric)
            .and_then(|m| m.get(device))
            .cloned();
        let by_asset = asset
            .and_then(|a| self.by_asset.get(metric)?.get(a))
            .cloned();
        ForSample(by_device, by_asset, self.any_metric.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(body: serde_json::Value) -> RuleInput {
        crate::rules::parse(&body).expect("valid rule")
    }

    fn ids(index: &RuleIndex, metric: &str, device: &str, asset: Option<&str>) -> Vec<String> {
        let d = DeviceId::parse(device).expect("device id");
        let mut v: Vec<String> = index
            .for_sample(metric, &d, asset)
            .iter()
            .map(|r| r.to_string())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_sample_reaches_the_rules_of_its_device_its_asset_and_any_metric_only() {
        let mut index = RuleIndex::default();
        let on_device = input(json!({"name": "t", "device_id": "pump-1", "metric": "vib",
            "kind": "threshold", "op": ">", "value": 5}));
        let on_asset = input(json!({"name": "i", "asset_id": "a1", "metric": "vib",
            "kind": "iso20816"}));
        let silent = input(
            json!({"name": "n", "device_id": "pump-2", "kind": "no_data",
            "minutes": 1}),
        );
        let vib = "vib".to_owned();
        index.insert("r1", &on_device, [&vib].into_iter(), false);
        index.insert("r2", &on_asset, [&vib].into_iter(), false);
        index.insert("r3", &silent, std::iter::empty(), true);
        assert_eq!(ids(&index, "vib", "pump-1", Some("a1")), ["r1", "r2", "r3"]);
        assert_eq!(ids(&index, "vib", "pump-2", None), ["r3"]);
        assert_eq!(ids(&index, "temp", "pump-1", Some("a1")), ["r3"]);
        assert_eq!(ids(&index, "vib", "pump-3", Some("a1")), ["r2", "r3"]);
        index.remove("r2");
        index.remove("r3");
        assert_eq!(ids(&index, "vib", "pump-1", Some("a1")), ["r1"]);
        index.remove("r1");
        assert!(index.by_device.is_empty() && index.by_asset.is_empty());
    }
}
