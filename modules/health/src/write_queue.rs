//! The queue of alarm changes waiting to be written (`writer.rs` writes them): what each
//! write holds and who waits for it. No I/O here.

use plantd_contracts::health::Alarm;
use plantd_contracts::time::Millis;
use plantd_contracts::{DomainError, Event};
use tokio::sync::oneshot;

use crate::store::{AlarmRow, HistoryRow};

pub(crate) type Reply = oneshot::Sender<Result<Alarm, DomainError>>;

pub(crate) struct PendingWrite {
    pub row: AlarmRow,
    pub history: Vec<HistoryRow>,
    pub events: Vec<Event>,
    pub alarm: Alarm,
    pub reply: Option<Reply>,
    /// For a raise: when the sample that raised it reached plantd.
    pub received_at: Option<Millis>,
}

#[derive(Default)]
pub(crate) struct Writer {
    pub queue: Vec<PendingWrite>,
    pub in_flight: bool,
    pub failed: bool,
    pub idle_waiters: Vec<oneshot::Sender<Result<(), DomainError>>>,
}

impl Writer {
    /// Resolves once everything queued now (and after) is written.
    pub fn wait_idle(&mut self) -> oneshot::Receiver<Result<(), DomainError>> {
        let (tx, rx) = oneshot::channel();
        if self.queue.is_empty() && !self.in_flight {
            let _ = tx.send(Ok(()));
        } else {
            self.idle_waiters.push(tx);
        }
        rx
    }

    pub fn pending(&self) -> usize {
        self.queue.len()
    }
}
