//! Work requests: an operator (viewer) reports a problem on an asset; an engineer approves
//! it into a work order or rejects it with a reason.

use actix::Message;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::WorkOrder;
use crate::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Pending,
    Approved,
    Rejected,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<RequestStatus> {
        [
            RequestStatus::Pending,
            RequestStatus::Approved,
            RequestStatus::Rejected,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkRequest {
    pub id: String,
    pub asset_id: Option<String>,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub status: RequestStatus,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub reject_reason: Option<String>,
    /// The order it became.
    pub work_order_id: Option<String>,
}

/// `POST /work-requests {"asset_id"?, "title", "description"?}` (read scope suffices:
/// operators file requests).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<WorkRequest, DomainError>")]
pub struct CreateWorkRequest {
    pub body: serde_json::Value,
    pub by: String,
}

#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Vec<WorkRequest>, DomainError>")]
pub struct ListWorkRequests {
    pub status: Option<RequestStatus>,
    pub limit: u32,
}

#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<WorkRequest, DomainError>")]
pub struct GetWorkRequest(pub String);

/// Approve into an order; the body may set the order's fields (priority, assignee, kind,
/// due_at, …) over the request's title, description and asset.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<WorkOrder, DomainError>")]
pub struct ApproveWorkRequest {
    pub id: String,
    pub body: serde_json::Value,
    pub by: String,
}

/// Reject with a reason (required).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<WorkRequest, DomainError>")]
pub struct RejectWorkRequest {
    pub id: String,
    pub reason: String,
    pub by: String,
}
