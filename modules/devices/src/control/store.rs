//! Rows and queries of `devices_shadow` and `devices_commands`. Every state change of a
//! command is a guarded UPDATE (`WHERE state = …`), so a transition happens once even if
//! two paths race for it.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::upsert::excluded;
use plantd_contracts::commands::{CommandState, CommandView};
use plantd_contracts::time::{to_datetime, Millis};
use plantd_contracts::DeviceId;
use plantd_storage::{with_conn, DbConnection, DbError};
use serde_json::{json, Map, Value};

use super::schema::{devices_commands, devices_shadow};
use super::shadow::Shadow;

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = devices_shadow)]
pub struct ShadowRow {
    pub device_id: String,
    pub desired: String,
    pub reported: String,
    pub version: i64,
    pub desired_version: i64,
    pub metadata: String,
    pub updated_at: Millis,
}

fn object(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

fn times(value: Option<&Value>) -> BTreeMap<String, Millis> {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_i64()?)))
                .collect()
        })
        .unwrap_or_default()
}

impl From<ShadowRow> for Shadow {
    fn from(row: ShadowRow) -> Shadow {
        let metadata = object(&row.metadata);
        Shadow {
            desired: object(&row.desired),
            reported: object(&row.reported),
            version: row.version,
            desired_version: row.desired_version,
            desired_times: times(metadata.get("desired")),
            reported_times: times(metadata.get("reported")),
            updated_at: Some(row.updated_at),
        }
    }
}

fn shadow_row(device_id: &DeviceId, s: &Shadow) -> ShadowRow {
    ShadowRow {
        device_id: device_id.to_string(),
        desired: Value::Object(s.desired.clone()).to_string(),
        reported: Value::Object(s.reported.clone()).to_string(),
        version: s.version,
        desired_version: s.desired_version,
        metadata: json!({ "desired": s.desired_times, "reported": s.reported_times }).to_string(),
        updated_at: s.updated_at.unwrap_or(0),
    }
}

/// The stored shadow, or an empty one (version 0) for a device that has none yet.
pub fn load_shadow(conn: &mut DbConnection, device_id: &DeviceId) -> Result<Shadow, DbError> {
    let row = with_conn!(conn, |c| devices_shadow::table
        .find(device_id.as_str())
        .first::<ShadowRow>(c)
        .optional())?;
    Ok(row.map(Shadow::from).unwrap_or_default())
}

/// Every shadow whose desired state was ever set, as `(device id, shadow)`.
pub fn shadows_with_desired(conn: &mut DbConnection) -> Result<Vec<(String, Shadow)>, DbError> {
    let rows = with_conn!(conn, |c| devices_shadow::table
        .filter(devices_shadow::desired_version.gt(0))
        .load::<ShadowRow>(c))?;
    Ok(rows
        .into_iter()
        .map(|row| (row.device_id.clone(), Shadow::from(row)))
        .collect())
}

pub fn save_shadow(
    conn: &mut DbConnection,
    device_id: &DeviceId,
    s: &Shadow,
) -> Result<(), DbError> {
    let row = shadow_row(device_id, s);
    with_conn!(conn, |c| diesel::insert_into(devices_shadow::table)
        .values(&row)
        .on_conflict(devices_shadow::device_id)
        .do_update()
        .set((
            devices_shadow::desired.eq(excluded(devices_shadow::desired)),
            devices_shadow::reported.eq(excluded(devices_shadow::reported)),
            devices_shadow::version.eq(excluded(devices_shadow::version)),
            devices_shadow::desired_version.eq(excluded(devices_shadow::desired_version)),
            devices_shadow::metadata.eq(excluded(devices_shadow::metadata)),
            devices_shadow::updated_at.eq(excluded(devices_shadow::updated_at)),
        ))
        .execute(c))?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = devices_commands)]
