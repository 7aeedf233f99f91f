//! Rows and queries of the telemetry tables. A batch is one transaction: its samples
//! (duplicates of a stored `(device, metric, ts)` are ignored, so a re-sent QoS 1 message
//! is stored once) and the latest value of each series it touches.

use diesel::prelude::*;
use diesel::upsert::excluded;
use plantd_contracts::time::Millis;
use plantd_storage::{with_conn, DbConnection, DbError};

use crate::schema::{telemetry_samples, telemetry_series};

/// Rows per multi-row INSERT on PostgreSQL: 5 parameters each, far below its 65535 limit.
const ROWS_PER_STATEMENT: usize = 1000;

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = telemetry_samples)]
pub struct SampleRow {
    pub device_id: String,
    pub metric: String,
    pub ts: Millis,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = telemetry_series)]
pub struct SeriesRow {
    pub device_id: String,
    pub metric: String,
    pub first_seen: Millis,
    pub last_ts: Millis,
    pub last_value: f64,
}

/// Upserts series rows (one row or a slice): the latest value is whatever the caller
/// merged; `first_seen` is kept from the first insert.
macro_rules! upsert_series {
    ($conn:expr, $rows:expr) => {
        diesel::insert_into(telemetry_series::table)
            .values($rows)
            .on_conflict((telemetry_series::device_id, telemetry_series::metric))
            .do_update()
            .set((
                telemetry_series::last_ts.eq(excluded(telemetry_series::last_ts)),
                telemetry_series::last_value.eq(excluded(telemetry_series::last_value)),
            ))
            .execute($conn)?
    };
}

/// Writes one batch in one transaction; returns the number of new sample rows.
pub fn write_batch(
    conn: &mut DbConnection,
    samples: &[SampleRow],
    series: &[SeriesRow],
) -> Result<usize, DbError> {
    // SQLite: one prepared single-row statement, re-bound per row inside the transaction
    // (diesel has no multi-row upsert for SQLite; a cached statement is as fast here).
    // PostgreSQL: multi-row statements, one round trip per chunk.
    match conn {
        DbConnection::Sqlite(c) => c.transaction(|c| {
            let mut inserted = 0;
            for row in samples {
                inserted += diesel::insert_or_ignore_into(telemetry_samples::table)
                    .values(row)
                    .execute(c)?;
            }
            for row in series {
                upsert_series!(c, row);
            }
            Ok::<_, diesel::result::Error>(inserted)
        }),
        DbConnection::Pg(c) => c.transaction(|c| {
            let mut inserted = 0;
            for chunk in samples.chunks(ROWS_PER_STATEMENT) {
                inserted += diesel::insert_into(telemetry_samples::table)
                    .values(chunk)
                    .on_conflict_do_nothing()
                    .execute(c)?;
            }
            for chunk in series.chunks(ROWS_PER_STATEMENT) {
                upsert_series!(c, chunk);
            }
            Ok::<_, diesel::result::Error>(inserted)
        }),
    }
    .map_err(DbError::from)
}

pub fn load_series(conn: &mut DbConnection) -> Result<Vec<SeriesRow>, DbError> {
    with_conn!(conn, |c| telemetry_series::table.load::<SeriesRow>(c)).map_err(DbError::from)
}

pub fn range(
    conn: &mut DbConnection,
    device_id: &str,
    metric: &str,
    from: Millis,
    to: Millis,
    limit: usize,
) -> Result<Vec<(Millis, f64)>, DbError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    with_conn!(conn, |c| telemetry_samples::table
        .select((telemetry_samples::ts, telemetry_samples::value))
        .filter(telemetry_samples::device_id.eq(device_id))
        .filter(telemetry_samples::metric.eq(metric))
        .filter(telemetry_samples::ts.between(from, to))
        .order(telemetry_samples::ts.asc())
        .limit(limit)
        .load::<(Millis, f64)>(c))
    .map_err(DbError::from)
}
