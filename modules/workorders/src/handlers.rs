//! The order messages from the edge: create, list, read, patch, transitions, comments,
//! checklist ticks. Checks happen before the transaction where they can (bodies), the
//! rest inside it (state, closing codes); each change is written with its history and
//! events in one transaction and answered after the commit.

use actix::prelude::*;
use chrono::Utc;
use plantd_contracts::json::merge_patch;
use plantd_contracts::workorders::*;
use plantd_contracts::DomainError;
use serde_json::json;
use uuid::Uuid;

use crate::actor::WorkOrders;
use crate::input::{self, NewOrder};
use crate::machine::{self, entry};
use crate::store::{self, OrderQuery};
use crate::write::{self, load};

type Atomic<T> = AtomicResponse<WorkOrders, Result<T, DomainError>>;

fn refuse<T: 'static>(e: DomainError) -> Atomic<T> {
    AtomicResponse::new(Box::pin(fut::ready(Err(e))))
}

impl Handler<CreateWorkOrder> for WorkOrders {
    type Result = Atomic<WorkOrder>;

    fn handle(&mut self, msg: CreateWorkOrder, _: &mut Context<Self>) -> Self::Result {
        let new = match input::parse_new(&msg.body) {
            Ok(n) => n,
            Err(e) => return refuse(e),
        };
        AtomicResponse::new(self.commit(move |conn, created| {
            let now = Utc::now();
            write::create(conn, created, "manual", now, |number| {
                machine::build(
                    Uuid::new_v4().to_string(),
                    number,
                    new,
                    WorkOrderType::Corrective,
                    msg.location,
                    now,
                    &msg.by,
                )
            })
        }))
    }
}

/// `{created_at}_{id}` of the last item of a page.
fn cursor_of(o: &WorkOrder) -> String {
    format!("{}_{}", o.created_at.timestamp_millis(), o.id)
}

fn parse_cursor(c: &str) -> Result<(i64, String), DomainError> {
    c.split_once('_')
        .and_then(|(at, id)| Some((at.parse().ok()?, id.to_owned())))
        .ok_or_else(|| DomainError::invalid("cursor", "not a cursor from this list"))
}

impl Handler<ListWorkOrders> for WorkOrders {
    type Result = ResponseFuture<Result<WorkOrderPage, DomainError>>;

    fn handle(&mut self, msg: ListWorkOrders, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let before = msg.after.as_deref().map(parse_cursor).transpose()?;
            let limit = msg.limit.clamp(1, 1000);
            let query = OrderQuery {
                filter: msg.filter,
                before,
                now: Utc::now().timestamp_millis(),
                limit: i64::from(limit) + 1,
            };
            let mut items = db.run(move |c| store::list_orders(c, &query)).await?;
            let more = items.len() > limit as usize;
            items.truncate(limit as usize);
            let next_cursor = more.then(|| items.last().map(cursor_of)).flatten();
            Ok(WorkOrderPage { items, next_cursor })
        })
    }
}

impl Handler<CountWorkOrders> for WorkOrders {
    type Result = ResponseFuture<Result<WorkOrderCounts, DomainError>>;

    fn handle(&mut self, _: CountWorkOrders, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let now = Utc::now().timestamp_millis();
            let (open, overdue) = db
                .run(move |c| Ok((store::open_count(c)?, store::overdue_count(c, now)?)))
                .await?;
            Ok(WorkOrderCounts {
                open: u64::try_from(open).unwrap_or_default(),
                overdue: u64::try_from(overdue).unwrap_or_default(),
            })
        })
    }
}

impl Handler<GetWorkOrder> for WorkOrders {
    type Result = ResponseFuture<Result<WorkOrder, DomainError>>;

    fn handle(&mut self, msg: GetWorkOrder, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            Ok(db
                .run(move |c| {
                    let mut order = load(c, &msg.0)?;
                    order.history = store::history_of(c, &order.id)?;
                    Ok(order)
                })
                .await?)
        })
    }
}

impl Handler<UpdateWorkOrder> for WorkOrders {
    type Result = Atomic<WorkOrder>;

