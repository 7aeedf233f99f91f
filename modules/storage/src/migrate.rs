//! The migrations of both backends, embedded in the binary and applied at start.

use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::{with_conn, Db, DbError};

const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Applies pending migrations; returns the versions applied now.
pub fn run_migrations(db: &Db) -> Result<Vec<String>, DbError> {
    let mut conn = db.conn()?;
    let applied = with_conn!(&mut *conn, |c| {
        let source = match db.backend() {
            crate::Backend::Sqlite => SQLITE,
            crate::Backend::Postgres => POSTGRES,
        };
        c.run_pending_migrations(source)
            .map(|versions| versions.iter().map(|v| v.to_string()).collect::<Vec<_>>())
            .map_err(|e| DbError::Pool(format!("migration failed: {e}")))
    })?;
    Ok(applied)
}
