//! Queries of the health module's tables. Documents (assets, rules, alarms) are stored as
//! JSON beside the columns that filters and constraints need. Blocking diesel code: run
//! it inside `Db::run`.

use diesel::prelude::*;
use plantd_contracts::time::Millis;
use plantd_storage::{with_conn, DbConnection, DbError};

use crate::schema::{
    health_alarm_history, health_alarms, health_assets, health_device_assets, health_eval_state,
    health_rules,
};

#[derive(Debug, Clone, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = health_assets, treat_none_as_null = true)]
pub struct AssetRow {
    pub id: String,
    pub parent_id: Option<String>,
    pub name: String,
    pub doc: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = health_rules)]
pub struct RuleRow {
    pub id: String,
    pub doc: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = health_alarms, treat_none_as_null = true)]
pub struct AlarmRow {
    pub id: String,
    pub rule_id: String,
    pub device_id: String,
    pub asset_id: Option<String>,
    pub state: String,
    pub severity: String,
    pub raised_at: Millis,
    pub updated_at: Millis,
    pub doc: String,
    /// What the alarm table searches: the words a person sees (rule, device, metric,
    /// severity, state, asset), lower case (`window::search_text`).
    pub search_text: String,
}

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = health_alarm_history)]
pub struct HistoryRow {
    pub alarm_id: String,
    pub seq: i32,
    pub at: Millis,
    pub change: String,
}

#[derive(Debug, Clone, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = health_eval_state)]
pub struct EvalRow {
    pub rule_id: String,
    pub device_id: String,
    pub state: String,
    pub updated_at: Millis,
}

/// Everything the actor keeps in memory, read at start.
pub struct Loaded {
    pub assets: Vec<AssetRow>,
    pub rules: Vec<RuleRow>,
    pub device_assets: Vec<(String, String)>,
    pub open_alarms: Vec<AlarmRow>,
    /// The number of history entries of each open alarm.
    pub history_counts: Vec<(String, i64)>,
    pub eval: Vec<EvalRow>,
}

pub fn load(conn: &mut DbConnection) -> Result<Loaded, DbError> {
    with_conn!(conn, |c| {
        let open_alarms: Vec<AlarmRow> = health_alarms::table
            .filter(health_alarms::state.ne("cleared"))
            .load(c)?;
        let ids: Vec<&str> = open_alarms.iter().map(|a| a.id.as_str()).collect();
        let history_counts = health_alarm_history::table
            .filter(health_alarm_history::alarm_id.eq_any(ids))
            .group_by(health_alarm_history::alarm_id)
            .select((health_alarm_history::alarm_id, diesel::dsl::count_star()))
            .load(c)?;
        Ok(Loaded {
            assets: health_assets::table.load(c)?,
            rules: health_rules::table.load(c)?,
            device_assets: health_device_assets::table.load(c)?,
            open_alarms,
            history_counts,
            eval: health_eval_state::table.load(c)?,
        })
    })
}

pub fn upsert_asset(conn: &mut DbConnection, row: &AssetRow) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::insert_into(health_assets::table)
        .values(row)
        .on_conflict(health_assets::id)
        .do_update()
        .set(row)
        .execute(c))?;
    Ok(())
}

pub fn delete_asset(conn: &mut DbConnection, id: &str) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::delete(health_assets::table.find(id))
        .execute(c))?;
    Ok(())
}

pub fn upsert_rule(conn: &mut DbConnection, row: &RuleRow) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::insert_into(health_rules::table)
        .values(row)
        .on_conflict(health_rules::id)
        .do_update()
        .set(row)
        .execute(c))?;
    Ok(())
}

/// Deletes a rule and its detectors' state (its alarms stay, as history).
pub fn delete_rule(conn: &mut DbConnection, id: &str) -> Result<(), DbError> {
    with_conn!(conn, |c| {
        diesel::delete(health_eval_state::table.filter(health_eval_state::rule_id.eq(id)))
            .execute(c)?;
        diesel::delete(health_rules::table.find(id)).execute(c)
    })?;
    Ok(())
}

