//! Rows and queries of the telemetry tables (telemetry's own; nothing else touches them).
//!
//! - A batch is one transaction: new metric-registry rows, and the samples appended to the
//!   index-free `telemetry_recent` (a sample at or before its series' compacted time is first
//!   looked up in that window's chunks: a re-sent QoS 1 message is stored once).
//! - A compaction is one transaction: per-series chunks, the roll-ups merged with the stored
//!   ones, the registry's latest values, the recent rows deleted and the compacted sequence
//!   number moved, so roll-ups always equal the chunks and nothing is counted twice.
//! - Reads take the compacted sequence number in the same read transaction as the rows, so
//!   the actor adds exactly the head samples after it.

use diesel::prelude::*;
use plantd_contracts::time::Millis;
use plantd_storage::{with_conn, DbConnection, DbError};

use crate::agg::{bucket_of, rollup, Partial};
use crate::codec;
use crate::schema::{
    telemetry_chunks, telemetry_metrics, telemetry_recent, telemetry_rollups, telemetry_state,
};

/// Rows per multi-row INSERT: at most 9 parameters each, far below both backends' limits.
const ROWS_PER_STATEMENT: usize = 1000;

/// A chunk never crosses an hour boundary, so a time range maps to an index range.
pub const WINDOW_MS: Millis = 3_600_000;

/// The roll-up widths kept, in milliseconds.
pub const ROLLUP_WIDTHS: [Millis; 2] = [60_000, 3_600_000];

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = telemetry_metrics)]
pub struct MetricRow {
    pub id: i64,
    pub device_id: String,
    pub metric: String,
    pub unit: Option<String>,
    pub first_seen: Millis,
    pub last_ts: Millis,
    pub last_value: f64,
    pub compacted_to: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Queryable, Insertable)]
#[diesel(table_name = telemetry_recent)]
pub struct RecentRow {
    pub seq: i64,
    pub series_id: i64,
    pub ts: Millis,
    pub value: f64,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = telemetry_chunks)]
struct NewChunk {
    series_id: i64,
    window_start: Millis,
    t_min: Millis,
    t_max: Millis,
    points: i32,
    data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Queryable, QueryableByName, Insertable)]
#[diesel(table_name = telemetry_rollups)]
pub struct RollupRow {
    pub series_id: i64,
    pub resolution: Millis,
    pub bucket: Millis,
    pub n: i64,
    pub vmin: f64,
    pub vmax: f64,
    pub vsum: f64,
    pub vlast: f64,
    pub last_ts: Millis,
}

impl RollupRow {
    pub fn partial(&self) -> Partial {
        Partial {
            n: self.n,
            min: self.vmin,
            max: self.vmax,
            sum: self.vsum,
            last: self.vlast,
            last_ts: self.last_ts,
        }
    }

    fn new(series_id: i64, resolution: Millis, bucket: Millis, p: &Partial) -> RollupRow {
        RollupRow {
            series_id,
            resolution,
            bucket,
            n: p.n,
            vmin: p.min,
            vmax: p.max,
            vsum: p.sum,
            vlast: p.last,
            last_ts: p.last_ts,
        }
    }
}

/// A write transaction: on SQLite `BEGIN IMMEDIATE`, so it takes the write lock (waiting
/// the busy timeout) before its first read instead of failing when another writer
/// committed between its read and its first write.
macro_rules! write_txn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            DbConnection::Sqlite($c) => $c.immediate_transaction(|$c| $body),
            DbConnection::Pg($c) => $c.transaction(|$c| $body),
        }
    };
}

/// Appends the leading rows of `$rest` to `telemetry_recent` in INSERTs of exactly `$n`
/// rows, leaving fewer than `$n` in `$rest`. A fixed-size array is a statement diesel
/// prepares once per connection and keeps; a slice of any length was a new statement to
/// build and prepare on every batch (7.5% of plantd's CPU in the QoS 0 ingest profile).
macro_rules! insert_recent {
    ($c:expr, $rest:ident, $n:literal) => {
        while let Some((head, tail)) = $rest.split_first_chunk::<$n>() {
            diesel::insert_into(telemetry_recent::table)
                .values(head)
                .execute($c)?;
            $rest = tail;
        }
    };
}

