//! The firmware folder: where uploads are staged and images kept, and its settings. The
//! composition root names the folder at start; after that only the firmware actor uses it,
//! and no message carries a path of it.

use std::io::{Read, Seek, SeekFrom};
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
    /// All kept images together may take at most this many bytes.
    pub max_total_bytes: u64,
    /// At most this many images are kept.
    pub max_images: usize,
    /// A status report's `detail` (as text) is clipped to this many bytes.
    pub max_report_detail_bytes: usize,
    /// A status report's `version` is clipped to this many bytes.
    pub max_report_version_bytes: usize,
    /// `{data_dir}/firmware-signing.key`: the ed25519 key that signs every image.
    pub key_file: PathBuf,
}

impl FirmwareSettings {
    pub fn staging_dir(&self) -> PathBuf {
        self.dir.join("tmp")
    }

    /// An upload in progress (`id` is the module's own upload id).
    pub fn upload_path(&self, id: &str) -> PathBuf {
        self.staging_dir().join(format!("{id}.part"))
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
}

/// Up to `len` bytes of the image file from `offset` (fewer only at its end). Blocking.
pub fn read_at(path: &Path, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::with_capacity(len);
    file.take(len as u64).read_to_end(&mut bytes)?;
    Ok(bytes)
}
