//! Rows and queries of the firmware tables. The actor keeps the rows in memory and writes
//! every change here; a campaign and its targets are inserted in one transaction.

use diesel::prelude::*;
use plantd_contracts::time::Millis;
use plantd_storage::{with_conn, DbConnection, DbError};

use super::schema::{devices_campaign_targets, devices_campaigns, devices_firmware};

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = devices_firmware)]
pub struct FirmwareRow {
    pub id: String,
    pub version: String,
    pub name: String,
    pub sha256: String,
    pub size: i64,
    pub created_at: Millis,
    /// Set when the image was deleted: the row stays for the campaigns that used it.
    pub deleted_at: Option<Millis>,
}

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = devices_campaigns)]
pub struct CampaignRow {
    pub id: String,
    pub firmware_id: String,
    pub status: String,
    pub timeout_s: i64,
    pub retries: i32,
    pub created_by: String,
    pub created_at: Millis,
    pub finished_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = devices_campaign_targets)]
pub struct TargetRow {
    pub campaign_id: String,
    pub device_id: String,
    pub state: String,
    pub attempts: i32,
    pub reported_version: Option<String>,
    pub detail: Option<String>,
    pub deadline: Option<Millis>,
    pub updated_at: Millis,
}

/// Every stored image, campaign and target.
pub type Everything = (Vec<FirmwareRow>, Vec<CampaignRow>, Vec<TargetRow>);

/// Everything: images, campaigns and targets (a plant has few of each).
pub fn load_all(conn: &mut DbConnection) -> Result<Everything, DbError> {
    with_conn!(conn, |c| {
        let images = devices_firmware::table.load::<FirmwareRow>(c)?;
        let campaigns = devices_campaigns::table.load::<CampaignRow>(c)?;
        let targets = devices_campaign_targets::table.load::<TargetRow>(c)?;
        Ok::<_, diesel::result::Error>((images, campaigns, targets))
    })
    .map_err(DbError::from)
}

pub fn insert_firmware(conn: &mut DbConnection, row: &FirmwareRow) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::insert_into(devices_firmware::table)
        .values(row)
        .execute(c))
    .map(|_| ())
    .map_err(DbError::from)
}

/// Marks an image deleted (its row stays: campaigns refer to it). False if it was not
/// there or already deleted.
pub fn mark_firmware_deleted(
    conn: &mut DbConnection,
    id: &str,
    at: Millis,
) -> Result<bool, DbError> {
    with_conn!(conn, |c| diesel::update(
        devices_firmware::table
            .find(id)
            .filter(devices_firmware::deleted_at.is_null())
    )
    .set(devices_firmware::deleted_at.eq(Some(at)))
    .execute(c))
    .map(|n| n == 1)
    .map_err(DbError::from)
}

pub fn insert_campaign(
    conn: &mut DbConnection,
    campaign: &CampaignRow,
    targets: &[TargetRow],
) -> Result<(), DbError> {
    with_conn!(conn, |c| c.transaction(|c| {
        diesel::insert_into(devices_campaigns::table)
            .values(campaign)
            .execute(c)?;
        for chunk in targets.chunks(500) {
            diesel::insert_into(devices_campaign_targets::table)
                .values(chunk)
                .execute(c)?;
        }
        Ok::<_, diesel::result::Error>(())
    }))
    .map_err(DbError::from)
}

/// Writes changed campaigns and targets in one transaction.
pub fn save(
    conn: &mut DbConnection,
    campaigns: &[CampaignRow],
    targets: &[TargetRow],
) -> Result<(), DbError> {
    with_conn!(conn, |c| c.transaction(|c| {
        for row in campaigns {
            diesel::update(devices_campaigns::table.find(&row.id))
                .set((
                    devices_campaigns::status.eq(&row.status),
                    devices_campaigns::finished_at.eq(row.finished_at),
                ))
                .execute(c)?;
        }
        for row in targets {
            diesel::update(
                devices_campaign_targets::table.find((&row.campaign_id, &row.device_id)),
            )
            .set((
                devices_campaign_targets::state.eq(&row.state),
                devices_campaign_targets::attempts.eq(row.attempts),
                devices_campaign_targets::reported_version.eq(&row.reported_version),
                devices_campaign_targets::detail.eq(&row.detail),
                devices_campaign_targets::deadline.eq(row.deadline),
                devices_campaign_targets::updated_at.eq(row.updated_at),
            ))
            .execute(c)?;
        }
        Ok::<_, diesel::result::Error>(())
    }))
    .map_err(DbError::from)
}
