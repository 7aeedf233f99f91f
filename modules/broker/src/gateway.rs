//! The gateway: a local rumqttd link subscribed to the device topics plantd consumes,
//! turning each message into a contract message for the module that owns it.
//!
//! rumqttd keeps each filter's messages in a bounded in-memory log and, when a slow reader
//! falls behind a rotation, skips it forward: those messages, already acknowledged to their
//! publishers, are gone. The log's offsets are consecutive, so the gateway sees every skip
//! as a gap and counts it (`plantd_gateway_dropped_total`) and logs it; none is silent.
//! Back-pressure (`pressure.rs`, `pacer.rs`) keeps the log from rotating past the gateway
//! in the first place: the gateway reports what it has taken and resumes paused devices.
//!
//! Telemetry payloads go on in batches (`IngestPayloads`): everything the router has handed
//! over at once, up to [`MAX_BATCH`], in one actor message, sent before the gateway waits
//! again, reports to the pacer, or confirms a drain marker — so the pacer never counts a
//! payload as handed to telemetry before it was sent.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix::Recipient;
use plantd_contracts::devices::DeviceMessage;
use plantd_contracts::telemetry::{IngestPayload, IngestPayloads, IngestSource};
use plantd_contracts::time::now_ms;
use plantd_contracts::DeviceId;
use rumqttd::local::{LinkError, LinkRx};
use rumqttd::protocol::{Publish, PublishProperties};
use rumqttd::Notification;

use crate::acks::take_receipt;
use crate::pacer::Pacer;
use crate::pressure::log_size;

/// The filters the gateway subscribes to: telemetry, and the control topics a device
/// answers on (shadow reports, command results, firmware progress).
pub const FILTERS: &[&str] = &[
    "devices/+/telemetry",
    "devices/+/state/reported",
    "devices/+/commands/+/result",
    "devices/+/firmware/status",
];

/// Where the gateway hands device messages on.
pub struct Routes {
    pub telemetry: Recipient<IngestPayloads>,
    /// `state/reported` and `commands/{cmd}/result`.
    pub control: Recipient<DeviceMessage>,
    /// `firmware/status`.
    pub firmware: Recipient<DeviceMessage>,
}

/// A topic of the telemetry filter that no device can have (`.` is not allowed in device
/// ids): plantd publishes a marker there on shutdown, and once the gateway has seen it,
/// every message acknowledged before it has been handed on.
pub const DRAIN_TOPIC: &str = "devices/plantd.drain/telemetry";

/// The most telemetry payloads sent in one message.
pub const MAX_BATCH: usize = 256;

/// Telemetry payloads taken from the router and not sent on yet, with their log sizes.
#[derive(Default)]
struct Batch {
    payloads: Vec<IngestPayload>,
    bytes: u64,
}

impl Batch {
    /// Sends what is batched to telemetry and tells the pacer it was handed on.
    fn send(&mut self, routes: &Routes, pacer: &mut Pacer) {
        if self.payloads.is_empty() {
            return;
        }
        let payloads = std::mem::replace(&mut self.payloads, Vec::with_capacity(MAX_BATCH));
        let messages = payloads.len() as u64;
        routes.telemetry.do_send(IngestPayloads { payloads });
        pacer.handed(messages, std::mem::take(&mut self.bytes));
    }
}

/// The next offset expected in each filter's log (logs start at 0 with the broker).
#[derive(Default)]
struct Gaps {
    next: [u64; FILTERS.len()],
}

impl Gaps {
    /// Records a message at `offset` of the filter that matches `topic`; returns how many
    /// messages the log skipped before it.
    fn observe(&mut self, topic: &[u8], offset: u64) -> u64 {
        let topic = std::str::from_utf8(topic).unwrap_or("");
        let Some(index) = FILTERS
            .iter()
            .position(|f| rumqttd::protocol::matches(topic, f))
        else {
            return 0;
        };
        let skipped = offset.saturating_sub(self.next[index]);
        self.next[index] = self.next[index].max(offset + 1);
        skipped
    }
}

