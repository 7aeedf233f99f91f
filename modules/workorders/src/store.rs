//! Queries of the work-order module's tables. An order is stored as its JSON document
//! (without history: that has its own table) beside the columns that filters, unique
//! constraints and the figures need. Blocking diesel code: run it inside `Db::run`, in
//! the transaction of the change.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use plantd_contracts::time::Millis;
use plantd_contracts::window::{search_text, SortDir};
use plantd_contracts::workorders::{
    Code, FailureCodes, HistoryEntry, OrderSort, RequestStatus, WorkOrder, WorkOrderFilter,
    WorkOrderStatus, WorkRequest,
};
use plantd_storage::{with_conn, DbConnection, DbError};

use crate::kpi::Facts;
use crate::schema::{
    workorders_codes, workorders_counters, workorders_history, workorders_order_facts,
    workorders_orders, workorders_requests,
};

/// The statuses of an open order, as stored.
pub(crate) const OPEN: [&str; 3] = ["open", "in_progress", "on_hold"];

#[derive(Debug, Clone, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = workorders_orders, treat_none_as_null = true)]
pub(crate) struct OrderRow {
    pub id: String,
    pub number: i64,
    pub kind: String,
    pub status: String,
    pub asset_id: Option<String>,
    pub device_id: Option<String>,
    pub assignee: Option<String>,
    pub stops_asset: bool,
    pub due_at: Option<Millis>,
    pub alarm_id: Option<String>,
    pub rule_id: Option<String>,
    pub plan_id: Option<String>,
    pub occurrence: Option<i64>,
    pub created_at: Millis,
    pub closed_at: Option<Millis>,
    pub doc: String,
}

/// The columns of an order beside [`OrderRow`] (declared apart, see `schema.rs`): what the
/// figures read and the search text, written after the row in the same transaction.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = workorders_order_facts, treat_none_as_null = true)]
pub(crate) struct FactsRow {
    pub completed_at: Option<Millis>,
    pub downtime_start: Option<Millis>,
    pub downtime_end: Option<Millis>,
    pub estimated_hours: Option<f64>,
    pub actual_hours: Option<f64>,
    pub interval_days: Option<f64>,
    pub repeat_failure: bool,
    pub failure_mode: Option<String>,
    pub search_text: String,
}

#[derive(Debug, Clone, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = workorders_requests, treat_none_as_null = true)]
pub(crate) struct RequestRow {
    pub id: String,
    pub status: String,
    pub asset_id: Option<String>,
    pub created_at: Millis,
    pub doc: String,
}

fn encode<T: serde::Serialize>(v: &T) -> Result<String, DbError> {
    serde_json::to_string(v).map_err(|e| DbError::Task(format!("does not encode: {e}")))
}

fn decode<T: serde::de::DeserializeOwned>(doc: &str) -> Result<T, DbError> {
    serde_json::from_str(doc).map_err(|e| DbError::Task(format!("stored document: {e}")))
}

fn ms(t: Option<DateTime<Utc>>) -> Option<Millis> {
    t.map(|t| t.timestamp_millis())
}

/// What the order tables search: the words a person sees of an order (never the JSON
/// keys or escapes of its document), lower case.
pub(crate) fn search_text_of(o: &WorkOrder) -> String {
    let device = o.device_id.as_ref().map(|d| d.to_string());
    let number = format!("wo-{}", o.number);
    search_text(&[
        Some(number.as_str()),
        Some(o.title.as_str()),
        Some(o.description.as_str()),
        Some(o.kind.as_str()),
        o.assignee.as_deref(),
        o.location.as_deref(),
        o.asset_id.as_deref(),
        device.as_deref(),
    ])
}

