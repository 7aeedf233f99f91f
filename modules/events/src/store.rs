//! Queries of the events tables: reading the outbox in `seq` order, cursors, the list for
//! integrators, pruning. Blocking diesel code: run it inside `Db::run`.

use diesel::prelude::*;
use plantd_contracts::Event;
use plantd_storage::{with_conn, DbConnection, DbError};

use crate::schema::{events_cursors, events_outbox, events_processed};

/// One stored event, as read.
#[derive(Debug, Clone, Queryable)]
pub struct StoredEvent {
    pub seq: i64,
    pub kind: String,
    pub envelope: String,
}

impl StoredEvent {
    /// The event as recorded. A row that does not decode at all (not an envelope) is an
    /// error; an envelope of an unknown type decodes to `EventData::Unknown`.
    pub fn decode(&self) -> Result<Event, serde_json::Error> {
        serde_json::from_str(&self.envelope)
    }
}

/// Up to `limit` events after `seq`, oldest first.
pub fn read_after(
    conn: &mut DbConnection,
    seq: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, DbError> {
    let rows = with_conn!(conn, |c| events_outbox::table
        .filter(events_outbox::seq.gt(seq))
        .order(events_outbox::seq.asc())
        .limit(limit)
        .select((
            events_outbox::seq,
            events_outbox::kind,
            events_outbox::envelope
        ))
        .load(c))?;
    Ok(rows)
}

/// The newest `limit` events, newest first.
pub fn newest(conn: &mut DbConnection, limit: i64) -> Result<Vec<StoredEvent>, DbError> {
    let rows = with_conn!(conn, |c| events_outbox::table
        .order(events_outbox::seq.desc())
        .limit(limit)
        .select((
            events_outbox::seq,
            events_outbox::kind,
            events_outbox::envelope
        ))
        .load(c))?;
    Ok(rows)
}

/// Up to `limit` events after `seq`, oldest first, of one type or all.
pub fn list(
    conn: &mut DbConnection,
    after: i64,
    kind: Option<&str>,
    limit: i64,
) -> Result<Vec<StoredEvent>, DbError> {
    let Some(kind) = kind else {
        return read_after(conn, after, limit);
    };
    let rows = with_conn!(conn, |c| events_outbox::table
        .filter(events_outbox::seq.gt(after))
        .filter(events_outbox::kind.eq(kind))
        .order(events_outbox::seq.asc())
        .limit(limit)
        .select((
            events_outbox::seq,
            events_outbox::kind,
            events_outbox::envelope
        ))
        .load(c))?;
    Ok(rows)
}

/// The `seq` of a stored event, by its id.
pub fn seq_of(conn: &mut DbConnection, id: &str) -> Result<Option<i64>, DbError> {
    let seq = with_conn!(conn, |c| events_outbox::table
        .filter(events_outbox::id.eq(id))
        .select(events_outbox::seq)
        .first::<i64>(c)
        .optional())?;
    Ok(seq)
}

/// The newest `seq` recorded so far (0 when the outbox was never written).
pub fn last_seq(conn: &mut DbConnection) -> Result<i64, DbError> {
    let seq = with_conn!(conn, |c| events_outbox::table
        .select(diesel::dsl::max(events_outbox::seq))
        .first::<Option<i64>>(c))?;
    Ok(seq.unwrap_or(0))
}

/// A subscriber's cursor; a new subscriber starts at `start`, which is stored.
pub fn cursor(
    conn: &mut DbConnection,
    subscriber: &str,
    start: i64,
    now: i64,
) -> Result<i64, DbError> {
    let found = with_conn!(conn, |c| events_cursors::table
        .find(subscriber)
        .select(events_cursors::seq)
        .first::<i64>(c)
        .optional())?;
    if let Some(seq) = found {
        return Ok(seq);
    }
    with_conn!(conn, |c| diesel::insert_into(events_cursors::table)
        .values((
            events_cursors::subscriber.eq(subscriber),
            events_cursors::seq.eq(start),
            events_cursors::updated_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(start)
}

/// Moves a subscriber's cursor forward (never back).
pub fn advance(
    conn: &mut DbConnection,
    subscriber: &str,
    seq: i64,
    now: i64,
) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::update(
        events_cursors::table
            .filter(events_cursors::subscriber.eq(subscriber))
            .filter(events_cursors::seq.lt(seq))
    )
    .set((
        events_cursors::seq.eq(seq),
        events_cursors::updated_at.eq(now)
    ))
    .execute(c))?;
    Ok(())
}

/// Deletes up to `batch` events that every subscriber in `subscribers` has handled and that
/// are older than `before` (ms); returns how many.
pub fn prune(
    conn: &mut DbConnection,
    subscribers: &[&str],
    before: i64,
    batch: i64,
) -> Result<usize, DbError> {
    let handled = with_conn!(conn, |c| events_cursors::table
        .filter(events_cursors::subscriber.eq_any(subscribers))
        .select(diesel::dsl::min(events_cursors::seq))
        .first::<Option<i64>>(c))?;
    let Some(handled) = handled else {
        return Ok(0);
    };
    let doomed: Vec<i64> = with_conn!(conn, |c| events_outbox::table
        .filter(events_outbox::seq.le(handled))
        .filter(events_outbox::time.lt(before))
        .order(events_outbox::seq.asc())
        .limit(batch)
        .select(events_outbox::seq)
        .load(c))?;
    if doomed.is_empty() {
        return Ok(0);
    }
    let n = with_conn!(conn, |c| diesel::delete(
        events_outbox::table.filter(events_outbox::seq.eq_any(&doomed))
    )
    .execute(c))?;
    Ok(n)
}

/// Deletes up to `batch` processed-id records older than `before` (ms). An event can only
/// come again while it is in the outbox, so records older than the outbox's retention are
/// no longer needed.
pub fn prune_processed(conn: &mut DbConnection, before: i64, batch: i64) -> Result<usize, DbError> {
    let doomed = events_processed::table
        .filter(events_processed::processed_at.lt(before))
        .limit(batch)
        .select((events_processed::consumer, events_processed::event_id));
    let rows: Vec<(String, String)> = with_conn!(conn, |c| doomed.load(c))?;
    let mut n = 0;
    for (consumer, event_id) in rows {
        n += with_conn!(conn, |c| diesel::delete(
            events_processed::table
                .filter(events_processed::consumer.eq(&consumer))
                .filter(events_processed::event_id.eq(&event_id))
        )
        .execute(c))?;
    }
    Ok(n)
}
