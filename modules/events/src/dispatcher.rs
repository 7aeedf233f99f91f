//! The `Dispatcher` actor: starts one delivery loop per subscriber, prunes delivered
//! events after the retention, and answers `ListEvents` for integrators who were away.

use std::path::PathBuf;
use std::time::Duration;

use actix::prelude::*;
use plantd_contracts::events::{Event, EventPage, ListEvents, RecentEvents};
use plantd_contracts::time::now_ms;
use plantd_contracts::DomainError;
use plantd_storage::Db;
use tokio::sync::watch;

use crate::outbox::Outbox;
use crate::store;
use crate::subscriber::{self, LoopSettings, Subscription};

const PRUNE_EVERY: Duration = Duration::from_secs(60);
const PRUNE_BATCH: i64 = 1000;
/// Largest page of `ListEvents`.
pub const MAX_PAGE: u32 = 1000;

#[derive(Debug, Clone)]
pub struct EventSettings {
    /// Delivered events are kept this long (for `GET /events`), then pruned.
    pub retention: Duration,
    /// How often a loop looks at the outbox when nothing woke it.
    pub poll: Duration,
    /// Test hook: no delivery while this file exists.
    pub hold_file: Option<PathBuf>,
}

impl Default for EventSettings {
    fn default() -> Self {
        EventSettings {
            retention: Duration::from_secs(7 * 24 * 3600),
            poll: Duration::from_secs(1),
            hold_file: None,
        }
    }
}

/// Collects subscriptions at wiring time; [`Dispatch::start`] starts the actor.
pub struct Dispatch {
    db: Db,
    settings: EventSettings,
    wake: watch::Receiver<u64>,
    subscriptions: Vec<Subscription>,
}

/// The outbox handle for modules, and the dispatcher to which subscribers are added.
pub fn outbox(db: Db, settings: EventSettings) -> (Outbox, Dispatch) {
    let (outbox, wake) = Outbox::new();
    let dispatch = Dispatch {
        db,
        settings,
        wake,
        subscriptions: Vec::new(),
    };
    (outbox, dispatch)
}

impl Dispatch {
    pub fn subscribe(&mut self, subscription: Subscription) -> &mut Self {
        self.subscriptions.push(subscription);
        self
    }

    pub fn start(self) -> Addr<Dispatcher> {
        Dispatcher {
            db: self.db,
            settings: self.settings,
            wake: self.wake,
            names: self.subscriptions.iter().map(|s| s.name).collect(),
            pending: self.subscriptions,
        }
        .start()
    }
}

pub struct Dispatcher {
    db: Db,
    settings: EventSettings,
    wake: watch::Receiver<u64>,
    names: Vec<&'static str>,
    /// Subscriptions whose loops start with the actor.
    pending: Vec<Subscription>,
}

impl Actor for Dispatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let settings = LoopSettings {
            db: self.db.clone(),
            poll: self.settings.poll,
            hold_file: self.settings.hold_file.clone(),
        };
        for sub in self.pending.drain(..) {
            ctx.spawn(fut::wrap_future(subscriber::run(
                sub,
                settings.clone(),
                self.wake.clone(),
            )));
        }
        ctx.run_interval(PRUNE_EVERY, |act, ctx| {
            ctx.spawn(fut::wrap_future(prune(
                act.db.clone(),
                act.names.clone(),
                act.settings.retention,
            )));
        });
    }
}

/// Deletes events every subscriber has handled and that are past the retention.
async fn prune(db: Db, names: Vec<&'static str>, retention: Duration) {
    let before = now_ms() - retention.as_millis() as i64;
    let done = db
        .run(move |c| {
            let mut pruned = 0;
            loop {
                let n = store::prune(c, &names, before, PRUNE_BATCH)?;
                pruned += n;
                if n < PRUNE_BATCH as usize {
                    break;
                }
            }
            let processed =
                store::prune_processed(c, before - retention.as_millis() as i64, PRUNE_BATCH)?;
            Ok((pruned, processed))
        })
        .await;
    match done {
        Ok((0, 0)) => {}
        Ok((events, processed)) => {
            metrics::counter!("plantd_events_pruned_total").increment(events as u64);
            tracing::debug!(
                events,
                processed,
                "delivered events past the retention pruned"
            );
        }
        Err(e) => tracing::warn!(error = %e, "cannot prune the event outbox"),
    }
}

impl Handler<ListEvents> for Dispatcher {
    type Result = ResponseFuture<Result<EventPage, DomainError>>;

    fn handle(&mut self, msg: ListEvents, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let limit = msg.limit.clamp(1, MAX_PAGE) as i64;
            let page = db
                .run(move |c| {
                    let after = match msg.after {
                        None => 0,
                        // Pruned after the retention, or never recorded.
                        Some(id) => store::seq_of(c, &id.to_string())?
                            .ok_or_else(|| DomainError::NotFound(format!("event {id}")))?,
                    };
                    // One more than asked tells whether there is a next page.
                    let mut rows = store::list(c, after, msg.kind.as_deref(), limit + 1)?;
                    let more = rows.len() as i64 > limit;
                    rows.truncate(limit as usize);
                    Ok((rows, more))
                })
                .await?;
            let (rows, more) = page;
            let mut items = Vec::with_capacity(rows.len());
            for row in rows {
                match row.decode() {
                    Ok(event) => items.push(event),
                    Err(e) => {
                        metrics::counter!("plantd_events_undecodable_total").increment(1);
                        tracing::error!(seq = row.seq, error = %e, "stored event is not an event envelope; left out");
                    }
                }
            }
            let next_cursor = if more {
                items.last().map(|e| e.id.to_string())
            } else {
                None
            };
            Ok(EventPage { items, next_cursor })
        })
    }
}

impl Handler<RecentEvents> for Dispatcher {
    type Result = ResponseFuture<Result<Vec<Event>, DomainError>>;

    fn handle(&mut self, msg: RecentEvents, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let limit = i64::from(msg.limit.clamp(1, MAX_PAGE));
            let rows = db.run(move |c| store::newest(c, limit)).await?;
            // Undecodable rows are counted where the list reads them; here they are left out.
            Ok(rows.iter().filter_map(|r| r.decode().ok()).collect())
        })
    }
}
