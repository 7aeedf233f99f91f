//! The maintenance module's write queue: the changes waiting for the database ([`Op`]),
//! the plans whose meter or schedule row is to be written, and those waiting for the
//! commit. Plain state; `writer.rs` drives it from the actor.

use std::collections::HashSet;

use plantd_contracts::{DomainError, Event};
use tokio::sync::oneshot;

use crate::store::{OccurrenceRow, PlanRow};

pub(crate) enum Op {
    Plan(PlanRow),
    DeletePlan(String),
    /// A raised occurrence and its `maintenance.due` or `.missed` event.
    Occurrence(Box<(OccurrenceRow, Event)>),
    /// An occurrence's order was created, done or cancelled.
    SetOccurrence {
        plan_id: String,
        occurrence: i64,
        state: &'static str,
        work_order_id: String,
        closed_at: Option<i64>,
    },
}

type Waiter = oneshot::Sender<Result<(), DomainError>>;

#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) ops: Vec<Op>,
    /// Plans whose meter or schedule row is to be written.
    pub(crate) dirty: HashSet<String>,
    pub(crate) in_flight: bool,
    pub(crate) failed: bool,
    pub(crate) waiters: Vec<Waiter>,
}

impl Writer {
    pub fn push(&mut self, op: Op) {
        self.ops.push(op);
    }

    pub fn touch(&mut self, plan_id: &str) {
        if !self.dirty.contains(plan_id) {
            self.dirty.insert(plan_id.to_owned());
        }
    }

    pub fn has_ops(&self) -> bool {
        !self.ops.is_empty()
    }

    /// Resolves once everything queued until now is committed.
    pub fn wait(&mut self) -> oneshot::Receiver<Result<(), DomainError>> {
        let (tx, rx) = oneshot::channel();
        self.waiters.push(tx);
        rx
    }
}