fn row_of(o: &WorkOrder) -> Result<(OrderRow, FactsRow), DbError> {
    let facts = Facts::from(o);
    let row = OrderRow {
        id: o.id.clone(),
        number: o.number,
        kind: o.kind.as_str().to_owned(),
        status: o.status.as_str().to_owned(),
        asset_id: o.asset_id.clone(),
        device_id: o.device_id.as_ref().map(|d| d.to_string()),
        assignee: o.assignee.clone(),
        stops_asset: o.stops_asset,
        due_at: ms(o.due_at),
        alarm_id: o.alarm_id.clone(),
        rule_id: o.rule_id.clone(),
        plan_id: o.plan_id.clone(),
        occurrence: o.occurrence,
        created_at: o.created_at.timestamp_millis(),
        closed_at: facts.closed_at,
        doc: encode(&WorkOrder {
            history: Vec::new(),
            overdue: false,
            ..o.clone()
        })?,
    };
    let more = FactsRow {
        completed_at: facts.completed_at,
        downtime_start: facts.downtime_start,
        downtime_end: facts.downtime_end,
        estimated_hours: facts.estimated_hours,
        actual_hours: facts.actual_hours,
        interval_days: facts.interval_days,
        repeat_failure: facts.repeat_failure,
        failure_mode: facts.failure_mode,
        search_text: search_text_of(o),
    };
    Ok((row, more))
}

/// Writes the columns beside the row (`FactsRow`) of the order `id`.
fn write_facts(conn: &mut DbConnection, id: &str, facts: &FactsRow) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::update(
        workorders_order_facts::table.find(id)
    )
    .set(facts)
    .execute(c))?;
    Ok(())
}

/// Open and past its due date, now.
pub(crate) fn is_overdue(o: &WorkOrder, now: DateTime<Utc>) -> bool {
    o.status.is_open() && o.due_at.is_some_and(|d| d < now)
}

fn order_of(row: &OrderRow) -> Result<WorkOrder, DbError> {
    let mut o: WorkOrder = decode(&row.doc)?;
    o.overdue = is_overdue(&o, Utc::now());
    Ok(o)
}

/// The next `WO-n`: the counter row is updated first, so concurrent transactions wait for
/// each other's commit (PostgreSQL row lock, SQLite's one writer); the number is unique.
pub(crate) fn next_number(conn: &mut DbConnection) -> Result<i64, DbError> {
    with_conn!(conn, |c| {
        diesel::update(workorders_counters::table.find("orders"))
            .set(workorders_counters::value.eq(workorders_counters::value + 1))
            .execute(c)?;
        workorders_counters::table
            .find("orders")
            .select(workorders_counters::value)
            .first::<i64>(c)
    })
    .map_err(DbError::from)
}

/// Stores a new order; `overdue` is set on it as it is shown now.
pub(crate) fn insert_order(conn: &mut DbConnection, o: &mut WorkOrder) -> Result<(), DbError> {
    o.overdue = is_overdue(o, Utc::now());
    let (row, facts) = row_of(o)?;
    with_conn!(conn, |c| diesel::insert_into(workorders_orders::table)
        .values(&row)
        .execute(c))?;
    write_facts(conn, &row.id, &facts)
}

/// Stores a changed order; `overdue` is set on it as it is shown now.
pub(crate) fn update_order(conn: &mut DbConnection, o: &mut WorkOrder) -> Result<(), DbError> {
    o.overdue = is_overdue(o, Utc::now());
    let (row, facts) = row_of(o)?;
    with_conn!(conn, |c| diesel::update(
        workorders_orders::table.find(&row.id)
    )
    .set(&row)
    .execute(c))?;
    write_facts(conn, &row.id, &facts)
}

/// Appends entries to an order's history, after the ones it has.
pub(crate) fn append_history(
    conn: &mut DbConnection,
    order_id: &str,
    entries: &[HistoryEntry],
) -> Result<(), DbError> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::with_capacity(entries.len());
    let last: Option<i32> = with_conn!(conn, |c| workorders_history::table
        .filter(workorders_history::order_id.eq(order_id))
        .select(diesel::dsl::max(workorders_history::seq))
        .first(c))?;
    for (seq, e) in (last.map_or(0, |s| s + 1)..).zip(entries) {
        rows.push((
            workorders_history::order_id.eq(order_id.to_owned()),
            workorders_history::seq.eq(seq),
            workorders_history::at.eq(e.at.timestamp_millis()),
            workorders_history::entry.eq(encode(e)?),
        ));
    }
    with_conn!(conn, |c| diesel::insert_into(workorders_history::table)
        .values(&rows)
        .execute(c))?;
    Ok(())
}

pub(crate) fn history_of(
    conn: &mut DbConnection,
    order_id: &str,
) -> Result<Vec<HistoryEntry>, DbError> {
    let rows: Vec<String> = with_conn!(conn, |c| workorders_history::table
        .filter(workorders_history::order_id.eq(order_id))
        .order(workorders_history::seq.asc())
        .select(workorders_history::entry)
        .load(c))?;
    rows.iter().map(|r| decode(r)).collect()
}