    fn handle(&mut self, msg: UpdateWorkOrder, _: &mut Context<Self>) -> Self::Result {
        // Refuse unknown fields (and `status`) before looking at the order.
        if let Err(e) = input::Fields::of(&msg.patch, &input::patchable()) {
            return refuse(e);
        }
        AtomicResponse::new(self.commit(move |conn, _| {
            let mut order = load(conn, &msg.id)?;
            let mut view = machine::editable_view(&order);
            merge_patch(&mut view, &msg.patch);
            let patched = input::parse_patched(&view)?;
            let now = Utc::now();
            if let Some(h) = machine::patch(&mut order, patched, now, &msg.by)? {
                store::update_order(conn, &mut order)?;
                store::append_history(conn, &order.id, &[h])?;
            }
            Ok(order)
        }))
    }
}

impl Handler<TransitionWorkOrder> for WorkOrders {
    type Result = Atomic<WorkOrder>;

    fn handle(&mut self, msg: TransitionWorkOrder, _: &mut Context<Self>) -> Self::Result {
        let t = match input::parse_transition(&msg.body) {
            Ok(t) => t,
            Err(e) => return refuse(e),
        };
        AtomicResponse::new(self.commit(move |conn, _| {
            let mut order = load(conn, &msg.id)?;
            let codes = store::load_codes(conn)?;
            let previous = order.status;
            let h = machine::transition(&mut order, &t, &codes, Utc::now(), &msg.by)?;
            store::update_order(conn, &mut order)?;
            store::append_history(conn, &order.id, &[h])?;
            let events = crate::events::status_changed(conn, &order, previous, &msg.by)?;
            plantd_events::record(conn, &events)?;
            Ok(order)
        }))
    }
}

impl Handler<CommentWorkOrder> for WorkOrders {
    type Result = Atomic<WorkOrder>;

    fn handle(&mut self, msg: CommentWorkOrder, _: &mut Context<Self>) -> Self::Result {
        let text = msg.text.trim().to_owned();
        if text.is_empty() || text.chars().count() > 10_000 {
            return refuse(DomainError::invalid("text", "1 to 10000 characters"));
        }
        AtomicResponse::new(self.commit(move |conn, _| {
            let mut order = load(conn, &msg.id)?;
            let h = machine::comment(&mut order, &text, Utc::now(), &msg.by);
            store::update_order(conn, &mut order)?;
            store::append_history(conn, &order.id, &[h])?;
            Ok(order)
        }))
    }
}

impl Handler<TickChecklistItem> for WorkOrders {
    type Result = Atomic<WorkOrder>;

    fn handle(&mut self, msg: TickChecklistItem, _: &mut Context<Self>) -> Self::Result {
        let note = msg
            .note
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty());
        if note.as_ref().is_some_and(|n| n.chars().count() > 10_000) {
            return refuse(DomainError::invalid("note", "at most 10000 characters"));
        }
        AtomicResponse::new(self.commit(move |conn, created| {
            let now = Utc::now();
            let mut order = load(conn, &msg.id)?;
            let mut history = vec![machine::tick(
                &mut order,
                msg.item,
                msg.result,
                note.clone(),
                msg.follow_up,
                now,
                &msg.by,
            )?];
            if msg.follow_up {
                let parent = order.clone();
                let text = parent
                    .checklist
                    .get(msg.item)
                    .map(|i| i.text.clone())
                    .unwrap_or_default();
                let child = write::create(conn, created, "follow_up", now, |number| {
                    let title = format!("Follow-up of WO-{}: {text}", parent.number);
                    let new = NewOrder {
                        fields: input::Editable {
                            kind: Some(WorkOrderType::Corrective),
                            ..input::Editable::system(
                                title,
                                note.clone().unwrap_or_default(),
                                parent.priority,
                            )
                        },
                        asset_id: parent.asset_id.clone(),
                        device_id: parent.device_id.clone(),
                        checklist: Vec::new(),
                    };
                    let mut o = machine::build(
                        Uuid::new_v4().to_string(),
                        number,
                        new,
                        WorkOrderType::Corrective,
                        parent.location.clone(),
                        now,
                        &msg.by,
                    );
                    o.parent_id = Some(parent.id.clone());
                    o
                })?;
                if let Some(item) = order.checklist.get_mut(msg.item) {
                    item.follow_up_id = Some(child.id.clone());
                }
                history.push(entry(
                    now,
                    &msg.by,
                    "linked",
                    json!({"follow_up_id": child.id, "number": child.number, "item": msg.item}),
                ));
            }
            store::update_order(conn, &mut order)?;
            store::append_history(conn, &order.id, &history)?;
            Ok(order)
        }))
    }
}
