//! Back-pressure: how far the ingest pipeline is behind, and whether devices must wait.
//!
//! rumqttd acknowledges a QoS 1 publish when it enters the broker's in-memory log, and
//! drops what a slow reader has not taken when that log rotates. So plantd measures, per
//! process, what is between a device and storage:
//! - bytes of device messages the policy layer let into the broker on the gateway's
//!   filters and that telemetry has not provably taken yet (in the log, in the gateway,
//!   in telemetry's mailbox): `appended − done`;
//! - samples telemetry accepted and has not committed (`GetIngestBacklog`).
//!
//! Above a high watermark of either, the pipeline is *paused*: the policy layer holds
//! device PUBLISHes before they reach the router (so they are not acknowledged and QoS 1
//! devices wait with their messages in flight) and drops QoS 0 ones, counted. Below the
//! low watermarks (half the high ones) the gateway resumes it and publishes a tick on
//! [`RESUME_TOPIC`], which every holding connection is subscribed to: that wakes
//! rumqttd's per-connection task, whose next read lets the held packets go.
//!
//! Written by the policy layer (appended, pause) and the gateway thread (done, backlog,
//! resume); private to the broker.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The topic the gateway publishes a resume tick on (empty payload). Only plantd's own
/// links may publish under `plantd/`; the policy layer swallows the ticks on the way out to
/// devices (an integration reading `#` sees them as empty messages).
pub const RESUME_TOPIC: &str = "plantd/broker/resume";

/// Size of a message in the broker's log, as rumqttd counts it.
pub fn log_size(topic_len: usize, payload_len: usize) -> u64 {
    (4 + topic_len + payload_len) as u64
}

pub struct Pressure {
    /// Bytes of device messages on the gateway's filters passed to the router.
    appended: AtomicU64,
    /// Of those, bytes telemetry (or the devices module) has provably taken, or the log
    /// skipped.
    done: AtomicU64,
    /// Samples accepted by telemetry and not committed, as last reported.
    samples: AtomicU64,
    paused: AtomicBool,
    paused_since: Mutex<Option<Instant>>,
    /// Connections holding packets (they need a resume tick).
    holding: AtomicUsize,
    high_bytes: u64,
    high_samples: u64,
    /// When a QoS 0 drop was last logged (ms since `epoch`), to rate-limit the log.
    last_drop_log: AtomicU64,
    /// The same for drops of publishes over a device's rate.
    last_rate_log: AtomicU64,
    /// Publishes a second each device session may send (0: no limit); see `hold.rs`.
    device_msgs_per_s: u32,
    /// Devices whose queue in a module is full (`HoldDevice`), with the queues that hold
    /// them; `held_count` is its size, so the common case takes no lock.
    held_devices: Mutex<HashMap<String, HashSet<String>>>,
    held_count: AtomicUsize,
    epoch: Instant,
}

impl Pressure {
    pub fn new(high_bytes: u64, high_samples: u64) -> Self {
        Pressure {
            appended: AtomicU64::new(0),
            done: AtomicU64::new(0),
            samples: AtomicU64::new(0),
            paused: AtomicBool::new(false),
            paused_since: Mutex::new(None),
            holding: AtomicUsize::new(0),
            high_bytes: high_bytes.max(1),
            high_samples: high_samples.max(1),
            last_drop_log: AtomicU64::new(0),
            last_rate_log: AtomicU64::new(0),
            device_msgs_per_s: 0,
            held_devices: Mutex::new(HashMap::new()),
            held_count: AtomicUsize::new(0),
            epoch: Instant::now(),
        }
    }

    /// Holds each device session to `per_s` publishes a second (bursts of twice as many);
    /// 0: no limit.
    pub fn with_device_rate(mut self, per_s: u32) -> Self {
        self.device_msgs_per_s = per_s;
        self
    }

    pub fn device_rate(&self) -> u32 {
        self.device_msgs_per_s
    }

    /// A module's queue `by` for `device` is full (`hold`) or taken again.
    pub fn set_device_held(&self, device: &str, by: &str, hold: bool) {
        let Ok(mut held) = self.held_devices.lock() else {
            return;
        };
        if hold {
            held.entry(device.to_owned())
                .or_default()
                .insert(by.to_owned());
        } else if let Some(queues) = held.get_mut(device) {
            queues.remove(by);
            if queues.is_empty() {
                held.remove(device);
            }
        }
        self.held_count.store(held.len(), Ordering::Relaxed);
    }

    /// Whether a module asked to hold this device's publishes.
    pub fn device_held(&self, device: &str) -> bool {
        self.held_count.load(Ordering::Relaxed) > 0
            && self
                .held_devices
                .lock()
                .is_ok_and(|held| held.contains_key(device))
    }

    /// Bytes between the policy layer and telemetry.
    pub fn queued_bytes(&self) -> u64 {
        self.appended
            .load(Ordering::Relaxed)
            .saturating_sub(self.done.load(Ordering::Relaxed))
    }

    pub fn samples(&self) -> u64 {
        self.samples.load(Ordering::Relaxed)
    }

    pub fn appended(&self) -> u64 {
        self.appended.load(Ordering::Relaxed)
    }