/// The compacted sequence number (0 before the first compaction).
macro_rules! compacted_seq {
    ($c:expr) => {
        telemetry_state::table
            .select(telemetry_state::value)
            .filter(telemetry_state::key.eq("compacted_seq"))
            .first::<i64>($c)
            .optional()
            .map(|v| v.unwrap_or(0))
    };
}

/// What the actor loads at start: the registry, the compacted sequence number and the
/// recent rows after it (the head), oldest first.
pub struct Loaded {
    pub metrics: Vec<MetricRow>,
    pub compacted_seq: i64,
    pub recent: Vec<RecentRow>,
    /// (series, window) of chunks in the last few windows: the previous process may have
    /// left some unmerged.
    pub recent_windows: Vec<(i64, Millis)>,
}

pub fn load(conn: &mut DbConnection) -> Result<Loaded, DbError> {
    with_conn!(conn, |c| {
        let metrics = telemetry_metrics::table.load::<MetricRow>(c)?;
        let compacted_seq = compacted_seq!(c)?;
        let recent = telemetry_recent::table
            .filter(telemetry_recent::seq.gt(compacted_seq))
            .order(telemetry_recent::seq.asc())
            .load::<RecentRow>(c)?;
        let since = bucket_of(plantd_contracts::time::now_ms(), WINDOW_MS) - 3 * WINDOW_MS;
        let recent_windows = telemetry_chunks::table
            .select((telemetry_chunks::series_id, telemetry_chunks::window_start))
            .filter(telemetry_chunks::window_start.ge(since))
            .distinct()
            .load::<(i64, Millis)>(c)?;
        Ok::<_, diesel::result::Error>(Loaded {
            metrics,
            compacted_seq,
            recent,
            recent_windows,
        })
    })
    .map_err(DbError::from)
}

/// Whether a stored chunk of the series holds a point at `ts`.
macro_rules! chunk_has {
    ($c:expr, $series:expr, $ts:expr) => {{
        let blobs = telemetry_chunks::table
            .select(telemetry_chunks::data)
            .filter(telemetry_chunks::series_id.eq($series))
            .filter(telemetry_chunks::window_start.eq(bucket_of($ts, WINDOW_MS)))
            .filter(telemetry_chunks::t_min.le($ts))
            .filter(telemetry_chunks::t_max.ge($ts))
            .load::<Vec<u8>>($c)?;
        let mut found = false;
        for blob in blobs {
            // A chunk that does not decode must not stop ingest: the sample is kept.
            match codec::decode(&blob) {
                Ok(points) if points.binary_search_by_key(&$ts, |p| p.0).is_ok() => {
                    found = true;
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    metrics::counter!("plantd_telemetry_maintenance_errors_total").increment(1);
                    tracing::error!(series = $series, error = %e, "telemetry chunk not readable");
                }
            }
        }
        Ok::<bool, DbError>(found)
    }};
}

/// A batch to write: registry rows of series seen for the first time, unit changes,
/// and samples; `late[i]` marks a sample at or before its series' compacted time.
pub struct Batch {
    pub new_metrics: Vec<MetricRow>,
    pub units: Vec<(i64, String)>,
    pub rows: Vec<RecentRow>,
    pub late: Vec<bool>,
}

