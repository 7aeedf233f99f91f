//! `plantd bench ingest`: N devices publishing over real MQTT to a running plantd, then the
//! same publishers against a private Mosquitto, in one run, so plantd's full pipeline
//! (broker, validation, storage) can be stated as a ratio of a plain broker's delivery.
//!
//! For each N and each mode (flat out at QoS 0 and 1; a fixed total rate at QoS 1) it
//! measures over a window after a warm-up:
//! - plantd: samples stored per second (`plantd_telemetry_samples_stored_total`), publish →
//!   stored latency p50/p99, CPU (cores, from `/proc/<pid>/stat`), peak RSS (VmHWM), and
//!   what back-pressure did (pauses, QoS 0 messages dropped);
//! - Mosquitto: messages delivered per second to one subscriber of `devices/+/telemetry`,
//!   delivery latency p50/p99 (subscriber's clock − the sample's `ts`), its CPU and RSS.
//!
//! Publish → stored latency: when plantd exports the histogram
//! `plantd_telemetry_commit_delay_seconds` (commit time − sample ts, which is the publish
//! time), p50/p99 come from its buckets' counts in the window; otherwise the bench samples, every
//! 10 ms, how many samples the devices have published and how many plantd has stored, and
//! takes the k-th sample's latency as the time stored reached k minus the time published
//! reached k (the pipeline is first in, first out; resolution ±10 ms).
//!
//! `plantd bench health` (`health.rs`, `alarms.rs`) runs the same modes with asset-health
//! rules loaded and measures publish → alarm latency.
//!
//! Touches nothing but the processes it starts (or the plantd it is pointed at).

mod alarms;
mod health;
mod load;
mod reports;
mod target;
mod ui;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use rumqttc::QoS;

use load::{quantile, Body, Fleet, Mode, Subscriber};
use target::{find_mosquitto, reset_peak, usage, Mosquitto, Plantd, Result, Usage};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Ingest throughput and latency, plantd next to Mosquitto.
    Ingest(IngestArgs),
    /// Ingest with asset-health rules loaded (vs none), and publish → alarm latency.
    Health(health::HealthArgs),
    /// The maintenance report over a year of data and 10,000 work orders.
    Reports(reports::ReportsArgs),
    /// Server time of every main page with 1,000 devices and 10,000 work orders, and each
    /// page's own JavaScript and CSS.
    Ui(ui::UiArgs),
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Numbers of devices, e.g. 100,1000.
    #[arg(long, value_delimiter = ',', default_value = "100")]
    devices: Vec<usize>,
    /// Seconds measured per mode (after a warm-up of 3 s).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Total messages per second of the fixed-rate mode (0: skip it).
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// Skip the flat-out modes.
    #[arg(long)]
    no_flat: bool,
    /// Skip Mosquitto even when it is installed.
    #[arg(long)]
    no_mosquitto: bool,
    /// Measure Mosquitto only.
    #[arg(long)]
    no_plantd: bool,
    /// Target a running plantd at this base URL instead of starting one (needs --mqtt and
    /// --token; give --pid for CPU and memory figures).
    #[arg(long, requires_all = ["mqtt", "token"])]
    url: Option<String>,
    /// MQTT host:port of that plantd.
    #[arg(long)]
    mqtt: Option<String>,
    /// An admin token of that plantd (to provision devices and read /metrics).
    #[arg(long)]
    token: Option<String>,
    /// That plantd's process id.
    #[arg(long)]
    pid: Option<u32>,
}

/// What one mode measured on one target.
#[derive(Debug, Default, Clone)]
struct Row {
    devices: usize,
    mode: String,
    target: &'static str,
    published_per_s: f64,
    /// plantd: samples stored per second; Mosquitto: messages delivered per second.
    done_per_s: f64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    latency_source: &'static str,
    cpu_cores: Option<f64>,
    peak_rss_mib: Option<f64>,
    notes: String,
}

