//! Counting meters from the telemetry stream: each committed batch arrives as
//! `SamplesStored`; a sample of a series no plan watches costs one hash lookup (by
//! metric, then by device). The plans whose meter moved are checked for a due
//! occurrence at once; their meter rows are saved at the next tick.

use std::collections::{BTreeMap, HashSet};

use actix::prelude::*;
use plantd_contracts::health::{SamplesStored, StoredSample};
use plantd_contracts::time::Millis;
use plantd_contracts::warn_throttled;

use crate::actor::{Maintenance, PlanState};
use crate::meter::Fed;

use crate::series::SeriesIndex;

/// Feeds `samples` to the meters of the plans that watch their series; returns the plans
/// whose meter moved and how many samples were counted.
pub(crate) fn count(
    index: &SeriesIndex,
    plans: &mut BTreeMap<String, PlanState>,
    samples: &[StoredSample],
    max_gap: Millis,
) -> (Vec<String>, u64) {
    let mut moved: HashSet<&str> = HashSet::new();
    let mut counted = 0u64;
    for s in samples {
        let Some(ids) = index.get(&*s.metric).and_then(|d| d.get(&s.device_id)) else {
            continue;
        };
        for id in ids {
            let Some(p) = plans.get_mut(id) else {
                continue;
            };
            let Some(kind) = p.plan.meter.as_ref().map(|m| m.kind) else {
                continue;
            };
            match p.meter.feed(kind, s.ts, s.value, max_gap) {
                Fed::Counted(_) => {
                    counted += 1;
                    moved.insert(id.as_str());
                }
                Fed::Stale => {
                    metrics::counter!("plantd_maintenance_samples_ignored_total", "reason" => "stale").increment(1);
                }
                Fed::Bad => {
                    metrics::counter!("plantd_maintenance_samples_ignored_total", "reason" => "not_finite").increment(1);
                    warn_throttled!(
                        "maintenance_bad_sample",
                        device = %s.device_id,
                        metric = %s.metric,
                        "a meter's sample is not a finite number; ignored"
                    );
                }
            }
        }
    }
    (moved.into_iter().map(str::to_owned).collect(), counted)
}

impl Handler<SamplesStored> for Maintenance {
    type Result = ();

    fn handle(&mut self, msg: SamplesStored, ctx: &mut Context<Self>) {
        if self.index.is_empty() {
            return;
        }
        let span = tracing::trace_span!("maintenance_samples", samples = msg.samples.len());
        let _entered = span.enter();
        let max_gap = i64::try_from(self.settings.max_gap.as_millis()).unwrap_or(i64::MAX);
        let (moved, counted) = count(&self.index, &mut self.plans, &msg.samples, max_gap);
        if counted > 0 {
            metrics::counter!("plantd_maintenance_samples_counted_total").increment(counted);
        }
        let now = self.now();
        for id in &moved {
            self.writer.touch(id);
            self.check_plan(id, now);
        }
        if self.writer.has_ops() {
            self.flush(ctx);
        }
    }
}