/// Writes one batch in one transaction; returns which samples were stored (a late
/// sample already in a chunk is a duplicate and is not).
pub fn write_batch(conn: &mut DbConnection, batch: &Batch) -> Result<Vec<bool>, DbError> {
    write_txn!(conn, |c| {
        for chunk in batch.new_metrics.chunks(ROWS_PER_STATEMENT) {
            diesel::insert_into(telemetry_metrics::table)
                .values(chunk)
                .execute(c)?;
        }
        for (id, unit) in &batch.units {
            diesel::update(telemetry_metrics::table.find(*id))
                .set(telemetry_metrics::unit.eq(unit))
                .execute(c)?;
        }
        let mut kept = vec![true; batch.rows.len()];
        for (i, row) in batch.rows.iter().enumerate() {
            if batch.late[i] {
                kept[i] = !chunk_has!(c, row.series_id, row.ts)?;
            }
        }
        let rows: Vec<RecentRow> = batch
            .rows
            .iter()
            .zip(&kept)
            .filter(|(_, k)| **k)
            .map(|(r, _)| *r)
            .collect();
        let mut rest = rows.as_slice();
        insert_recent!(c, rest, 256);
        insert_recent!(c, rest, 64);
        insert_recent!(c, rest, 16);
        insert_recent!(c, rest, 4);
        insert_recent!(c, rest, 1);
        Ok::<_, DbError>(kept)
    })
}

/// One compaction: every head sample up to `upto_seq`, per series (ascending, distinct
/// times), and the registry rows of those series as they should be stored after it.
pub struct Compaction {
    pub upto_seq: i64,
    pub series: Vec<(i64, Vec<(Millis, f64)>)>,
    pub metrics: Vec<MetricRow>,
}

/// Writes a compaction in one transaction; returns the (series, window) pairs that got a
/// chunk (candidates for merging once the window is closed).
pub fn compact(conn: &mut DbConnection, job: &Compaction) -> Result<Vec<(i64, Millis)>, DbError> {
    let mut chunks = Vec::new();
    for (series_id, points) in &job.series {
        let mut start = 0;
        while start < points.len() {
            let window = bucket_of(points[start].0, WINDOW_MS);
            let end = start
                + points[start..]
                    .iter()
                    .position(|p| bucket_of(p.0, WINDOW_MS) != window)
                    .unwrap_or(points.len() - start);
            let part = &points[start..end];
            chunks.push(NewChunk {
                series_id: *series_id,
                window_start: window,
                t_min: part[0].0,
                t_max: part[part.len() - 1].0,
                points: i32::try_from(part.len()).unwrap_or(i32::MAX),
                data: codec::encode(part),
            });
            start = end;
        }
    }
    let windows = chunks
        .iter()
        .map(|c| (c.series_id, c.window_start))
        .collect();
    write_txn!(conn, |c| {
        for chunk in chunks.chunks(ROWS_PER_STATEMENT / 4) {
            diesel::insert_into(telemetry_chunks::table)
                .values(chunk)
                .execute(c)?;
        }
        let mut merged = Vec::new();
        for (series_id, points) in &job.series {
            for width in ROLLUP_WIDTHS {
                let fresh = rollup(points, width);
                let (Some(first), Some(last)) = (fresh.first(), fresh.last()) else {
                    continue;
                };
                let range = || {
                    telemetry_rollups::table
                        .filter(telemetry_rollups::series_id.eq(series_id))
                        .filter(telemetry_rollups::resolution.eq(width))
                        .filter(telemetry_rollups::bucket.between(first.0, last.0))
                };
                let stored: std::collections::HashMap<Millis, Partial> = range()
                    .load::<RollupRow>(c)?
                    .into_iter()
                    .map(|r| (r.bucket, r.partial()))
                    .collect();
                diesel::delete(range()).execute(c)?;
                for (bucket, partial) in &fresh {
                    let mut p = *partial;
                    if let Some(old) = stored.get(bucket) {
                        p.merge(old);
                    }
                    merged.push(RollupRow::new(*series_id, width, *bucket, &p));
                }
                // Stored buckets in the range that this compaction did not touch stay.
                for (bucket, old) in &stored {
                    if !fresh.iter().any(|(b, _)| b == bucket) {
                        merged.push(RollupRow::new(*series_id, width, *bucket, old));
                    }
                }
            }
        }
        for chunk in merged.chunks(ROWS_PER_STATEMENT) {
            diesel::insert_into(telemetry_rollups::table)
                .values(chunk)
                .execute(c)?;
        }
        for m in &job.metrics {
            diesel::update(telemetry_metrics::table.find(m.id))
                .set((
                    telemetry_metrics::first_seen.eq(m.first_seen),
                    telemetry_metrics::last_ts.eq(m.last_ts),
                    telemetry_metrics::last_value.eq(m.last_value),
                    telemetry_metrics::compacted_to.eq(m.compacted_to),
                ))
                .execute(c)?;
        }
        diesel::delete(telemetry_recent::table.filter(telemetry_recent::seq.le(job.upto_seq)))
            .execute(c)?;
        diesel::update(telemetry_state::table.find("compacted_seq"))
            .set(telemetry_state::value.eq(job.upto_seq))
            .execute(c)?;
        Ok::<_, DbError>(())
    })?;
    Ok(windows)
}

