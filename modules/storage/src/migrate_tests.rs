//! Tests of the migration runner on a real database: a SQLite file, or a fresh PostgreSQL
//! database when `PLANTD_TEST_DATABASE_URL` is set (as for the rest of the suite). The
//! modules are made up (`tests/fixtures/migrations/`); each fixture runs on both backends.

use std::sync::atomic::{AtomicU32, Ordering};

use diesel::sql_types::Text;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use diesel_migrations::embed_migrations;

use super::*;

const ALPHA: ModuleMigrations = ModuleMigrations::new(
    "alpha",
    embed_migrations!("tests/fixtures/migrations/alpha"),
    embed_migrations!("tests/fixtures/migrations/alpha"),
);
const BETA: ModuleMigrations = ModuleMigrations::new(
    "beta",
    embed_migrations!("tests/fixtures/migrations/beta"),
    embed_migrations!("tests/fixtures/migrations/beta"),
);
/// Uses alpha's second version.
const CLASH: ModuleMigrations = ModuleMigrations::new(
    "clash",
    embed_migrations!("tests/fixtures/migrations/clash"),
    embed_migrations!("tests/fixtures/migrations/clash"),
);

/// A database of its own for one test, removed when dropped.
struct TestDb {
    db: Db,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Postgres { admin: String, name: String },
}

impl TestDb {
    fn fresh() -> TestDb {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "plantd_storage_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let (url, cleanup) = match std::env::var("PLANTD_TEST_DATABASE_URL") {
            Ok(base) => {
                let base = base.trim_end_matches('/');
                let admin = format!("{base}/postgres");
                let mut conn = PgConnection::establish(&admin).expect("PostgreSQL");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create database");
                (format!("{base}/{name}"), Cleanup::Postgres { admin, name })
            }
            Err(_) => {
                let path = std::env::temp_dir().join(format!("{name}.db"));
                let _ = std::fs::remove_file(&path);
                (path.display().to_string(), Cleanup::File(path))
            }
        };
        TestDb {
            db: Db::open(&url, 2).expect("open"),
            cleanup,
        }
    }

    fn tables(&self) -> Vec<String> {
        #[derive(QueryableByName)]
        struct Name {
            #[diesel(sql_type = Text)]
            name: String,
        }
        let mut conn = self.db.conn().expect("connection");
        let names: Vec<Name> = match &mut *conn {
            DbConnection::Sqlite(c) => diesel::sql_query(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%'",
            )
            .load(c),
            DbConnection::Pg(c) => diesel::sql_query(
                "SELECT table_name::text AS name FROM information_schema.tables \
                 WHERE table_schema = current_schema()",
            )
            .load(c),
        }
        .expect("list tables");
        let mut names: Vec<String> = names.into_iter().map(|n| n.name).collect();
        names.retain(|n| n != "__diesel_schema_migrations");
        names.sort();
        names
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Postgres { admin, name } => {
                if let Ok(mut conn) = PgConnection::establish(admin) {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut conn);
                }
            }
        }
    }
}

#[test]
fn runs_the_modules_in_the_order_given_and_then_nothing() {
    let test = TestDb::fresh();
    let applied = run_migrations(&test.db, &[&BETA, &ALPHA]).expect("migrate");
    assert_eq!(
        applied,
        [
            "beta/20300101000002",
            "alpha/20300101000001",
            "alpha/20300101000003"
        ]
    );
    assert_eq!(test.tables(), ["alpha_first", "alpha_second", "beta_only"]);

    let again = run_migrations(&test.db, &[&BETA, &ALPHA]).expect("migrate again");
    assert!(again.is_empty(), "nothing left to apply: {again:?}");
    assert_eq!(test.tables(), ["alpha_first", "alpha_second", "beta_only"]);
}

#[test]
fn a_module_added_later_gets_its_migrations_even_older_versions() {
    let test = TestDb::fresh();
    run_migrations(&test.db, &[&ALPHA]).expect("alpha alone");
    // beta's only version is older than alpha's newest; diesel applies what this source
    // has and the table lacks, whatever other modules recorded.
    let applied = run_migrations(&test.db, &[&ALPHA, &BETA]).expect("alpha and beta");
    assert_eq!(applied, ["beta/20300101000002"]);
    assert_eq!(test.tables(), ["alpha_first", "alpha_second", "beta_only"]);
}

#[test]
fn a_version_two_modules_share_is_refused_before_anything_runs() {
    let test = TestDb::fresh();
    let err = run_migrations(&test.db, &[&ALPHA, &CLASH]).expect_err("a shared version");
    let message = err.to_string();
    assert!(
        matches!(err, DbError::Migration(_))
            && message.contains("20300101000003")
            && message.contains("alpha")
            && message.contains("clash"),
        "{message}"
    );
    assert!(test.tables().is_empty(), "{:?}", test.tables());
}

#[test]
fn a_module_listed_twice_is_refused() {
    let test = TestDb::fresh();
    let err = run_migrations(&test.db, &[&ALPHA, &BETA, &ALPHA]).expect_err("listed twice");
    assert!(
        err.to_string().contains("module alpha is listed twice"),
        "{err}"
    );
    assert!(test.tables().is_empty(), "{:?}", test.tables());
}

#[test]
fn versions_are_the_folder_prefixes_ascending() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        assert_eq!(
            ALPHA.versions(backend).expect("versions"),
            ["20300101000001", "20300101000003"]
        );
    }
    assert_eq!(ALPHA.module(), "alpha");
}