pub fn main(command: BenchCommand) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("plantd bench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = match command {
        BenchCommand::Ingest(args) => runtime.block_on(ingest(args)),
        BenchCommand::Health(args) => runtime.block_on(health::run(args)),
        BenchCommand::Reports(args) => runtime.block_on(reports::run(args)),
        BenchCommand::Ui(args) => runtime.block_on(ui::run(args)),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plantd bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn modes(args: &IngestArgs) -> Vec<Mode> {
    let mut modes = Vec::new();
    if !args.no_flat {
        modes.push(Mode::Flat(QoS::AtMostOnce));
        modes.push(Mode::Flat(QoS::AtLeastOnce));
    }
    if args.rate > 0 {
        modes.push(Mode::Rate(args.rate, QoS::AtLeastOnce));
    }
    modes
}

async fn ingest(args: IngestArgs) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("plantd-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let mosquitto = if args.no_mosquitto {
        None
    } else {
        find_mosquitto()
    };
    if mosquitto.is_none() && !args.no_mosquitto {
        eprintln!("(no mosquitto binary found: plantd only; `apt-get install mosquitto`)");
    }
    let mut rows = Vec::new();
    for &n in &args.devices {
        if !args.no_plantd {
            rows.extend(bench_plantd(&args, n, &dir).await?);
        }
        if let Some(binary) = &mosquitto {
            rows.extend(bench_mosquitto(&args, n, binary, &dir).await?);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    print_table(&rows);
    print_goals(&rows);
    Ok(())
}

/// The flat-out ratios issue 13 sets goals for, one line each: plantd's stored/s over
/// Mosquitto's delivered/s in the same run (QoS 0: at least 1; QoS 1: at least 2).
fn print_goals(rows: &[Row]) {
    for (qos, goal) in [(QoS::AtMostOnce, 1.0), (QoS::AtLeastOnce, 2.0)] {
        let mode = Mode::Flat(qos).label();
        for p in rows
            .iter()
            .filter(|r| r.target == "plantd" && r.mode == mode)
        {
            let peer = rows
                .iter()
                .find(|m| m.target == "Mosquitto" && m.mode == mode && m.devices == p.devices)
                .filter(|m| m.done_per_s > 0.0);
            if let Some(m) = peer {
                let ratio = p.done_per_s / m.done_per_s;
                println!(
                    "{} devices, {mode}: plantd stored {:.0}/s ÷ Mosquitto delivered {:.0}/s = \
                     {ratio:.2}× (goal ≥ {goal}×: {})",
                    p.devices,
                    p.done_per_s,
                    m.done_per_s,
                    if ratio >= goal { "met" } else { "NOT met" }
                );
            }
        }
    }
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("bench-{i:05}")).collect()
}

/// Starts blocking work (HTTP to plantd) off the async workers, now.
fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> impl std::future::Future<Output = Result<T>> {
    let task = tokio::task::spawn_blocking(f);
    async move { task.await.map_err(|e| e.to_string()) }
}

/// Runs `seed_and_time` against a plantd of its own in a scratch data folder (named after
/// `name` and this process), on a blocking thread; stops plantd and removes the folder
/// whatever the outcome. The frame of the benches that time one seeded plantd.
async fn on_scratch_plantd<A: Send + 'static>(
    name: &str,
    args: A,
    seed_and_time: fn(&A, &Plantd) -> Result<Vec<String>>,
) -> Result<Vec<String>> {
    let dir = std::env::temp_dir().join(format!("plantd-bench-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let outcome = blocking({
        let dir = dir.clone();
        move || -> Result<Vec<String>> {
            let plantd = Arc::new(Plantd::start(&dir)?);
            let outcome = seed_and_time(&args, &plantd);
            if let Ok(p) = Arc::try_unwrap(plantd) {
                p.stop();
            }
            outcome
        }
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    outcome?
}

async fn bench_plantd(args: &IngestArgs, n: usize, dir: &std::path::Path) -> Result<Vec<Row>> {
    let plantd = Arc::new(match &args.url {
        Some(url) => {
            let mqtt = args.mqtt.clone().unwrap_or_default();
            let (host, port) = mqtt
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h.to_owned(), p.parse().ok()?)))
                .ok_or("--mqtt is host:port")?;
            Plantd::existing(
                url.trim_end_matches('/').to_owned(),
                (host, port),
                args.token.clone().unwrap_or_default(),
                args.pid,
            )
        }
        None => {
            let dir = dir.to_path_buf();
            blocking(move || Plantd::start(&dir)).await??
        }
    });
    eprintln!("plantd: provisioning and connecting {n} devices");
    let ids = ids(n);
    let passwords = {
        let (p, ids) = (plantd.clone(), ids.clone());
        blocking(move || p.provision(&ids, |_| None)).await??
    };
    let fleet = Fleet::connect(&plantd.mqtt.0, plantd.mqtt.1, &ids, Some(&passwords)).await?;
    let mut rows = Vec::new();
    for (phase, mode) in modes(args).into_iter().enumerate() {
        eprintln!("plantd, {n} devices, {}", mode.label());
        let body = load::ingest_body(phase);
        rows.push(measure_plantd(args.seconds, &plantd, &fleet, n, mode, body).await?);
    }
    fleet.disconnect().await;
    if let Ok(plantd) = Arc::try_unwrap(plantd) {
        blocking(move || plantd.stop()).await?;
    }
    Ok(rows)
}