pub struct CommandRow {
    pub id: String,
    pub device_id: String,
    pub name: String,
    pub args: String,
    pub state: String,
    pub created_at: Millis,
    pub delivered_at: Option<Millis>,
    pub completed_at: Option<Millis>,
    pub expires_at: Millis,
    pub result: Option<String>,
}

impl CommandRow {
    pub fn args_value(&self) -> Value {
        serde_json::from_str(&self.args).unwrap_or_else(|_| json!({}))
    }

    pub fn view(&self) -> Option<CommandView> {
        Some(CommandView {
            id: self.id.clone(),
            device_id: DeviceId::parse(&self.device_id).ok()?,
            name: self.name.clone(),
            args: self.args_value(),
            state: CommandState::parse(&self.state)?,
            created_at: to_datetime(self.created_at),
            delivered_at: self.delivered_at.map(to_datetime),
            completed_at: self.completed_at.map(to_datetime),
            expires_at: to_datetime(self.expires_at),
            result: self
                .result
                .as_deref()
                .and_then(|r| serde_json::from_str(r).ok()),
        })
    }
}

pub fn insert_command(conn: &mut DbConnection, row: &CommandRow) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::insert_into(devices_commands::table)
        .values(row)
        .execute(c))?;
    Ok(())
}

/// One command of one device (a command of another device is not found).
pub fn get_command(
    conn: &mut DbConnection,
    device_id: &str,
    id: &str,
) -> Result<Option<CommandRow>, DbError> {
    Ok(with_conn!(conn, |c| devices_commands::table
        .find(id)
        .filter(devices_commands::device_id.eq(device_id))
        .first::<CommandRow>(c)
        .optional())?)
}

/// A device's commands, newest first, before the id `before` if given.
pub fn list_commands(
    conn: &mut DbConnection,
    device_id: &str,
    limit: usize,
    before: Option<&str>,
) -> Result<Vec<CommandRow>, DbError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    Ok(with_conn!(conn, |c| {
        let mut query = devices_commands::table
            .filter(devices_commands::device_id.eq(device_id))
            .order(devices_commands::id.desc())
            .limit(limit)
            .into_boxed();
        if let Some(before) = before {
            query = query.filter(devices_commands::id.lt(before.to_owned()));
        }
        query.load::<CommandRow>(c)
    })?)
}

/// Commands of a device not finished and not expired (pending, or delivered and not
/// answered), oldest first.
pub fn open_for(
    conn: &mut DbConnection,
    device_id: &str,
    now: Millis,
) -> Result<Vec<CommandRow>, DbError> {
    let open = [
        CommandState::Pending.as_str(),
        CommandState::Delivered.as_str(),
    ];
    Ok(with_conn!(conn, |c| devices_commands::table
        .filter(devices_commands::device_id.eq(device_id))
        .filter(devices_commands::state.eq_any(open))
        .filter(devices_commands::expires_at.gt(now))
        .order(devices_commands::id.asc())
        .load::<CommandRow>(c))?)
}

/// pending → delivered, unless it expired or moved on; returns whether it did.
pub fn mark_delivered(conn: &mut DbConnection, id: &str, now: Millis) -> Result<bool, DbError> {
    let n = with_conn!(conn, |c| diesel::update(
        devices_commands::table
            .find(id)
            .filter(devices_commands::state.eq(CommandState::Pending.as_str()))
            .filter(devices_commands::expires_at.gt(now))
    )
    .set((
        devices_commands::state.eq(CommandState::Delivered.as_str()),
        devices_commands::delivered_at.eq(Some(now)),
    ))
    .execute(c))?;
    Ok(n == 1)
}

/// delivered → pending, when the publish to the broker failed (it is tried again on the
/// device's next connect).
pub fn unmark_delivered(conn: &mut DbConnection, id: &str) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::update(
        devices_commands::table
            .find(id)
            .filter(devices_commands::state.eq(CommandState::Delivered.as_str()))
    )
    .set((
        devices_commands::state.eq(CommandState::Pending.as_str()),
        devices_commands::delivered_at.eq(None::<Millis>),
    ))
    .execute(c))?;
    Ok(())
}

