//! The asset and rule messages, and what health hears from other modules: devices'
//! assets (events, and the list at start). Each change is written before it is answered
//! and before memory changes, so a failed write leaves both as they were.

use actix::prelude::*;
use chrono::Utc;
use plantd_contracts::events::DeliverEvent;
use plantd_contracts::health::*;
use plantd_contracts::json::merge_patch;
use plantd_contracts::{DeviceId, DomainError, EventData};
use uuid::Uuid;

use crate::actor::Health;
use crate::episode::{Overlay, Step, SYSTEM};
use crate::store::{self, AssetRow, RuleRow};
use crate::{assets, rules};

type Reply<T> = ResponseActFuture<Health, Result<T, DomainError>>;

fn ready<T: 'static>(v: Result<T, DomainError>) -> Reply<T> {
    Box::pin(fut::ready(v))
}

fn encode<T: serde::Serialize>(v: &T) -> Result<String, DomainError> {
    serde_json::to_string(v).map_err(|e| DomainError::Unavailable(e.to_string()))
}

fn not_found(what: &str, id: &str) -> DomainError {
    DomainError::NotFound(format!("{what} {id}"))
}

impl Health {
    fn asset_row(a: &Asset) -> Result<AssetRow, DomainError> {
        Ok(AssetRow {
            id: a.id.clone(),
            parent_id: a.parent_id.clone(),
            name: a.name.clone(),
            doc: encode(a)?,
            created_at: a.created_at.timestamp_millis(),
            updated_at: a.updated_at.timestamp_millis(),
        })
    }

    /// Writes an asset, then keeps it in memory and answers it.
    fn save_asset(&mut self, asset: Asset) -> Reply<Asset> {
        let row = match Self::asset_row(&asset) {
            Ok(r) => r,
            Err(e) => return ready(Err(e)),
        };
        let db = self.db.clone();
        Box::pin(
            async move { db.run(move |c| store::upsert_asset(c, &row)).await }
                .into_actor(self)
                .map(move |result, act, _| {
                    result?;
                    act.assets.insert(asset.id.clone(), asset.clone());
                    Ok(asset)
                }),
        )
    }

    /// Checks what a rule refers to: its asset exists; an `iso20816` rule on an asset
    /// needs the asset's vibration class.
    fn check_refs(&self, input: &RuleInput) -> Result<(), DomainError> {
        if let Some(a) = &input.asset_id {
            let Some(asset) = self.assets.get(a) else {
                return Err(DomainError::invalid("asset_id", "no such asset"));
            };
            if matches!(input.spec, RuleSpec::Iso20816 { .. }) && asset.iso20816.is_none() {
                return Err(DomainError::invalid(
                    "asset_id",
                    "the asset has no iso20816 class (group and foundation): set it first",
                ));
            }
        }
        Ok(())
    }

    fn save_rule(&mut self, rule: Rule) -> Reply<Rule> {
        let row = match encode(&rule) {
            Ok(doc) => RuleRow {
                id: rule.id.clone(),
                doc,
                created_at: rule.created_at.timestamp_millis(),
                updated_at: rule.updated_at.timestamp_millis(),
            },
            Err(e) => return ready(Err(e)),
        };
        let db = self.db.clone();
        Box::pin(
            async move { db.run(move |c| store::upsert_rule(c, &row)).await }
                .into_actor(self)
                .map(move |result, act, _| {
                    result?;
                    act.install_rule(rule.clone());
                    Ok(rule)
                }),
        )
    }

    pub(crate) fn rule_view(&self, id: &str) -> Option<Rule> {
        let c = self.rules.get(id)?;
        let mut rule = c.rule.clone();
        rule.chattering = self.chattering.contains_key(id);
        Some(rule)
    }
}

impl Handler<CreateAsset> for Health {
    type Result = Reply<Asset>;

    fn handle(&mut self, msg: CreateAsset, _: &mut Context<Self>) -> Self::Result {
        let now = Utc::now();
        let id = Uuid::new_v4().to_string();
        let built = assets::parse_input(&msg.0)
            .and_then(|input| assets::build(&id, input, &self.assets, now, now, false));
        match built {
            Ok(asset) => self.save_asset(asset),
            Err(e) => ready(Err(e)),
        }
    }
}

