//! A device's asset across two modules, for the REST API and the UI alike: the devices
//! module keeps `asset_id`, the health module keeps the tree. Before a device joins an
//! asset the asset must exist (422 otherwise); once it has joined, health is told at once,
//! so telemetry sent right after the answer is evaluated against the asset's rules (the
//! `device.*` event says the same a moment later, and also reaches health for changes made
//! by `plantd device add` in another process).

use plantd_contracts::devices::DeviceView;
use plantd_contracts::health::{GetAsset, SyncDeviceAssets};
use plantd_contracts::DomainError;

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
