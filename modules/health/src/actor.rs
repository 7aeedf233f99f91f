//! The health actor: holds the asset tree, the rules (compiled), the devices' assets, one
//! detector per (rule, device) and the open alarms in memory; evaluates forwarded samples
//! (`evaluate.rs`), writes alarm changes with their events through the outbox (`writer.rs`)
//! and answers the API (`handlers.rs`, `alarm_api.rs`, `preview.rs`). It talks to other
//! modules only by message: telemetry's `QueryRange` for backtests, events for devices.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Duration;

use actix::prelude::*;
use plantd_contracts::health::{Alarm, Asset, Rule};
use plantd_contracts::telemetry::QueryRange;
use plantd_contracts::time::{now_ms, Millis};
use plantd_contracts::DeviceId;
use plantd_events::Outbox;
use plantd_storage::{Db, DbError};

use crate::detect::{Check, DetectorState, Signal};
use crate::index::RuleIndex;
use crate::rules;
use crate::store;
use crate::write_queue::Writer;

#[derive(Debug, Clone)]
pub struct HealthSettings {
    /// The longest an operator may shelve an alarm.
    pub max_shelve: Duration,
    /// Detector state is saved this often (and at shutdown).
    pub save_interval: Duration,
    /// The clock: `no_data` silences and shelve expiry are checked this often.
    pub tick: Duration,
}

impl Default for HealthSettings {
    fn default() -> Self {
        HealthSettings {
            max_shelve: Duration::from_secs(8 * 3600),
            save_interval: Duration::from_secs(5),
            tick: Duration::from_secs(1),
        }
    }
}

/// A rule as the evaluator uses it.
pub(crate) struct Compiled {
    pub rule: Rule,
    pub check: Check,
    pub metrics: Vec<String>,
}

/// One rule on one device: its detector, its open alarm, what it last concluded.
pub(crate) struct Slot {
    pub state: DetectorState,
    pub alarm: Option<Alarm>,
    pub last: Option<Signal>,
    /// When watching began (for `no_data` before any sample).
    pub since: Millis,
    /// Raise times of the last minute (chattering).
    pub raises: VecDeque<Millis>,
    pub dirty: bool,
}

impl Slot {
    pub fn new(check: &Check, since: Millis) -> Slot {
        Slot {
            state: DetectorState::new(check),
            alarm: None,
            last: None,
            since,
            raises: VecDeque::new(),
            dirty: true,
        }
    }
}

pub struct Health {
    pub(crate) db: Db,
    pub(crate) outbox: Outbox,
    pub(crate) settings: HealthSettings,
    pub(crate) telemetry: Recipient<QueryRange>,
    pub(crate) assets: BTreeMap<String, Asset>,
    pub(crate) rules: BTreeMap<String, Compiled>,
    pub(crate) device_assets: HashMap<DeviceId, String>,
    /// metric → device or asset → rules that evaluate it (and rules whose
    /// `suppress_when` reads it); `no_data` rules without a metric.
    pub(crate) index: RuleIndex,
    pub(crate) slots: HashMap<String, HashMap<DeviceId, Slot>>,
    /// The latest value of every (device, metric) seen since start.
    pub(crate) latest: HashMap<DeviceId, HashMap<String, f64>>,
    /// History entries written per open alarm (the next entry's seq).
    pub(crate) history_len: HashMap<String, i32>,
    /// Rules with a chattering alarm in the last day, and when it was seen.
    pub(crate) chattering: HashMap<String, Millis>,
    pub(crate) writer: Writer,
}

