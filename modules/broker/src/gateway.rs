//! The gateway: a local rumqttd link subscribed to the device topics plantd consumes,
//! turning each message into a contract message for the module that owns it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix::Recipient;
use plantd_contracts::telemetry::{IngestPayload, IngestSource};
use plantd_contracts::time::now_ms;
use plantd_contracts::DeviceId;
use rumqttd::local::LinkRx;
use rumqttd::protocol::Publish;
use rumqttd::Notification;

/// The filters the gateway subscribes to.
pub const FILTERS: &[&str] = &["devices/+/telemetry"];

/// Runs until the router goes away; `alive` turns false then.
pub fn run(mut rx: LinkRx, telemetry: Recipient<IngestPayload>, alive: Arc<AtomicBool>) {
    loop {
        match rx.recv() {
            Ok(Some(Notification::Forward(forward))) => route(forward.publish, &telemetry),
            // The router pauses a link whose queue filled; it must be told to resume, or
            // ingest stalls for good.
            Ok(Some(Notification::Unschedule)) => {
                if let Err(e) = rx.ready() {
                    tracing::error!(error = %e, "MQTT gateway cannot resume its link");
                    break;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "MQTT gateway link closed");
                break;
            }
        }
    }
    alive.store(false, Ordering::Relaxed);
}

fn route(publish: Publish, telemetry: &Recipient<IngestPayload>) {
    let Ok(topic) = std::str::from_utf8(&publish.topic) else {
        return;
    };
    let mut parts = topic.splitn(3, '/');
    let (Some("devices"), Some(id), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let Ok(device_id) = DeviceId::parse(id) else {
        return;
    };
    let span = tracing::debug_span!("mqtt_in", device = %device_id, topic = rest, bytes = publish.payload.len());
    let _guard = span.enter();
    metrics::counter!("plantd_gateway_messages_total").increment(1);
    if rest == "telemetry" {
        telemetry.do_send(IngestPayload {
            device_id,
            payload: publish.payload.to_vec(),
            received_at: now_ms(),
            source: IngestSource::Mqtt,
        });
    }
}