pub(crate) fn get_order(conn: &mut DbConnection, id: &str) -> Result<Option<WorkOrder>, DbError> {
    let row: Option<OrderRow> = with_conn!(conn, |c| workorders_orders::table
        .find(id)
        .first(c)
        .optional())?;
    row.as_ref().map(order_of).transpose()
}

/// The first order of a query, on either backend (the query is written once).
macro_rules! first_order {
    ($conn:expr, |$q:ident| $body:expr) => {{
        let row: Option<OrderRow> = with_conn!($conn, |c| {
            let $q = workorders_orders::table.into_boxed();
            $body.first(c).optional()
        })?;
        row.as_ref().map(order_of).transpose()
    }};
}

/// The order an alarm episode opened, if any.
pub(crate) fn by_alarm(
    conn: &mut DbConnection,
    alarm_id: &str,
) -> Result<Option<WorkOrder>, DbError> {
    first_order!(conn, |q| q.filter(workorders_orders::alarm_id.eq(alarm_id)))
}

/// The order of a plan's occurrence, if any.
pub(crate) fn by_occurrence(
    conn: &mut DbConnection,
    plan_id: &str,
    occurrence: i64,
) -> Result<Option<WorkOrder>, DbError> {
    first_order!(conn, |q| q
        .filter(workorders_orders::plan_id.eq(plan_id))
        .filter(workorders_orders::occurrence.eq(occurrence)))
}

/// What an alarm's order is about: its rule on an asset, or on a device without one.
#[derive(Debug, Clone)]
pub(crate) struct Equipment {
    pub rule_id: String,
    pub asset_id: Option<String>,
    pub device_id: String,
}

macro_rules! on_equipment {
    ($q:expr, $e:expr) => {{
        let q = $q.filter(workorders_orders::rule_id.eq($e.rule_id.clone()));
        match &$e.asset_id {
            Some(a) => q.filter(workorders_orders::asset_id.eq(a.clone())),
            None => q
                .filter(workorders_orders::asset_id.is_null())
                .filter(workorders_orders::device_id.eq($e.device_id.clone())),
        }
    }};
}

/// The newest open order of a rule on the same equipment.
pub(crate) fn open_for(
    conn: &mut DbConnection,
    e: &Equipment,
) -> Result<Option<WorkOrder>, DbError> {
    first_order!(conn, |q| on_equipment!(q, e)
        .filter(workorders_orders::status.eq_any(OPEN))
        .order(workorders_orders::created_at.desc()))
}

/// The order of a rule on the same equipment done last, if it was done at `since` or
/// later.
pub(crate) fn done_since(
    conn: &mut DbConnection,
    e: &Equipment,
    since: Millis,
) -> Result<Option<WorkOrder>, DbError> {
    first_order!(conn, |q| on_equipment!(q, e)
        .filter(workorders_orders::status.eq("done"))
        .filter(workorders_orders::closed_at.ge(since))
        .order(workorders_orders::closed_at.desc()))
}

/// Some order that stops this asset is `in_progress` (the health module holds the asset
/// in maintenance exactly while this is true).
pub(crate) fn asset_held(conn: &mut DbConnection, asset_id: &str) -> Result<bool, DbError> {
    let n: i64 = with_conn!(conn, |c| workorders_orders::table
        .filter(workorders_orders::asset_id.eq(asset_id))
        .filter(workorders_orders::stops_asset.eq(true))
        .filter(workorders_orders::status.eq("in_progress"))
        .count()
        .get_result(c))?;
    Ok(n > 0)
}

pub(crate) fn open_count(conn: &mut DbConnection) -> Result<i64, DbError> {
    with_conn!(conn, |c| workorders_orders::table
        .filter(workorders_orders::status.eq_any(OPEN))
        .count()
        .get_result(c))
    .map_err(DbError::from)
}

/// Open orders past their due time at `now` (the list's `overdue=1`).
pub(crate) fn overdue_count(conn: &mut DbConnection, now: Millis) -> Result<i64, DbError> {
    with_conn!(conn, |c| workorders_orders::table
        .filter(workorders_orders::status.eq_any(OPEN))
        .filter(workorders_orders::due_at.lt(now))
        .count()
        .get_result(c))
    .map_err(DbError::from)
}