/// Waits until the previous mode has drained: nothing held or queued, and the stored
/// counter no longer moving.
async fn drained(plantd: &Arc<Plantd>) -> Result<f64> {
    let mut last = -1.0;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let p = plantd.clone();
        let text = blocking(move || p.metrics()).await??;
        let stored = target::sum_of(&text, "plantd_telemetry_samples_stored_total", "");
        let busy = [
            "plantd_mqtt_backpressure_paused",
            "plantd_mqtt_backpressure_holding_connections",
            "plantd_mqtt_backpressure_queued_bytes",
        ]
        .iter()
        .any(|g| target::sum_of(&text, g, "") > 0.0);
        if (stored == last && !busy) || Instant::now() > deadline {
            return Ok(stored);
        }
        last = stored;
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
}

const WARM_UP: Duration = Duration::from_secs(3);

async fn measure_plantd(
    seconds: u64,
    plantd: &Arc<Plantd>,
    fleet: &Fleet,
    n: usize,
    mode: Mode,
    body: Body,
) -> Result<Row> {
    let base_stored = drained(plantd).await?;
    if let Some(pid) = plantd.pid {
        reset_peak(pid);
    }
    let base_published = fleet.published.load(Ordering::Relaxed);
    let stop = Arc::new(AtomicBool::new(false));
    let publishers = fleet.publish(mode, body, stop.clone());
    tokio::time::sleep(WARM_UP).await;
    let window = Duration::from_secs(seconds);
    let snapshot = |p: Arc<Plantd>| {
        blocking(move || -> Result<(String, Usage, Instant)> {
            let text = p.metrics()?;
            Ok((text, p.pid.map(usage).unwrap_or_default(), Instant::now()))
        })
    };
    let (m0, u0, t0) = snapshot(plantd.clone()).await??;
    let p0 = fleet.published.load(Ordering::Relaxed);
    let a0 = fleet.acked.load(Ordering::Relaxed);
    // The timeline for the latency estimate: (time, published, stored) every 10 ms.
    let sampling = Arc::new(AtomicBool::new(matches!(mode, Mode::Rate(..))));
    let timeline = {
        let (p, published, sampling) = (plantd.clone(), fleet.published.clone(), sampling.clone());
        blocking(move || {
            let mut points = Vec::new();
            while sampling.load(Ordering::Relaxed) {
                let at = Instant::now();
                let published = published.load(Ordering::Relaxed);
                if let Ok(stored) = p.counter("plantd_telemetry_samples_stored_total") {
                    points.push((at, published, stored));
                }
                std::thread::sleep(Duration::from_millis(10).saturating_sub(at.elapsed()));
            }
            points
        })
    };
    tokio::time::sleep(window).await;
    let (m1, u1, t1) = snapshot(plantd.clone()).await??;
    let p1 = fleet.published.load(Ordering::Relaxed);
    let a1 = fleet.acked.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    if matches!(mode, Mode::Rate(..)) {
        // Let what was published in the window be stored before the timeline ends.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    sampling.store(false, Ordering::Relaxed);
    let timeline = timeline.await?;
    for p in publishers {
        let _ = p.await;
    }
    let dt = t1.duration_since(t0).as_secs_f64();
    let counter = |text: &str, name: &str, labels: &str| target::sum_of(text, name, labels);
    let stored = counter(&m1, "plantd_telemetry_samples_stored_total", "")
        - counter(&m0, "plantd_telemetry_samples_stored_total", "");
    let dropped = counter(&m1, "plantd_mqtt_dropped_total", "")
        - counter(&m0, "plantd_mqtt_dropped_total", "");
    let pauses = counter(&m1, "plantd_mqtt_backpressure_pauses_total", "")
        - counter(&m0, "plantd_mqtt_backpressure_pauses_total", "");
    let lost = counter(&m1, "plantd_gateway_dropped_total", "");
    let mut row = Row {
        devices: n,
        mode: mode.label(),
        target: "plantd",
        published_per_s: (p1 - p0) as f64 / dt,
        done_per_s: stored / dt,
        cpu_cores: plantd.pid.map(|_| (u1.cpu_seconds - u0.cpu_seconds) / dt),
        peak_rss_mib: plantd
            .pid
            .map(|pid| usage(pid).peak_rss_kib as f64 / 1024.0),
        notes: format!(
            "{:.0} acked/s, {pauses:.0} pauses, {dropped:.0} QoS 0 dropped, {lost:.0} lost, \
             {} connections lost",
            (a1 - a0) as f64 / dt,
            fleet.errors.load(Ordering::Relaxed)
        ),
        ..Row::default()
    };
    if matches!(mode, Mode::Rate(..)) {
        let mut counted = fifo_delays(&timeline, base_published, base_stored, p0, p1);
        let counted = (quantile(&mut counted, 0.5), quantile(&mut counted, 0.99));
        let delays = Buckets::between("plantd_telemetry_commit_delay_seconds", &m0, &m1);
        if let (Some(p50), Some(p99)) = (delays.quantile(0.5), delays.quantile(0.99)) {
            (row.p50_ms, row.p99_ms) = (Some(p50), Some(p99));
            row.notes += &format!(
                ", {:.1}% stored within 50 ms; from counts every 10 ms: p50 {:.0} / p99 {:.0} ms",
                delays.share_within(0.05) * 100.0,
                counted.0.unwrap_or(f64::NAN),
                counted.1.unwrap_or(f64::NAN),
            );
            row.latency_source = "commit-delay histogram of the window (linear within buckets)";
        } else {
            (row.p50_ms, row.p99_ms) = counted;
            row.latency_source = "published/stored counts every 10 ms";
        }
    }
    Ok(row)
}

/// A histogram's counts (upper bound in seconds, cumulative count) recorded between two
/// scrapes of /metrics.
struct Buckets(Vec<(f64, f64)>);

impl Buckets {
    /// Of histogram `name` (e.g. `plantd_telemetry_commit_delay_seconds`).
    fn between(name: &str, before: &str, after: &str) -> Buckets {
        let prefix = format!("{name}_bucket{{le=\"");
        let parse = |text: &str| -> Vec<(f64, f64)> {
            text.lines()
                .filter_map(|l| {
                    let (le, count) = l.strip_prefix(&prefix)?.split_once("\"} ")?;
                    Some((le.parse().ok()?, count.trim().parse().ok()?))
                })
                .collect()
        };
        let before = parse(before);
        Buckets(
            parse(after)
                .into_iter()
                .map(|(le, n)| {
                    let n0 = before.iter().find(|b| b.0 == le).map_or(0.0, |b| b.1);
                    (le, n - n0)
                })
                .collect(),
        )
    }

    /// The `q` quantile in ms, linear within its bucket (as Prometheus'
    /// `histogram_quantile`); `None` without recordings.
    fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.0.last()?.1;
        if total <= 0.0 {
            return None;
        }
        let rank = q * total;
        let mut below = (0.0, 0.0);
        for &(le, n) in &self.0 {
            if n >= rank {
                if le.is_infinite() {
                    return Some(below.0 * 1000.0);
                }
                let part = if n > below.1 {
                    (rank - below.1) / (n - below.1)
                } else {
                    1.0
                };
                return Some((below.0 + (le - below.0) * part) * 1000.0);
            }
            below = (le, n);
        }
        None
    }

    /// The share of recordings at or below `seconds` (a bucket bound).
    fn share_within(&self, seconds: f64) -> f64 {
        let total = self.0.last().map_or(0.0, |b| b.1);
        let within = self.0.iter().find(|b| b.0 == seconds).map_or(0.0, |b| b.1);
        if total > 0.0 {
            within / total
        } else {
            0.0
        }
    }
}

