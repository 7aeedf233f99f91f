//! What the work-order module answers: create, list (filters), read, change (merge patch),
//! move through the state machine, comment, tick checklist items.

use actix::Message;
use serde::{Deserialize, Serialize};

use super::{ItemResult, WorkOrder, WorkOrderStatus, WorkOrderType};
use crate::DomainError;

/// `POST /work-orders`: the body as JSON, checked by the module (422 names the field):
/// `{"title", "description"?, "kind"?, "priority"?, "asset_id"?, "device_id"?,
/// "assignee"?, "due_at"?, "estimated_hours"?, "stops_asset"?, "checklist"?: ["…"],
/// "skills"?, "tools"?, "parts"?}`.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<WorkOrder, DomainError>")]
pub struct CreateWorkOrder {
    pub body: serde_json::Value,
    pub by: String,
    /// The asset's location (looked up by the caller), copied onto the order.
    pub location: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkOrderFilter {
    pub status: Option<Vec<WorkOrderStatus>>,
    pub asset_id: Option<String>,
    pub assignee: Option<String>,
    pub kind: Option<WorkOrderType>,
    pub overdue: Option<bool>,
    pub plan_id: Option<String>,
    pub alarm_id: Option<String>,
}

/// Newest first; `after` is the previous page's `next_cursor`.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<WorkOrderPage, DomainError>")]
pub struct ListWorkOrders {
    pub filter: WorkOrderFilter,
    pub after: Option<String>,
    pub limit: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkOrderPage {
    pub items: Vec<WorkOrder>,
    pub next_cursor: Option<String>,
}

/// The orders a work-order table can be sorted in (ties broken by id; orders without an
/// assignee or due date come last either way).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderSort {
    #[default]
    Created,
    Number,
    Status,
    Kind,
    Assignee,
    Due,
}

impl OrderSort {
    pub const ALL: [OrderSort; 6] = [
        OrderSort::Created,
        OrderSort::Number,
        OrderSort::Status,
        OrderSort::Kind,
        OrderSort::Assignee,
        OrderSort::Due,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderSort::Created => "created",
            OrderSort::Number => "number",
            OrderSort::Status => "status",
            OrderSort::Kind => "kind",
            OrderSort::Assignee => "assignee",
            OrderSort::Due => "due",
        }
    }

    pub fn parse(raw: &str) -> Option<OrderSort> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// One window of the orders that pass the filter and contain `q` in their text (title,
/// description…, any case) or have it as their number, in the order asked; the reply
/// counts them all.
#[derive(Debug, Clone, Default, Message)]
#[rtype(result = "Result<crate::window::Windowed<WorkOrder>, DomainError>")]
pub struct BrowseWorkOrders {
    pub filter: WorkOrderFilter,
    pub q: Option<String>,
    pub sort: OrderSort,
    pub dir: crate::window::SortDir,
    pub window: crate::window::Window,
}

/// One order with its history.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<WorkOrder, DomainError>")]
pub struct GetWorkOrder(pub String);

/// `PATCH /work-orders/{id}`: an RFC 7396 merge patch over the fields a client may set
/// (not `status`: that moves by transitions).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<WorkOrder, DomainError>")]
pub struct UpdateWorkOrder {
    pub id: String,
    pub patch: serde_json::Value,
    pub by: String,
}

/// `POST /work-orders/{id}/transitions {"to", "comment"?, "closing"?, "actual_hours"?,
/// "downtime_start"?, "downtime_end"?}`. Illegal → `Conflict`; a corrective order goes to
/// `done` only with closing codes from the lists.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<WorkOrder, DomainError>")]
pub struct TransitionWorkOrder {
    pub id: String,
    pub body: serde_json::Value,
    pub by: String,
}

#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<WorkOrder, DomainError>")]
pub struct CommentWorkOrder {
    pub id: String,
    pub text: String,
    pub by: String,
}

/// Ticks checklist item `item` (0-based). A failed item with `follow_up` opens a
/// corrective follow-up order linked to this one.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<WorkOrder, DomainError>")]
pub struct TickChecklistItem {
    pub id: String,
    pub item: usize,
    pub result: ItemResult,
    pub note: Option<String>,
    pub follow_up: bool,
    pub by: String,
}

/// The dashboard's work-order figures: open orders (not done or cancelled) and the open
/// ones past their due time, as the list's `status=open` and `overdue=1` filters count them.
#[derive(Debug, Clone, Copy, Default, Message)]
#[rtype(result = "Result<WorkOrderCounts, DomainError>")]
pub struct CountWorkOrders;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkOrderCounts {
    pub open: u64,
    pub overdue: u64,
}