/// A page of the order list: newest first, after the cursor `(created_at, id)`.
#[derive(Debug, Clone, Default)]
pub(crate) struct OrderQuery {
    pub filter: WorkOrderFilter,
    pub before: Option<(Millis, String)>,
    pub now: Millis,
    pub limit: i64,
}

/// The filter's conditions on a boxed query of orders (`now` decides what is overdue).
macro_rules! matching {
    ($q:expr, $filter:expr, $now:expr) => {{
        let f = &$filter;
        let mut q = $q;
        if let Some(statuses) = &f.status {
            let s: Vec<&'static str> = statuses.iter().map(|s| s.as_str()).collect();
            q = q.filter(workorders_orders::status.eq_any(s));
        }
        if let Some(a) = &f.asset_id {
            q = q.filter(workorders_orders::asset_id.eq(a.clone()));
        }
        if let Some(a) = &f.assignee {
            q = q.filter(workorders_orders::assignee.eq(a.clone()));
        }
        if let Some(k) = f.kind {
            q = q.filter(workorders_orders::kind.eq(k.as_str()));
        }
        if let Some(p) = &f.plan_id {
            q = q.filter(workorders_orders::plan_id.eq(p.clone()));
        }
        if let Some(a) = &f.alarm_id {
            q = q.filter(workorders_orders::alarm_id.eq(a.clone()));
        }
        match f.overdue {
            Some(true) => {
                q = q
                    .filter(workorders_orders::status.eq_any(OPEN))
                    .filter(workorders_orders::due_at.lt($now));
            }
            Some(false) => {
                q = q.filter(
                    workorders_orders::status
                        .ne_all(OPEN)
                        .or(workorders_orders::due_at.is_null())
                        .or(workorders_orders::due_at.ge($now)),
                );
            }
            None => {}
        }
        q
    }};
}

macro_rules! filtered {
    ($q:expr, $query:expr) => {{
        let mut q = matching!($q, $query.filter, $query.now);
        if let Some((at, id)) = &$query.before {
            q = q.filter(
                workorders_orders::created_at
                    .lt(*at)
                    .or(workorders_orders::created_at
                        .eq(*at)
                        .and(workorders_orders::id.lt(id.clone()))),
            );
        }
        q.order((
            workorders_orders::created_at.desc(),
            workorders_orders::id.desc(),
        ))
        .limit($query.limit)
    }};
}

pub(crate) fn list_orders(
    conn: &mut DbConnection,
    q: &OrderQuery,
) -> Result<Vec<WorkOrder>, DbError> {
    let rows: Vec<OrderRow> = with_conn!(conn, |c| filtered!(
        workorders_orders::table.into_boxed(),
        q
    )
    .load(c))?;
    rows.iter().map(order_of).collect()
}

/// A window of the order list in any order, and how many orders match in all.
#[derive(Debug, Clone, Default)]
pub(crate) struct OrderWindow {
    pub filter: WorkOrderFilter,
    /// Lower case, `%`, `_` and `\\` escaped for LIKE.
    pub text: Option<String>,
    pub number: Option<i64>,
    pub sort: OrderSort,
    pub dir: SortDir,
    pub now: Millis,
    pub offset: i64,
    pub limit: i64,
}

/// The filter and the search text (in the order's search text, or its number).
macro_rules! searched {
    ($q:expr, $w:expr) => {{
        let mut q = matching!($q, $w.filter, $w.now);
        if let Some(text) = &$w.text {
            let found = workorders_order_facts::table
                .filter(
                    workorders_order_facts::search_text
                        .like(format!("%{text}%"))
                        .escape('\\'),
                )
                .select(workorders_order_facts::id);
            q = match $w.number {
                Some(n) => q.filter(
                    workorders_orders::id
                        .eq_any(found)
                        .or(workorders_orders::number.eq(n)),
                ),
                None => q.filter(workorders_orders::id.eq_any(found)),
            };
        }
        q
    }};
}

