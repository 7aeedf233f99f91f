//! The simulated devices' credentials: read from a file (mode 0600) when it exists, else
//! provisioned through plantd's REST API with an admin or write token and saved, so a
//! second run reuses the same devices.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Credentials {
    /// Device id → secret.
    pub devices: BTreeMap<String, String>,
    /// plantd's firmware signing public key (base64 ed25519), fetched once with the token
    /// (`GET /api/v1/firmware/signing-key`) and kept here, or written here by hand. Images
    /// whose signature it does not verify are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_signing_key: Option<String>,
}

impl Credentials {
    pub fn load(path: &Path) -> Result<Credentials, String> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("{}: not a credentials file: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Credentials::default()),
            Err(e) => Err(format!("{}: cannot read: {e}", path.display())),
        }
    }

    /// Writes a new file next to the old one and renames it over, readable by the owner only.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let tmp = path.with_extension("tmp");
        let text = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        let write = || -> std::io::Result<()> {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&tmp)?;
            file.write_all(&text)?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| format!("{}: cannot write: {e}", path.display()))
    }
}

/// plantd's firmware signing public key, through `GET /api/v1/firmware/signing-key`. Blocking.
pub fn fetch_signing_key(base_url: &str, token: &str) -> Result<String, String> {
    let url = format!(
        "{}/api/v1/firmware/signing-key",
        base_url.trim_end_matches('/')
    );
    let body: serde_json::Value = ureq::get(&url)
        .timeout(Duration::from_secs(30))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .map_err(|e| format!("firmware signing key: {e}"))?
        .into_json()
        .map_err(|e| format!("firmware signing key: unreadable reply: {e}"))?;
    body["public_key"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "firmware signing key: no public_key in the reply".to_owned())
}

/// Provisions `id` through `POST /api/v1/devices`; returns its secret. Blocking.
pub fn provision(base_url: &str, token: &str, id: &str) -> Result<String, String> {
    let url = format!("{}/api/v1/devices", base_url.trim_end_matches('/'));
    let result = ureq::post(&url)
        .timeout(Duration::from_secs(30))
        .set("Authorization", &format!("Bearer {token}"))
        .send_json(json!({ "id": id, "name": format!("Simulated {id}"), "kind": "simulated" }));
    match result {
        Ok(response) => {
            let body: serde_json::Value = response
                .into_json()
                .map_err(|e| format!("provisioning {id}: unreadable reply: {e}"))?;
            body["credentials"]["password"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("provisioning {id}: no credentials in the reply"))
        }
        Err(ureq::Error::Status(409, _)) => Err(format!(
            "device {id} exists but its secret is not in the credentials file; use another --prefix"
        )),
        Err(ureq::Error::Status(code, response)) => Err(format!(
            "provisioning {id}: HTTP {code}: {}",
            response.into_string().unwrap_or_default()
        )),
        Err(e) => Err(format!("provisioning {id}: {e}")),
    }
}