/// Merges the chunks of one series in one window into one; returns how many it replaced
/// (0 when there was nothing to merge).
pub fn merge_window(
    conn: &mut DbConnection,
    series_id: i64,
    window: Millis,
) -> Result<u64, DbError> {
    write_txn!(conn, |c| {
        let rows = telemetry_chunks::table
            .select((telemetry_chunks::id, telemetry_chunks::data))
            .filter(telemetry_chunks::series_id.eq(series_id))
            .filter(telemetry_chunks::window_start.eq(window))
            .order(telemetry_chunks::id.asc())
            .load::<(i64, Vec<u8>)>(c)?;
        if rows.len() < 2 {
            return Ok::<_, DbError>(0);
        }
        let mut points = Vec::new();
        for (_, blob) in &rows {
            codec::decode_into(blob, &mut points).map_err(|e| {
                DbError::Domain(plantd_contracts::DomainError::Unavailable(e.to_string()))
            })?;
        }
        // Stable sort: of two points at one time (never written, but) the older chunk's wins.
        points.sort_by_key(|p| p.0);
        points.dedup_by_key(|p| p.0);
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        diesel::delete(telemetry_chunks::table.filter(telemetry_chunks::id.eq_any(&ids)))
            .execute(c)?;
        if let (Some(first), Some(last)) = (points.first(), points.last()) {
            diesel::insert_into(telemetry_chunks::table)
                .values(NewChunk {
                    series_id,
                    window_start: window,
                    t_min: first.0,
                    t_max: last.0,
                    points: i32::try_from(points.len()).unwrap_or(i32::MAX),
                    data: codec::encode(&points),
                })
                .execute(c)?;
        }
        Ok(ids.len() as u64)
    })
}

/// How much of the chunks one raw read may decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawBudget {
    /// A `limit`: once this many points in range are kept, reading stops at the end of the
    /// window (later windows hold only later points, so they cannot be among the first).
    pub enough: Option<usize>,
    /// The query is refused once it has decoded more points than this.
    pub max_decoded: usize,
}

/// Chunks fetched per round trip, so a read that stops early has not loaded the rest.
const CHUNKS_PER_READ: i64 = 16;