/// `(key, id)` in the direction asked; nullable keys sort their NULLs last both ways.
macro_rules! sorted {
    ($q:expr, $w:expr) => {{
        use workorders_orders as o;
        let q = $q;
        match ($w.sort, $w.dir) {
            (OrderSort::Created, SortDir::Asc) => q.order((o::created_at.asc(), o::id.asc())),
            (OrderSort::Created, SortDir::Desc) => q.order((o::created_at.desc(), o::id.desc())),
            (OrderSort::Number, SortDir::Asc) => q.order(o::number.asc()),
            (OrderSort::Number, SortDir::Desc) => q.order(o::number.desc()),
            (OrderSort::Status, SortDir::Asc) => q.order((o::status.asc(), o::id.asc())),
            (OrderSort::Status, SortDir::Desc) => q.order((o::status.desc(), o::id.desc())),
            (OrderSort::Kind, SortDir::Asc) => q.order((o::kind.asc(), o::id.asc())),
            (OrderSort::Kind, SortDir::Desc) => q.order((o::kind.desc(), o::id.desc())),
            (OrderSort::Assignee, SortDir::Asc) => {
                q.order((o::assignee.is_null(), o::assignee.asc(), o::id.asc()))
            }
            (OrderSort::Assignee, SortDir::Desc) => {
                q.order((o::assignee.is_null(), o::assignee.desc(), o::id.desc()))
            }
            (OrderSort::Due, SortDir::Asc) => {
                q.order((o::due_at.is_null(), o::due_at.asc(), o::id.asc()))
            }
            (OrderSort::Due, SortDir::Desc) => {
                q.order((o::due_at.is_null(), o::due_at.desc(), o::id.desc()))
            }
        }
    }};
}

/// One window of orders in the order asked, and the count of all that match. A deferred
/// join: the window's ids are paged over the sort key's index (small records, however
/// deep the offset), then only those rows are read and decoded; one read transaction,
/// so the count, the ids and the rows agree.
pub(crate) fn window_orders(
    conn: &mut DbConnection,
    w: &OrderWindow,
) -> Result<(Vec<WorkOrder>, i64), DbError> {
    let (rows, ids, total): (Vec<OrderRow>, Vec<String>, i64) = with_conn!(conn, |c| c
        .transaction(|c| {
            let total = searched!(workorders_orders::table.into_boxed(), w)
                .count()
                .get_result(c)?;
            let ids: Vec<String> = sorted!(searched!(workorders_orders::table.into_boxed(), w), w)
                .select(workorders_orders::id)
                .offset(w.offset)
                .limit(w.limit)
                .load(c)?;
            let rows = workorders_orders::table
                .filter(workorders_orders::id.eq_any(&ids))
                .load(c)?;
            Ok::<_, diesel::result::Error>((rows, ids, total))
        }))?;
    let mut by_id: std::collections::HashMap<&str, &OrderRow> =
        rows.iter().map(|r| (r.id.as_str(), r)).collect();
    let orders = ids
        .iter()
        .filter_map(|id| by_id.remove(id.as_str()))
        .map(order_of)
        .collect::<Result<_, _>>()?;
    Ok((orders, total))
}

/// The figures' columns of a row, as stored.
type FactsColumns = (
    String,
    String,
    Option<String>,
    Millis,
    Option<Millis>,
    Option<Millis>,
    Option<Millis>,
    Option<Millis>,
    Option<Millis>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    bool,
    Option<String>,
);

fn facts_of(row: FactsColumns) -> Option<Facts> {
    let (kind, status, asset_id, created_at, closed_at, due_at, completed_at) =
        (row.0, row.1, row.2, row.3, row.4, row.5, row.6);
    let (Some(kind), Some(status)) = (
        plantd_contracts::workorders::WorkOrderType::parse(&kind),
        WorkOrderStatus::parse(&status),
    ) else {
        tracing::warn!(%kind, %status, "a stored order has an unknown type or status; left out of the figures");
        metrics::counter!("plantd_workorders_figures_rows_skipped_total").increment(1);
        return None;
    };
    Some(Facts {
        kind,
        status,
        asset_id,
        created_at,
        closed_at: closed_at.filter(|_| !status.is_open()),
        due_at,
        completed_at,
        downtime_start: row.7,
        downtime_end: row.8,
        estimated_hours: row.9,
        actual_hours: row.10,
        interval_days: row.11,
        repeat_failure: row.12,
        failure_mode: row.13,
    })
}

