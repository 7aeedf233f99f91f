//! Queries of the webhooks tables: subscriptions, the delivery log (enqueue per event,
//! due rows, each attempt's outcome, redelivery), pruning. Blocking diesel code: run it
//! inside `Db::run`.

use diesel::prelude::*;
use plantd_contracts::webhooks::DeliveryStatus;
use plantd_contracts::Event;
use plantd_storage::{with_conn, DbConnection, DbError};

use crate::rules;
use crate::schema::{webhooks_deliveries as d, webhooks_subscriptions as s};

/// A subscription row.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = s)]
pub struct SubscriptionRow {
    pub id: String,
    pub url: String,
    /// JSON array of selectors.
    pub events: String,
    pub secret: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl SubscriptionRow {
    pub fn selectors(&self) -> Vec<String> {
        serde_json::from_str(&self.events).unwrap_or_default()
    }
}

/// A delivery-log row.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = d)]
pub struct DeliveryRow {
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    pub body: String,
    pub status: String,
    pub attempts: i32,
    pub response_code: Option<i32>,
    pub last_error: Option<String>,
    pub latency_ms: Option<i64>,
    pub next_attempt_at: i64,
    pub window_start: i64,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// A due delivery with what it takes to send it.
#[derive(Debug, Clone)]
pub struct Due {
    pub delivery: DeliveryRow,
    pub url: String,
    pub secret: String,
}

const OPEN: [&str; 2] = ["pending", "failed"];

pub fn insert_subscription(conn: &mut DbConnection, row: &SubscriptionRow) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::insert_into(s::table)
        .values(row)
        .execute(c))?;
    Ok(())
}

pub fn count_subscriptions(conn: &mut DbConnection) -> Result<i64, DbError> {
    Ok(with_conn!(conn, |c| s::table.count().get_result(c))?)
}

pub fn subscriptions(conn: &mut DbConnection) -> Result<Vec<SubscriptionRow>, DbError> {
    Ok(with_conn!(conn, |c| s::table
        .order(s::created_at.asc())
        .then_order_by(s::id.asc())
        .load(c))?)
}

pub fn subscription(conn: &mut DbConnection, id: &str) -> Result<Option<SubscriptionRow>, DbError> {
    Ok(with_conn!(conn, |c| s::table.find(id).first(c).optional())?)
}

/// Writes a subscription's url, selectors and enabled state as given in `row`.
pub fn save_subscription(conn: &mut DbConnection, row: &SubscriptionRow) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::update(s::table.find(&row.id))
        .set((
            s::url.eq(&row.url),
            s::events.eq(&row.events),
            s::enabled.eq(row.enabled),
            s::disabled_reason.eq(&row.disabled_reason),
            s::failing_since.eq(row.failing_since),
            s::updated_at.eq(row.updated_at),
        ))
        .execute(c))?;
    Ok(())
}

/// A re-enabled subscription's open deliveries are due now, with a fresh give-up window.
pub fn reopen_deliveries(
    conn: &mut DbConnection,
    webhook_id: &str,
    now: i64,
) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::update(
        d::table
            .filter(d::webhook_id.eq(webhook_id))
            .filter(d::status.eq_any(OPEN))
    )
    .set((d::next_attempt_at.eq(now), d::window_start.eq(now)))
    .execute(c))?;
    Ok(())
}

/// Deletes a subscription and its log; false when there was none.
pub fn delete_subscription(conn: &mut DbConnection, id: &str) -> Result<bool, DbError> {
    with_conn!(conn, |c| diesel::delete(
        d::table.filter(d::webhook_id.eq(id))
    )
    .execute(c))?;
    let n = with_conn!(conn, |c| diesel::delete(s::table.find(id)).execute(c))?;
    Ok(n == 1)
}

/// One pending row per enabled subscription (made before the event) that wants `event`;
/// an event seen before adds nothing. Returns how many rows were added.
pub fn enqueue(
    conn: &mut DbConnection,
    event: &Event,
    body: &str,
    now: i64,
) -> Result<usize, DbError> {
    let event_ms = event.time.timestamp_millis();
    let subs: Vec<SubscriptionRow> = with_conn!(conn, |c| s::table
        .filter(s::enabled.eq(true))
        .filter(s::created_at.le(event_ms))
        .load(c))?;
    let kind = event.kind();
    let event_id = event.id.to_string();
    let mut added = 0;
    for sub in subs
        .iter()
        .filter(|sub| rules::wants(&sub.selectors(), kind))
    {
        let row = DeliveryRow {
            id: uuid::Uuid::new_v4().to_string(),
            webhook_id: sub.id.clone(),
            event_id: event_id.clone(),
            event_type: kind.to_owned(),
            body: body.to_owned(),
            status: DeliveryStatus::Pending.as_str().to_owned(),
            attempts: 0,
            response_code: None,
            last_error: None,
            latency_ms: None,
            next_attempt_at: now,
            window_start: now,
            created_at: now,
            delivered_at: None,
        };
        added += with_conn!(conn, |c| diesel::insert_into(d::table)
            .values(&row)
            .on_conflict((d::webhook_id, d::event_id))
            .do_nothing()
            .execute(c))?;
    }
    Ok(added)
}