/// Raw points of a series in `[from, to]` from the chunks (ascending), and the compacted
/// sequence number they are consistent with. Chunks are read in `(window, id)` order a few
/// at a time and decoded within `budget` (counted in
/// `plantd_telemetry_query_{chunks,points}_decoded_total`).
pub fn chunk_points(
    conn: &mut DbConnection,
    series_id: i64,
    from: Millis,
    to: Millis,
    budget: RawBudget,
) -> Result<(i64, Vec<(Millis, f64)>), DbError> {
    let first_window = bucket_of(from, WINDOW_MS);
    let (seq, mut points) = read_snapshot(conn, |c| {
        let seq = compacted_seq_any(c)?;
        let mut points = Vec::new();
        let mut decoded = 0usize;
        // The (window, id) of the last chunk read; the next read starts after it.
        let mut last: Option<(Millis, i64)> = None;
        loop {
            let (after_window, after_id) = last.unwrap_or((first_window, i64::MIN));
            let rows = with_conn!(c, |c| telemetry_chunks::table
                .select((
                    telemetry_chunks::id,
                    telemetry_chunks::window_start,
                    telemetry_chunks::data
                ))
                .filter(telemetry_chunks::series_id.eq(series_id))
                .filter(telemetry_chunks::window_start.between(after_window, to))
                .filter(
                    telemetry_chunks::window_start
                        .gt(after_window)
                        .or(telemetry_chunks::id.gt(after_id))
                )
                .filter(telemetry_chunks::t_max.ge(from))
                .filter(telemetry_chunks::t_min.le(to))
                .order((
                    telemetry_chunks::window_start.asc(),
                    telemetry_chunks::id.asc()
                ))
                .limit(CHUNKS_PER_READ)
                .load::<(i64, Millis, Vec<u8>)>(c))?;
            let fetched = rows.len() as i64;
            for (id, window, blob) in rows {
                let new_window = last.is_none_or(|(w, _)| w != window);
                if new_window && budget.enough.is_some_and(|n| points.len() >= n) {
                    return Ok((seq, points));
                }
                last = Some((window, id));
                let start = points.len();
                codec::decode_into(&blob, &mut points).map_err(|e| {
                    DbError::Domain(plantd_contracts::DomainError::Unavailable(e.to_string()))
                })?;
                let n = points.len() - start;
                decoded += n;
                metrics::counter!("plantd_telemetry_query_chunks_decoded_total").increment(1);
                metrics::counter!("plantd_telemetry_query_points_decoded_total")
                    .increment(n as u64);
                if decoded > budget.max_decoded {
                    metrics::counter!("plantd_telemetry_queries_refused_total").increment(1);
                    return Err(DbError::Domain(plantd_contracts::DomainError::invalid(
                        "from",
                        format!(
                            "the range holds more than {} raw points (telemetry_query_max_points); \
                             use a shorter range, a step of a minute or more, or a limit",
                            budget.max_decoded
                        ),
                    )));
                }
                // Keep only this chunk's points in range (decoded in place, filtered in place).
                let mut keep = start;
                for i in start..points.len() {
                    if points[i].0 >= from && points[i].0 <= to {
                        points[keep] = points[i];
                        keep += 1;
                    }
                }
                points.truncate(keep);
            }
            if fetched < CHUNKS_PER_READ {
                return Ok((seq, points));
            }
        }
    })?;
    // Chunks of one window can overlap (late samples, not merged yet).
    if !points.windows(2).all(|w| w[0].0 < w[1].0) {
        points.sort_by_key(|p| p.0);
        points.dedup_by_key(|p| p.0);
    }
    Ok((seq, points))
}