/// Runs until the router goes away; `alive` turns false then.
pub fn run(
    mut rx: LinkRx,
    routes: Routes,
    mut pacer: Pacer,
    alive: Arc<AtomicBool>,
    drained: Arc<AtomicU64>,
) {
    let mut gaps = Gaps::default();
    let mut batch = Batch::default();
    loop {
        let appended = pacer.appended();
        // With payloads batched, only look for more that are already there.
        let deadline = match batch.payloads.is_empty() {
            true => Instant::now() + pacer.wait(),
            false => Instant::now(),
        };
        match rx.recv_deadline(deadline) {
            Ok(Some(Notification::Forward(forward))) => {
                if let Some((_, offset)) = forward.cursor {
                    let skipped = gaps.observe(&forward.publish.topic, offset);
                    if skipped > 0 {
                        pacer.skipped(skipped);
                        metrics::counter!("plantd_gateway_dropped_total").increment(skipped);
                        tracing::error!(
                            skipped,
                            "broker log rotated past the gateway: acknowledged device messages were lost \
                             (raise mqtt_segment_bytes / mqtt_segment_count)"
                        );
                    }
                }
                if forward.publish.topic == DRAIN_TOPIC.as_bytes() {
                    batch.send(&routes, &mut pacer);
                    let marker = std::str::from_utf8(&forward.publish.payload)
                        .ok()
                        .and_then(|p| p.parse::<u64>().ok())
                        .unwrap_or(0);
                    drained.fetch_max(marker, Ordering::SeqCst);
                    continue;
                }
                let size = log_size(forward.publish.topic.len(), forward.publish.payload.len());
                if route(
                    forward.publish,
                    forward.properties,
                    &routes,
                    &mut batch.payloads,
                ) {
                    batch.bytes += size;
                    if batch.payloads.len() >= MAX_BATCH {
                        batch.send(&routes, &mut pacer);
                    }
                } else {
                    pacer.done(size);
                }
                if batch.payloads.is_empty() {
                    pacer.tick(None);
                }
            }
            // The router pauses a link whose queue filled; it must be told to resume, or
            // ingest stalls for good.
            Ok(Some(Notification::Unschedule)) => {
                if let Err(e) = rx.ready() {
                    batch.send(&routes, &mut pacer);
                    tracing::error!(error = %e, "MQTT gateway cannot resume its link");
                    break;
                }
            }
            Ok(_) => {}
            // Nothing more handed over now: the batch goes.
            Err(LinkError::RecvTimeout(flume::RecvTimeoutError::Timeout))
                if !batch.payloads.is_empty() =>
            {
                batch.send(&routes, &mut pacer);
                pacer.tick(None);
            }
            Err(LinkError::RecvTimeout(flume::RecvTimeoutError::Timeout)) => {
                pacer.tick(Some(appended));
            }
            Err(e) => {
                batch.send(&routes, &mut pacer);
                tracing::error!(error = %e, "MQTT gateway link closed");
                break;
            }
        }
    }
    alive.store(false, Ordering::Relaxed);
}

/// Hands a message on; true when it is a telemetry payload (added to `telemetry`).
fn route(
    publish: Publish,
    mut props: Option<PublishProperties>,
    routes: &Routes,
    telemetry: &mut Vec<IngestPayload>,
) -> bool {
    let Ok(topic) = std::str::from_utf8(&publish.topic) else {
        return false;
    };
    let mut parts = topic.splitn(3, '/');
    let (Some("devices"), Some(id), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(device_id) = DeviceId::parse(id) else {
        return false;
    };
    let span = tracing::debug_span!("mqtt_in", device = %device_id, topic = rest, bytes = publish.payload.len());
    let _guard = span.enter();
    crate::metrics::hot::GATEWAY_MESSAGES.increment(1);
    if rest == "telemetry" {
        telemetry.push(IngestPayload {
            device_id,
            payload: publish.payload.to_vec(),
            received_at: now_ms(),
            source: IngestSource::Mqtt,
            receipt: take_receipt(&mut props),
        });
        return true;
    }
    let to = if rest == "firmware/status" {
        &routes.firmware
    } else {
        &routes.control
    };
    to.do_send(DeviceMessage {
        device_id,
        subtopic: rest.to_owned(),
        payload: publish.payload.to_vec(),
        received_at: now_ms(),
    });
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_in_a_filter_log_are_counted_once() {
        let mut gaps = Gaps::default();
        let t = b"devices/a/telemetry";
        assert_eq!(gaps.observe(t, 0), 0);
        assert_eq!(gaps.observe(t, 1), 0);
        assert_eq!(gaps.observe(t, 5), 3, "offsets 2, 3, 4 were skipped");
        assert_eq!(gaps.observe(t, 6), 0);
        assert_eq!(gaps.observe(b"plant/other", 100), 0, "not a gateway filter");
    }
}
