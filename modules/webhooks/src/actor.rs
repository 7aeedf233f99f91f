//! The `Webhooks` actor: the edge's messages (subscriptions, the delivery log,
//! redelivery) and the outbox's `DeliverEvent`, which it turns into delivery rows in one
//! transaction before answering. It starts the sender loop and wakes it on new work.

use std::sync::Arc;

use actix::prelude::*;
use plantd_contracts::events::DeliverEvent;
use plantd_contracts::time::now_ms;
use plantd_contracts::webhooks::{
    CreateWebhook, CreatedWebhook, DeleteWebhook, DeliveryView, GetWebhook, ListDeliveries,
    ListWebhooks, Redeliver, UpdateWebhook, WebhookView,
};
use plantd_contracts::DomainError;
use plantd_storage::{Db, DbError};
use tokio::sync::Notify;

use crate::store::{self, SubscriptionRow};
use crate::{rules, sender, signing, views, WebhookSettings};

/// Most delivery-log rows one list returns.
const MAX_LOG_PAGE: u32 = 1000;

pub struct Webhooks {
    db: Db,
    settings: WebhookSettings,
    wake: Arc<Notify>,
}

impl Webhooks {
    pub fn new(db: Db, settings: WebhookSettings) -> Webhooks {
        Webhooks {
            db,
            settings,
            wake: Arc::new(Notify::new()),
        }
    }
}

impl Actor for Webhooks {
    type Context = Context<Self>;

    fn started(&mut self, _ctx: &mut Self::Context) {
        actix::spawn(sender::run(
            self.db.clone(),
            self.settings.clone(),
            self.wake.clone(),
        ));
    }
}

fn not_found() -> DomainError {
    DomainError::NotFound("webhook".to_owned())
}

impl Handler<DeliverEvent> for Webhooks {
    type Result = ResponseFuture<Result<(), String>>;

    /// Rows for every subscription that wants the event, committed before `Ok`.
    fn handle(&mut self, msg: DeliverEvent, _ctx: &mut Self::Context) -> Self::Result {
        let (db, wake) = (self.db.clone(), self.wake.clone());
        Box::pin(async move {
            let event = msg.0;
            let body = serde_json::to_string(&event).map_err(|e| e.to_string())?;
            let added = db
                .run(move |c| c.transaction(|c| store::enqueue(c, &event, &body, now_ms())))
                .await
                .map_err(|e| e.to_string())?;
            if added > 0 {
                wake.notify_one();
            }
            Ok(())
        })
    }
}

impl Handler<CreateWebhook> for Webhooks {
    type Result = ResponseFuture<Result<CreatedWebhook, DomainError>>;

    fn handle(&mut self, msg: CreateWebhook, _ctx: &mut Self::Context) -> Self::Result {
        let (db, max) = (self.db.clone(), self.settings.max_subscriptions);
        Box::pin(async move {
            let url = rules::check_url(&msg.url)?;
            let events = rules::check_events(&msg.events)?;
            let secret = match msg.secret {
                Some(secret) => {
                    signing::key_of(&secret)?;
                    secret
                }
                None => signing::generate_secret(),
            };
            let now = now_ms();
            let row = SubscriptionRow {
                id: uuid::Uuid::new_v4().to_string(),
                url,
                events: serde_json::to_string(&events).unwrap_or_else(|_| "[]".to_owned()),
                secret,
                enabled: true,
                disabled_reason: None,
                failing_since: None,
                created_at: now,
                updated_at: now,
            };
            let stored = row.clone();
            db.run(move |c| {
                c.transaction(|c| {
                    if store::count_subscriptions(c)? >= i64::from(max) {
                        return Err(DbError::Domain(DomainError::Conflict(format!(
                            "at most {max} webhooks (webhooks_max_subscriptions)"
                        ))));
                    }
                    store::insert_subscription(c, &stored)
                })
            })
            .await?;
            tracing::info!(webhook = %row.id, "webhook created");
            Ok(CreatedWebhook {
                webhook: views::webhook(&row),
                secret: row.secret,
            })
        })
    }
}

impl Handler<ListWebhooks> for Webhooks {
    type Result = ResponseFuture<Result<Vec<WebhookView>, DomainError>>;

