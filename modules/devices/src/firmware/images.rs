//! The firmware folder: where uploads are staged and images kept, and its settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Settings of firmware roll-outs, from plantd's configuration.
#[derive(Debug, Clone)]
pub struct FirmwareSettings {
    /// `{data_dir}/firmware`: `tmp/` for uploads in progress, `images/` for kept images.
    pub dir: PathBuf,
    /// The base URL devices download from, e.g. `http://plantd.local:8080`.
    pub public_url: String,
    /// Time a device has to make progress in each state.
    pub step_timeout: Duration,
    /// Offers made again to a device that timed out, before it is failed.
    pub retries: u32,
    /// Uploads larger than this are refused.
    pub max_upload_bytes: u64,
}

impl FirmwareSettings {
    pub fn staging_dir(&self) -> PathBuf {
        self.dir.join("tmp")
    }

    pub fn image_path(&self, id: &str) -> PathBuf {
        self.dir.join("images").join(format!("{id}.bin"))
    }

    /// Creates the folders; staged files left by a crash are removed.
    pub fn prepare(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(self.dir.join("images"))?;
        let _ = std::fs::remove_dir_all(self.staging_dir());
        std::fs::create_dir_all(self.staging_dir())
    }

    /// The URL a target downloads the image from.
    pub fn download_url(&self, id: &str) -> String {
        format!(
            "{}/api/v1/firmware/{id}/image",
            self.public_url.trim_end_matches('/')
        )
    }

    /// Whether `path` is a file directly inside the staging folder (the only place an
    /// upload may be registered from).
    pub fn is_staged(&self, path: &Path) -> bool {
        path.parent() == Some(self.staging_dir().as_path())
            && path.file_name().is_some_and(|n| !n.is_empty())
    }
}