/// Stored roll-ups of a series at one resolution with a bucket start in `[from, to]`,
/// combined by the database per `step` (a multiple of the resolution; buckets aligned to
/// the epoch), and the compacted sequence number they are consistent with. Grouping in
/// SQL returns one row per step instead of one per minute (43,200 for a month).
pub fn rollups(
    conn: &mut DbConnection,
    series_id: i64,
    resolution: Millis,
    from: Millis,
    to: Millis,
    step: Millis,
    last: bool,
) -> Result<(i64, Vec<RollupRow>), DbError> {
    use diesel::sql_types::BigInt;
    // Bucket starts are never negative (samples before 1970 are refused), so integer
    // division floors. `last` is the value at the latest time: SQLite takes a bare column
    // from the row that gave the query's only MAX() (so that query, for `last` alone, has
    // no other min/max and its vmin/vmax mean nothing); PostgreSQL orders an array. Only a
    // `last` query pays for it: the others leave vlast/last_ts empty.
    const SQLITE: &str = "SELECT series_id, resolution, (bucket / ?) * ? AS bucket, \
        SUM(n) AS n, MIN(vmin) AS vmin, MAX(vmax) AS vmax, SUM(vsum) AS vsum, \
        0.0 AS vlast, 0 AS last_ts FROM telemetry_rollups \
        WHERE series_id = ? AND resolution = ? AND bucket BETWEEN ? AND ? \
        GROUP BY 3 ORDER BY 3";
    const SQLITE_LAST: &str = "SELECT series_id, resolution, (bucket / ?) * ? AS bucket, \
        SUM(n) AS n, vmin, vmax, SUM(vsum) AS vsum, vlast, MAX(last_ts) AS last_ts \
        FROM telemetry_rollups \
        WHERE series_id = ? AND resolution = ? AND bucket BETWEEN ? AND ? \
        GROUP BY 3 ORDER BY 3";
    const PG: &str = "SELECT series_id, resolution, (bucket / $1) * $2 AS bucket, \
        SUM(n)::bigint AS n, MIN(vmin) AS vmin, MAX(vmax) AS vmax, SUM(vsum) AS vsum, \
        0.0::float8 AS vlast, 0::bigint AS last_ts FROM telemetry_rollups \
        WHERE series_id = $3 AND resolution = $4 AND bucket BETWEEN $5 AND $6 \
        GROUP BY series_id, resolution, 3 ORDER BY 3";
    const PG_LAST: &str = "SELECT series_id, resolution, (bucket / $1) * $2 AS bucket, \
        SUM(n)::bigint AS n, MIN(vmin) AS vmin, MAX(vmax) AS vmax, SUM(vsum) AS vsum, \
        (array_agg(vlast ORDER BY last_ts DESC))[1] AS vlast, MAX(last_ts) AS last_ts \
        FROM telemetry_rollups \
        WHERE series_id = $3 AND resolution = $4 AND bucket BETWEEN $5 AND $6 \
        GROUP BY series_id, resolution, 3 ORDER BY 3";
    read_snapshot(conn, |c| {
        let seq = compacted_seq_any(c)?;
        let rows = match c {
            DbConnection::Sqlite(c) => diesel::sql_query(if last { SQLITE_LAST } else { SQLITE })
                .bind::<BigInt, _>(step)
                .bind::<BigInt, _>(step)
                .bind::<BigInt, _>(series_id)
                .bind::<BigInt, _>(resolution)
                .bind::<BigInt, _>(from)
                .bind::<BigInt, _>(to)
                .load::<RollupRow>(c)?,
            DbConnection::Pg(c) => diesel::sql_query(if last { PG_LAST } else { PG })
                .bind::<BigInt, _>(step)
                .bind::<BigInt, _>(step)
                .bind::<BigInt, _>(series_id)
                .bind::<BigInt, _>(resolution)
                .bind::<BigInt, _>(from)
                .bind::<BigInt, _>(to)
                .load::<RollupRow>(c)?,
        };
        Ok((seq, rows))
    })
}

fn compacted_seq_any(conn: &mut DbConnection) -> Result<i64, DbError> {
    with_conn!(conn, |c| compacted_seq!(c)).map_err(DbError::from)
}

/// Runs reads in one snapshot: a SQLite read transaction, or PostgreSQL REPEATABLE READ.
fn read_snapshot<T>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T, DbError>,
) -> Result<T, DbError> {
    match conn {
        DbConnection::Sqlite(c) => {
            diesel::sql_query("BEGIN").execute(c)?;
        }
        DbConnection::Pg(c) => {
            diesel::sql_query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(c)?;
        }
    }
    let result = work(conn);
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    with_conn!(conn, |c| diesel::sql_query(end).execute(c))?;
    result
}

/// What retention removes, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiring {
    Chunks,
    Rollups(Millis),
}

