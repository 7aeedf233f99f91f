//! Recording events: inside the caller's transaction, so an event exists exactly when the
//! change that caused it committed. Then [`Outbox::wake`] tells the dispatcher to look.
//!
//! Delivery order is `seq` order, so `seq` order must be commit order. SQLite has one
//! writer at a time, so it is. PostgreSQL hands out sequence values before commit: two
//! transactions could commit out of order and a cursor would step over the later-committing
//! one. Recording therefore takes a transaction-scoped advisory lock first, which
//! serialises the transactions that record events (not other writes) until they commit.

use std::sync::Arc;

use diesel::prelude::*;
use plantd_contracts::Event;
use plantd_storage::{with_conn, DbConnection, DbError};
use tokio::sync::watch;

use crate::schema::events_outbox;

/// The advisory lock key of the outbox ("plantd events" in a number).
const PG_OUTBOX_LOCK: i64 = 0x706c_616e_7464_6576;

#[derive(Insertable)]
#[diesel(table_name = events_outbox)]
struct NewRow<'a> {
    id: String,
    kind: &'a str,
    source: &'a str,
    time: i64,
    envelope: String,
}

/// Records `events` in the outbox. Call it inside the transaction of the change that
/// caused them (it opens a savepoint there, or its own transaction when there is none).
pub fn record(conn: &mut DbConnection, events: &[Event]) -> Result<(), DbError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::with_capacity(events.len());
    for event in events {
        let envelope = serde_json::to_string(event)
            .map_err(|e| DbError::Task(format!("event {} does not encode: {e}", event.id)))?;
        rows.push(NewRow {
            id: event.id.to_string(),
            kind: event.kind(),
            source: &event.source,
            time: event.time.timestamp_millis(),
            envelope,
        });
    }
    conn.transaction(|conn| {
        if let DbConnection::Pg(c) = conn {
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                .bind::<diesel::sql_types::BigInt, _>(PG_OUTBOX_LOCK)
                .execute(c)?;
        }
        with_conn!(conn, |c| diesel::insert_into(events_outbox::table)
            .values(&rows)
            .execute(c))
    })?;
    for event in events {
        metrics::counter!("plantd_events_recorded_total", "type" => event.kind().to_owned())
            .increment(1);
    }
    Ok(())
}

/// What a module holds to tell the dispatcher that events were committed. Cheap to clone.
/// Waking is only a hint to look now: the dispatcher also looks every poll interval, so
/// events recorded by another process (`plantd device add`) are delivered too.
#[derive(Clone)]
pub struct Outbox {
    wake: Arc<watch::Sender<u64>>,
}

impl Outbox {
    pub(crate) fn new() -> (Outbox, watch::Receiver<u64>) {
        let (tx, rx) = watch::channel(0);
        (Outbox { wake: Arc::new(tx) }, rx)
    }

    /// After the commit of a transaction that recorded events.
    pub fn wake(&self) {
        self.wake.send_modify(|n| *n = n.wrapping_add(1));
    }
}