/// The devices module's word on a device's asset (`None`: detached or deleted).
pub fn set_device_asset(
    conn: &mut DbConnection,
    device_id: &str,
    asset_id: Option<&str>,
) -> Result<(), DbError> {
    with_conn!(conn, |c| {
        diesel::delete(health_device_assets::table.find(device_id)).execute(c)?;
        if let Some(asset_id) = asset_id {
            diesel::insert_into(health_device_assets::table)
                .values((
                    health_device_assets::device_id.eq(device_id),
                    health_device_assets::asset_id.eq(asset_id),
                ))
                .execute(c)?;
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok(())
}

/// Writes an alarm as it is now and appends its new history entries.
pub fn save_alarm(
    conn: &mut DbConnection,
    row: &AlarmRow,
    history: &[HistoryRow],
) -> Result<(), DbError> {
    with_conn!(conn, |c| {
        diesel::insert_into(health_alarms::table)
            .values(row)
            .on_conflict(health_alarms::id)
            .do_update()
            .set(row)
            .execute(c)?;
        for h in history {
            diesel::insert_into(health_alarm_history::table)
                .values(h)
                .execute(c)?;
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok(())
}

pub fn save_eval(conn: &mut DbConnection, rows: &[EvalRow]) -> Result<(), DbError> {
    with_conn!(conn, |c| {
        for row in rows {
            diesel::insert_into(health_eval_state::table)
                .values(row)
                .on_conflict((health_eval_state::rule_id, health_eval_state::device_id))
                .do_update()
                .set(row)
                .execute(c)?;
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok(())
}

/// Filters of the alarm list (columns only; the doc is decoded by the caller).
#[derive(Debug, Clone, Default)]
pub struct AlarmQuery {
    pub state: Option<String>,
    pub open: bool,
    pub severity: Option<String>,
    pub asset_id: Option<String>,
    pub device_id: Option<String>,
    pub rule_id: Option<String>,
    /// Newest first: rows raised before this (raised_at, id).
    pub before: Option<(Millis, String)>,
    pub limit: i64,
}

pub fn list_alarms(conn: &mut DbConnection, q: &AlarmQuery) -> Result<Vec<AlarmRow>, DbError> {
    with_conn!(conn, |c| {
        let mut query = health_alarms::table.into_boxed();
        if let Some(s) = &q.state {
            query = query.filter(health_alarms::state.eq(s.clone()));
        }
        if q.open {
            query = query.filter(health_alarms::state.ne("cleared"));
        }
        if let Some(s) = &q.severity {
            query = query.filter(health_alarms::severity.eq(s.clone()));
        }
        if let Some(a) = &q.asset_id {
            query = query.filter(health_alarms::asset_id.eq(a.clone()));
        }
        if let Some(d) = &q.device_id {
            query = query.filter(health_alarms::device_id.eq(d.clone()));
        }
        if let Some(r) = &q.rule_id {
            query = query.filter(health_alarms::rule_id.eq(r.clone()));
        }
        if let Some((at, id)) = &q.before {
            query = query.filter(
                health_alarms::raised_at.lt(*at).or(health_alarms::raised_at
                    .eq(*at)
                    .and(health_alarms::id.lt(id.clone()))),
            );
        }
        query
            .order((health_alarms::raised_at.desc(), health_alarms::id.desc()))
            .limit(q.limit)
            .load(c)
    })
    .map_err(DbError::from)
}

/// A window of the alarm list in any order (`BrowseAlarms`).
#[derive(Debug, Clone, Default)]
pub struct AlarmWindow {
    pub state: Option<String>,
    pub open: bool,
    pub severity: Option<String>,
    pub asset_id: Option<String>,
    /// Lower case, LIKE's `\\`, `%` and `_` escaped by `\\`.
    pub text: Option<String>,
    pub sort: plantd_contracts::health::AlarmSort,
    pub dir: plantd_contracts::window::SortDir,
    pub offset: i64,
    pub limit: i64,
}

macro_rules! alarms_matching {
    ($w:expr) => {{
        let mut query = health_alarms::table.into_boxed();
        if let Some(s) = &$w.state {
            query = query.filter(health_alarms::state.eq(s.clone()));
        }
        if $w.open {
            query = query.filter(health_alarms::state.ne("cleared"));
        }
        if let Some(s) = &$w.severity {
            query = query.filter(health_alarms::severity.eq(s.clone()));
        }
        if let Some(a) = &$w.asset_id {
            query = query.filter(health_alarms::asset_id.eq(a.clone()));
        }
        if let Some(text) = &$w.text {
            query = query.filter(
                health_alarms::search_text
                    .like(format!("%{text}%"))
                    .escape('\\'),
            );
        }
        query
    }};
}

/// One window of alarms in the order asked, and how many match in all. A deferred join:
/// the window's ids are paged over the sort key's index, then only those rows are read,
/// in one read transaction.
pub fn window_alarms(
    conn: &mut DbConnection,
    w: &AlarmWindow,
) -> Result<(Vec<AlarmRow>, i64), DbError> {
    use health_alarms as a;
    use plantd_contracts::health::AlarmSort;
    use plantd_contracts::window::SortDir;
    let (rows, ids, total): (Vec<AlarmRow>, Vec<String>, i64) = with_conn!(conn, |c| c
        .transaction(|c| {
            let total: i64 = alarms_matching!(w).count().get_result(c)?;
            let q = alarms_matching!(w);
            let q = match (w.sort, w.dir) {
                (AlarmSort::Raised, SortDir::Asc) => q.order((a::raised_at.asc(), a::id.asc())),
                (AlarmSort::Raised, SortDir::Desc) => q.order((a::raised_at.desc(), a::id.desc())),
                (AlarmSort::Severity, SortDir::Asc) => q.order((a::severity.asc(), a::id.asc())),
                (AlarmSort::Severity, SortDir::Desc) => q.order((a::severity.desc(), a::id.desc())),
                (AlarmSort::State, SortDir::Asc) => q.order((a::state.asc(), a::id.asc())),
                (AlarmSort::State, SortDir::Desc) => q.order((a::state.desc(), a::id.desc())),
                (AlarmSort::Device, SortDir::Asc) => q.order((a::device_id.asc(), a::id.asc())),
                (AlarmSort::Device, SortDir::Desc) => q.order((a::device_id.desc(), a::id.desc())),
            };
            let ids: Vec<String> = q.select(a::id).offset(w.offset).limit(w.limit).load(c)?;
            let rows = a::table.filter(a::id.eq_any(&ids)).load(c)?;
            Ok::<_, diesel::result::Error>((rows, ids, total))
        }))?;
    let mut by_id: std::collections::HashMap<String, AlarmRow> =
        rows.into_iter().map(|r| (r.id.clone(), r)).collect();
    let rows = ids.iter().filter_map(|id| by_id.remove(id)).collect();
    Ok((rows, total))
}

pub fn get_alarm(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<(AlarmRow, Vec<HistoryRow>)>, DbError> {
    with_conn!(conn, |c| {
        let Some(row) = health_alarms::table
            .find(id)
            .first::<AlarmRow>(c)
            .optional()?
        else {
            return Ok(None);
        };
        let history = health_alarm_history::table
            .filter(health_alarm_history::alarm_id.eq(id))
            .order(health_alarm_history::seq.asc())
            .load(c)?;
        Ok::<_, diesel::result::Error>(Some((row, history)))
    })
    .map_err(DbError::from)
}

/// (raised_at, rule_id, doc) of the alarms raised in `[from, to)`, oldest first.
pub fn raised_between(
    conn: &mut DbConnection,
    from: Millis,
    to: Millis,
) -> Result<Vec<AlarmRow>, DbError> {
    with_conn!(conn, |c| health_alarms::table
        .filter(health_alarms::raised_at.ge(from))
        .filter(health_alarms::raised_at.lt(to))
        .order(health_alarms::raised_at.asc())
        .load(c))
    .map_err(DbError::from)
}
