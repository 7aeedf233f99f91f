//! The head: committed samples not yet compacted into chunks, per series and by time, each
//! with the sequence number of its row in `telemetry_recent`; and a small ring per device
//! of the latest committed samples for live views. Rebuilt from `telemetry_recent` at
//! start. The telemetry actor owns it; no I/O here.

use std::collections::{BTreeMap, HashMap, VecDeque};

use plantd_contracts::time::Millis;
use plantd_contracts::DeviceId;

/// Samples kept per device for live views.
const RING: usize = 512;

#[derive(Default)]
pub struct Head {
    series: HashMap<i64, BTreeMap<Millis, (f64, i64)>>,
    len: usize,
    /// Committed batches in commit order: (last seq, samples), to cut compactions.
    batches: VecDeque<(i64, usize)>,
    rings: HashMap<DeviceId, VecDeque<LiveRow>>,
}

#[derive(Debug, Clone)]
pub struct LiveRow {
    pub seq: i64,
    pub series_id: i64,
    pub ts: Millis,
    pub value: f64,
}

impl Head {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn contains(&self, series_id: i64, ts: Millis) -> bool {
        self.series
            .get(&series_id)
            .is_some_and(|m| m.contains_key(&ts))
    }

    /// Adds a committed sample (the caller has checked it is not a duplicate).
    pub fn insert(&mut self, device: &DeviceId, series_id: i64, ts: Millis, value: f64, seq: i64) {
        if self
            .series
            .entry(series_id)
            .or_default()
            .insert(ts, (value, seq))
            .is_none()
        {
            self.len += 1;
        }
        if !self.rings.contains_key(device) {
            self.rings.insert(device.clone(), VecDeque::new());
        }
        let Some(ring) = self.rings.get_mut(device) else {
            return;
        };
        if ring.len() == RING {
            ring.pop_front();
        }
        ring.push_back(LiveRow {
            seq,
            series_id,
            ts,
            value,
        });
    }

    /// Marks the end of a committed batch (its last seq and size).
    pub fn batch_committed(&mut self, last_seq: i64, samples: usize) {
        if samples > 0 {
            self.batches.push_back((last_seq, samples));
        }
    }

    /// Points of a series in `[from, to]` with their seq: the caller keeps those after the
    /// compacted seq its database read saw.
    pub fn points(&self, series_id: i64, from: Millis, to: Millis) -> Vec<(Millis, f64, i64)> {
        let Some(map) = self.series.get(&series_id) else {
            return Vec::new();
        };
        if from > to {
            return Vec::new();
        }
        map.range(from..=to)
            .map(|(ts, (v, seq))| (*ts, *v, *seq))
            .collect()
    }

    /// The seq up to which the next compaction goes: whole batches, at most `max` samples
    /// (at least one batch). `None` when the head is empty.
    pub fn cut(&self, max: usize) -> Option<i64> {
        let mut total = 0;
        let mut upto = None;
        for (seq, n) in &self.batches {
            if upto.is_some() && total + n > max {
                break;
            }
            total += n;
            upto = Some(*seq);
        }
        upto
    }

    /// Samples up to `upto_seq`, per series, ascending by time.
    pub fn snapshot(&self, upto_seq: i64) -> Vec<(i64, Vec<(Millis, f64)>)> {
        self.series
            .iter()
            .filter_map(|(id, map)| {
                let points: Vec<_> = map
                    .iter()
                    .filter(|(_, (_, seq))| *seq <= upto_seq)
                    .map(|(ts, (v, _))| (*ts, *v))
                    .collect();
                (!points.is_empty()).then_some((*id, points))
            })
            .collect()
    }

    /// Drops samples up to `upto_seq`: they are in chunks now.
    pub fn remove_upto(&mut self, upto_seq: i64) {
        let mut removed = 0;
        self.series.retain(|_, map| {
            let before = map.len();
            map.retain(|_, (_, seq)| *seq > upto_seq);
            removed += before - map.len();
            !map.is_empty()
        });
        self.len -= removed;
        while self
            .batches
            .front()
            .is_some_and(|(seq, _)| *seq <= upto_seq)
        {
            self.batches.pop_front();
        }
    }

    /// The newest seq in a device's ring.
    pub fn ring_cursor(&self, device: &DeviceId) -> i64 {
        self.rings
            .get(device)
            .and_then(|r| r.back())
            .map(|r| r.seq)
            .unwrap_or(0)
    }

    pub fn ring_since(&self, device: &DeviceId, cursor: i64) -> Vec<LiveRow> {
        self.rings
            .get(device)
            .map(|r| r.iter().filter(|s| s.seq > cursor).cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_whole_batches_and_forgets_what_was_compacted() {
        let device = DeviceId::parse("d1").expect("id");
        let mut head = Head::default();
        for seq in 1..=10 {
            head.insert(&device, 7, seq * 1000, seq as f64, seq);
            if seq % 5 == 0 {
                head.batch_committed(seq, 5);
            }
        }
        assert_eq!(head.cut(3), Some(5), "at least one batch");
        assert_eq!(head.cut(10), Some(10));
        assert_eq!(
            head.points(7, 0, 100_000)
                .iter()
                .filter(|p| p.2 > 3)
                .count(),
            7
        );
        assert_eq!(head.snapshot(5)[0].1.len(), 5);
        head.remove_upto(5);
        assert_eq!(head.len(), 5);
        assert!(!head.contains(7, 5000) && head.contains(7, 6000));
        assert_eq!(head.cut(100), Some(10));
        assert_eq!(head.ring_since(&device, 8).len(), 2);
        assert_eq!(head.ring_cursor(&device), 10);
    }
}