/// delivered → succeeded | failed with the device's result; returns the updated row, or
/// `None` if the command was not in `delivered` (unknown, expired, already answered).
pub fn complete(
    conn: &mut DbConnection,
    device_id: &str,
    id: &str,
    to: CommandState,
    result: &Value,
    now: Millis,
) -> Result<Option<CommandRow>, DbError> {
    let n = with_conn!(conn, |c| diesel::update(
        devices_commands::table
            .find(id)
            .filter(devices_commands::device_id.eq(device_id))
            .filter(devices_commands::state.eq(CommandState::Delivered.as_str()))
            .filter(devices_commands::expires_at.gt(now))
    )
    .set((
        devices_commands::state.eq(to.as_str()),
        devices_commands::completed_at.eq(Some(now)),
        devices_commands::result.eq(Some(result.to_string())),
    ))
    .execute(c))?;
    if n == 0 {
        return Ok(None);
    }
    get_command(conn, device_id, id)
}

const OPEN: [&str; 2] = ["pending", "delivered"];

/// Moves each of `rows` that is still open to `to` (a guarded UPDATE each); evaluates to
/// the rows it moved, as they are now.
macro_rules! close_each {
    ($c:expr, $rows:expr, $to:expr, $now:expr) => {{
        let mut closed = Vec::with_capacity($rows.len());
        for mut row in $rows {
            let n = diesel::update(
                devices_commands::table
                    .find(&row.id)
                    .filter(devices_commands::state.eq_any(OPEN)),
            )
            .set((
                devices_commands::state.eq($to.as_str()),
                devices_commands::completed_at.eq(Some($now)),
            ))
            .execute($c)?;
            if n == 1 {
                row.state = $to.as_str().to_owned();
                row.completed_at = Some($now);
                closed.push(row);
            }
        }
        Ok::<_, diesel::result::Error>(closed)
    }};
}

/// Marks every open command whose time is up as expired; returns them.
pub fn expire_due(conn: &mut DbConnection, now: Millis) -> Result<Vec<CommandRow>, DbError> {
    Ok(with_conn!(conn, |c| c.transaction(|c| {
        let due = devices_commands::table
            .filter(devices_commands::state.eq_any(OPEN))
            .filter(devices_commands::expires_at.le(now))
            .load::<CommandRow>(c)?;
        close_each!(c, due, CommandState::Expired, now)
    }))?)
}

/// Cancels every open command of a device (it was deleted); returns those it cancelled.
pub fn cancel_open_of(
    conn: &mut DbConnection,
    device_id: &str,
    now: Millis,
) -> Result<Vec<CommandRow>, DbError> {
    Ok(with_conn!(conn, |c| c.transaction(|c| {
        let open = devices_commands::table
            .filter(devices_commands::device_id.eq(device_id))
            .filter(devices_commands::state.eq_any(OPEN))
            .load::<CommandRow>(c)?;
        close_each!(c, open, CommandState::Cancelled, now)
    }))?)
}

pub fn cancel(
    conn: &mut DbConnection,
    device_id: &str,
    id: &str,
    now: Millis,
) -> Result<Result<Option<CommandRow>, String>, DbError> {
    let open = [
        CommandState::Pending.as_str(),
        CommandState::Delivered.as_str(),
    ];
    let n = with_conn!(conn, |c| diesel::update(
        devices_commands::table
            .find(id)
            .filter(devices_commands::device_id.eq(device_id))
            .filter(devices_commands::state.eq_any(open))
    )
    .set((
        devices_commands::state.eq(CommandState::Cancelled.as_str()),
        devices_commands::completed_at.eq(Some(now)),
    ))
    .execute(c))?;
    let row = get_command(conn, device_id, id)?;
    Ok(match row {
        Some(row) if n == 0 => Err(row.state),
        row => Ok(row),
    })
}