/// Up to `limit` open deliveries of enabled subscriptions due at `now`, oldest due first,
/// leaving out those in `busy` (attempts in flight).
pub fn due(
    conn: &mut DbConnection,
    now: i64,
    busy: &[String],
    limit: i64,
) -> Result<Vec<Due>, DbError> {
    let rows: Vec<(DeliveryRow, String, String)> = with_conn!(conn, |c| d::table
        .inner_join(s::table)
        .filter(s::enabled.eq(true))
        .filter(d::status.eq_any(OPEN))
        .filter(d::next_attempt_at.le(now))
        .filter(d::id.ne_all(busy))
        .order(d::next_attempt_at.asc())
        .limit(limit)
        .select((d::all_columns, s::url, s::secret))
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(|(delivery, url, secret)| Due {
            delivery,
            url,
            secret,
        })
        .collect())
}

/// Open deliveries (for the gauge).
pub fn open_count(conn: &mut DbConnection) -> Result<i64, DbError> {
    Ok(with_conn!(conn, |c| d::table
        .filter(d::status.eq_any(OPEN))
        .count()
        .get_result(c))?)
}

/// What one attempt found.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub response_code: Option<i32>,
    pub error: Option<String>,
    pub latency_ms: i64,
    pub at: i64,
}

/// A successful attempt: delivered; the subscription is no longer failing.
pub fn record_success(
    conn: &mut DbConnection,
    delivery_id: &str,
    webhook_id: &str,
    attempt: &AttemptRecord,
) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::update(d::table.find(delivery_id))
        .set((
            d::status.eq(DeliveryStatus::Delivered.as_str()),
            d::attempts.eq(d::attempts + 1),
            d::response_code.eq(attempt.response_code),
            d::last_error.eq(None::<String>),
            d::latency_ms.eq(attempt.latency_ms),
            d::delivered_at.eq(attempt.at),
        ))
        .execute(c))?;
    with_conn!(conn, |c| diesel::update(s::table.find(webhook_id))
        .filter(s::failing_since.is_not_null())
        .set(s::failing_since.eq(None::<i64>))
        .execute(c))?;
    Ok(())
}

/// A failed attempt: retried at `next` or given up (`None`). The subscription is failing
/// since its first failure after the last success; past `disable_after_ms` of that it is
/// disabled. Returns the reason when this attempt disabled it.
pub fn record_failure(
    conn: &mut DbConnection,
    delivery_id: &str,
    webhook_id: &str,
    attempt: &AttemptRecord,
    next: Option<i64>,
    disable_after_ms: i64,
) -> Result<Option<String>, DbError> {
    let status = match next {
        Some(_) => DeliveryStatus::Failed,
        None => DeliveryStatus::GaveUp,
    };
    with_conn!(conn, |c| diesel::update(d::table.find(delivery_id))
        .set((
            d::status.eq(status.as_str()),
            d::attempts.eq(d::attempts + 1),
            d::response_code.eq(attempt.response_code),
            d::last_error.eq(&attempt.error),
            d::latency_ms.eq(attempt.latency_ms),
            d::next_attempt_at.eq(next.unwrap_or(attempt.at)),
        ))
        .execute(c))?;
    let Some(mut sub) = subscription(conn, webhook_id)? else {
        return Ok(None);
    };
    let since = *sub.failing_since.get_or_insert(attempt.at);
    let mut disabled = None;
    if sub.enabled && attempt.at.saturating_sub(since) >= disable_after_ms {
        let reason = format!(
            "disabled at {}: no delivery succeeded since {} (last error: {})",
            plantd_contracts::time::format_ms(attempt.at),
            plantd_contracts::time::format_ms(since),
            attempt.error.as_deref().unwrap_or("none"),
        );
        sub.enabled = false;
        sub.disabled_reason = Some(reason.clone());
        disabled = Some(reason);
    }
    sub.updated_at = if disabled.is_some() {
        attempt.at
    } else {
        sub.updated_at
    };
    save_subscription(conn, &sub)?;
    Ok(disabled)
}

/// A subscription's newest deliveries, newest first.
pub fn deliveries(
    conn: &mut DbConnection,
    webhook_id: &str,
    limit: i64,
) -> Result<Vec<DeliveryRow>, DbError> {
    Ok(with_conn!(conn, |c| d::table
        .filter(d::webhook_id.eq(webhook_id))
        .order((d::created_at.desc(), d::id.desc()))
        .limit(limit)
        .load(c))?)
}

/// Makes a delivery due now with a fresh give-up window (same id, same body).
pub fn redeliver(
    conn: &mut DbConnection,
    webhook_id: &str,
    delivery_id: &str,
    now: i64,
) -> Result<Option<DeliveryRow>, DbError> {
    let n = with_conn!(conn, |c| diesel::update(
        d::table
            .filter(d::id.eq(delivery_id))
            .filter(d::webhook_id.eq(webhook_id))
    )
    .set((
        d::status.eq(DeliveryStatus::Pending.as_str()),
        d::next_attempt_at.eq(now),
        d::window_start.eq(now),
    ))
    .execute(c))?;
    if n == 0 {
        return Ok(None);
    }
    Ok(with_conn!(conn, |c| d::table
        .find(delivery_id)
        .first(c)
        .optional())?)
}

/// Deletes up to `batch` finished rows (delivered, given up) created before `before`.
pub fn prune(conn: &mut DbConnection, before: i64, batch: i64) -> Result<usize, DbError> {
    let doomed: Vec<String> = with_conn!(conn, |c| d::table
        .filter(d::status.eq_any(["delivered", "gave_up"]))
        .filter(d::created_at.lt(before))
        .limit(batch)
        .select(d::id)
        .load(c))?;
    if doomed.is_empty() {
        return Ok(0);
    }
    Ok(with_conn!(conn, |c| diesel::delete(
        d::table.filter(d::id.eq_any(&doomed))
    )
    .execute(c))?)
}
