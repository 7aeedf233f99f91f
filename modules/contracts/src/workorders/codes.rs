//! The closing-code pick lists (failure mode, cause, action, detection), in the spirit of
//! ISO 14224; an admin edits them, a corrective order's closing codes must come from them.

use actix::Message;
use serde::{Deserialize, Serialize};

use crate::DomainError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Code {
    pub code: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureCodes {
    pub failure_modes: Vec<Code>,
    pub causes: Vec<Code>,
    pub actions: Vec<Code>,
    /// How the failure was detected: alarm, preventive check, operator, …
    pub detections: Vec<Code>,
}

#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<FailureCodes, DomainError>")]
pub struct GetFailureCodes;

/// Replaces the lists (admin). Codes already used on closed orders stay on them.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<FailureCodes, DomainError>")]
pub struct SetFailureCodes {
    pub body: serde_json::Value,
    pub by: String,
}
