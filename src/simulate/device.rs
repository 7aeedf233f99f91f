//! One simulated device: its own MQTT connection (rumqttc), samples at the configured
//! rate, the offline buffer while the broker is unreachable (flushed as JSON arrays after
//! a reconnect and cut only after the PUBACKs), answers to shadow deltas and commands, and
//! firmware updates (download, verify, install, reboot, report the new version).
//!
//! Every QoS 1 publish is tracked from the request to its PUBACK: rumqttc reports each
//! outgoing publish's packet id in request order, so the n-th request gets the n-th id. A
//! connection that ends takes nothing with it: unacknowledged samples go to the buffer.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::buffer::Buffer;
use super::signals::{Fault, Machine};
use super::update::{self, Notice};

/// Samples per flushed payload at most (a JSON array well under the 256 KiB limit).
const FLUSH_BATCH: usize = 200;
/// Wait between connection attempts.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// A simulated install takes this long before the reboot.
const INSTALL_TIME: Duration = Duration::from_secs(1);

/// Counters over all devices.
#[derive(Default)]
pub struct Totals {
    pub generated: AtomicU64,
    /// Samples the broker acknowledged (live, or flushed from the buffer).
    pub acked: AtomicU64,
    /// Samples written to an offline buffer.
    pub buffered: AtomicU64,
    /// Samples acknowledged from the buffer.
    pub flushed: AtomicU64,
    /// Samples that could not even be buffered (disk error).
    pub lost: AtomicU64,
    pub left_in_buffer: AtomicU64,
    pub reconnects: AtomicU64,
    pub firmware_updates: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

pub struct Spec {
    pub id: String,
    pub secret: String,
    pub index: usize,
    pub fault: Option<Fault>,
    pub firmware: String,
    /// Images must be signed with this key; `None` refuses every update.
    pub signing_key: Option<ed25519_dalek::VerifyingKey>,
}

#[derive(Clone)]
pub struct Common {
    pub mqtt_host: String,
    pub mqtt_port: u16,
    pub interval: Duration,
    pub buffer_dir: PathBuf,
    pub totals: Arc<Totals>,
    pub stop: watch::Receiver<bool>,
}

/// A QoS 1 publish waiting for its PUBACK.
enum Item {
    Live(String),
    Flush,
    Other,
}

enum Msg {
    Event(u64, Result<Event, String>),
    Downloaded(Notice, Result<(), String>),
    Reboot(Option<Notice>),
}

struct Flush {
    outstanding: usize,
    bytes: u64,
    samples: usize,
    broken: bool,
}

struct Device {
    spec: Spec,
    common: Common,
    machine: Machine,
    buffer: Buffer,
    in_file: usize,
    last_ts: i64,
    client: Option<AsyncClient>,
    generation: u64,
    connected: bool,
    unassigned: VecDeque<Item>,
    inflight: HashMap<u16, Item>,
    flush: Option<Flush>,
    retry_at: Option<Instant>,
    updating: Option<String>,
    pending_done: Option<String>,
    tx: mpsc::UnboundedSender<Msg>,
}

/// Runs one device until the stop signal, then settles (flushes, waits for PUBACKs) for
/// up to 10 s.
pub async fn run(spec: Spec, common: Common) -> Result<(), String> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let path = common.buffer_dir.join(format!("{}.jsonl", spec.id));
    let mut buffer = Buffer::open(path.clone())
        .map_err(|e| format!("{}: cannot open the buffer: {e}", path.display()))?;
    let in_file = buffer
        .len()
        .map_err(|e| format!("{}: cannot read the buffer: {e}", path.display()))?;
    let mut machine = Machine::new(spec.index);
    machine.inject(spec.fault);
    let mut device = Device {
        machine,
        buffer,
        in_file,
        last_ts: 0,
        client: None,
        generation: 0,
        connected: false,
        unassigned: VecDeque::new(),
        inflight: HashMap::new(),
        flush: None,
        retry_at: None,
        updating: None,
        pending_done: None,
        tx,
        spec,
        common: common.clone(),
    };
    let mut tick = tokio::time::interval(common.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stop = common.stop.clone();
    let mut settle_until: Option<Instant> = None;
    device.connect();
    loop {
        let retry = device.retry_at;
        tokio::select! {
            _ = tick.tick(), if settle_until.is_none() => device.generate(),
            Some(msg) = rx.recv() => device.on_msg(msg),
            _ = tokio::time::sleep_until(retry.unwrap_or_else(Instant::now)), if retry.is_some() => {
                device.retry_at = None;
                device.connect();
            }
            _ = stop.changed(), if settle_until.is_none() => {
                settle_until = Some(Instant::now() + Duration::from_secs(10));
            }
            _ = tokio::time::sleep(Duration::from_millis(100)), if settle_until.is_some() => {}
        }
        if device.connected && device.flush.is_none() && device.in_file > 0 {
            device.start_flush();
        }
        if let Some(until) = settle_until {
            if device.settled() || Instant::now() >= until {
                break;
            }
        }
    }
    device.finish();
    Ok(())
}

impl Device {
    fn topic(&self, rest: &str) -> String {
        format!("devices/{}/{rest}", self.spec.id)
    }