impl Handler<ListAssets> for Health {
    type Result = Result<Vec<Asset>, DomainError>;

    fn handle(&mut self, _: ListAssets, _: &mut Context<Self>) -> Self::Result {
        let mut list: Vec<(Vec<String>, Asset)> = self
            .assets
            .values()
            .map(|a| (assets::path(&self.assets, &a.id), a.clone()))
            .collect();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(list.into_iter().map(|(_, a)| a).collect())
    }
}

impl Handler<GetAsset> for Health {
    type Result = Result<AssetDetail, DomainError>;

    fn handle(&mut self, msg: GetAsset, _: &mut Context<Self>) -> Self::Result {
        let asset = self
            .assets
            .get(&msg.0)
            .cloned()
            .ok_or_else(|| not_found("asset", &msg.0))?;
        let children = self
            .assets
            .values()
            .filter(|a| a.parent_id.as_deref() == Some(&msg.0))
            .map(|a| a.id.clone())
            .collect();
        let mut devices: Vec<DeviceId> = self
            .device_assets
            .iter()
            .filter(|(_, a)| **a == msg.0)
            .map(|(d, _)| d.clone())
            .collect();
        devices.sort();
        let open_alarms = self
            .open_alarms()
            .filter(|a| a.asset_id.as_deref() == Some(&msg.0))
            .count();
        Ok(AssetDetail {
            asset,
            children,
            devices,
            open_alarms,
        })
    }
}

impl Handler<CountOpenAlarmsByAsset> for Health {
    type Result = MessageResult<CountOpenAlarmsByAsset>;

    fn handle(&mut self, _: CountOpenAlarmsByAsset, _: &mut Context<Self>) -> Self::Result {
        let mut counts = std::collections::HashMap::new();
        for asset in self.open_alarms().filter_map(|a| a.asset_id.as_ref()) {
            *counts.entry(asset.clone()).or_insert(0) += 1;
        }
        MessageResult(counts)
    }
}

impl Handler<UpdateAsset> for Health {
    type Result = Reply<Asset>;

    fn handle(&mut self, msg: UpdateAsset, _: &mut Context<Self>) -> Self::Result {
        let Some(current) = self.assets.get(&msg.id).cloned() else {
            return ready(Err(not_found("asset", &msg.id)));
        };
        let built = assets::patched(&current, &msg.patch).and_then(|input| {
            assets::build(
                &msg.id,
                input,
                &self.assets,
                current.created_at,
                Utc::now(),
                current.in_maintenance,
            )
        });
        match built {
            Ok(asset) => self.save_asset(asset),
            Err(e) => ready(Err(e)),
        }
    }
}

impl Handler<DeleteAsset> for Health {
    type Result = Reply<()>;

    fn handle(&mut self, msg: DeleteAsset, _: &mut Context<Self>) -> Self::Result {
        let id = msg.0;
        if !self.assets.contains_key(&id) {
            return ready(Err(not_found("asset", &id)));
        }
        let conflict = if self
            .assets
            .values()
            .any(|a| a.parent_id.as_deref() == Some(&id))
        {
            Some("it has child assets: move or delete them first")
        } else if self.device_assets.values().any(|a| *a == id) {
            Some("devices are attached to it: move them to another asset first")
        } else if self
            .open_alarms()
            .any(|a| a.asset_id.as_deref() == Some(&id))
        {
            Some("it has open alarms: clear them first")
        } else if self
            .rules
            .values()
            .any(|c| c.rule.input.asset_id.as_deref() == Some(&id))
        {
            Some("rules watch it: delete or move them first")
        } else {
            None
        };
        if let Some(why) = conflict {
            return ready(Err(DomainError::Conflict(format!(
                "asset {id} cannot be deleted: {why}"
            ))));
        }
        let db = self.db.clone();
        let key = id.clone();
        Box::pin(
            async move { db.run(move |c| store::delete_asset(c, &key)).await }
                .into_actor(self)
                .map(move |result, act, _| {
                    result?;
                    act.assets.remove(&id);
                    Ok(())
                }),
        )
    }
}

