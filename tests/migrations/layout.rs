//! The migration folders, read without a database: what each statement touches stays in
//! its module's tables, both backends hold the same modules and migrations, and versions
//! are unique across modules (diesel keeps one table of applied versions for all).

use std::collections::{BTreeMap, BTreeSet};

use super::{folders, on_disk, root, sql, BACKENDS};

#[test]
fn every_migration_touches_only_its_own_modules_tables() {
    let mut foreign = Vec::new();
    let mut names = 0;
    for backend in BACKENDS {
        for migration in on_disk(backend) {
            let prefix = format!("{}_", migration.module);
            let files = [
                ("up.sql", Some(&migration.up)),
                ("down.sql", migration.down.as_ref()),
            ];
            for (file, text) in files {
                for touch in text.map(|t| sql::touches(t)).unwrap_or_default() {
                    names += 1;
                    if !touch.name.starts_with(&prefix) {
                        foreign.push(format!(
                            "  {}/{file}: {} {}",
                            migration.path(),
                            touch.how,
                            touch.name
                        ));
                    }
                }
            }
        }
    }
    assert!(names > 20, "the SQL was read: {names} names");
    assert!(
        foreign.is_empty(),
        "a module's migrations may touch only its own tables, named `{{module}}_…` after \
         its folder:\n{}",
        foreign.join("\n")
    );
}

#[test]
fn both_backends_hold_the_same_modules_and_migrations() {
    assert_eq!(
        folders(&root(), &["README.md"]),
        ["postgres", "sqlite"],
        "migrations/ holds one folder per backend"
    );
    let mut per_backend = Vec::new();
    for backend in BACKENDS {
        let modules = folders(&root().join(backend), &[]);
        for module in &modules {
            // No `_`: the prefix `a_` must not also match a module `a_b`'s tables; and a
            // migration folder left directly under the backend's folder fails here.
            assert!(
                module.starts_with(|c: char| c.is_ascii_lowercase())
                    && module
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
                "migrations/{backend}/{module}: a module's folder is its name, the prefix of \
                 its tables (lower-case letters and digits)"
            );
        }
        let migrations: BTreeSet<(String, String)> = on_disk(backend)
            .into_iter()
            .map(|m| (m.module, m.folder))
            .collect();
        per_backend.push((modules, migrations));
    }
    assert_eq!(
        per_backend[0].0, per_backend[1].0,
        "the same module folders on both backends"
    );
    assert!(
        per_backend[0].0.len() >= 3,
        "identity, devices, telemetry at least"
    );
    assert_eq!(
        per_backend[0].1, per_backend[1].1,
        "the same migrations (module, folder) on both backends"
    );
}

#[test]
fn every_migration_has_a_version_of_its_own_and_a_down() {
    for backend in BACKENDS {
        let mut owners: BTreeMap<String, String> = BTreeMap::new();
        for migration in on_disk(backend) {
            assert!(
                migration.version.len() == 14
                    && migration.version.chars().all(|c| c.is_ascii_digit()),
                "{}: the folder is named YYYY-MM-DD-NNNNNN_name",
                migration.path()
            );
            assert!(migration.down.is_some(), "{}: down.sql", migration.path());
            if let Some(other) = owners.insert(migration.version.clone(), migration.path()) {
                panic!(
                    "{} and {other} share the version {}: diesel would skip the second",
                    migration.path(),
                    migration.version
                );
            }
        }
    }
}