/// Publish → stored delays (ms) of the samples published between `p0` and `p1`, from a
/// timeline of (time, published, stored) counts and the counts before the mode started.
fn fifo_delays(
    timeline: &[(Instant, u64, f64)],
    base_published: u64,
    base_stored: f64,
    p0: u64,
    p1: u64,
) -> Vec<f64> {
    let mut delays = Vec::new();
    let mut published_at = 0usize;
    for (k, stored_at) in timeline.iter().enumerate().flat_map(|(i, (_, _, stored))| {
        let done = (stored - base_stored).max(0.0) as u64;
        let before = if i == 0 {
            0
        } else {
            (timeline[i - 1].2 - base_stored).max(0.0) as u64
        };
        (before + 1..=done).map(move |k| (k, i))
    }) {
        let sample = base_published + k;
        if sample <= p0 || sample > p1 {
            continue;
        }
        while published_at < timeline.len() && timeline[published_at].1 < sample {
            published_at += 1;
        }
        if published_at <= stored_at {
            let delay = timeline[stored_at]
                .0
                .duration_since(timeline[published_at].0);
            delays.push(delay.as_secs_f64() * 1000.0);
        }
    }
    delays
}

async fn bench_mosquitto(
    args: &IngestArgs,
    n: usize,
    binary: &std::path::Path,
    dir: &std::path::Path,
) -> Result<Vec<Row>> {
    let (binary, dir) = (binary.to_path_buf(), dir.to_path_buf());
    let mosquitto = blocking(move || Mosquitto::start(&binary, &dir)).await??;
    let port = mosquitto.port;
    let mut rows = Vec::new();
    for (phase, mode) in modes(args).into_iter().enumerate() {
        eprintln!("mosquitto, {n} devices, {}", mode.label());
        // Fresh clean sessions per mode: QoS 1 publishers left with full in-flight windows
        // by a flat-out mode would otherwise throttle the next one.
        let fleet = Fleet::connect("127.0.0.1", port, &ids(n), None).await?;
        let subscriber = Subscriber::connect("127.0.0.1", port, mode.qos()).await?;
        let pid = mosquitto.pid();
        reset_peak(pid);
        let stop = Arc::new(AtomicBool::new(false));
        let publishers = fleet.publish(mode, load::ingest_body(phase), stop.clone());
        tokio::time::sleep(WARM_UP).await;
        let (u0, t0) = (usage(pid), Instant::now());
        let (p0, r0) = (
            fleet.published.load(Ordering::Relaxed),
            subscriber.received.load(Ordering::Relaxed),
        );
        subscriber.record.store(true, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(args.seconds)).await;
        subscriber.record.store(false, Ordering::Relaxed);
        let (u1, t1) = (usage(pid), Instant::now());
        let (p1, r1) = (
            fleet.published.load(Ordering::Relaxed),
            subscriber.received.load(Ordering::Relaxed),
        );
        stop.store(true, Ordering::Relaxed);
        for p in publishers {
            let _ = p.await;
        }
        let dt = t1.duration_since(t0).as_secs_f64();
        let mut row = Row {
            devices: n,
            mode: mode.label(),
            target: "Mosquitto",
            published_per_s: (p1 - p0) as f64 / dt,
            done_per_s: (r1 - r0) as f64 / dt,
            cpu_cores: Some((u1.cpu_seconds - u0.cpu_seconds) / dt),
            peak_rss_mib: Some(usage(pid).peak_rss_kib as f64 / 1024.0),
            ..Row::default()
        };
        if matches!(mode, Mode::Rate(..)) {
            let mut delays: Vec<f64> = subscriber
                .delays_ms
                .lock()
                .map(|d| d.iter().map(|&v| f64::from(v)).collect())
                .unwrap_or_default();
            row.p50_ms = quantile(&mut delays, 0.5);
            row.p99_ms = quantile(&mut delays, 0.99);
            row.latency_source = "subscriber clock − sample ts (1 ms resolution)";
        }
        subscriber.disconnect().await;
        fleet.disconnect().await;
        // Let the broker empty its queues before the next mode.
        tokio::time::sleep(Duration::from_secs(2)).await;
        rows.push(row);
    }
    blocking(move || mosquitto.stop()).await?;
    Ok(rows)
}

