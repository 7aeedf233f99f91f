//! Idempotent consumers without a natural key: [`claim`] an event id inside the
//! transaction of the consumer's change; a redelivered event finds its id taken.

use diesel::prelude::*;
use plantd_storage::{with_conn, DbConnection, DbError};
use uuid::Uuid;

use crate::schema::events_processed;

/// True the first time `consumer` claims `event_id`, false on every later call. Call it in
/// the same transaction as the change the event causes, and skip the change on `false`.
pub fn claim(
    conn: &mut DbConnection,
    consumer: &str,
    event_id: Uuid,
    now_ms: i64,
) -> Result<bool, DbError> {
    let inserted = with_conn!(conn, |c| {
        diesel::insert_into(events_processed::table)
            .values((
                events_processed::consumer.eq(consumer),
                events_processed::event_id.eq(event_id.to_string()),
                events_processed::processed_at.eq(now_ms),
            ))
            .on_conflict_do_nothing()
            .execute(c)
    })?;
    Ok(inserted == 1)
}