/// The figures' facts of the orders created before `to` that are open, or were done or
/// cancelled at `from` or later; on `assets` only when given (the figures over
/// `[from, to)`). Reads those columns only, never the documents.
pub(crate) fn orders_touching(
    conn: &mut DbConnection,
    from_ms: Millis,
    to_ms: Millis,
    assets: Option<&[String]>,
) -> Result<Vec<Facts>, DbError> {
    use workorders_order_facts as f;
    let rows: Vec<FactsColumns> = with_conn!(conn, |c| {
        let mut q = f::table
            .filter(f::created_at.lt(to_ms))
            .filter(f::closed_at.is_null().or(f::closed_at.ge(from_ms)))
            .into_boxed();
        if let Some(assets) = assets {
            q = q.filter(f::asset_id.eq_any(assets.to_vec()));
        }
        q.order(f::created_at.asc())
            .select((
                f::kind,
                f::status,
                f::asset_id,
                f::created_at,
                f::closed_at,
                f::due_at,
                f::completed_at,
                f::downtime_start,
                f::downtime_end,
                f::estimated_hours,
                f::actual_hours,
                f::interval_days,
                f::repeat_failure,
                f::failure_mode,
            ))
            .load(c)
    })?;
    Ok(rows.into_iter().filter_map(facts_of).collect())
}

pub(crate) fn load_codes(conn: &mut DbConnection) -> Result<FailureCodes, DbError> {
    let rows: Vec<(String, String, String)> = with_conn!(conn, |c| workorders_codes::table
        .order((
            workorders_codes::list.asc(),
            workorders_codes::position.asc()
        ))
        .select((
            workorders_codes::list,
            workorders_codes::code,
            workorders_codes::label,
        ))
        .load(c))?;
    let mut codes = FailureCodes {
        failure_modes: Vec::new(),
        causes: Vec::new(),
        actions: Vec::new(),
        detections: Vec::new(),
    };
    for (list, code, label) in rows {
        let target = match list.as_str() {
            "failure_modes" => &mut codes.failure_modes,
            "causes" => &mut codes.causes,
            "actions" => &mut codes.actions,
            "detections" => &mut codes.detections,
            _ => continue,
        };
        target.push(Code { code, label });
    }
    Ok(codes)
}

pub(crate) fn replace_codes(conn: &mut DbConnection, codes: &FailureCodes) -> Result<(), DbError> {
    let lists = [
        ("failure_modes", &codes.failure_modes),
        ("causes", &codes.causes),
        ("actions", &codes.actions),
        ("detections", &codes.detections),
    ];
    let mut rows = Vec::new();
    for (list, items) in lists {
        for (i, c) in items.iter().enumerate() {
            rows.push((
                workorders_codes::list.eq(list),
                workorders_codes::code.eq(c.code.clone()),
                workorders_codes::label.eq(c.label.clone()),
                workorders_codes::position.eq(i as i32),
            ));
        }
    }
    with_conn!(conn, |c| {
        diesel::delete(workorders_codes::table).execute(c)?;
        diesel::insert_into(workorders_codes::table)
            .values(&rows)
            .execute(c)
    })?;
    Ok(())
}

pub(crate) fn save_request(conn: &mut DbConnection, r: &WorkRequest) -> Result<(), DbError> {
    let row = RequestRow {
        id: r.id.clone(),
        status: r.status.as_str().to_owned(),
        asset_id: r.asset_id.clone(),
        created_at: r.created_at.timestamp_millis(),
        doc: encode(r)?,
    };
    with_conn!(conn, |c| diesel::insert_into(workorders_requests::table)
        .values(&row)
        .on_conflict(workorders_requests::id)
        .do_update()
        .set(&row)
        .execute(c))?;
    Ok(())
}

pub(crate) fn get_request(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<WorkRequest>, DbError> {
    let row: Option<RequestRow> = with_conn!(conn, |c| workorders_requests::table
        .find(id)
        .first(c)
        .optional())?;
    row.map(|r| decode(&r.doc)).transpose()
}

/// Newest first.
pub(crate) fn list_requests(
    conn: &mut DbConnection,
    status: Option<RequestStatus>,
    limit: i64,
) -> Result<Vec<WorkRequest>, DbError> {
    let rows: Vec<RequestRow> = with_conn!(conn, |c| {
        let mut q = workorders_requests::table.into_boxed();
        if let Some(s) = status {
            q = q.filter(workorders_requests::status.eq(s.as_str()));
        }
        q.order(workorders_requests::created_at.desc())
            .limit(limit)
            .load(c)
    })?;
    rows.iter().map(|r| decode(&r.doc)).collect()
}
