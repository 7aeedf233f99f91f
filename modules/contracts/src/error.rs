//! The error every module replies with; the HTTP edge maps it to RFC 9457 problems.

use serde::{Deserialize, Serialize};

/// Why a command or query failed, in terms a caller can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum DomainError {
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The request clashes with existing state (duplicate id, illegal transition).
    #[error("{0}")]
    Conflict(String),
    /// A field breaks a rule.
    #[error("invalid {field}: {message}")]
    Invalid { field: String, message: String },
    /// The request is larger than a limit allows (e.g. a firmware image).
    #[error("too large: {0}")]
    TooLarge(String),
    /// Storage or another dependency is not available right now.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        DomainError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}