impl Handler<SetAssetMaintenance> for Health {
    type Result = Reply<Asset>;

    fn handle(&mut self, msg: SetAssetMaintenance, _: &mut Context<Self>) -> Self::Result {
        let Some(mut asset) = self.assets.get(&msg.id).cloned() else {
            return ready(Err(not_found("asset", &msg.id)));
        };
        asset.in_maintenance = msg.active;
        asset.updated_at = Utc::now();
        tracing::info!(asset = %msg.id, active = msg.active, by = %msg.by, "asset maintenance changed");
        let id = msg.id.clone();
        Box::pin(self.save_asset(asset).map(move |result, act, _| {
            let asset = result?;
            act.resettle(Some(&id));
            Ok(asset)
        }))
    }
}

impl Handler<CreateRule> for Health {
    type Result = Reply<Rule>;

    fn handle(&mut self, msg: CreateRule, _: &mut Context<Self>) -> Self::Result {
        let input = match rules::parse(&msg.0).and_then(|i| self.check_refs(&i).map(|_| i)) {
            Ok(i) => i,
            Err(e) => return ready(Err(e)),
        };
        let now = Utc::now();
        self.save_rule(Rule {
            id: Uuid::new_v4().to_string(),
            input,
            chattering: false,
            created_at: now,
            updated_at: now,
        })
    }
}

impl Handler<ListRules> for Health {
    type Result = Result<Vec<Rule>, DomainError>;

    fn handle(&mut self, msg: ListRules, _: &mut Context<Self>) -> Self::Result {
        Ok(self
            .rules
            .keys()
            .filter_map(|id| self.rule_view(id))
            .filter(|r| msg.asset_id.is_none() || r.input.asset_id == msg.asset_id)
            .filter(|r| msg.device_id.is_none() || r.input.device_id == msg.device_id)
            .collect())
    }
}

impl Handler<GetRule> for Health {
    type Result = Result<Rule, DomainError>;

    fn handle(&mut self, msg: GetRule, _: &mut Context<Self>) -> Self::Result {
        self.rule_view(&msg.0)
            .ok_or_else(|| not_found("rule", &msg.0))
    }
}

impl Handler<UpdateRule> for Health {
    type Result = Reply<Rule>;

    fn handle(&mut self, msg: UpdateRule, _: &mut Context<Self>) -> Self::Result {
        let Some(current) = self.rules.get(&msg.id).map(|c| c.rule.clone()) else {
            return ready(Err(not_found("rule", &msg.id)));
        };
        if !msg.patch.is_object() {
            return ready(Err(DomainError::invalid(
                "body",
                "a JSON merge patch object",
            )));
        }
        let mut doc = match serde_json::to_value(&current.input) {
            Ok(d) => d,
            Err(e) => return ready(Err(DomainError::Unavailable(e.to_string()))),
        };
        merge_patch(&mut doc, &msg.patch);
        let input = match rules::parse(&doc).and_then(|i| self.check_refs(&i).map(|_| i)) {
            Ok(i) => i,
            Err(e) => return ready(Err(e)),
        };
        self.save_rule(Rule {
            input,
            updated_at: Utc::now(),
            ..current
        })
    }
}

impl Handler<DeleteRule> for Health {
    type Result = Reply<()>;

    fn handle(&mut self, msg: DeleteRule, _: &mut Context<Self>) -> Self::Result {
        if !self.rules.contains_key(&msg.id) {
            return ready(Err(not_found("rule", &msg.id)));
        }
        let db = self.db.clone();
        let id = msg.id.clone();
        Box::pin(
            async move { db.run(move |c| store::delete_rule(c, &id)).await }
                .into_actor(self)
                .map(move |result, act, ctx| {
                    result?;
                    // Its open alarms end with it: nobody could clear them afterwards.
                    let now = Utc::now();
                    let mut ended = Vec::new();
                    if let Some(slots) = act.slots.remove(&msg.id) {
                        for mut alarm in slots.into_values().filter_map(|s| s.alarm) {
                            let mut step =
                                Step::new(&mut alarm, now, &msg.by, Some("rule deleted"));
                            step.end(Overlay::default());
                            let changes = step.changes;
                            ended.push((alarm, changes));
                        }
                    }
                    for (alarm, changes) in ended {
                        act.queue_write(&alarm, changes, None, None);
                    }
                    act.remove_from_index(&msg.id);
                    act.rules.remove(&msg.id);
                    act.chattering.remove(&msg.id);
                    act.flush_writes(ctx);
                    Ok(())
                }),
        )
    }
}

