//! `plantd migrate` on a real database of the suite's backend: a fresh one gets every
//! module's migrations once, module by module, and every table they leave; a second run
//! applies nothing; a database migrated the way plantd did before migrations were split by
//! module (one set, in version order) is up to date and has the same schema.

use std::collections::BTreeSet;

use super::database::{suite_backend, TestDatabase, VERSIONS_TABLE};
use super::{on_disk, tables_after};

/// `applied N migration(s): module/version, …` as (module, version) pairs, in order.
fn applied(stdout: &str) -> Vec<(String, String)> {
    let list = stdout
        .strip_prefix("applied ")
        .and_then(|rest| rest.split_once(" migration(s): "))
        .map(|(count, list)| (count.parse::<usize>().expect("a count"), list))
        .unwrap_or_else(|| panic!("plantd migrate reports what it applied: {stdout:?}"));
    let pairs: Vec<(String, String)> = list
        .1
        .split(", ")
        .map(|item| {
            let (module, version) = item
                .split_once('/')
                .unwrap_or_else(|| panic!("module/version: {item:?}"));
            (module.to_owned(), version.to_owned())
        })
        .collect();
    assert_eq!(pairs.len(), list.0, "{stdout}");
    pairs
}

/// Equal schemas, or a failure that shows only the lines that differ.
fn assert_same(left: &[String], right: &[String]) {
    let only = |a: &[String], b: &[String]| -> Vec<String> {
        a.iter().filter(|l| !b.contains(l)).cloned().collect()
    };
    assert!(
        left == right,
        "schemas differ\nonly in the first: {:#?}\nonly in the second: {:#?}",
        only(left, right),
        only(right, left)
    );
}

#[test]
fn a_fresh_database_gets_every_module_once_and_a_second_run_nothing() {
    let db = TestDatabase::fresh("fresh");
    let applied = applied(&db.migrate());

    // Every module folder of this backend is a module plantd runs, and every migration in
    // it ran once.
    let on_disk: BTreeSet<(String, String)> = on_disk(db.backend())
        .into_iter()
        .map(|m| (m.module, m.version))
        .collect();
    let ran: BTreeSet<(String, String)> = applied.iter().cloned().collect();
    assert_eq!(ran.len(), applied.len(), "each once: {applied:?}");
    let not_run: Vec<_> = on_disk.difference(&ran).collect();
    assert!(
        not_run.is_empty(),
        "on disk but not run by plantd (is the module in src/app.rs's MIGRATIONS?): {not_run:?}"
    );
    let not_on_disk: Vec<_> = ran.difference(&on_disk).collect();
    assert!(
        not_on_disk.is_empty(),
        "run but not on disk: {not_on_disk:?}"
    );

    // Module by module: each module's migrations in one run, oldest first.
    let mut modules: Vec<&str> = Vec::new();
    for (i, (module, version)) in applied.iter().enumerate() {
        if modules.last() != Some(&module.as_str()) {
            assert!(
                !modules.contains(&module.as_str()),
                "{module}'s migrations run together: {applied:?}"
            );
            modules.push(module);
        } else {
            assert!(applied[i - 1].1 < *version, "oldest first: {applied:?}");
        }
    }

    let tables = tables_after(db.backend());
    assert!(tables.len() >= 12, "{tables:?}");
    assert_eq!(db.tables(), tables, "the tables the migrations leave");
    for module in &modules {
        assert!(
            tables.iter().any(|t| t.starts_with(&format!("{module}_"))),
            "{module} has tables"
        );
    }

    let schema = db.schema();
    assert_eq!(db.migrate(), "database is up to date");
    assert_same(&db.schema(), &schema);
    assert_eq!(db.versions().len(), applied.len(), "one row per migration");
}

#[test]
fn a_database_migrated_in_version_order_is_up_to_date_with_the_same_schema() {
    let backend = suite_backend();
    // What plantd did before: all modules' migrations as one set, in version order, each
    // recorded in diesel's table (created as diesel creates it).
    let old = TestDatabase::fresh("whole");
    let mut all = on_disk(backend);
    all.sort_by(|a, b| a.version.cmp(&b.version));
    old.execute(&format!(
        "CREATE TABLE {VERSIONS_TABLE} (version VARCHAR(50) PRIMARY KEY NOT NULL, \
         run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    ));
    for migration in &all {
        old.execute(&migration.up);
        old.execute(&format!(
            "INSERT INTO {VERSIONS_TABLE} (version) VALUES ('{}')",
            migration.version
        ));
    }
    assert_eq!(old.migrate(), "database is up to date");

    let split = TestDatabase::fresh("split");
    split.migrate();
    let schema = split.schema();
    assert!(schema.len() > 20, "{schema:?}");
    assert_same(&old.schema(), &schema);
    assert_eq!(old.versions(), split.versions());
}
