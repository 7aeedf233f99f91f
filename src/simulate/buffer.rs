//! A device's offline buffer: samples appended to a file (one JSON object per line) while
//! the broker is unreachable, synced to disk in batches, read back to be flushed after a
//! reconnect, and cut only once the broker acknowledged what was read.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Appends are synced after this many samples, or this long after the first unsynced one.
const SYNC_EVERY: usize = 100;
const SYNC_AFTER: Duration = Duration::from_secs(1);

pub struct Buffer {
    path: PathBuf,
    file: File,
    unsynced: usize,
    unsynced_since: Option<Instant>,
}

impl Buffer {
    pub fn open(path: PathBuf) -> std::io::Result<Buffer> {
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)?;
        Ok(Buffer {
            path,
            file,
            unsynced: 0,
            unsynced_since: None,
        })
    }

    pub fn append(&mut self, sample: &str) -> std::io::Result<()> {
        let mut line = Vec::with_capacity(sample.len() + 1);
        line.extend_from_slice(sample.as_bytes());
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.unsynced += 1;
        let since = *self.unsynced_since.get_or_insert_with(Instant::now);
        if self.unsynced >= SYNC_EVERY || since.elapsed() >= SYNC_AFTER {
            self.sync()?;
        }
        Ok(())
    }

    pub fn sync(&mut self) -> std::io::Result<()> {
        if self.unsynced > 0 {
            self.file.sync_data()?;
            self.unsynced = 0;
            self.unsynced_since = None;
        }
        Ok(())
    }

    /// Every complete line now in the file, and the bytes they take (what
    /// [`Buffer::consume`] later removes). A torn last line (a crash mid-write) is left.
    pub fn read_all(&mut self) -> std::io::Result<(Vec<String>, u64)> {
        self.sync()?;
        let mut reader = BufReader::new(File::open(&self.path)?);
        let mut lines = Vec::new();
        let mut used = 0u64;
        let mut line = String::new();
        loop {
            line.clear();
            let n = reader.read_line(&mut line)?;
            if n == 0 || !line.ends_with('\n') {
                break;
            }
            used += n as u64;
            let sample = line.trim_end();
            if !sample.is_empty() {
                lines.push(sample.to_owned());
            }
        }
        Ok((lines, used))
    }

    /// Removes the first `bytes` bytes (lines the broker acknowledged).
    pub fn consume(&mut self, bytes: u64) -> std::io::Result<()> {
        self.sync()?;
        let len = self.file.metadata()?.len();
        if bytes >= len {
            self.file.set_len(0)?;
        } else {
            let mut rest = Vec::new();
            let mut reader = File::open(&self.path)?;
            reader.seek(SeekFrom::Start(bytes))?;
            reader.read_to_end(&mut rest)?;
            let tmp = self.path.with_extension("tmp");
            let mut out = File::create(&tmp)?;
            out.write_all(&rest)?;
            out.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            self.file = OpenOptions::new()
                .read(true)
                .append(true)
                .open(&self.path)?;
        }
        self.file.sync_all()
    }

    /// Samples waiting in the file.
    pub fn len(&mut self) -> std::io::Result<usize> {
        Ok(self.read_all()?.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_lines_survive_until_consumed() {
        let dir = std::env::temp_dir().join(format!("plantd-buffer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("d.jsonl");
        let _ = std::fs::remove_file(&path);
        let mut b = Buffer::open(path.clone()).expect("open");
        b.append("{\"a\":1}").expect("append");
        b.append("{\"a\":2}").expect("append");
        let (lines, used) = b.read_all().expect("read");
        assert_eq!(lines, vec!["{\"a\":1}", "{\"a\":2}"]);
        b.append("{\"a\":3}").expect("append");
        b.consume(used).expect("consume");
        let mut again = Buffer::open(path).expect("reopen");
        assert_eq!(again.read_all().expect("read").0, vec!["{\"a\":3}"]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
