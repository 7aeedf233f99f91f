//! Rows and queries of the device registry (`devices_devices`, this module's own table).

use diesel::prelude::*;
use plantd_contracts::time::Millis;
use plantd_storage::{with_conn, DbConnection, DbError};

use crate::schema::devices_devices;

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = devices_devices)]
pub struct DeviceRow {
    pub id: String,
    pub name: String,
    pub kind: Option<String>,
    pub asset_id: Option<String>,
    pub metadata: String,
    pub secret_digest: String,
    pub enabled: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub last_seen: Option<Millis>,
    pub deleted_at: Option<Millis>,
    /// A JSON array of strings.
    pub labels: String,
}

/// What a registry change writes: every field a patch, rotation or state change may touch.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = devices_devices, treat_none_as_null = true)]
pub struct RowChange {
    pub name: String,
    pub kind: Option<String>,
    pub asset_id: Option<String>,
    pub metadata: String,
    pub labels: String,
    pub secret_digest: String,
    pub enabled: bool,
    pub updated_at: Millis,
}

impl From<&DeviceRow> for RowChange {
    fn from(row: &DeviceRow) -> Self {
        RowChange {
            name: row.name.clone(),
            kind: row.kind.clone(),
            asset_id: row.asset_id.clone(),
            metadata: row.metadata.clone(),
            labels: row.labels.clone(),
            secret_digest: row.secret_digest.clone(),
            enabled: row.enabled,
            updated_at: row.updated_at,
        }
    }
}

/// Every device that is not deleted.
pub fn load_live(conn: &mut DbConnection) -> Result<Vec<DeviceRow>, DbError> {
    with_conn!(conn, |c| devices_devices::table
        .filter(devices_devices::deleted_at.is_null())
        .load::<DeviceRow>(c))
    .map_err(DbError::from)
}

/// Live devices created at or after `since` (to pick up devices other processes added).
pub fn load_created_since(
    conn: &mut DbConnection,
    since: Millis,
) -> Result<Vec<DeviceRow>, DbError> {
    with_conn!(conn, |c| devices_devices::table
        .filter(devices_devices::deleted_at.is_null())
        .filter(devices_devices::created_at.ge(since))
        .load::<DeviceRow>(c))
    .map_err(DbError::from)
}

/// Inserts a new device; a duplicate id (live or deleted) is a unique violation.
pub fn insert(conn: &mut DbConnection, row: &DeviceRow) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::insert_into(devices_devices::table)
        .values(row)
        .execute(c))
    .map(|_| ())
    .map_err(DbError::from)
}

/// Stores many devices' `last_seen` in one transaction.
pub fn set_last_seen(conn: &mut DbConnection, seen: &[(String, Millis)]) -> Result<(), DbError> {
    with_conn!(conn, |c| c.transaction(|c| {
        for (id, at) in seen {
            diesel::update(devices_devices::table.find(id))
                .set(devices_devices::last_seen.eq(Some(*at)))
                .execute(c)?;
        }
        Ok::<_, diesel::result::Error>(())
    }))
    .map_err(DbError::from)
}

/// Writes a live device's changed fields; `false` if no live device has the id.
pub fn update(conn: &mut DbConnection, id: &str, change: &RowChange) -> Result<bool, DbError> {
    with_conn!(conn, |c| diesel::update(
        devices_devices::table
            .find(id)
            .filter(devices_devices::deleted_at.is_null())
    )
    .set(change)
    .execute(c))
    .map(|n| n > 0)
    .map_err(DbError::from)
}

/// Marks a device deleted: the row stays as a tombstone (its id is never reused) with no
/// secret and disabled, so no process can log it in again.
pub fn mark_deleted(conn: &mut DbConnection, id: &str, at: Millis) -> Result<bool, DbError> {
    with_conn!(conn, |c| diesel::update(
        devices_devices::table
            .find(id)
            .filter(devices_devices::deleted_at.is_null())
    )
    .set((
        devices_devices::deleted_at.eq(Some(at)),
        devices_devices::updated_at.eq(at),
        devices_devices::enabled.eq(false),
        devices_devices::secret_digest.eq(""),
    ))
    .execute(c))
    .map(|n| n > 0)
    .map_err(DbError::from)
}