fn print_table(rows: &[Row]) {
    println!();
    println!("| devices | mode | target | published/s | stored (plantd) or delivered (Mosquitto)/s | plantd ÷ Mosquitto | p50 ms | p99 ms | CPU (cores) | peak RSS MiB | notes |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for row in rows {
        let ratio = rows
            .iter()
            .find(|r| r.target == "Mosquitto" && r.devices == row.devices && r.mode == row.mode)
            .filter(|_| row.target == "plantd")
            .filter(|m| m.done_per_s > 0.0)
            .map(|m| format!("{:.2}", row.done_per_s / m.done_per_s))
            .unwrap_or_default();
        let notes = [row.notes.as_str(), row.latency_source]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        println!(
            "| {} | {} | {} | {:.0} | {:.0} | {} | {} | {} |",
            row.devices,
            row.mode,
            row.target,
            row.published_per_s,
            row.done_per_s,
            ratio,
            row.figures(),
            notes
        );
    }
}

/// A figure with `digits` decimals, or a dash.
fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "–".into())
}

impl Row {
    /// The table cells "p50 ms | p99 ms | CPU | peak RSS MiB".
    fn figures(&self) -> String {
        format!(
            "{} | {} | {} | {}",
            fmt(self.p50_ms, 1),
            fmt(self.p99_ms, 1),
            fmt(self.cpu_cores, 2),
            fmt(self.peak_rss_mib, 0)
        )
    }
}
