//! The figures' facts of the last period read, kept until the next committed change of any
//! order: a report viewed again (a dashboard left open, the page reloaded, its CSV) reads
//! them from memory instead of the figure columns of every order touching the period
//! (10,000 open orders took most of a report's 40 ms). One entry, so memory stays bounded
//! (about 200 bytes an order). The work-order actor is the only writer of its tables and
//! every write goes through `WorkOrders::commit`, which calls [`FactsCache::changed`]
//! after the commit; a read tags what it loaded with the count of changes seen *before*
//! it read, so a change committed during the read makes the entry stale at once.
//! Touches nothing but its own memory.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use plantd_contracts::time::Millis;

use crate::kpi::Facts;

/// What a read asked for: the period and the assets (`None`: every order).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FactsKey {
    pub from: Millis,
    pub to: Millis,
    pub assets: Option<Vec<String>>,
}

struct Entry {
    changes: u64,
    key: FactsKey,
    facts: Arc<Vec<Facts>>,
}

/// Shared by the actor (which counts changes) and its figure reads (which run off it).
#[derive(Default)]
pub(crate) struct FactsCache {
    changes: AtomicU64,
    entry: Mutex<Option<Entry>>,
}

impl FactsCache {
    /// An order was created, changed or deleted (called after the commit).
    pub fn changed(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
    }

    /// The count to tag a read with: take it before reading.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::SeqCst)
    }

    /// The facts for `key`, if read since the last change.
    pub fn get(&self, key: &FactsKey) -> Option<Arc<Vec<Facts>>> {
        let now = self.changes();
        let entry = self.entry.lock().ok()?;
        entry
            .as_ref()
            .filter(|e| e.changes == now && &e.key == key)
            .map(|e| e.facts.clone())
    }

    /// Keeps what a read tagged `changes` (taken before it read) loaded.
    pub fn put(&self, changes: u64, key: FactsKey, facts: Arc<Vec<Facts>>) {
        if let Ok(mut entry) = self.entry.lock() {
            *entry = Some(Entry {
                changes,
                key,
                facts,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plantd_contracts::workorders::{WorkOrderStatus, WorkOrderType};

    fn key(from: Millis) -> FactsKey {
        FactsKey {
            from,
            to: from + 10,
            assets: None,
        }
    }

    fn facts() -> Arc<Vec<Facts>> {
        Arc::new(vec![Facts {
            kind: WorkOrderType::Corrective,
            status: WorkOrderStatus::Open,
            asset_id: None,
            created_at: 1,
            closed_at: None,
            due_at: None,
            completed_at: None,
            downtime_start: None,
            downtime_end: None,
            estimated_hours: None,
            actual_hours: None,
            interval_days: None,
            repeat_failure: false,
            failure_mode: None,
        }])
    }

    #[test]
    fn an_entry_serves_its_own_period_until_the_next_change() {
        let cache = FactsCache::default();
        assert!(cache.get(&key(0)).is_none());
        let tag = cache.changes();
        cache.put(tag, key(0), facts());
        assert!(cache.get(&key(0)).is_some());
        assert!(cache.get(&key(5)).is_none(), "another period");
        cache.changed();
        assert!(cache.get(&key(0)).is_none(), "stale after a change");
    }

    #[test]
    fn a_change_committed_during_a_read_makes_its_entry_stale() {
        let cache = FactsCache::default();
        let tag = cache.changes();
        // ... the read runs; meanwhile an order is committed ...
        cache.changed();
        cache.put(tag, key(0), facts());
        assert!(cache.get(&key(0)).is_none());
    }
}
