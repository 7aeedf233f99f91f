//! The sender loop: picks due deliveries (a few at a time, each attempt on a blocking
//! thread), records every attempt's outcome with the next attempt or the end, disables a
//! subscription that failed for too long, keeps the pending gauge, prunes the log.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use plantd_contracts::time::now_ms;
use plantd_storage::Db;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::store::{self, AttemptRecord, Due};
use crate::{attempt, backoff, WebhookSettings};

/// Attempts in flight at once.
const CONCURRENCY: usize = 4;
/// Rows pruned per statement, and how often.
const PRUNE_BATCH: i64 = 500;
const PRUNE_EVERY: Duration = Duration::from_secs(60);

pub async fn run(db: Db, settings: WebhookSettings, wake: Arc<Notify>) {
    let agent = attempt::agent(settings.connect_timeout, settings.timeout);
    let mut in_flight: JoinSet<(Due, AttemptRecord)> = JoinSet::new();
    // Deliveries in flight, by the task that sends them.
    let mut busy: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut last_prune = Instant::now();
    // The pending gauge is refreshed at most once per poll interval.
    let mut last_gauge = Instant::now() - settings.poll;
    loop {
        if in_flight.len() < CONCURRENCY {
            let exclude: Vec<String> = busy.values().cloned().collect();
            let room = (CONCURRENCY - in_flight.len()) as i64;
            match db
                .run(move |c| store::due(c, now_ms(), &exclude, room))
                .await
            {
                Ok(rows) => {
                    for due in rows {
                        let id = due.delivery.id.clone();
                        let agent = agent.clone();
                        let task = in_flight.spawn_blocking(move || {
                            let span = tracing::info_span!(
                                "webhook_attempt",
                                webhook = %due.delivery.webhook_id,
                                event = %due.delivery.event_id,
                                attempt = due.delivery.attempts + 1
                            );
                            let record = span.in_scope(|| attempt::send(&agent, &due));
                            (due, record)
                        });
                        busy.insert(task.id(), id);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read due webhook deliveries"),
            }
        }
        if last_gauge.elapsed() >= settings.poll {
            last_gauge = Instant::now();
            let db = db.clone();
            if let Ok(n) = db.run(store::open_count).await {
                metrics::gauge!("plantd_webhook_pending").set(n as f64);
            }
        }
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = Instant::now();
            housekeeping(&db, &settings).await;
        }
        tokio::select! {
            Some(done) = in_flight.join_next_with_id(), if !in_flight.is_empty() => {
                match done {
                    Ok((task, (due, record))) => {
                        busy.remove(&task);
                        finish(&db, &settings, due, record).await;
                    }
                    Err(e) => {
                        // A panicked attempt: its row stays due and is tried again.
                        tracing::error!(error = %e, "a webhook attempt failed to run");
                        busy.remove(&e.id());
                    }
                }
            }
            _ = wake.notified() => {}
            _ = tokio::time::sleep(settings.poll) => {}
        }
    }
}

/// Records one attempt (retrying the write while the database is away: the outcome is
/// what the receiver saw, and an unrecorded success would be sent again).
async fn finish(db: &Db, settings: &WebhookSettings, due: Due, record: AttemptRecord) {
    let delivery = due.delivery;
    metrics::histogram!("plantd_webhook_delivery_seconds")
        .record(record.latency_ms as f64 / 1000.0);
    let next = match record.error {
        None => None,
        Some(_) => backoff::next_attempt(
            delivery.attempts + 1,
            record.at,
            delivery.window_start,
            settings.retry_initial,
            settings.retry_max,
            settings.give_up_after,
        ),
    };
    let outcome = match (&record.error, next) {
        (None, _) => "delivered",
        (Some(_), Some(_)) => "failed",
        (Some(_), None) => "gave_up",
    };
    metrics::counter!("plantd_webhook_deliveries_total", "outcome" => outcome).increment(1);
    match &record.error {
        None => {
            tracing::debug!(webhook = %delivery.webhook_id, event = %delivery.event_id, latency_ms = record.latency_ms, "webhook delivered")
        }
        Some(e) if next.is_some() => {
            tracing::debug!(webhook = %delivery.webhook_id, event = %delivery.event_id, error = %e, "webhook attempt failed; will retry")
        }
        Some(e) => {
            tracing::warn!(webhook = %delivery.webhook_id, event = %delivery.event_id, attempts = delivery.attempts + 1, error = %e, "webhook delivery given up")
        }
    }
    let disable_after = i64::try_from(settings.disable_after.as_millis()).unwrap_or(i64::MAX);
    for _ in 0..30 {
        let (id, webhook, record) = (
            delivery.id.clone(),
            delivery.webhook_id.clone(),
            record.clone(),
        );
        let written = db
            .run(move |c| {
                c.transaction(|c| match record.error {
                    None => store::record_success(c, &id, &webhook, &record).map(|_| None),
                    Some(_) => {
                        store::record_failure(c, &id, &webhook, &record, next, disable_after)
                    }
                })
            })
            .await;
        match written {
            Ok(Some(reason)) => {
                metrics::counter!("plantd_webhooks_disabled_total").increment(1);
                tracing::warn!(webhook = %delivery.webhook_id, reason = %reason, "webhook subscription disabled");
                return;
            }
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(webhook = %delivery.webhook_id, error = %e, "cannot record a webhook attempt; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn housekeeping(db: &Db, settings: &WebhookSettings) {
    let retention = i64::try_from(settings.log_retention.as_millis()).unwrap_or(i64::MAX);
    let before = now_ms().saturating_sub(retention);
    loop {
        let db = db.clone();
        match db.run(move |c| store::prune(c, before, PRUNE_BATCH)).await {
            Ok(n) if n as i64 == PRUNE_BATCH => continue,
            Ok(_) => break,
            Err(e) => {
                tracing::warn!(error = %e, "cannot prune the webhook delivery log");
                break;
            }
        }
    }
}
