//! A database of its own for one migration test, on the suite's backend: a SQLite file in a
//! fresh data directory, or a fresh PostgreSQL database when `PLANTD_TEST_DATABASE_URL` is
//! set. Runs the real `plantd migrate` on it and describes what it holds.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};

use crate::support::eventually;
use crate::support::server::{drop_postgres_database, fresh_postgres_database};

/// diesel's table of applied versions, which every module shares.
pub const VERSIONS_TABLE: &str = "__diesel_schema_migrations";

/// `postgres` when `PLANTD_TEST_DATABASE_URL` is set, else `sqlite`.
pub fn suite_backend() -> &'static str {
    match std::env::var_os("PLANTD_TEST_DATABASE_URL") {
        Some(_) => "postgres",
        None => "sqlite",
    }
}

pub struct TestDatabase {
    data_dir: PathBuf,
    postgres: Option<(String, String)>,
}

pub enum Conn {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

impl TestDatabase {
    pub fn fresh(test: &str) -> TestDatabase {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "migrations-{test}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let data_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("plantd-migration-tests")
            .join(&name);
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir).expect("data dir");
        let postgres = std::env::var("PLANTD_TEST_DATABASE_URL")
            .ok()
            .map(|base| (fresh_postgres_database(&base, &name), base));
        TestDatabase { data_dir, postgres }
    }

    pub fn backend(&self) -> &'static str {
        suite_backend()
    }

    /// Runs `plantd migrate` (60 s at most), requires success, returns its stdout trimmed.
    pub fn migrate(&self) -> String {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_plantd"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PLANTD_LOG", "warn")
            .env("PLANTD_DATA_DIR", &self.data_dir)
            .current_dir(&self.data_dir)
            .arg("migrate")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((url, _)) = &self.postgres {
            cmd.env("PLANTD_DATABASE_URL", url);
        }
        let mut child = cmd.spawn().expect("spawn plantd migrate");
        let finished = eventually(Duration::from_secs(60), "plantd migrate to exit", || {
            child.try_wait().expect("wait")
        });
        let out = child.wait_with_output().expect("output");
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            finished.success(),
            "plantd migrate: {finished}\nstdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    pub fn connect(&self) -> Conn {
        match &self.postgres {
            Some((url, _)) => Conn::Pg(PgConnection::establish(url).expect("PostgreSQL")),
            None => {
                let path = self.data_dir.join("plantd.db");
                let mut conn =
                    SqliteConnection::establish(&path.display().to_string()).expect("SQLite");
                conn.batch_execute("PRAGMA busy_timeout = 5000")
                    .expect("busy_timeout");
                Conn::Sqlite(conn)
            }
        }
    }

    /// Runs statements as they are (as diesel runs a migration's file).
    pub fn execute(&self, sql: &str) {
        let done = match &mut self.connect() {
            Conn::Sqlite(c) => c.batch_execute(sql),
            Conn::Pg(c) => c.batch_execute(sql),
        };
        done.unwrap_or_else(|e| panic!("{e}: {sql}"));
    }

    /// The first column (named `line`, text) of every row `sqlite` or `postgres` returns.
    pub fn lines(&self, sqlite: &str, postgres: &[&str]) -> Vec<String> {
        let lines: Vec<Line> = match &mut self.connect() {
            Conn::Sqlite(c) => diesel::sql_query(sqlite).load(c).expect(sqlite),
            Conn::Pg(c) => postgres
                .iter()
                .flat_map(|q| diesel::sql_query(*q).load::<Line>(c).expect(q))
                .collect(),
        };
        lines.into_iter().map(|l| l.line).collect()
    }

    /// The tables, but diesel's own.
    pub fn tables(&self) -> BTreeSet<String> {
        self.lines(
            "SELECT name AS line FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
            &[
                "SELECT table_name::text AS line FROM information_schema.tables \
               WHERE table_schema = current_schema()",
            ],
        )
        .into_iter()
        .filter(|t| t != VERSIONS_TABLE)
        .collect()
    }

    /// The versions diesel recorded as applied.
    pub fn versions(&self) -> BTreeSet<String> {
        let query = format!("SELECT version AS line FROM {VERSIONS_TABLE}");
        self.lines(&query, &[&query]).into_iter().collect()
    }

    /// Every table, column, index and constraint, as sorted lines that compare equal for
    /// the same schema (diesel's table left out).
    pub fn schema(&self) -> Vec<String> {
        let mut lines = self.lines(
            "SELECT type || ' ' || name || ' ON ' || tbl_name || ': ' || coalesce(sql, '') \
             AS line FROM sqlite_master",
            &[
                "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' \
                 || is_nullable || ' ' || coalesce(column_default, '') AS line \
                 FROM information_schema.columns WHERE table_schema = current_schema()",
                "SELECT indexdef AS line FROM pg_indexes WHERE schemaname = current_schema()",
                "SELECT conrelid::regclass::text || ' ' || conname || ' ' \
                 || pg_get_constraintdef(oid) AS line FROM pg_constraint \
                 WHERE connamespace = current_schema()::regnamespace",
            ],
        );
        lines.retain(|l| !l.contains(VERSIONS_TABLE));
        lines.sort();
        lines
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((url, base)) = &self.postgres {
            drop_postgres_database(base, url);
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
