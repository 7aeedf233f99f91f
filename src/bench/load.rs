//! The load: N MQTT device clients (rumqttc) publishing ~80-byte JSON samples to
//! `devices/{id}/telemetry`, flat out or at a fixed total rate, and the one subscriber that
//! measures what a plain broker delivers.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::target::Result;

/// How the devices publish.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// As fast as each client's connection (and, at QoS 1, its in-flight window) allows.
    Flat(QoS),
    /// A fixed total rate in messages per second, spread evenly over the devices.
    Rate(u64, QoS),
}

impl Mode {
    pub fn qos(self) -> QoS {
        match self {
            Mode::Flat(q) | Mode::Rate(_, q) => q,
        }
    }

    pub fn label(self) -> String {
        let qos = self.qos() as u8;
        match self {
            Mode::Flat(_) => format!("flat out, QoS {qos}"),
            Mode::Rate(r, _) => format!("{r} msg/s, QoS {qos}"),
        }
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One sample, about 80 bytes, its `ts` the publish time in epoch milliseconds (made
/// unique per device), its metric named after the mode (`phase`): a device publishing
/// faster than one sample per millisecond runs its `ts` ahead of the clock, and a later
/// mode must not repeat a stored (device, metric, ts), which plantd would store once.
fn payload(phase: usize, ts: i64, seq: u64) -> String {
    format!(
        r#"{{"ts":{ts},"values":{{"phase_{phase}_spindle_vibration_rms":{}.{:06}}}}}"#,
        seq % 10,
        seq % 1_000_000
    )
}

/// Makes a sample payload from (device index, `ts` in epoch ms, the device's sequence
/// number in this mode).
pub type Body = Arc<dyn Fn(usize, i64, u64) -> String + Send + Sync>;

/// The ingest payload of mode `phase`.
pub fn ingest_body(phase: usize) -> Body {
    Arc::new(move |_, ts, seq| payload(phase, ts, seq))
}

struct Device {
    id: String,
    client: AsyncClient,
    events: JoinHandle<()>,
    /// The last `ts` this device published, kept across modes so that a mode publishing
    /// the same metric as an earlier one never repeats a (device, metric, ts).
    last_ts: Arc<AtomicI64>,
}

/// Connected devices and what they have done.
pub struct Fleet {
    devices: Vec<Device>,
    pub published: Arc<AtomicU64>,
    pub acked: Arc<AtomicU64>,
    pub errors: Arc<AtomicU64>,
}

fn options(id: &str, host: &str, port: u16, password: Option<&str>) -> MqttOptions {
    let mut opts = MqttOptions::new(id, host, port);
    opts.set_keep_alive(Duration::from_secs(60));
    opts.set_max_packet_size(1 << 20, 1 << 20);
    if let Some(password) = password {
        opts.set_credentials(id, password);
    }
    opts
}

async fn await_connack(events: &mut EventLoop) -> Result<()> {
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

impl Fleet {
    /// Connects every device (64 at a time; each CONNACK awaited).
    pub async fn connect(
        host: &str,
        port: u16,
        ids: &[String],
        passwords: Option<&[String]>,
    ) -> Result<Fleet> {
        let published = Arc::new(AtomicU64::new(0));
        let acked = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let gate = Arc::new(Semaphore::new(64));
        let mut pending = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let opts = options(
                id,
                host,
                port,
                passwords.and_then(|p| p.get(i)).map(|s| &**s),
            );
            let (gate, acked, errors, id) =
                (gate.clone(), acked.clone(), errors.clone(), id.clone());
            pending.push(tokio::spawn(async move {
                let permit = gate.acquire_owned().await.map_err(|e| e.to_string())?;
                let (client, mut events) = AsyncClient::new(opts, 64);
                tokio::time::timeout(Duration::from_secs(60), await_connack(&mut events))
                    .await
                    .map_err(|_| format!("{id}: no CONNACK within 60 s"))?
                    .map_err(|e| format!("{id}: {e}"))?;
                drop(permit);
                let events = tokio::spawn(async move {
                    loop {
                        match events.poll().await {
                            Ok(Event::Incoming(Packet::PubAck(_))) => {
                                acked.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(_) => {}
                            Err(_) => {
                                errors.fetch_add(1, Ordering::Relaxed);
                                return;
                            }
                        }
                    }
                });
                Ok::<_, String>(Device {
                    id,
                    client,
                    events,
                    last_ts: Arc::new(AtomicI64::new(0)),
                })
            }));
        }
        let mut devices = Vec::with_capacity(ids.len());
        for p in pending {
            devices.push(p.await.map_err(|e| e.to_string())??);
        }
        Ok(Fleet {
            devices,
            published,
            acked,
            errors,
        })
    }

    /// Starts every device publishing `body`; they stop when `stop` is set.
    pub fn publish(&self, mode: Mode, body: Body, stop: Arc<AtomicBool>) -> Vec<JoinHandle<()>> {
        let n = self.devices.len().max(1) as u64;
        self.devices
            .iter()
            .enumerate()
            .map(|(i, device)| {
                let (client, stop, published, body, last) = (
                    device.client.clone(),
                    stop.clone(),
                    self.published.clone(),
                    body.clone(),
                    device.last_ts.clone(),
                );
                let topic = format!("devices/{}/telemetry", device.id);
                tokio::spawn(async move {
                    let mut last_ts = last.load(Ordering::Relaxed);
                    let mut seq = 0u64;
                    let mut tick = match mode {
                        Mode::Rate(rate, _) => {
                            let period = Duration::from_nanos(1_000_000_000 * n / rate.max(1));
                            // Spread the devices over one period.
                            tokio::time::sleep(period * i as u32 / n as u32).await;
                            let mut t = tokio::time::interval(period);
                            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                            Some(t)
                        }
                        Mode::Flat(_) => None,
                    };
                    while !stop.load(Ordering::Relaxed) {
                        if let Some(t) = tick.as_mut() {
                            t.tick().await;
                        }
                        let ts = now_ms().max(last_ts + 1);
                        last_ts = ts;
                        last.store(ts, Ordering::Relaxed);
                        let body = body(i, ts, seq);
                        seq += 1;
                        if client
                            .publish(&topic, mode.qos(), false, body)
                            .await
                            .is_err()
                        {
                            return;
                        }
                        published.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect()
    }

    pub async fn disconnect(self) {
        for d in &self.devices {
            let _ = d.client.disconnect().await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        for d in self.devices {
            d.events.abort();
        }
    }
}

/// One client subscribed to every device's telemetry: what a plain broker delivers.
pub struct Subscriber {
    client: AsyncClient,
    events: JoinHandle<()>,
    pub received: Arc<AtomicU64>,
    /// While set, the delay (ms, now − the sample's ts) of each message is kept.
    pub record: Arc<AtomicBool>,
    pub delays_ms: Arc<Mutex<Vec<u32>>>,
}

impl Subscriber {
    pub async fn connect(host: &str, port: u16, qos: QoS) -> Result<Subscriber> {
        let mut opts = options("bench-subscriber", host, port, None);
        opts.set_inflight(1000);
        let (client, mut events) = AsyncClient::new(opts, 64);
        await_connack(&mut events).await?;
        client
            .subscribe("devices/+/telemetry", qos)
            .await
            .map_err(|e| e.to_string())?;
        let received = Arc::new(AtomicU64::new(0));
        let record = Arc::new(AtomicBool::new(false));
        let delays_ms = Arc::new(Mutex::new(Vec::new()));
        let (r, rec, d) = (received.clone(), record.clone(), delays_ms.clone());
        let events = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        r.fetch_add(1, Ordering::Relaxed);
                        if rec.load(Ordering::Relaxed) {
                            if let Some(ts) = sample_ts(&p.payload) {
                                let delay = (now_ms() - ts).clamp(0, u32::MAX as i64) as u32;
                                if let Ok(mut d) = d.lock() {
                                    d.push(delay);
                                }
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        Ok(Subscriber {
            client,
            events,
            received,
            record,
            delays_ms,
        })
    }

    pub async fn disconnect(self) {
        let _ = self.client.disconnect().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.events.abort();
    }
}

/// The `ts` of a payload made by [`payload`].
fn sample_ts(payload: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(payload).ok()?;
    let rest = text.strip_prefix(r#"{"ts":"#)?;
    let end = rest.find(',')?;
    rest[..end].parse().ok()
}

/// The `q` quantile (0..1) of `values` (sorted in place).
pub fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let index = ((values.len() - 1) as f64 * q).round() as usize;
    values.get(index).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_about_80_bytes_and_its_ts_reads_back() {
        let p = payload(3, 1_795_500_000_123, 12_345);
        assert!((70..=90).contains(&p.len()), "{} bytes: {p}", p.len());
        assert_eq!(sample_ts(p.as_bytes()), Some(1_795_500_000_123));
        let v: serde_json::Value = serde_json::from_str(&p).expect("JSON");
        assert!(v["values"]["phase_3_spindle_vibration_rms"].is_f64());
    }
}