    fn connect(&mut self) {
        let mut opts = MqttOptions::new(
            self.spec.id.clone(),
            self.common.mqtt_host.clone(),
            self.common.mqtt_port,
        );
        opts.set_credentials(self.spec.id.clone(), self.spec.secret.clone());
        opts.set_keep_alive(Duration::from_secs(30));
        opts.set_clean_session(true);
        opts.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut eventloop) = AsyncClient::new(opts, 10_000);
        self.generation += 1;
        let generation = self.generation;
        let tx = self.tx.clone();
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(event) => {
                        if tx.send(Msg::Event(generation, Ok(event))).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Msg::Event(generation, Err(e.to_string())));
                        break;
                    }
                }
            }
        });
        for filter in ["state/delta", "commands/+", "firmware/available"] {
            let _ = client.try_subscribe(self.topic(filter), QoS::AtLeastOnce);
        }
        self.client = Some(client);
    }

    /// The connection ended: whatever the broker did not acknowledge goes to the buffer.
    fn lost(&mut self, why: &str) {
        if self.connected {
            add(&self.common.totals.reconnects, 1);
            tracing::info!(device = %self.spec.id, reason = why, "connection lost; buffering");
        } else {
            tracing::debug!(device = %self.spec.id, reason = why, "cannot connect");
        }
        self.connected = false;
        self.client = None;
        self.generation += 1;
        self.flush = None;
        let items: Vec<Item> = self
            .unassigned
            .drain(..)
            .chain(self.inflight.drain().map(|(_, item)| item))
            .collect();
        for item in items {
            if let Item::Live(sample) = item {
                self.keep_offline(&sample);
            }
        }
        self.retry_at = Some(Instant::now() + RETRY_AFTER);
    }

    fn keep_offline(&mut self, sample: &str) {
        match self.buffer.append(sample) {
            Ok(()) => {
                self.in_file += 1;
                add(&self.common.totals.buffered, 1);
            }
            Err(e) => {
                add(&self.common.totals.lost, 1);
                tracing::error!(device = %self.spec.id, error = %e, "cannot buffer a sample; it is lost");
            }
        }
    }

    fn publish(&mut self, topic: String, payload: Vec<u8>, item: Item) -> bool {
        let Some(client) = &self.client else {
            return false;
        };
        match client.try_publish(topic, QoS::AtLeastOnce, false, payload) {
            Ok(()) => {
                self.unassigned.push_back(item);
                true
            }
            Err(_) => false,
        }
    }

    fn publish_json(&mut self, rest: &str, value: Value) {
        let topic = self.topic(rest);
        if !self.publish(topic, value.to_string().into_bytes(), Item::Other) {
            tracing::warn!(device = %self.spec.id, topic = rest, "message not sent: not connected");
        }
    }

    fn generate(&mut self) {
        let ts = plantd_contracts::time::now_ms().max(self.last_ts + 1);
        self.last_ts = ts;
        let sample = self.machine.sample(ts).to_string();
        add(&self.common.totals.generated, 1);
        let topic = self.topic("telemetry");
        if !(self.connected
            && self.publish(
                topic,
                sample.clone().into_bytes(),
                Item::Live(sample.clone()),
            ))
        {
            self.keep_offline(&sample);
        }
    }

    fn start_flush(&mut self) {
        let (lines, bytes) = match self.buffer.read_all() {
            Ok(read) => read,
            Err(e) => {
                tracing::error!(device = %self.spec.id, error = %e, "cannot read the buffer");
                return;
            }
        };
        self.in_file = lines.len();
        if lines.is_empty() {
            return;
        }
        let mut flush = Flush {
            outstanding: 0,
            bytes,
            samples: lines.len(),
            broken: false,
        };
        for chunk in lines.chunks(FLUSH_BATCH) {
            let payload = format!("[{}]", chunk.join(",")).into_bytes();
            let topic = self.topic("telemetry");
            if self.publish(topic, payload, Item::Flush) {
                flush.outstanding += 1;
            } else {
                flush.broken = true;
                break;
            }
        }
        tracing::info!(device = %self.spec.id, samples = flush.samples, "flushing the offline buffer");
        self.flush = Some(flush);
    }

    fn flush_acked(&mut self) {
        let Some(flush) = &mut self.flush else {
            return;
        };
        flush.outstanding = flush.outstanding.saturating_sub(1);
        if flush.outstanding > 0 {
            return;
        }
        let done = self.flush.take();
        let Some(flush) = done.filter(|f| !f.broken) else {
            return;
        };
        match self.buffer.consume(flush.bytes) {
            Ok(()) => {
                self.in_file = self.in_file.saturating_sub(flush.samples);
                add(&self.common.totals.acked, flush.samples as u64);
                add(&self.common.totals.flushed, flush.samples as u64);
            }
            Err(e) => {
                tracing::error!(device = %self.spec.id, error = %e, "cannot cut the flushed buffer; it will be sent again")
            }
        }
    }

    fn on_msg(&mut self, msg: Msg) {
        match msg {
            Msg::Event(generation, _) if generation != self.generation => {}
            Msg::Event(_, Err(e)) => self.lost(&e),
            Msg::Event(_, Ok(event)) => self.on_event(event),
            Msg::Downloaded(notice, result) => self.downloaded(notice, result),
            Msg::Reboot(installed) => self.reboot(installed),
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Incoming(Packet::ConnAck(_)) => {
                self.connected = true;
                let version = self.spec.firmware.clone();
                self.publish_json(
                    "state/reported",
                    json!({ "firmware_version": version, "simulated": true }),
                );
                if let Some(campaign) = self.pending_done.take() {
                    self.status(&campaign, "done", None);
                }
            }
            Event::Outgoing(Outgoing::Publish(pkid)) => {
                if let Some(item) = self.unassigned.pop_front() {
                    self.inflight.insert(pkid, item);
                }
            }
            Event::Incoming(Packet::PubAck(ack)) => match self.inflight.remove(&ack.pkid) {
                Some(Item::Live(_)) => add(&self.common.totals.acked, 1),
                Some(Item::Flush) => self.flush_acked(),
                Some(Item::Other) | None => {}
            },
            Event::Incoming(Packet::Publish(p)) => {
                let prefix = format!("devices/{}/", self.spec.id);
                if let Some(rest) = p.topic.strip_prefix(&prefix) {
                    let rest = rest.to_owned();
                    self.on_message(&rest, &p.payload);
                }
            }
            _ => {}
        }
    }

    fn status(&mut self, campaign: &str, state: &str, detail: Option<String>) {
        let version = self.spec.firmware.clone();
        self.publish_json(
            "firmware/status",
            json!({ "campaign": campaign, "state": state, "version": version, "detail": detail }),
        );
    }

    fn on_message(&mut self, rest: &str, payload: &[u8]) {
        if rest == "state/delta" {
            // Take the desired values and report them back.
            match serde_json::from_slice::<Value>(payload) {
                Ok(delta) if delta["state"].is_object() => {
                    self.publish_json("state/reported", delta["state"].clone())
                }
                _ => tracing::warn!(device = %self.spec.id, "malformed shadow delta"),
            }
        } else if rest == "firmware/available" {
            if payload.is_empty() {
                return;
            }
            match serde_json::from_slice::<Notice>(payload) {
                Ok(notice) => self.offered(notice),
                Err(e) => {
                    tracing::warn!(device = %self.spec.id, error = %e, "malformed firmware notice")
                }
            }
        } else if let Some(cmd) = rest.strip_prefix("commands/") {
            let command: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
            let name = command["name"].as_str().unwrap_or("");
            let result = match name {
                "ping" => json!({ "status": "ok", "detail": "pong" }),
                "clear_fault" => {
                    self.machine.inject(None);
                    json!({ "status": "ok" })
                }
                "inject_fault" => match command["args"]["kind"].as_str().and_then(Fault::parse) {
                    Some(fault) => {
                        self.machine.inject(Some(fault));
                        json!({ "status": "ok" })
                    }
                    None => {
                        json!({ "status": "error", "detail": "args.kind: bearing, imbalance or overheat" })
                    }
                },
                "reboot" => {
                    self.later(Duration::from_millis(500), Msg::Reboot(None));
                    json!({ "status": "ok", "detail": "rebooting" })
                }
                other => {
                    json!({ "status": "error", "detail": format!("unknown command '{other}'") })
                }
            };
            let cmd = cmd.to_owned();
            self.publish_json(&format!("commands/{cmd}/result"), result);
        }
    }

    fn later(&self, after: Duration, msg: Msg) {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ = tx.send(msg);
        });
    }

    /// A notice arrived (again after each reconnect, as it is retained).
    fn offered(&mut self, notice: Notice) {
        if notice.version == self.spec.firmware {
            // Already running it (a report lost in a reboot): say so again.
            self.status(&notice.campaign, "done", None);
            return;
        }
        if self.updating.as_deref() == Some(notice.campaign.as_str()) {
            return;
        }
        self.updating = Some(notice.campaign.clone());
        self.status(&notice.campaign, "downloading", None);
        let (id, secret, key, tx) = (
            self.spec.id.clone(),
            self.spec.secret.clone(),
            self.spec.signing_key,
            self.tx.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let result = update::download(&notice, &id, &secret, key.as_ref());
            let _ = tx.send(Msg::Downloaded(notice, result));
        });
    }

    fn downloaded(&mut self, notice: Notice, result: Result<(), String>) {
        match result {
            Ok(()) => {
                self.status(&notice.campaign, "installing", None);
                self.later(INSTALL_TIME, Msg::Reboot(Some(notice)));
            }
            Err(e) => {
                tracing::warn!(device = %self.spec.id, error = %e, "firmware download failed");
                self.status(&notice.campaign, "failed", Some(e));
                self.updating = None;
            }
        }
    }

    /// A reboot: the connection goes, the device comes back (with a new image if one was
    /// installed) and reports.
    fn reboot(&mut self, installed: Option<Notice>) {
        if let Some(notice) = installed {
            tracing::info!(device = %self.spec.id, version = %notice.version, "firmware installed; rebooting");
            self.spec.firmware = notice.version;
            self.pending_done = Some(notice.campaign);
            self.updating = None;
            add(&self.common.totals.firmware_updates, 1);
        }
        if let Some(client) = &self.client {
            let _ = client.try_disconnect();
        }
        self.lost("reboot");
    }

    /// Nothing left to send or to wait for.
    fn settled(&self) -> bool {
        self.connected
            && self.unassigned.is_empty()
            && self.inflight.is_empty()
            && self.flush.is_none()
            && self.in_file == 0
    }

    fn finish(&mut self) {
        if let Some(client) = &self.client {
            let _ = client.try_disconnect();
        }
        // What was not acknowledged stays on disk for the next run.
        let pending: Vec<String> = self
            .unassigned
            .drain(..)
            .chain(self.inflight.drain().map(|(_, item)| item))
            .filter_map(|item| match item {
                Item::Live(sample) => Some(sample),
                _ => None,
            })
            .collect();
        for sample in pending {
            self.keep_offline(&sample);
        }
        if let Err(e) = self.buffer.sync() {
            tracing::error!(device = %self.spec.id, error = %e, "cannot sync the buffer");
        }
        let left = self.buffer.len().unwrap_or(self.in_file);
        add(&self.common.totals.left_in_buffer, left as u64);
    }
}