    fn handle(&mut self, _msg: ListWebhooks, _ctx: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let rows = db.run(store::subscriptions).await?;
            Ok(rows.iter().map(views::webhook).collect())
        })
    }
}

impl Handler<GetWebhook> for Webhooks {
    type Result = ResponseFuture<Result<WebhookView, DomainError>>;

    fn handle(&mut self, msg: GetWebhook, _ctx: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let row = db.run(move |c| store::subscription(c, &msg.id)).await?;
            row.as_ref().map(views::webhook).ok_or_else(not_found)
        })
    }
}

impl Handler<UpdateWebhook> for Webhooks {
    type Result = ResponseFuture<Result<WebhookView, DomainError>>;

    fn handle(&mut self, msg: UpdateWebhook, _ctx: &mut Self::Context) -> Self::Result {
        let (db, wake) = (self.db.clone(), self.wake.clone());
        Box::pin(async move {
            let url = msg.url.as_deref().map(rules::check_url).transpose()?;
            let events = msg.events.as_deref().map(rules::check_events).transpose()?;
            let (row, reopened) = db
                .run(move |c| {
                    c.transaction(|c| {
                        let Some(mut row) = store::subscription(c, &msg.id)? else {
                            return Err(DbError::Domain(not_found()));
                        };
                        let now = now_ms();
                        if let Some(url) = url {
                            row.url = url;
                        }
                        if let Some(events) = events {
                            row.events =
                                serde_json::to_string(&events).unwrap_or_else(|_| "[]".to_owned());
                        }
                        let reopened = msg.enabled == Some(true) && !row.enabled;
                        if let Some(enabled) = msg.enabled {
                            row.enabled = enabled;
                            if enabled {
                                row.disabled_reason = None;
                                row.failing_since = None;
                            } else if !reopened && row.disabled_reason.is_none() {
                                row.disabled_reason = Some("disabled by an admin".to_owned());
                            }
                        }
                        row.updated_at = now;
                        store::save_subscription(c, &row)?;
                        if reopened {
                            store::reopen_deliveries(c, &row.id, now)?;
                        }
                        Ok((row, reopened))
                    })
                })
                .await?;
            if reopened {
                tracing::info!(webhook = %row.id, "webhook enabled again");
                wake.notify_one();
            }
            Ok(views::webhook(&row))
        })
    }
}

impl Handler<DeleteWebhook> for Webhooks {
    type Result = ResponseFuture<Result<(), DomainError>>;

    fn handle(&mut self, msg: DeleteWebhook, _ctx: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let id = msg.id.clone();
            let deleted = db
                .run(move |c| c.transaction(|c| store::delete_subscription(c, &id)))
                .await?;
            if !deleted {
                return Err(not_found());
            }
            tracing::info!(webhook = %msg.id, "webhook deleted");
            Ok(())
        })
    }
}

impl Handler<ListDeliveries> for Webhooks {
    type Result = ResponseFuture<Result<Vec<DeliveryView>, DomainError>>;

    fn handle(&mut self, msg: ListDeliveries, _ctx: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let limit = i64::from(msg.limit.clamp(1, MAX_LOG_PAGE));
            let rows = db
                .run(move |c| {
                    if store::subscription(c, &msg.webhook_id)?.is_none() {
                        return Err(DbError::Domain(not_found()));
                    }
                    store::deliveries(c, &msg.webhook_id, limit)
                })
                .await?;
            Ok(rows.iter().map(views::delivery).collect())
        })
    }
}

impl Handler<Redeliver> for Webhooks {
    type Result = ResponseFuture<Result<DeliveryView, DomainError>>;

    fn handle(&mut self, msg: Redeliver, _ctx: &mut Self::Context) -> Self::Result {
        let (db, wake) = (self.db.clone(), self.wake.clone());
        Box::pin(async move {
            let row = db
                .run(move |c| store::redeliver(c, &msg.webhook_id, &msg.delivery_id, now_ms()))
                .await?
                .ok_or_else(|| DomainError::NotFound("delivery".to_owned()))?;
            wake.notify_one();
            Ok(views::delivery(&row))
        })
    }
}
