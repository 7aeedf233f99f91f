//! Each module owns its migrations (issue 9): they live in
//! `migrations/{sqlite,postgres}/{module}/`, touch only the module's tables (named
//! `{module}_…`), and plantd runs every one of them once, module by module. This file reads
//! the folders; `layout.rs` checks them without a database, `schema.rs` runs `plantd
//! migrate` on a real one (`database.rs`).

mod backfill;
mod database;
mod layout;
mod schema;
mod sql;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub const BACKENDS: [&str; 2] = ["sqlite", "postgres"];

/// One migration folder, `migrations/{backend}/{module}/{folder}/`.
pub struct OnDisk {
    pub backend: &'static str,
    pub module: String,
    pub folder: String,
    /// diesel's version: the folder name up to its first `_`, without dashes.
    pub version: String,
    pub up: String,
    pub down: Option<String>,
}

impl OnDisk {
    pub fn path(&self) -> String {
        format!("{}/{}/{}", self.backend, self.module, self.folder)
    }
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations")
}

/// The names of the folders in `dir`, sorted; panics if `dir` holds anything else but
/// files named in `files_allowed`.
pub fn folders(dir: &Path, files_allowed: &[&str]) -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let entry = entry.expect("directory entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().expect("file type").is_dir() {
            names.push(name);
        } else {
            assert!(
                files_allowed.contains(&name.as_str()),
                "{}: only folders belong here, found the file {name}",
                dir.display()
            );
        }
    }
    names.sort();
    names
}

/// Every migration of `backend`, module folder by module folder, each in version order.
pub fn on_disk(backend: &'static str) -> Vec<OnDisk> {
    let mut found = Vec::new();
    let base = root().join(backend);
    for module in folders(&base, &[]) {
        for folder in folders(&base.join(&module), &[]) {
            let dir = base.join(&module).join(&folder);
            let read = |file: &str| std::fs::read_to_string(dir.join(file));
            let version = folder
                .split('_')
                .next()
                .unwrap_or_default()
                .replace('-', "");
            found.push(OnDisk {
                backend,
                module: module.clone(),
                up: read("up.sql").unwrap_or_else(|e| panic!("{}/up.sql: {e}", dir.display())),
                down: read("down.sql").ok(),
                folder,
                version,
            });
        }
    }
    found
}

/// The tables the migrations of `backend` leave behind, replayed from their SQL: `CREATE
/// TABLE` adds one, `DROP TABLE` removes it, `ALTER TABLE … RENAME TO` renames it.
pub fn tables_after(backend: &'static str) -> BTreeSet<String> {
    let mut tables = BTreeSet::new();
    for migration in on_disk(backend) {
        // The table of the `ALTER TABLE` just before, if the touch before was one.
        let mut altered: Option<String> = None;
        for touch in sql::touches(&migration.up) {
            let last = altered.take();
            match touch.how.as_str() {
                "create table" => {
                    tables.insert(touch.name);
                }
                "drop table" => {
                    tables.remove(&touch.name);
                }
                "alter table" => altered = Some(touch.name),
                "rename to" if last.is_some_and(|old| tables.remove(&old)) => {
                    tables.insert(touch.name);
                }
                _ => {}
            }
        }
    }
    tables
}
