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
