//! The alarm side of `plantd bench health`: the samples (a steady reading under every
//! limit; for the planned devices, one crossing value at a planned moment, recorded when it
//! is published), and one integration client on `plantd/events/alarm.raised` that keeps
//! each raised event, then matches it to the publish that caused it by device and value.
//!
//! Touches nothing but its own MQTT connection.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::task::JoinHandle;

use super::load::Body;
use super::target::Result;

/// The metric every health-bench sample carries and every rule watches.
pub const METRIC: &str = "vibration";
/// The threshold rules' limit; crossing values are far above it, steady ones far below.
pub const LIMIT: f64 = 500.0;

/// A steady reading, 1.0 to 1.5 (ISO 20816 group 2, rigid: zone C starts at 2.8 mm/s).
fn steady(seq: u64) -> f64 {
    1.0 + (seq % 100) as f64 / 200.0
}

/// The value device `i` crosses with: unique per device, so an event names its publish.
pub fn crossing_value(i: usize) -> f64 {
    1000.0 + i as f64
}

fn payload(ts: i64, value: f64) -> String {
    format!(r#"{{"ts":{ts},"values":{{"{METRIC}":{value}}}}}"#)
}

/// Steady readings only.
pub fn steady_body() -> Body {
    Arc::new(|_, ts, seq| payload(ts, steady(seq)))
}

/// Which devices cross, when (after the plan starts), and when each crossing was published.
pub struct Plan {
    start: Instant,
    at: Vec<Option<Duration>>,
    sent: Vec<OnceLock<Instant>>,
}

impl Plan {
    /// `crossing` devices cross once each, evenly spread over `window` after `offset`.
    pub fn new(n: usize, crossing: &[usize], offset: Duration, window: Duration) -> Plan {
        let mut at = vec![None; n];
        let c = crossing.len().max(1) as f64;
        for (k, &i) in crossing.iter().enumerate() {
            if let Some(slot) = at.get_mut(i) {
                *slot = Some(offset + window.mul_f64((k as f64 + 0.5) / c));
            }
        }
        Plan {
            start: Instant::now(),
            sent: (0..n).map(|_| OnceLock::new()).collect(),
            at,
        }
    }

    /// Device `i`'s payloads: its crossing once it is due, steady readings otherwise.
    pub fn body(self: &Arc<Plan>) -> Body {
        let plan = self.clone();
        Arc::new(move |i, ts, seq| {
            let due = plan
                .at
                .get(i)
                .copied()
                .flatten()
                .is_some_and(|at| plan.start.elapsed() >= at);
            match plan.sent.get(i) {
                Some(sent) if due && sent.set(Instant::now()).is_ok() => {
                    payload(ts, crossing_value(i))
                }
                _ => payload(ts, steady(seq)),
            }
        })
    }

    /// The devices whose crossing was published.
    pub fn crossed(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.sent.len()).filter(|&i| self.sent[i].get().is_some())
    }
}

/// One `alarm.raised` event as the listener received it.
pub struct Raised {
    at: Instant,
    device: String,
    value: f64,
    rule: String,
}

/// An integration (API token with the `mqtt` scope) subscribed to `alarm.raised` and
/// `workorder.created` (an order's event keeps its rule and device; `value` is NaN).
pub struct Listener {
    client: AsyncClient,
    events: JoinHandle<()>,
    pub raised: Arc<Mutex<Vec<Raised>>>,
    pub orders: Arc<Mutex<Vec<Raised>>>,
}

impl Listener {
    /// Connects and returns once the subscription is acknowledged.
    pub async fn connect(host: &str, port: u16, token: (&str, &str)) -> Result<Listener> {
        let mut opts = MqttOptions::new("bench.alarm.listener", host, port);
        opts.set_keep_alive(Duration::from_secs(60));
        opts.set_max_packet_size(1 << 20, 1 << 20);
        opts.set_inflight(1000);
        opts.set_credentials(token.0, token.1);
        let (client, mut events) = AsyncClient::new(opts, 64);
        for topic in [
            "plantd/events/alarm.raised",
            "plantd/events/workorder.created",
        ] {
            client
                .subscribe(topic, QoS::AtLeastOnce)
                .await
                .map_err(|e| e.to_string())?;
        }
        let subscribed = async {
            let mut acks = 0;
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        acks += 1;
                        if acks == 2 {
                            return Ok(());
                        }
                    }
                    Ok(_) => {}
                    Err(e) => return Err(format!("alarm listener: {e}")),
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), subscribed)
            .await
            .map_err(|_| "alarm listener: no SUBACK within 30 s".to_owned())??;
        let raised = Arc::new(Mutex::new(Vec::new()));
        let orders = Arc::new(Mutex::new(Vec::new()));
        let (keep, keep_orders) = (raised.clone(), orders.clone());
        let events = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let at = Instant::now();
                        let to = if p.topic.ends_with("workorder.created") {
                            &keep_orders
                        } else {
                            &keep
                        };
                        if let Some(r) = parse(at, &p.payload) {
                            if let Ok(mut all) = to.lock() {
                                all.push(r);
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        Ok(Listener {
            client,
            events,
            raised,
            orders,
        })
    }

    pub fn count(&self) -> usize {
        self.raised.lock().map(|r| r.len()).unwrap_or(0)
    }

    pub async fn disconnect(self) {
        let _ = self.client.disconnect().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.events.abort();
    }
}

