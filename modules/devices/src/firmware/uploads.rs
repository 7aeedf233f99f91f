//! Uploads in progress: each is a file in the firmware folder's `tmp/`, appended to and
//! hashed chunk by chunk as the edge sends them, under the module's own limits (chunk size,
//! image size, uploads open at once) and dropped when idle.
//!
//! `Uploads` is the registry, plain data the actor keeps; `Sink` is the file work, which
//! blocks and runs on the blocking pool. Touches only `tmp/` (and `images/` when an upload
//! is kept).

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use plantd_contracts::firmware::MAX_CHUNK_BYTES;
use plantd_contracts::DomainError;
use sha2::{Digest, Sha256};

/// Uploads open at once; more wait (503) rather than fill the disk.
pub const MAX_OPEN: usize = 8;
/// An upload that received no chunk for this long is dropped: its edge went away without
/// saying so (a crash, another process).
pub const IDLE: Duration = Duration::from_secs(300);

/// An open temporary file and the SHA-256 of what was written to it.
pub struct Sink {
    file: File,
    hasher: Sha256,
}

impl Sink {
    /// Creates the file (it must not exist). Blocking.
    pub fn create(path: &Path) -> std::io::Result<Sink> {
        let file = File::options().write(true).create_new(true).open(path)?;
        Ok(Sink {
            file,
            hasher: Sha256::new(),
        })
    }

    /// Appends `bytes` and hashes them. Blocking.
    pub fn append(mut self, bytes: &[u8]) -> std::io::Result<Sink> {
        self.file.write_all(bytes)?;
        self.hasher.update(bytes);
        Ok(self)
    }

    /// The file, not yet flushed to disk, and the hex SHA-256 of its bytes.
    fn into_parts(self) -> (File, String) {
        (self.file, hex::encode(self.hasher.finalize()))
    }
}

/// Flushes a finished upload to disk and moves it to `target` (same file system, so a
/// rename). On failure the upload's file is removed. Blocking.
pub fn keep(file: File, staged: &Path, target: &Path) -> std::io::Result<()> {
    let kept = file
        .sync_all()
        .and_then(|()| std::fs::rename(staged, target));
    if kept.is_err() {
        let _ = std::fs::remove_file(staged);
    }
    kept
}

pub struct Upload {
    pub version: String,
    pub name: Option<String>,
    pub by: String,
    pub path: PathBuf,
    pub size: u64,
    /// The file and its hash; `None` while it is being created or a chunk written.
    sink: Option<Sink>,
    touched: Instant,
}

/// An upload whose bytes are all in: what is needed to keep it.
pub struct Finished {
    pub version: String,
    pub name: Option<String>,
    pub path: PathBuf,
    pub size: u64,
    pub file: File,
    pub sha256: String,
}

/// Why a chunk was refused; `dropped` is the file of the upload if the refusal ended it
/// (the caller's to remove).
pub struct Refused {
    pub error: DomainError,
    pub reason: &'static str,
    pub dropped: Option<PathBuf>,
}

#[derive(Default)]
pub struct Uploads {
    open: HashMap<String, Upload>,
}

fn not_found(id: &str) -> DomainError {
    DomainError::NotFound(format!("upload {id}"))
}

impl Uploads {
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Registers a new upload whose file is being created (see [`Uploads::created`]).
    pub fn reserve(&mut self, id: String, upload: Upload) {
        self.open.insert(id, upload);
    }

    /// The file of a reserved upload exists; false if the upload is gone meanwhile.
    pub fn created(&mut self, id: &str, sink: Sink, now: Instant) -> bool {
        self.put_back(id, sink, now).is_some()
    }

    /// Takes the sink to write a chunk of `len` bytes, or refuses: an unknown upload, one
    /// with a chunk still being written, a chunk over [`MAX_CHUNK_BYTES`] or one that takes
    /// the image past `max_bytes` (those two drop the upload).
    pub fn take_for_chunk(
        &mut self,
        id: &str,
        len: usize,
        max_bytes: u64,
        now: Instant,
    ) -> Result<Sink, Refused> {
        let refuse = |error, reason, dropped| Refused {
            error,
            reason,
            dropped,
        };
        let Some(upload) = self.open.get_mut(id) else {
            return Err(refuse(not_found(id), "unknown", None));
        };
        if len > MAX_CHUNK_BYTES {
            let dropped = self.open.remove(id).map(|u| u.path);
            return Err(refuse(
                DomainError::invalid("chunk", format!("at most {MAX_CHUNK_BYTES} bytes")),
                "refused",
                dropped,
            ));
        }
        let size = upload.size.saturating_add(len as u64);
        if size > max_bytes {
            let dropped = self.open.remove(id).map(|u| u.path);
            return Err(refuse(
                DomainError::TooLarge(format!(
                    "firmware images are limited to {max_bytes} bytes (firmware_max_upload_bytes)"
                )),
                "too_large",
                dropped,
            ));
        }
        let Some(sink) = upload.sink.take() else {
            return Err(refuse(
                DomainError::Conflict(format!("upload {id}: send one chunk at a time")),
                "busy",
                None,
            ));
        };
        upload.size = size;
        upload.touched = now;
        Ok(sink)
    }

    /// A chunk was written: the sink goes back; the bytes received so far, or `None` if the
    /// upload was dropped meanwhile (the sink is then dropped, closing the file).
    pub fn put_back(&mut self, id: &str, sink: Sink, now: Instant) -> Option<u64> {
        let upload = self.open.get_mut(id)?;
        upload.sink = Some(sink);
        upload.touched = now;
        Some(upload.size)
    }