    /// A device message went to the router on one of the gateway's filters.
    pub fn add_appended(&self, bytes: u64) {
        self.appended.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The gateway's running total of bytes taken (only it writes this).
    pub fn set_done(&self, bytes: u64) {
        self.done.store(bytes, Ordering::Relaxed);
    }

    pub fn set_samples(&self, samples: u64) {
        self.samples.store(samples, Ordering::Relaxed);
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    /// Whether a device PUBLISH must wait: paused, or the queue just crossed a high
    /// watermark (then it pauses, without waiting for the gateway to notice).
    pub fn must_hold(&self) -> bool {
        if self.paused.load(Ordering::Relaxed) {
            return true;
        }
        if self.queued_bytes() > self.high_bytes || self.samples() > self.high_samples {
            self.pause();
            return true;
        }
        false
    }

    fn pause(&self) {
        if self
            .paused
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok()
        {
            if let Ok(mut since) = self.paused_since.lock() {
                *since = Some(Instant::now());
            }
            metrics::counter!("plantd_mqtt_backpressure_pauses_total").increment(1);
            metrics::gauge!("plantd_mqtt_backpressure_paused").set(1.0);
            tracing::debug!(
                queued_bytes = self.queued_bytes(),
                samples = self.samples(),
                "ingest behind: holding device publishes"
            );
        }
    }

    /// Re-evaluates the watermarks (gateway thread); true when this call resumed ingest.
    pub fn update(&self) -> bool {
        let bytes = self.queued_bytes();
        let samples = self.samples();
        metrics::gauge!("plantd_mqtt_backpressure_queued_bytes").set(bytes as f64);
        metrics::gauge!("plantd_mqtt_backpressure_backlog_samples").set(samples as f64);
        if !self.is_paused() {
            if bytes > self.high_bytes || samples > self.high_samples {
                self.pause();
            }
            return false;
        }
        if bytes > self.high_bytes / 2 || samples > self.high_samples / 2 {
            return false;
        }
        if self
            .paused
            .compare_exchange(true, false, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        if let Ok(mut since) = self.paused_since.lock() {
            if let Some(start) = since.take() {
                metrics::histogram!("plantd_mqtt_backpressure_pause_seconds")
                    .record(start.elapsed().as_secs_f64());
            }
        }
        metrics::gauge!("plantd_mqtt_backpressure_paused").set(0.0);
        tracing::debug!(
            queued_bytes = bytes,
            samples,
            "ingest caught up: releasing device publishes"
        );
        true
    }

    pub fn start_holding(&self) {
        let n = self.holding.fetch_add(1, Ordering::Relaxed) + 1;
        metrics::gauge!("plantd_mqtt_backpressure_holding_connections").set(n as f64);
    }

    pub fn stop_holding(&self) {
        let n = self
            .holding
            .fetch_sub(1, Ordering::Relaxed)
            .saturating_sub(1);
        metrics::gauge!("plantd_mqtt_backpressure_holding_connections").set(n as f64);
    }

    pub fn holding(&self) -> usize {
        self.holding.load(Ordering::Relaxed)
    }

    /// Counts a QoS 0 publish dropped for being over the device's rate; logs at most once
    /// every 10 s (over all devices).
    pub fn dropped_over_rate(&self, client: &str) {
        crate::metrics::hot::DROPPED_RATE.increment(1);
        if self.log_due(&self.last_rate_log) {
            tracing::warn!(
                client,
                "device publishing faster than mqtt_device_max_msgs_per_s: QoS 0 beyond it is \
                 dropped, QoS 1 held back (counted in plantd_mqtt_dropped_total and \
                 plantd_mqtt_rate_held_total; logged at most every 10 s)"
            );
        }
    }

    /// Whether a log line guarded by `last` (ms since `epoch`) may be written now: at most
    /// one every 10 s.
    fn log_due(&self, last_log: &AtomicU64) -> bool {
        let now = self.epoch.elapsed().as_millis() as u64;
        let last = last_log.load(Ordering::Relaxed);
        (last == 0 || now.saturating_sub(last) >= 10_000)
            && last_log
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Counts a QoS 0 publish dropped while paused; logs at most once every 10 s.
    pub fn dropped_qos0(&self, client: &str) {
        crate::metrics::hot::DROPPED_QOS0.increment(1);
        if self.log_due(&self.last_drop_log) {
            tracing::warn!(
                client,
                "storage is behind: QoS 0 device publishes are dropped until it catches up \
                 (counted in plantd_mqtt_dropped_total; logged at most every 10 s)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_above_high_and_resumes_below_half() {
        let p = Pressure::new(1000, 100);
        assert!(!p.must_hold());
        p.add_appended(1500);
        assert!(p.must_hold(), "over the byte watermark");
        p.set_done(800);
        assert!(!p.update(), "700 bytes queued: above the low watermark");
        assert!(p.must_hold());
        p.set_done(1100);
        assert!(p.update(), "400 bytes queued: resumed");
        assert!(!p.must_hold());
        p.set_samples(101);
        assert!(p.must_hold(), "over the sample watermark");
        p.set_samples(50);
        assert!(p.update());
    }
}
