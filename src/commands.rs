//! The one-shot commands: `plantd migrate` and `plantd device add`.

use actix::Actor;
use plantd_contracts::devices::ProvisionDevice;
use plantd_contracts::DeviceId;
use plantd_devices::Devices;

use crate::app::open_database;
use crate::config::Settings;

pub async fn migrate(settings: &Settings) -> Result<(), String> {
    let (_db, applied) = open_database(settings).await?;
    if applied.is_empty() {
        println!("database is up to date");
    } else {
        println!(
            "applied {} migration(s): {}",
            applied.len(),
            applied.join(", ")
        );
    }
    Ok(())
}

/// Provisions a device straight in the database; a running plantd picks it up at the
/// device's first login.
pub async fn device_add(
    settings: &Settings,
    id: &str,
    name: Option<String>,
    kind: Option<String>,
) -> Result<(), String> {
    let id = DeviceId::parse(id).map_err(|e| e.to_string())?;
    let (db, _) = open_database(settings).await?;
    // Events recorded here are delivered by the server's dispatcher, which polls the
    // outbox; this process starts none.
    let (outbox, _) = plantd_events::outbox(db.clone(), plantd_events::EventSettings::default());
    let devices = Devices::load(db, outbox)
        .await
        .map_err(|e| e.to_string())?
        .start();
    let provisioned = devices
        .send(ProvisionDevice {
            id,
            name,
            kind,
            asset_id: None,
            metadata: None,
            labels: Vec::new(),
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    println!(
        "device {} provisioned. Its MQTT credentials (shown only now):",
        provisioned.device.id
    );
    println!("  client id: {}", provisioned.credentials.username);
    println!("  username:  {}", provisioned.credentials.username);
    println!("  password:  {}", provisioned.credentials.password);
    Ok(())
}
