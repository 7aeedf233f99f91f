//! What devices sent Control that waits for its batch (issue 14.4): per device, its
//! `state/reported` messages and command results in arrival order, and the caps on them
//! (`device_queue_max_per_device`, `device_queue_max_total`). Plain data the actor keeps.
//!
//! Nothing queued is ever dropped: the broker acknowledged it to the device. A device
//! whose queue reaches a cap is *held* instead: the actor asks the broker (`HoldDevice`)
//! to keep its next publishes unacknowledged, and lets it go when its batch takes the
//! queue. So a queue exceeds its cap only by what was already on its way.

use std::collections::{HashMap, HashSet};

use plantd_contracts::DeviceId;

use super::commands::Outcome;
#[cfg(test)]
use super::shadow::parse_report;
use super::shadow::Report;

/// The caps, from plantd's settings.
#[derive(Debug, Clone, Copy)]
pub struct QueueLimits {
    /// Messages one device may have waiting before it is held.
    pub per_device: usize,
    /// Messages all devices together may have waiting before the next sender is held.
    pub total: usize,
}

/// A command result, parsed, waiting for its batch.
pub struct QueuedResult {
    pub command: String,
    pub outcome: Outcome,
    pub received_at: i64,
}

/// One device's waiting messages.
#[derive(Default)]
pub struct Batch {
    pub reports: Vec<(Report, i64)>,
    pub results: Vec<QueuedResult>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.reports.len() + self.results.len()
    }
}

/// What queueing one message did.
pub struct Pushed {
    /// It is the first of its device's batch: schedule the batch.
    pub first: bool,
    /// The device has just reached a cap (named): hold it at the broker.
    pub hold: Option<&'static str>,
}

pub struct Queues {
    limits: QueueLimits,
    waiting: HashMap<DeviceId, Batch>,
    total: usize,
    /// Devices held at the broker for a full queue.
    held: HashSet<DeviceId>,
}

impl Queues {
    pub fn new(limits: QueueLimits) -> Queues {
        Queues {
            limits,
            waiting: HashMap::new(),
            total: 0,
            held: HashSet::new(),
        }
    }

    pub fn push_report(&mut self, device: &DeviceId, report: Report, at: i64) -> Pushed {
        self.waiting
            .entry(device.clone())
            .or_default()
            .reports
            .push((report, at));
        self.pushed(device)
    }

    pub fn push_result(&mut self, device: &DeviceId, result: QueuedResult) -> Pushed {
        self.waiting
            .entry(device.clone())
            .or_default()
            .results
            .push(result);
        self.pushed(device)
    }

    fn pushed(&mut self, device: &DeviceId) -> Pushed {
        self.total += 1;
        metrics::gauge!("plantd_control_queued_messages").set(self.total as f64);
        let len = self.waiting.get(device).map_or(0, Batch::len);
        let full = if self.held.contains(device) {
            None
        } else if len >= self.limits.per_device {
            Some("per_device")
        } else if self.total >= self.limits.total {
            Some("total")
        } else {
            None
        };
        if full.is_some() {
            self.held.insert(device.clone());
        }
        Pushed {
            first: len == 1,
            hold: full,
        }
    }

    /// Takes a device's reports, and its results too if `results`; the second value is
    /// true if the device was held and its queue is below its cap now (let it go).
    pub fn take(&mut self, device: &DeviceId, results: bool) -> (Batch, bool) {
        let Some(waiting) = self.waiting.get_mut(device) else {
            return (Batch::default(), self.held.remove(device));
        };
        let batch = Batch {
            reports: std::mem::take(&mut waiting.reports),
            results: if results {
                std::mem::take(&mut waiting.results)
            } else {
                Vec::new()
            },
        };
        let left = waiting.len();
        if left == 0 {
            self.waiting.remove(device);
        }
        self.total = self.total.saturating_sub(batch.len());
        metrics::gauge!("plantd_control_queued_messages").set(self.total as f64);
        let release = left < self.limits.per_device && self.held.remove(device);
        (batch, release)
    }

    /// Whether anything of this device waits.
    pub fn has(&self, device: &DeviceId) -> bool {
        self.waiting.contains_key(device)
    }

    /// Nothing waits.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        parse_report(br#"{"state": {"a": 1}}"#).expect("report")
    }

    #[test]
    fn a_device_is_held_once_at_its_cap_and_let_go_when_its_batch_is_taken() {
        let mut q = Queues::new(QueueLimits {
            per_device: 3,
            total: 100,
        });
        let a = DeviceId::parse("a").expect("id");
        let pushes: Vec<_> = (0..5).map(|i| q.push_report(&a, report(), i)).collect();
        assert!(pushes[0].first && !pushes[1].first);
        let holds: Vec<_> = pushes.iter().map(|p| p.hold).collect();
        assert_eq!(holds, [None, None, Some("per_device"), None, None]);
        let (batch, held) = q.take(&a, true);
        assert_eq!((batch.len(), held), (5, true), "nothing queued is dropped");
        assert!(q.is_empty());
        assert!(q.push_report(&a, report(), 9).first);
    }

    #[test]
    fn the_total_cap_holds_the_next_sender() {
        let mut q = Queues::new(QueueLimits {
            per_device: 100,
            total: 2,
        });
        let (a, b) = (
            DeviceId::parse("a").expect("id"),
            DeviceId::parse("b").expect("id"),
        );
        assert_eq!(q.push_report(&a, report(), 0).hold, None);
        assert_eq!(q.push_report(&b, report(), 0).hold, Some("total"));
        let (_, held) = q.take(&a, true);
        assert!(!held, "a was not held");
        assert!(q.take(&b, true).1);
    }
}
