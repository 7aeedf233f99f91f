//! The migrations of both backends, embedded in the binary and applied at start.

use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::{with_conn, Db, DbError};

const SQLITE: [EmbeddedMigrations; 4] = [
    embed_migrations!("../../migrations/sqlite/events"),
    embed_migrations!("../../migrations/sqlite/identity"),
    embed_migrations!("../../migrations/sqlite/devices"),
    embed_migrations!("../../migrations/sqlite/telemetry"),
];
const POSTGRES: [EmbeddedMigrations; 4] = [
    embed_migrations!("../../migrations/postgres/events"),
    embed_migrations!("../../migrations/postgres/identity"),
    embed_migrations!("../../migrations/postgres/devices"),
    embed_migrations!("../../migrations/postgres/telemetry"),
];

/// Applies pending migrations; returns the versions applied now.
pub fn run_migrations(db: &Db) -> Result<Vec<String>, DbError> {
    let mut conn = db.conn()?;
    let applied = with_conn!(&mut *conn, |c| {
        let sources = match db.backend() {
            crate::Backend::Sqlite => SQLITE,
            crate::Backend::Postgres => POSTGRES,
        };
        let mut applied = Vec::new();
        for source in sources {
            let versions = c
                .run_pending_migrations(source)
                .map_err(|e| DbError::Pool(format!("migration failed: {e}")))?;
            applied.extend(versions.iter().map(|v| v.to_string()));
        }
        Ok::<_, DbError>(applied)
    })?;
    Ok(applied)
}