    pub fn remove(&mut self, id: &str) -> Option<Upload> {
        self.open.remove(id)
    }

    /// Ends an upload whose bytes are all in (none may be in flight).
    pub fn finish(&mut self, id: &str) -> Result<Finished, DomainError> {
        match self.open.get(id) {
            None => return Err(not_found(id)),
            Some(u) if u.sink.is_none() => {
                return Err(DomainError::Conflict(format!(
                    "upload {id}: a chunk is still being written"
                )))
            }
            Some(_) => {}
        }
        let upload = self.open.remove(id).ok_or_else(|| not_found(id))?;
        let sink = upload.sink.ok_or_else(|| not_found(id))?;
        let (file, sha256) = sink.into_parts();
        Ok(Finished {
            version: upload.version,
            name: upload.name,
            path: upload.path,
            size: upload.size,
            file,
            sha256,
        })
    }

    /// Removes and returns the uploads idle since before `now - IDLE` (not those with a
    /// chunk being written: its end touches them).
    pub fn drop_idle(&mut self, now: Instant) -> Vec<(String, Upload)> {
        let idle: Vec<String> = self
            .open
            .iter()
            .filter(|(_, u)| u.sink.is_some() && now.saturating_duration_since(u.touched) > IDLE)
            .map(|(id, _)| id.clone())
            .collect();
        idle.into_iter()
            .filter_map(|id| self.open.remove(&id).map(|u| (id, u)))
            .collect()
    }
}

impl Upload {
    /// A new upload, its file not yet created.
    pub fn new(version: String, name: Option<String>, by: String, path: PathBuf) -> Upload {
        Upload {
            version,
            name,
            by,
            path,
            size: 0,
            sink: None,
            touched: Instant::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "plantd-uploads-{name}-{}-{}",
            std::process::id(),
            plantd_secrets::random_hex(4)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    fn open(uploads: &mut Uploads, dir: &Path, id: &str, now: Instant) -> PathBuf {
        let path = dir.join(format!("{id}.part"));
        uploads.reserve(
            id.to_owned(),
            Upload::new("1.0.0".into(), None, "test".into(), path.clone()),
        );
        let sink = Sink::create(&path).expect("create");
        assert!(uploads.created(id, sink, now));
        path
    }

    #[test]
    fn chunks_are_appended_and_hashed_then_kept() {
        let dir = temp_dir("keep");
        let mut uploads = Uploads::default();
        let now = Instant::now();
        let path = open(&mut uploads, &dir, "a", now);
        let image: Vec<u8> = (0..600_000u32).map(|i| (i % 253) as u8).collect();
        for chunk in image.chunks(MAX_CHUNK_BYTES) {
            let sink = uploads
                .take_for_chunk("a", chunk.len(), 1 << 20, now)
                .map_err(|r| r.error)
                .expect("accepted");
            assert!(
                matches!(uploads.take_for_chunk("a", 1, 1 << 20, now), Err(r) if r.reason == "busy"),
                "one chunk at a time"
            );
            let sink = sink.append(chunk).expect("write");
            uploads.put_back("a", sink, now).expect("still open");
        }
        let finished = uploads.finish("a").expect("finished");
        assert_eq!(finished.size, image.len() as u64);
        assert_eq!(finished.sha256, hex::encode(Sha256::digest(&image)));
        let target = dir.join("kept.bin");
        keep(finished.file, &finished.path, &target).expect("kept");
        assert!(!path.exists());
        assert_eq!(std::fs::read(&target).expect("image"), image);
        assert_eq!(uploads.len(), 0);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn past_the_limit_or_an_oversized_chunk_drops_the_upload() {
        let dir = temp_dir("limits");
        let mut uploads = Uploads::default();
        let now = Instant::now();
        open(&mut uploads, &dir, "big", now);
        let sink = uploads
            .take_for_chunk("big", 3000, 4096, now)
            .map_err(|r| r.error)
            .expect("under the limit");
        uploads.put_back("big", sink, now);
        let refused = uploads
            .take_for_chunk("big", 1097, 4096, now)
            .err()
            .expect("over the limit");
        assert!(matches!(refused.error, DomainError::TooLarge(_)));
        assert_eq!(
            refused.dropped.as_deref(),
            Some(dir.join("big.part").as_path())
        );
        assert_eq!(uploads.len(), 0);

        open(&mut uploads, &dir, "wide", now);
        let refused = uploads
            .take_for_chunk("wide", MAX_CHUNK_BYTES + 1, u64::MAX, now)
            .err()
            .expect("chunk too large");
        assert!(matches!(refused.error, DomainError::Invalid { .. }));
        assert!(refused.dropped.is_some());
        assert!(matches!(
            uploads.take_for_chunk("wide", 1, u64::MAX, now),
            Err(Refused {
                error: DomainError::NotFound(_),
                ..
            })
        ));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn idle_uploads_are_dropped_but_not_one_being_written() {
        let dir = temp_dir("idle");
        let mut uploads = Uploads::default();
        let start = Instant::now();
        open(&mut uploads, &dir, "quiet", start);
        open(&mut uploads, &dir, "writing", start);
        open(&mut uploads, &dir, "recent", start + IDLE);
        let _in_flight = uploads
            .take_for_chunk("writing", 10, 100, start)
            .map_err(|r| r.error)
            .expect("taken");
        assert!(uploads.drop_idle(start + IDLE).is_empty(), "not idle yet");
        let dropped: Vec<String> = uploads
            .drop_idle(start + IDLE + Duration::from_secs(1))
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(dropped, ["quiet"]);
        assert_eq!(uploads.len(), 2);
        let _ = std::fs::remove_dir_all(dir);
    }
}
