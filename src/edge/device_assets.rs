//! A device's asset across two modules, for the REST API and the UI alike: the devices
//! module keeps `asset_id`, the health module keeps the tree. Before a device joins an
//! asset the asset must exist (422 otherwise); once it has joined, health is told at once,
//! so telemetry sent right after the answer is evaluated against the asset's rules (the
//! `device.*` event says the same a moment later, and also reaches health for changes made
//! by `plantd device add` in another process). Also the references of a maintenance plan
//! and the location of a work order's asset.

use plantd_contracts::devices::{DeviceView, GetDevice};
use plantd_contracts::health::{GetAsset, SyncDeviceAssets};
use plantd_contracts::{DeviceId, DomainError};
use serde_json::Value;

use super::ApiResult;
use crate::state::AppState;

/// `Ok` when `asset_id` is absent, empty, or an asset the health module knows.
pub async fn known_asset(state: &AppState, asset_id: Option<&str>) -> Result<(), DomainError> {
    let Some(asset) = asset_id.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(());
    };
    match state.health.send(GetAsset(asset.to_owned())).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(DomainError::NotFound(_))) => Err(DomainError::invalid("asset_id", "no such asset")),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(DomainError::Unavailable(format!("health module: {e}"))),
    }
}

/// Tells health which asset the device is on now.
pub async fn attached(state: &AppState, device: &DeviceView) {
    let sync = SyncDeviceAssets(vec![(device.id.clone(), device.asset_id.clone())]);
    if let Err(e) = state.health.send(sync).await {
        tracing::warn!(error = %e, "health did not take the device's asset; it follows from the event");
    }
}

/// The asset and the meter's device a maintenance plan's body names exist (checked with
/// their owners), for the REST API and the UI's plan editor.
pub async fn check_plan_refs(state: &AppState, body: &Value) -> Result<(), DomainError> {
    if let Some(asset) = body.get("asset_id").and_then(Value::as_str) {
        known_asset(state, Some(asset)).await?;
    }
    let Some(device) = body
        .get("meter")
        .and_then(|m| m.get("device_id"))
        .and_then(Value::as_str)
    else {
        return Ok(());
    };
    let id = DeviceId::parse(device)
        .map_err(|e| DomainError::invalid("meter.device_id", e.to_string()))?;
    match state.devices.send(GetDevice { id }).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(DomainError::NotFound(_))) => {
            Err(DomainError::invalid("meter.device_id", "no such device"))
        }
        Ok(Err(e)) => Err(e),
        Err(e) => Err(DomainError::Unavailable(format!("devices module: {e}"))),
    }
}

/// The location of the asset an order (or a work request) is for: unknown asset → 422
/// `asset_id`. For the REST API and the UI's forms.
pub async fn asset_location(
    state: &AppState,
    asset_id: Option<&Value>,
) -> ApiResult<Option<String>> {
    let Some(Value::String(id)) = asset_id else {
        return Ok(None);
    };
    match state.health.send(GetAsset(id.clone())).await? {
        Ok(detail) => Ok(detail.asset.location),
        Err(DomainError::NotFound(_)) => {
            Err(DomainError::invalid("asset_id", "no such asset").into())
        }
        Err(e) => Err(e.into()),
    }
}
