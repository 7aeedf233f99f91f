//! Work requests: an operator files one (`workrequest.created`); an engineer approves it
//! into an order (kind `request` unless the approval says otherwise, linked both ways) or
//! rejects it with a reason. A request is decided once (`Conflict` after).

use actix::prelude::*;
use chrono::Utc;
use plantd_contracts::events::WorkRequestEvent;
use plantd_contracts::json::merge_patch;
use plantd_contracts::workorders::*;
use plantd_contracts::{DomainError, Event, EventData};
use plantd_storage::{DbConnection, DbError};
use serde_json::json;
use uuid::Uuid;

use crate::actor::WorkOrders;
use crate::input::{self, Fields};
use crate::write::{self, Created};
use crate::{machine, store};

fn refuse<T: 'static>(e: DomainError) -> AtomicResponse<WorkOrders, Result<T, DomainError>> {
    AtomicResponse::new(Box::pin(fut::ready(Err(e))))
}

fn pending(conn: &mut DbConnection, id: &str) -> Result<WorkRequest, DbError> {
    let r = store::get_request(conn, id)?
        .ok_or_else(|| DbError::Domain(DomainError::NotFound(format!("work request {id}"))))?;
    if r.status != RequestStatus::Pending {
        return Err(DbError::Domain(DomainError::Conflict(format!(
            "work request {id} is {} already",
            r.status.as_str()
        ))));
    }
    Ok(r)
}

impl Handler<CreateWorkRequest> for WorkOrders {
    type Result = AtomicResponse<Self, Result<WorkRequest, DomainError>>;

    fn handle(&mut self, msg: CreateWorkRequest, _: &mut Context<Self>) -> Self::Result {
        let parsed = Fields::of(&msg.body, &["asset_id", "title", "description"]).and_then(|f| {
            Ok((
                f.title()?,
                f.text("description", 10_000)?,
                f.name("asset_id")?,
            ))
        });
        let (title, description, asset_id) = match parsed {
            Ok(p) => p,
            Err(e) => return refuse(e),
        };
        AtomicResponse::new(self.commit(move |conn, _| {
            let r = WorkRequest {
                id: Uuid::new_v4().to_string(),
                asset_id,
                title,
                description: description.unwrap_or_default(),
                status: RequestStatus::Pending,
                requested_by: msg.by,
                created_at: Utc::now(),
                decided_by: None,
                decided_at: None,
                reject_reason: None,
                work_order_id: None,
            };
            store::save_request(conn, &r)?;
            let event = Event::new(EventData::WorkRequestCreated(WorkRequestEvent {
                request_id: r.id.clone(),
                asset_id: r.asset_id.clone(),
                title: r.title.clone(),
                requested_by: r.requested_by.clone(),
            }));
            plantd_events::record(conn, &[event])?;
            Ok(r)
        }))
    }
}

impl Handler<ListWorkRequests> for WorkOrders {
    type Result = ResponseFuture<Result<Vec<WorkRequest>, DomainError>>;

    fn handle(&mut self, msg: ListWorkRequests, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        let limit = i64::from(msg.limit.clamp(1, 1000));
        Box::pin(async move {
            Ok(db
                .run(move |c| store::list_requests(c, msg.status, limit))
                .await?)
        })
    }
}

impl Handler<GetWorkRequest> for WorkOrders {
    type Result = ResponseFuture<Result<WorkRequest, DomainError>>;

    fn handle(&mut self, msg: GetWorkRequest, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let id = msg.0;
            let found = db
                .run({
                    let id = id.clone();
                    move |c| store::get_request(c, &id)
                })
                .await?;
            found.ok_or_else(|| DomainError::NotFound(format!("work request {id}")))
        })
    }
}

/// The order an approval makes: the request's title, description and asset, kind
/// `request`, under the approval's body.
fn approved_order(
    conn: &mut DbConnection,
    created: &mut Created,
    r: &WorkRequest,
    body: &serde_json::Value,
    by: &str,
) -> Result<WorkOrder, DbError> {
    let mut doc = json!({"title": r.title, "description": r.description, "asset_id": r.asset_id, "kind": "request"});
    merge_patch(&mut doc, body);
    let new = input::parse_new(&doc)?;
    let now = Utc::now();
    write::create(conn, created, "request", now, |number| {
        let mut o = machine::build(
            Uuid::new_v4().to_string(),
            number,
            new,
            WorkOrderType::Request,
            None,
            now,
            by,
        );
        o.request_id = Some(r.id.clone());
        o
    })
}

impl Handler<ApproveWorkRequest> for WorkOrders {
    type Result = AtomicResponse<Self, Result<WorkOrder, DomainError>>;

    fn handle(&mut self, msg: ApproveWorkRequest, _: &mut Context<Self>) -> Self::Result {
        if !(msg.body.is_object() || msg.body.is_null()) {
            return refuse(DomainError::invalid("body", "a JSON object"));
        }
        AtomicResponse::new(self.commit(move |conn, created| {
            let mut r = pending(conn, &msg.id)?;
            let order = approved_order(conn, created, &r, &msg.body, &msg.by)?;
            r.status = RequestStatus::Approved;
            r.decided_by = Some(msg.by.clone());
            r.decided_at = Some(Utc::now());
            r.work_order_id = Some(order.id.clone());
            store::save_request(conn, &r)?;
            Ok(order)
        }))
    }
}

impl Handler<RejectWorkRequest> for WorkOrders {
    type Result = AtomicResponse<Self, Result<WorkRequest, DomainError>>;

    fn handle(&mut self, msg: RejectWorkRequest, _: &mut Context<Self>) -> Self::Result {
        let reason = msg.reason.trim().to_owned();
        if reason.is_empty() || reason.chars().count() > 2000 {
            return refuse(DomainError::invalid(
                "reason",
                "required, 1 to 2000 characters",
            ));
        }
        AtomicResponse::new(self.commit(move |conn, _| {
            let mut r = pending(conn, &msg.id)?;
            r.status = RequestStatus::Rejected;
            r.decided_by = Some(msg.by);
            r.decided_at = Some(Utc::now());
            r.reject_reason = Some(reason);
            store::save_request(conn, &r)?;
            Ok(r)
        }))
    }
}