/// Deletes at most `limit` rows of one kind that ended before `cutoff`; returns how many.
pub fn expire(
    conn: &mut DbConnection,
    what: Expiring,
    cutoff: Millis,
    limit: i64,
) -> Result<u64, DbError> {
    let deleted = match what {
        // A chunk's window ends before the cutoff: every point in it is expired.
        Expiring::Chunks => with_conn!(conn, |c| {
            let ids = telemetry_chunks::table
                .select(telemetry_chunks::id)
                .filter(telemetry_chunks::window_start.lt(cutoff - WINDOW_MS + 1))
                .limit(limit)
                .load::<i64>(c)?;
            diesel::delete(telemetry_chunks::table.filter(telemetry_chunks::id.eq_any(&ids)))
                .execute(c)
        })?,
        Expiring::Rollups(width) => with_conn!(conn, |c| {
            let keys = telemetry_rollups::table
                .select((telemetry_rollups::series_id, telemetry_rollups::bucket))
                .filter(telemetry_rollups::resolution.eq(width))
                .filter(telemetry_rollups::bucket.lt(cutoff - width + 1))
                .order(telemetry_rollups::bucket.asc())
                .limit(limit)
                .load::<(i64, Millis)>(c)?;
            let mut n = 0;
            if let Some(newest) = keys.iter().map(|k| k.1).max() {
                // The oldest `limit` rows of this width: everything up to the newest of them
                // (the index on (resolution, bucket) keeps this a range delete).
                n = diesel::delete(
                    telemetry_rollups::table
                        .filter(telemetry_rollups::resolution.eq(width))
                        .filter(telemetry_rollups::bucket.le(newest)),
                )
                .execute(c)?;
            }
            Ok::<_, diesel::result::Error>(n)
        })?,
    };
    Ok(deleted as u64)
}

/// Bytes the database takes on disk (SQLite: pages in use; PostgreSQL: the database), and
/// on PostgreSQL each telemetry table with its indexes (SQLite has no cheap per-table size).
pub fn disk_bytes(conn: &mut DbConnection) -> Result<(u64, Vec<(String, u64)>), DbError> {
    #[derive(QueryableByName)]
    struct Size {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        bytes: i64,
    }
    let bytes = |s: &Size| u64::try_from(s.bytes).unwrap_or(0);
    match conn {
        DbConnection::Sqlite(c) => {
            let total = diesel::sql_query(
                "SELECT 'database' AS name, page_count * page_size AS bytes \
                 FROM pragma_page_count(), pragma_page_size()",
            )
            .get_result::<Size>(c)?;
            Ok((bytes(&total), Vec::new()))
        }
        DbConnection::Pg(c) => {
            let total = diesel::sql_query(
                "SELECT 'database' AS name, pg_database_size(current_database())::bigint AS bytes",
            )
            .get_result::<Size>(c)?;
            let tables = diesel::sql_query(
                "SELECT relname::text AS name, pg_total_relation_size(oid)::bigint AS bytes \
                 FROM pg_class WHERE relkind IN ('r', 'p') AND relname LIKE 'telemetry\\_%'",
            )
            .load::<Size>(c)?;
            Ok((
                bytes(&total),
                tables.iter().map(|t| (t.name.clone(), bytes(t))).collect(),
            ))
        }
    }
}

/// PostgreSQL with TimescaleDB available: makes the recent table a hypertable on `ts`.
/// Returns the layout in use (`chunks` or `chunks+timescaledb`).
pub fn detect_timescale(conn: &mut DbConnection) -> Result<&'static str, DbError> {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let DbConnection::Pg(c) = conn else {
        return Ok("chunks");
    };
    let found = diesel::sql_query(
        "SELECT count(*)::bigint AS n FROM pg_available_extensions WHERE name = 'timescaledb'",
    )
    .get_result::<Found>(c)?;
    if found.n == 0 {
        return Ok("chunks");
    }
    diesel::sql_query("CREATE EXTENSION IF NOT EXISTS timescaledb").execute(c)?;
    diesel::sql_query(
        "SELECT create_hypertable('telemetry_recent', 'ts', chunk_time_interval => 86400000::bigint, \
         migrate_data => true, if_not_exists => true)",
    )
    .execute(c)?;
    Ok("chunks+timescaledb")
}