impl Handler<SyncDeviceAssets> for Health {
    type Result = ();

    fn handle(&mut self, msg: SyncDeviceAssets, ctx: &mut Context<Self>) {
        for (device, asset) in msg.0 {
            self.attach(device, asset, ctx);
        }
    }
}

impl Health {
    /// Records a device's asset as the devices module has it (idempotent).
    fn attach(&mut self, device: DeviceId, asset: Option<String>, ctx: &mut Context<Self>) {
        let asset = asset.filter(|a| !a.is_empty());
        if self.device_assets.get(&device) == asset.as_ref() {
            return;
        }
        match &asset {
            Some(a) => self.device_assets.insert(device.clone(), a.clone()),
            None => self.device_assets.remove(&device),
        };
        let db = self.db.clone();
        ctx.spawn(
            async move {
                let key = device.to_string();
                db.run(move |c| store::set_device_asset(c, &key, asset.as_deref())).await
            }
            .into_actor(self)
            .map(|result, _, _| {
                if let Err(e) = result {
                    metrics::counter!("plantd_health_write_failures_total").increment(1);
                    tracing::warn!(error = %e, "device's asset not stored; the devices module sends it again at the next start");
                }
            }),
        );
    }
}

impl Handler<DeliverEvent> for Health {
    type Result = ResponseActFuture<Self, Result<(), String>>;

    fn handle(&mut self, msg: DeliverEvent, ctx: &mut Context<Self>) -> Self::Result {
        match msg.0.data {
            // A work order that stops its asset holds it in maintenance exactly while the
            // work-order module says so (`asset_held`); an order that does not stop the
            // asset leaves a hold set by hand alone. Not handled until stored: a failed
            // write is redelivered.
            EventData::WorkOrderCreated(e)
            | EventData::WorkOrderStatusChanged(e)
            | EventData::WorkOrderCompleted(e)
                if e.stops_asset =>
            {
                let Some(asset_id) = e.asset_id else {
                    return Box::pin(fut::ready(Ok(())));
                };
                let Some(mut asset) = self.assets.get(&asset_id).cloned() else {
                    return Box::pin(fut::ready(Ok(())));
                };
                if asset.in_maintenance == e.asset_held {
                    return Box::pin(fut::ready(Ok(())));
                }
                asset.in_maintenance = e.asset_held;
                asset.updated_at = Utc::now();
                tracing::info!(asset = %asset_id, active = e.asset_held, work_order = %e.work_order_id, "asset maintenance changed by a work order");
                return Box::pin(self.save_asset(asset).map(move |result, act, _| {
                    result.map_err(|e| e.to_string())?;
                    act.resettle(Some(&asset_id));
                    Ok(())
                }));
            }
            EventData::DeviceProvisioned(e) => self.attach(e.device_id, e.asset_id, ctx),
            EventData::DeviceUpdated(e) => self.attach(e.device_id, e.asset_id, ctx),
            EventData::DeviceDeleted(e) => {
                self.attach(e.device_id.clone(), None, ctx);
                // Its open alarms end with it: no sample will ever return them to normal.
                let now = Utc::now();
                let mut ended = Vec::new();
                for slots in self.slots.values_mut() {
                    if let Some(mut alarm) = slots.remove(&e.device_id).and_then(|s| s.alarm) {
                        let mut step = Step::new(&mut alarm, now, SYSTEM, Some("device deleted"));
                        step.end(Overlay::default());
                        let changes = step.changes;
                        ended.push((alarm, changes));
                    }
                }
                for (alarm, changes) in ended {
                    self.queue_write(&alarm, changes, None, None);
                }
                self.latest.remove(&e.device_id);
                self.flush_writes(ctx);
            }
            _ => {}
        }
        Box::pin(fut::ready(Ok(())))
    }
}