impl Health {
    /// Loads the tree, rules, open alarms and detector state; call once at start.
    pub async fn load(
        db: Db,
        outbox: Outbox,
        settings: HealthSettings,
        telemetry: Recipient<QueryRange>,
    ) -> Result<Health, DbError> {
        let loaded = db.run(store::load).await?;
        let mut health = Health {
            db,
            outbox,
            settings,
            telemetry,
            assets: BTreeMap::new(),
            rules: BTreeMap::new(),
            device_assets: HashMap::new(),
            index: RuleIndex::default(),
            slots: HashMap::new(),
            latest: HashMap::new(),
            history_len: HashMap::new(),
            chattering: HashMap::new(),
            writer: Writer::default(),
        };
        for row in loaded.assets {
            match serde_json::from_str::<Asset>(&row.doc) {
                Ok(a) => {
                    health.assets.insert(a.id.clone(), a);
                }
                Err(e) => {
                    tracing::error!(asset = %row.id, error = %e, "stored asset does not decode; skipped")
                }
            }
        }
        for (device, asset) in loaded.device_assets {
            if let Ok(d) = DeviceId::parse(&device) {
                health.device_assets.insert(d, asset);
            }
        }
        for row in loaded.rules {
            match serde_json::from_str::<Rule>(&row.doc) {
                Ok(rule) => health.install_rule(rule),
                Err(e) => {
                    tracing::error!(rule = %row.id, error = %e, "stored rule does not decode; skipped")
                }
            }
        }
        let start = now_ms();
        for row in loaded.eval {
            let (Some(c), Ok(device)) = (
                health.rules.get(&row.rule_id),
                DeviceId::parse(&row.device_id),
            ) else {
                continue;
            };
            match serde_json::from_str::<DetectorState>(&row.state) {
                Ok(state) if state.fits(&c.check) => {
                    let mut slot = Slot::new(&c.check, start);
                    slot.state = state;
                    slot.dirty = false;
                    health
                        .slots
                        .entry(row.rule_id.clone())
                        .or_default()
                        .insert(device, slot);
                }
                _ => {
                    tracing::warn!(rule = %row.rule_id, "stored detector state does not fit the rule; starting afresh")
                }
            }
        }
        for (id, n) in loaded.history_counts {
            health
                .history_len
                .insert(id, i32::try_from(n).unwrap_or(i32::MAX));
        }
        for row in loaded.open_alarms {
            let alarm = match serde_json::from_str::<Alarm>(&row.doc) {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!(alarm = %row.id, error = %e, "stored alarm does not decode; skipped");
                    continue;
                }
            };
            let Some(c) = health.rules.get(&alarm.rule_id) else {
                continue;
            };
            let slot = health
                .slots
                .entry(alarm.rule_id.clone())
                .or_default()
                .entry(alarm.device_id.clone())
                .or_insert_with(|| Slot::new(&c.check, start));
            slot.last = Some(Signal {
                active: alarm.condition_active,
                severity: Some(alarm.severity),
                value: alarm.last_value,
            });
            slot.alarm = Some(alarm);
        }
        crate::metrics::set_open_gauges(health.open_alarms());
        tracing::info!(
            assets = health.assets.len(),
            rules = health.rules.len(),
            open_alarms = health.open_alarms().count(),
            "health loaded"
        );
        Ok(health)
    }

    /// Adds or replaces a rule in memory (index, compiled check); detectors whose state
    /// no longer fits start afresh.
    pub(crate) fn install_rule(&mut self, rule: Rule) {
        let check = match rules::compile(&rule.input, None) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(rule = %rule.id, error = %e, "stored rule no longer compiles; skipped");
                return;
            }
        };
        let id = rule.id.clone();
        self.remove_from_index(&id);
        let metrics = rules::watched_metrics(&rule.input);
        let mut indexed: HashSet<&String> = metrics.iter().collect();
        if let Some(s) = &rule.input.suppress_when {
            indexed.insert(&s.metric);
        }
        self.index
            .insert(&id, &rule.input, indexed.into_iter(), metrics.is_empty());
        // A changed check starts its detectors afresh where their state no longer fits;
        // an anomaly rule saved again restarts its warm-up (the way to accept a new level).
        let previous = self.rules.get(&id).map(|c| c.check.clone());
        let restart = previous.is_some() && matches!(check, Check::Anomaly(_));
        if let Some(slots) = self.slots.get_mut(&id) {
            for slot in slots.values_mut() {
                if restart || !slot.state.fits(&check) {
                    slot.state = DetectorState::new(&check);
                    slot.dirty = true;
                }
            }
        }
        self.rules.insert(
            id,
            Compiled {
                rule,
                check,
                metrics,
            },
        );
    }

    pub(crate) fn remove_from_index(&mut self, id: &str) {
        self.index.remove(id);
    }

    pub(crate) fn open_alarms(&self) -> impl Iterator<Item = &Alarm> {
        self.slots
            .values()
            .flat_map(|s| s.values())
            .filter_map(|s| s.alarm.as_ref())
    }

    /// The devices a rule watches: its device, or every device attached to its asset.
    pub(crate) fn devices_of(&self, rule: &Rule) -> Vec<DeviceId> {
        if let Some(d) = &rule.input.device_id {
            return DeviceId::parse(d).into_iter().collect();
        }
        let Some(asset) = &rule.input.asset_id else {
            return Vec::new();
        };
        let mut devices: Vec<DeviceId> = self
            .device_assets
            .iter()
            .filter(|(_, a)| *a == asset)
            .map(|(d, _)| d.clone())
            .collect();
        devices.sort();
        devices
    }

    /// The asset an alarm of `rule` on `device` belongs to.
    pub(crate) fn asset_of(&self, rule: &Rule, device: &DeviceId) -> Option<String> {
        rule.input
            .asset_id
            .clone()
            .or_else(|| self.device_assets.get(device).cloned())
    }

    /// The detectors' state to save: the changed ones, or all.
    fn detector_rows(&mut self, all: bool) -> Vec<store::EvalRow> {
        let now = now_ms();
        let mut rows = Vec::new();
        for (rule, slots) in &mut self.slots {
            for (device, slot) in slots.iter_mut().filter(|(_, s)| all || s.dirty) {
                match serde_json::to_string(&slot.state) {
                    Ok(state) => rows.push(store::EvalRow {
                        rule_id: rule.clone(),
                        device_id: device.to_string(),
                        state,
                        updated_at: now,
                    }),
                    Err(e) => tracing::error!(error = %e, "detector state does not encode"),
                }
                slot.dirty = false;
            }
        }
        rows
    }

    fn save_detectors(&mut self, ctx: &mut Context<Self>) {
        let rows = self.detector_rows(false);
        if rows.is_empty() {
            return;
        }
        let db = self.db.clone();
        ctx.spawn(
            async move { db.run(move |c| store::save_eval(c, &rows)).await }
                .into_actor(self)
                .map(|result, _, _| {
                    if let Err(e) = result {
                        metrics::counter!("plantd_health_write_failures_total").increment(1);
                        tracing::warn!(error = %e, "detector state not saved; saved again at the next interval");
                    }
                }),
        );
    }
}

impl Actor for Health {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.settings.tick, |act, ctx| {
            act.on_clock(ctx);
            act.flush_writes(ctx);
        });
        ctx.run_interval(self.settings.save_interval, |act, ctx| {
            act.save_detectors(ctx)
        });
    }
}

/// Before the process ends: alarm changes and detector state are written.
impl Handler<plantd_contracts::devices::FlushPending> for Health {
    type Result = ResponseActFuture<Self, Result<(), plantd_contracts::DomainError>>;

    fn handle(
        &mut self,
        _: plantd_contracts::devices::FlushPending,
        ctx: &mut Context<Self>,
    ) -> Self::Result {
        let rows = self.detector_rows(true);
        let waiter = self.writer.wait_idle();
        self.flush_writes(ctx);
        let db = self.db.clone();
        Box::pin(
            async move {
                db.run(move |c| store::save_eval(c, &rows)).await?;
                waiter.await.map_err(|_| {
                    plantd_contracts::DomainError::Unavailable("health stopped".into())
                })?
            }
            .into_actor(self),
        )
    }
}
