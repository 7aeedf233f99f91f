//! One subscriber's delivery loop: read the outbox after the subscriber's cursor, hand it
//! each event of the types it wants, in `seq` order, one at a time, and move the cursor
//! when it answered. A failing subscriber is retried with back-off on its own loop, so it
//! never holds up the others; after a crash its loop resumes from the stored cursor.

use std::path::PathBuf;
use std::time::Duration;

use actix::Recipient;
use plantd_contracts::events::{DeliverEvent, EventFilter};
use plantd_contracts::time::now_ms;
use plantd_storage::Db;
use tokio::sync::watch;
use tracing::Instrument;

use crate::store::{self, StoredEvent};

/// Events read per query.
const BATCH: i64 = 256;
/// How long a subscriber may take over one event before it counts as failed.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(30);

/// A consumer of events: a name (its cursor's key, stable across releases), the types it
/// wants, and where to send them.
pub struct Subscription {
    pub name: &'static str,
    pub filter: EventFilter,
    pub recipient: Recipient<DeliverEvent>,
}

/// What every loop shares.
#[derive(Clone)]
pub(crate) struct LoopSettings {
    pub db: Db,
    pub poll: Duration,
    /// Test hook: while this file exists nothing is delivered (a crash between commit and
    /// delivery, made repeatable).
    pub hold_file: Option<PathBuf>,
}

pub(crate) async fn run(sub: Subscription, settings: LoopSettings, mut wake: watch::Receiver<u64>) {
    let name = sub.name;
    let mut cursor = loop {
        let db = settings.db.clone();
        match db.run(move |c| store::cursor(c, name, 0, now_ms())).await {
            Ok(seq) => break seq,
            Err(e) => {
                tracing::warn!(subscriber = name, error = %e, "cannot read the event cursor; retrying");
                tokio::time::sleep(settings.poll).await;
            }
        }
    };
    tracing::debug!(subscriber = name, cursor, "event subscriber started");
    loop {
        // Seen before reading: a commit woken during the read makes the next wait return
        // at once, so no event waits for the poll interval.
        wake.borrow_and_update();
        let held = settings.hold_file.as_ref().is_some_and(|f| f.exists());
        let batch = if held {
            Vec::new()
        } else {
            let db = settings.db.clone();
            match db.run(move |c| store::read_after(c, cursor, BATCH)).await {
                Ok(rows) => rows,
                Err(e) => {
                    metrics::counter!("plantd_events_read_failures_total").increment(1);
                    tracing::warn!(subscriber = name, error = %e, "cannot read the outbox; retrying");
                    Vec::new()
                }
            }
        };
        if batch.is_empty() {
            // Woken by a commit, or look again after the poll interval (events recorded by
            // another process, a database that was away).
            if let Ok(Err(_)) = tokio::time::timeout(settings.poll, wake.changed()).await {
                // Every `Outbox` is gone (nobody records here any more): poll only.
                tokio::time::sleep(settings.poll).await;
            }
            continue;
        }
        for row in batch {
            deliver(&sub, &row).await;
            cursor = row.seq;
        }
        metrics::gauge!("plantd_events_cursor", "subscriber" => name).set(cursor as f64);
        let db = settings.db.clone();
        if let Err(e) = db
            .run(move |c| store::advance(c, name, cursor, now_ms()))
            .await
        {
            // Delivered but not remembered: a restart delivers these again (at least once).
            tracing::warn!(subscriber = name, error = %e, "cannot store the event cursor");
        }
    }
}

/// Hands one stored event to the subscriber until it answers `Ok`.
async fn deliver(sub: &Subscription, row: &StoredEvent) {
    if !sub.filter.matches(&row.kind) {
        return;
    }
    let event = match row.decode() {
        Ok(event) => event,
        Err(e) => {
            metrics::counter!("plantd_events_undecodable_total").increment(1);
            tracing::error!(subscriber = sub.name, seq = row.seq, kind = %row.kind, error = %e, "stored event is not an event envelope; skipped");
            return;
        }
    };
    let span = tracing::debug_span!("event_delivery", subscriber = sub.name, event = %event.id, kind = %row.kind, seq = row.seq);
    async {
        let mut wait = FIRST_RETRY;
        let mut attempt = 1u32;
        loop {
            let outcome = sub
                .recipient
                .send(DeliverEvent(event.clone()))
                .timeout(DELIVERY_TIMEOUT)
                .await;
            let error = match outcome {
                Ok(Ok(())) => {
                    metrics::counter!("plantd_events_delivered_total", "subscriber" => sub.name)
                        .increment(1);
                    return;
                }
                Ok(Err(e)) => e,
                Err(e) => e.to_string(),
            };
            metrics::counter!("plantd_events_delivery_failures_total", "subscriber" => sub.name)
                .increment(1);
            tracing::warn!(attempt, retry_in_ms = wait.as_millis() as u64, error = %error, "event not handled; will retry");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(LAST_RETRY);
            attempt = attempt.saturating_add(1);
        }
    }
    .instrument(span)
    .await
}
