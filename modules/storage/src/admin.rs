//! Database-wide administration for the Settings page: the size of the whole database and,
//! on SQLite, a consistent snapshot (`VACUUM INTO` a new file: one read transaction, so
//! concurrent writers neither block it nor tear it). Owns no table; touches only the file
//! it is told to write.

use std::path::Path;

use diesel::connection::SimpleConnection;
use diesel::{QueryableByName, RunQueryDsl};

use crate::{DbConnection, DbError};

#[derive(QueryableByName)]
struct Bytes {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    bytes: i64,
}

/// Bytes the database takes: SQLite's pages in use, or PostgreSQL's `pg_database_size`.
pub fn database_size(conn: &mut DbConnection) -> Result<u64, DbError> {
    let row = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT page_count * page_size AS bytes FROM pragma_page_count(), pragma_page_size()",
        )
        .get_result::<Bytes>(c)?,
        DbConnection::Pg(c) => {
            diesel::sql_query("SELECT pg_database_size(current_database())::bigint AS bytes")
                .get_result::<Bytes>(c)?
        }
    };
    Ok(u64::try_from(row.bytes).unwrap_or(0))
}

/// Writes a consistent copy of the SQLite database to `target`, which must not exist.
/// PostgreSQL has no such statement: the answer is an error (use `pg_dump`).
pub fn sqlite_snapshot(conn: &mut DbConnection, target: &Path) -> Result<(), DbError> {
    let DbConnection::Sqlite(c) = conn else {
        return Err(DbError::Domain(plantd_contracts::DomainError::Conflict(
            "a snapshot is made on SQLite only; back PostgreSQL up with pg_dump".to_owned(),
        )));
    };
    let path = target.to_string_lossy().replace('\'', "''");
    c.batch_execute(&format!("VACUUM INTO '{path}'"))?;
    Ok(())
}
