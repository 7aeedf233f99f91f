//! Storage errors, and how they read to a caller of a module.

use plantd_contracts::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("no database connection: {0}")]
    Pool(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("database task failed: {0}")]
    Task(String),
    #[error("{0}")]
    Domain(DomainError),
}

impl DbError {
    /// What kind of storage failure this is, for `plantd_storage_errors_total{kind}` and a
    /// log line an operator can act on: `disk_full` (SQLite's "database or disk is full",
    /// PostgreSQL's SQLSTATE 53100 or "could not extend file"), `unavailable` (no
    /// connection: the server is down or unreachable), `io`, `query` (anything else the
    /// database refused); `None` for what is not a storage failure (a domain error, a row
    /// not found).
    pub fn kind(&self) -> Option<&'static str> {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            DbError::Domain(_) | DbError::Query(Error::NotFound) => None,
            DbError::Pool(_) => Some("unavailable"),
            DbError::Task(_) | DbError::Migration(_) => Some("query"),
            DbError::Query(Error::DatabaseError(kind, info)) => {
                let message = info.message().to_ascii_lowercase();
                if message.contains("disk is full")
                    || message.contains("no space left")
                    || message.contains("could not extend file")
                    || message.contains("could not write")
                {
                    Some("disk_full")
                } else if matches!(kind, DatabaseErrorKind::ClosedConnection)
                    || message.contains("connection")
                    || message.contains("server closed")
                {
                    Some("unavailable")
                } else if message.contains("disk i/o") {
                    Some("io")
                } else {
                    Some("query")
                }
            }
            DbError::Query(_) => Some("query"),
        }
    }

    /// Counts a storage failure by its kind (`plantd_storage_errors_total`).
    pub(crate) fn count(&self) {
        if let Some(kind) = self.kind() {
            metrics::counter!("plantd_storage_errors_total", "kind" => kind).increment(1);
        }
    }

    /// True when the failure is a duplicate key (the caller usually means "already exists").
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}

impl From<DomainError> for DbError {
    fn from(value: DomainError) -> Self {
        DbError::Domain(value)
    }
}

impl From<DbError> for DomainError {
    fn from(value: DbError) -> Self {
        match value {
            DbError::Domain(e) => e,
            DbError::Query(diesel::result::Error::NotFound) => {
                DomainError::NotFound("record".to_owned())
            }
            other => {
                metrics::counter!("plantd_db_errors_total").increment(1);
                tracing::error!(error = %other, "storage error");
                DomainError::Unavailable("the database is not available".to_owned())
            }
        }
    }
}
