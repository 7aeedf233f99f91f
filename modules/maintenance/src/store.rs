//! Queries of the maintenance module's tables: plans (JSON documents), each plan's meter
//! and schedule row, and occurrences. Blocking diesel code: run it inside `Db::run`.

use diesel::prelude::*;
use plantd_contracts::time::Millis;
use plantd_storage::{with_conn, DbConnection, DbError};

use crate::schema::{maintenance_meters, maintenance_occurrences, maintenance_plans};

#[derive(Debug, Clone, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = maintenance_plans)]
pub struct PlanRow {
    pub id: String,
    pub asset_id: String,
    pub doc: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = maintenance_meters, treat_none_as_null = true)]
pub struct MeterRow {
    pub plan_id: String,
    pub total: f64,
    pub base: f64,
    pub last_ts: Option<Millis>,
    pub last_value: Option<f64>,
    pub first_ts: Option<Millis>,
    pub buckets: String,
    pub next_occurrence: i64,
    pub cal_index: i64,
    pub cal_anchor: Option<Millis>,
    pub last_completed_at: Option<Millis>,
    pub last_completed_occurrence: Option<i64>,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = maintenance_occurrences)]
pub struct OccurrenceRow {
    pub plan_id: String,
    pub occurrence: i64,
    pub due_at: Option<Millis>,
    pub due_meter: Option<f64>,
    pub trigger_kind: String,
    pub state: String,
    pub work_order_id: Option<String>,
    pub raised_at: Millis,
    pub closed_at: Option<Millis>,
}

/// Everything the actor keeps in memory, read at start.
pub struct Loaded {
    pub plans: Vec<PlanRow>,
    pub meters: Vec<MeterRow>,
    /// Occurrences whose order is open (`due`, `ordered`).
    pub open: Vec<OccurrenceRow>,
    /// Missed occurrences per plan.
    pub missed: Vec<(String, i64)>,
}

pub fn load(conn: &mut DbConnection) -> Result<Loaded, DbError> {
    with_conn!(conn, |c| {
        Ok::<_, diesel::result::Error>(Loaded {
            plans: maintenance_plans::table.load(c)?,
            meters: maintenance_meters::table.load(c)?,
            open: maintenance_occurrences::table
                .filter(maintenance_occurrences::state.eq_any(["due", "ordered"]))
                .load(c)?,
            missed: maintenance_occurrences::table
                .filter(maintenance_occurrences::state.eq("missed"))
                .group_by(maintenance_occurrences::plan_id)
                .select((maintenance_occurrences::plan_id, diesel::dsl::count_star()))
                .load(c)?,
        })
    })
    .map_err(DbError::from)
}

pub fn upsert_plan(conn: &mut DbConnection, row: &PlanRow) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::insert_into(maintenance_plans::table)
        .values(row)
        .on_conflict(maintenance_plans::id)
        .do_update()
        .set(row)
        .execute(c))?;
    Ok(())
}

/// A plan with its meter and its occurrences.
pub fn delete_plan(conn: &mut DbConnection, id: &str) -> Result<(), DbError> {
    with_conn!(conn, |c| {
        diesel::delete(
            maintenance_occurrences::table.filter(maintenance_occurrences::plan_id.eq(id)),
        )
        .execute(c)?;
        diesel::delete(maintenance_meters::table.find(id)).execute(c)?;
        diesel::delete(maintenance_plans::table.find(id)).execute(c)
    })?;
    Ok(())
}

pub fn upsert_meter(conn: &mut DbConnection, row: &MeterRow) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::insert_into(maintenance_meters::table)
        .values(row)
        .on_conflict(maintenance_meters::plan_id)
        .do_update()
        .set(row)
        .execute(c))?;
    Ok(())
}

/// Inserts an occurrence unless (plan, occurrence) exists; true if it was inserted.
pub fn insert_occurrence(conn: &mut DbConnection, row: &OccurrenceRow) -> Result<bool, DbError> {
    let n = with_conn!(conn, |c| diesel::insert_into(
        maintenance_occurrences::table
    )
    .values(row)
    .on_conflict_do_nothing()
    .execute(c))?;
    Ok(n == 1)
}

/// An occurrence's order was created, done or cancelled.
pub fn set_occurrence(
    conn: &mut DbConnection,
    plan_id: &str,
    occurrence: i64,
    state: &str,
    work_order_id: &str,
    closed_at: Option<Millis>,
) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::update(
        maintenance_occurrences::table.find((plan_id, occurrence))
    )
    .set((
        maintenance_occurrences::state.eq(state),
        maintenance_occurrences::work_order_id.eq(work_order_id),
        maintenance_occurrences::closed_at.eq(closed_at),
    ))
    .execute(c))?;
    Ok(())
}