fn parse(at: Instant, payload: &[u8]) -> Option<Raised> {
    let event: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let data = &event["data"];
    Some(Raised {
        at,
        device: data["device_id"].as_str()?.to_owned(),
        value: data["value"].as_f64().unwrap_or(f64::NAN),
        rule: data["rule_id"].as_str()?.to_owned(),
    })
}

/// Raised events matched to their publishes.
#[derive(Debug, Default)]
pub struct Matched {
    /// Publish → event received, ms, one per threshold alarm raised by a crossing.
    pub latencies_ms: Vec<f64>,
    /// Threshold alarms the published crossings should raise.
    pub expected: usize,
    /// Threshold events that match no crossing (a steady reading raised one: a bug).
    pub unmatched: usize,
    /// Events of the other rules (anomaly, rate, iso20816 on the crossing devices).
    pub other: usize,
}

/// Matches the events from index `from` on: a threshold rule's event on device `i` with
/// value [`crossing_value`]`(i)` was caused by that device's crossing.
pub fn matched(
    plan: &Plan,
    ids: &[String],
    thresholds: &HashMap<String, usize>,
    raised: &[Raised],
) -> Matched {
    let index: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, d)| (&**d, i)).collect();
    let crossed: HashSet<usize> = plan.crossed().collect();
    let mut out = Matched {
        expected: thresholds.values().filter(|d| crossed.contains(d)).count(),
        ..Matched::default()
    };
    for r in raised {
        if !thresholds.contains_key(&r.rule) {
            out.other += 1;
            continue;
        }
        let sent = index
            .get(r.device.as_str())
            .filter(|&&i| r.value == crossing_value(i))
            .and_then(|&i| plan.sent.get(i)?.get());
        match sent {
            Some(sent) => out
                .latencies_ms
                .push(r.at.saturating_duration_since(*sent).as_secs_f64() * 1000.0),
            None => out.unmatched += 1,
        }
    }
    out
}

/// Publish → `workorder.created` for the orders of threshold rules whose device crossed
/// (one crossing per device, so rule and device name the publish).
pub fn order_latencies(
    plan: &Plan,
    ids: &[String],
    thresholds: &HashMap<String, usize>,
    orders: &[Raised],
) -> Vec<f64> {
    let index: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, d)| (&**d, i)).collect();
    orders
        .iter()
        .filter(|o| thresholds.contains_key(&o.rule))
        .filter_map(|o| {
            let i = *index.get(o.device.as_str())?;
            let sent = plan.sent.get(i)?.get()?;
            Some(o.at.saturating_duration_since(*sent).as_secs_f64() * 1000.0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_crosses_each_planned_device_once_and_matches_its_event() {
        let plan = Arc::new(Plan::new(3, &[1], Duration::ZERO, Duration::from_millis(0)));
        let body = plan.body();
        assert!(body(0, 5, 0).contains(r#""vibration":1"#));
        assert!(
            body(1, 5, 0).contains(r#""vibration":1001"#),
            "{}",
            body(1, 5, 0)
        );
        assert!(
            body(1, 6, 1).contains(r#""vibration":1.005"#),
            "{}",
            body(1, 6, 1)
        );
        let ids: Vec<String> = (0..3).map(|i| format!("d{i}")).collect();
        let thresholds = HashMap::from([("r1".to_owned(), 1), ("r0".to_owned(), 0)]);
        let later = Instant::now() + Duration::from_millis(5);
        let event = |rule: &str, device: &str, value| Raised {
            at: later,
            device: device.into(),
            value,
            rule: rule.into(),
        };
        let m = matched(
            &plan,
            &ids,
            &thresholds,
            &[
                event("r1", "d1", 1001.0),
                event("r0", "d0", 1.0),
                event("anomaly", "d1", 1001.0),
            ],
        );
        assert_eq!((m.expected, m.latencies_ms.len()), (1, 1));
        assert_eq!((m.unmatched, m.other), (1, 1));
        assert!(m.latencies_ms[0] >= 5.0);
    }
}
