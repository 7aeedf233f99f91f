//! The gateway's half of back-pressure (see `pressure.rs`): it accounts for the device
//! messages it has taken, asks telemetry how many samples are not committed yet
//! (`GetIngestBacklog`, never blocking the gateway), re-evaluates the watermarks, and when
//! ingest may go on, publishes the resume tick that wakes the connections holding packets.
//! Runs on the gateway thread; touches the shared `Pressure` and its own local link.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{MailboxError, Recipient};
use futures::FutureExt;
use plantd_contracts::telemetry::{GetIngestBacklog, IngestBacklog};
use rumqttd::local::{LinkRx, LinkTx};

use crate::acks::Watermarks;
use crate::pressure::{Pressure, RESUME_TOPIC};

/// How often the pacer looks while something is moving or paused.
const BUSY: Duration = Duration::from_millis(1);
/// How long the gateway sleeps when all is quiet.
const QUIET: Duration = Duration::from_millis(100);
/// A resume tick again, while connections still hold packets (one may have started holding
/// just after the last tick, before its resume subscription reached the router).
const RETICK: Duration = Duration::from_millis(10);
/// How long nothing may have moved before the count is settled (see [`Pacer::settle`]).
/// Long: a router starved of CPU for a few milliseconds also looks idle, and settling then
/// would forget what it has not appended yet.
const SETTLE_AFTER: Duration = Duration::from_secs(1);

type Probe = Pin<Box<dyn Future<Output = Result<IngestBacklog, MailboxError>> + Send>>;

pub struct Pacer {
    pressure: Arc<Pressure>,
    backlog: Recipient<GetIngestBacklog>,
    link: LinkTx,
    link_rx: LinkRx,
    /// Bytes (log size) of messages handed to telemetry.
    handed: u64,
    /// Of those, handed before a probe telemetry has answered: it has taken them.
    confirmed: u64,
    /// Bytes taken otherwise: routed to other modules, or settled when idle.
    other: u64,
    /// The outstanding probe and `handed` when it was sent.
    probe: Option<(Probe, u64)>,
    last_work: Instant,
    last_tick: Instant,
    /// Since when, and at which `appended`, nothing has moved.
    idle_since: Option<(Instant, u64)>,
    /// Messages and bytes handed on, for the size of messages the log skipped.
    routed: (u64, u64),
    /// Device sessions waiting for their telemetry's commit to send PUBACKs (`None`:
    /// PUBACK when the broker takes a message).
    watermarks: Option<Arc<Watermarks>>,
}

impl Pacer {
    pub fn new(
        pressure: Arc<Pressure>,
        backlog: Recipient<GetIngestBacklog>,
        link: (LinkTx, LinkRx),
    ) -> Self {
        let now = Instant::now();
        Pacer {
            pressure,
            backlog,
            link: link.0,
            link_rx: link.1,
            handed: 0,
            confirmed: 0,
            other: 0,
            probe: None,
            last_work: now,
            last_tick: now,
            idle_since: None,
            routed: (0, 0),
            watermarks: None,
        }
    }

    /// Hands the receipts telemetry settled to the sessions waiting on them.
    pub fn with_watermarks(mut self, watermarks: Option<Arc<Watermarks>>) -> Self {
        self.watermarks = watermarks;
        self
    }

    pub fn appended(&self) -> u64 {
        self.pressure.appended()
    }

    /// How long the gateway may wait for the next message.
    pub fn wait(&self) -> Duration {
        if self.busy() {
            BUSY
        } else {
            QUIET
        }
    }

    fn busy(&self) -> bool {
        self.pressure.is_paused()
            || self.pressure.holding() > 0
            || self.pressure.samples() > 0
            || self.handed != self.confirmed
            || self.pressure.queued_bytes() > 0
    }

    /// `messages` of `bytes` in all were sent to telemetry.
    pub fn handed(&mut self, messages: u64, bytes: u64) {
        self.handed += bytes;
        self.routed = (self.routed.0 + messages, self.routed.1 + bytes);
    }

    pub fn done(&mut self, bytes: u64) {
        self.other += bytes;
        self.routed = (self.routed.0 + 1, self.routed.1 + bytes);
    }

    /// The log skipped `count` messages: taken, at the average size seen.
    pub fn skipped(&mut self, count: u64) {
        let average = self.routed.1.checked_div(self.routed.0).unwrap_or(100);
        self.other += count * average;
        if let Some(watermarks) = &self.watermarks {
            watermarks.messages_lost();
        }
    }

    /// After a message (`idle: None`, at most every [`BUSY`]) or when the wait ran out
    /// (`idle: Some(appended before the wait)`).
    pub fn tick(&mut self, idle: Option<u64>) {
        let now = Instant::now();
        if idle.is_none() && now.duration_since(self.last_work) < BUSY {
            return;
        }
        self.last_work = now;
        // The resume link subscribes to nothing; keep its queue empty all the same.
        while let Ok(Some(_)) = self.link_rx.recv_deadline(now) {}
        if let Some((probe, at)) = &mut self.probe {
            match probe.as_mut().now_or_never() {
                Some(Ok(backlog)) => {
                    if let Some(watermarks) = &self.watermarks {
                        watermarks.not_stored(&backlog.lost);
                        watermarks.settled(&backlog.settled);
                    }
                    self.pressure.set_samples(backlog.samples as u64);
                    self.confirmed = self.confirmed.max(*at);
                    self.probe = None;
                }
                Some(Err(e)) => {
                    // Telemetry has stopped (shutting down): nothing to pace any more.
                    tracing::debug!(error = %e, "telemetry did not answer the backlog probe");
                    self.probe = None;
                }
                None => {}
            }
        }
        self.settle(idle);
        self.pressure.set_done(self.other + self.confirmed);
        if self.probe.is_none() && (idle.is_none() || self.busy()) {
            self.probe = Some((Box::pin(self.backlog.send(GetIngestBacklog)), self.handed));
        }
        let resumed = self.pressure.update();
        let stragglers = !self.pressure.is_paused()
            && self.pressure.holding() > 0
            && now.duration_since(self.last_tick) >= RETICK;
        if resumed || stragglers {
            match self.link.try_publish(RESUME_TOPIC, bytes::Bytes::new()) {
                Ok(_) => self.last_tick = now,
                Err(e) => tracing::warn!(error = %e, "cannot publish the resume tick; retrying"),
            }
        }
    }

    /// When nothing has moved for [`SETTLE_AFTER`] and telemetry has answered for
    /// everything handed to it, everything appended has been taken: set the count to that.
    /// This corrects what cannot be counted exactly (a skipped message's size, packets the
    /// router discarded with a connection it closed), so a miscount cannot pause devices
    /// for good.
    fn settle(&mut self, idle: Option<u64>) {
        let now = Instant::now();
        let appended = match idle {
            Some(a) if a == self.appended() => a,
            _ => {
                self.idle_since = None;
                return;
            }
        };
        match self.idle_since {
            Some((_, at)) if at != appended => self.idle_since = Some((now, appended)),
            Some((since, _)) => {
                if now.duration_since(since) >= SETTLE_AFTER
                    && self.probe.is_none()
                    && self.confirmed == self.handed
                {
                    let settled = appended.saturating_sub(self.confirmed);
                    if settled != self.other {
                        tracing::debug!(
                            from = self.other,
                            to = settled,
                            "back-pressure count settled while idle"
                        );
                    }
                    self.other = settled;
                }
            }
            None => self.idle_since = Some((now, appended)),
        }
    }
}
