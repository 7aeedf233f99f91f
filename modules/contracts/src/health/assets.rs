//! Assets: the plant as a tree (site → area → asset), with what maintenance needs to know
//! of each machine, and the messages that create, read, change and delete them.

use std::collections::BTreeMap;

use actix::Message;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{DeviceId, DomainError};

/// Where a node sits in the tree. A site has no parent; an area's parent is a site or an
/// area; an asset's parent is an area, a site or an asset (a motor of a pump).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    Site,
    Area,
    Asset,
}

/// How much the plant depends on the asset: A (stops production) to C (redundant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Criticality {
    A,
    B,
    C,
}

/// ISO 20816-3 machine support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Foundation {
    Rigid,
    Flexible,
}

/// The vibration class of a rotating machine after ISO 20816-3: group 1 (> 300 kW) or
/// 2 (15–300 kW), its foundation, and optionally the maker's own zone boundaries
/// (A/B, B/C, C/D in mm/s RMS velocity) that replace the standard's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Iso20816Class {
    pub group: u8,
    pub foundation: Foundation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zones: Option<[f64; 3]>,
}

impl Iso20816Class {
    /// The zone boundaries A/B, B/C, C/D in mm/s: the maker's when given, else the
    /// standard's for the group and foundation.
    pub fn boundaries(&self) -> [f64; 3] {
        if let Some(zones) = self.zones {
            return zones;
        }
        match (self.group, self.foundation) {
            (1, Foundation::Rigid) => [2.3, 4.5, 7.1],
            (1, Foundation::Flexible) => [3.5, 7.1, 11.0],
            (_, Foundation::Rigid) => [1.4, 2.8, 4.5],
            (_, Foundation::Flexible) => [2.3, 4.5, 7.1],
        }
    }
}

/// One node of the tree, as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    pub id: String,
    pub name: String,
    pub kind: AssetKind,
    pub parent_id: Option<String>,
    pub criticality: Option<Criticality>,
    pub location: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, serde_json::Value>,
    pub iso20816: Option<Iso20816Class>,
    /// Set while maintenance holds the asset (by the work-order module or by hand): its
    /// maintenance-aware alarms are out of service and anomaly learning is frozen.
    #[serde(default)]
    pub in_maintenance: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /assets`: the fields a client may set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetInput {
    pub name: String,
    pub kind: Option<AssetKind>,
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default)]
    pub criticality: Option<Criticality>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub manufacturer: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub serial: Option<String>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    pub iso20816: Option<Iso20816Class>,
}

/// `POST /assets`: the body as JSON (checked by the health module: 422 names the field).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Asset, DomainError>")]
pub struct CreateAsset(pub serde_json::Value);

/// Every asset, sorted by path (site, area, asset names) so the tree reads top-down.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Vec<Asset>, DomainError>")]
pub struct ListAssets;

/// One asset with its children and the devices attached to it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssetDetail {
    #[serde(flatten)]
    pub asset: Asset,
    pub children: Vec<String>,
    pub devices: Vec<DeviceId>,
    pub open_alarms: usize,
}

#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<AssetDetail, DomainError>")]
pub struct GetAsset(pub String);

/// `PATCH /assets/{id}`: a JSON merge patch (RFC 7386) over the asset's input fields.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Asset, DomainError>")]
pub struct UpdateAsset {
    pub id: String,
    pub patch: serde_json::Value,
}

/// Refused (`Conflict`) while the asset has children, devices or open alarms.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), DomainError>")]
pub struct DeleteAsset(pub String);

/// Puts an asset in or out of maintenance (ISA-18.2 out of service for its
/// maintenance-aware alarms, anomaly learning frozen).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Asset, DomainError>")]
pub struct SetAssetMaintenance {
    pub id: String,
    pub active: bool,
    pub by: String,
    pub comment: Option<String>,
}

/// The devices' assets as the devices module has them, sent once at start so health's
/// copy is complete even for devices attached before it existed.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct SyncDeviceAssets(pub Vec<(DeviceId, Option<String>)>);
