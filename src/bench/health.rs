//! `plantd bench health`: asset-health evaluation under ingest load. One private plantd,
//! its devices attached to an asset tree (a site, one ISO 20816 group 2 rigid asset per 20
//! devices), runs the ingest modes of `bench ingest` (steady readings under every limit)
//! with no rules, then again with `--rules` rules (mostly thresholds with deadband and no
//! on-delay, one device each; some ISO 20816 on an asset, some anomaly, some rate): stored
//! samples/s with ÷ without rules. Then a fixed-rate run in which a share of the devices each cross their threshold
//! once at a planned moment, with publish → alarm latency measured at an integration client
//! on `plantd/events/alarm.raised` (and publish → work order on `workorder.created`: every
//! threshold rule asks for one), and received → stored from
//! `plantd_alarm_raise_latency_seconds`. With `--plans`, the modes run a third time with
//! that many meter plans (run hours of the devices' metric) counting from the stream.
//!
//! Touches nothing but the processes it starts.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use rumqttc::QoS;
use serde_json::{json, Value};

use super::alarms::{self, Listener, Plan, LIMIT, METRIC};
use super::load::{quantile, Fleet, Mode};
use super::target::{usage, Plantd, Result};
use super::{blocking, drained, fmt, ids, measure_plantd, Buckets, Row, WARM_UP};

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Number of devices.
    #[arg(long, default_value_t = 1000)]
    devices: usize,
    /// Rules loaded (at least 4): 80% threshold, 10% anomaly, 5% rate, 5% iso20816.
    #[arg(long, default_value_t = 1000)]
    rules: usize,
    /// Seconds measured per mode (after a warm-up of 3 s).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Total messages per second of the fixed-rate modes.
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// Share of the devices that cross their threshold once in the alarm-latency run.
    #[arg(long, default_value_t = 0.2)]
    crossing: f64,
    /// Meter plans (run hours, one device each) added for a third run of the modes (0: skip).
    #[arg(long, default_value_t = 1000)]
    plans: usize,
    /// Skip the flat-out modes.
    #[arg(long)]
    no_flat: bool,
}

/// The rules created: threshold rule id → its device's index; a summary of the mix.
struct RuleSet {
    thresholds: HashMap<String, usize>,
    mix: String,
}

/// What the alarm-latency run measured.
struct Latency {
    devices: usize,
    rules: usize,
    published_per_s: f64,
    stored_per_s: f64,
    crossings: usize,
    matched: alarms::Matched,
    /// Publish → `workorder.created`, ms.
    orders_ms: Vec<f64>,
    server: (Option<f64>, Option<f64>),
    cpu_cores: Option<f64>,
    mix: String,
}

pub async fn run(args: HealthArgs) -> Result<()> {
    if args.rules < 4 {
        return Err("--rules: at least 4 (one of each kind)".into());
    }
    if args.devices == 0 {
        return Err("--devices: at least 1".into());
    }
    let dir = std::env::temp_dir().join(format!("plantd-bench-health-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let outcome = measure(&args, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    let (rows, latency) = outcome?;
    print_tables(&rows, &latency);
    Ok(())
}

fn modes(args: &HealthArgs) -> Vec<Mode> {
    let mut modes = Vec::new();
    if !args.no_flat {
        modes.push(Mode::Flat(QoS::AtMostOnce));
        modes.push(Mode::Flat(QoS::AtLeastOnce));
    }
    modes.push(Mode::Rate(args.rate.max(1), QoS::AtLeastOnce));
    modes
}

/// Starts a plantd (its database: `PLANTD_DATABASE_URL` when set, else its own SQLite
/// file), builds the tree and devices, runs the modes without rules, creates the rules,
/// runs the modes again and the alarm-latency run, stops it.
async fn measure(args: &HealthArgs, dir: &Path) -> Result<(Vec<((usize, usize), Row)>, Latency)> {
    let n = args.devices;
    let plantd = {
        let dir = dir.to_path_buf();
        Arc::new(blocking(move || Plantd::start(&dir)).await??)
    };
    eprintln!("plantd: asset tree and {n} devices");
    let ids = ids(n);
    let (passwords, assets) = {
        let (p, ids) = (plantd.clone(), ids.clone());
        blocking(move || -> Result<_> {
            let assets = tree(&p, n)?;
            let passwords = p.provision(&ids, |i| Some(assets[i * assets.len() / n].clone()))?;
            Ok((passwords, assets))
        })
        .await??
    };
    let fleet = Fleet::connect(&plantd.mqtt.0, plantd.mqtt.1, &ids, Some(&passwords)).await?;
    let mut rows = Vec::new();
    let mut set = None;
    let mut tiers = vec![(0, 0), (args.rules, 0)];
    if args.plans > 0 {
        tiers.push((args.rules, args.plans));
    }
    for (rules, plans) in tiers {
        if rules > 0 && set.is_none() {
            eprintln!("plantd: creating {rules} rules");
            let (p, ids, assets) = (plantd.clone(), ids.clone(), assets.clone());
            set = Some(blocking(move || create_rules(&p, &ids, &assets, rules)).await??);
        }
        if plans > 0 {
            eprintln!("plantd: creating {plans} meter plans");
            let (p, ids, assets) = (plantd.clone(), ids.clone(), assets.clone());
            blocking(move || create_plans(&p, &ids, &assets, plans)).await??;
        }
        for mode in modes(args) {
            eprintln!(
                "plantd, {n} devices, {rules} rules, {plans} plans, {}",
                mode.label()
            );
            let body = alarms::steady_body();
            let mut row = measure_plantd(args.seconds, &plantd, &fleet, n, mode, body).await?;
            let raised = plantd.counter("plantd_alarms_raised_total")?.abs();
            row.notes = format!("{raised:.0} alarms raised so far; {}", row.notes);
            rows.push(((rules, plans), row));
        }
    }
    let set = set.ok_or("no rules created")?;
    eprintln!("plantd, {n} devices, {} rules, alarm latency", args.rules);
    let latency = measure_alarms(args, &plantd, &fleet, &ids, args.rules, &set).await;
    fleet.disconnect().await;
    if let Ok(plantd) = Arc::try_unwrap(plantd) {
        blocking(move || plantd.stop()).await?;
    }
    Ok((rows, latency?))
}

/// A site and one asset (ISO 20816 group 2, rigid) per 20 devices; returns the assets.
fn tree(plantd: &Plantd, n: usize) -> Result<Vec<String>> {
    let site = plantd.post(
        "/api/v1/assets",
        &json!({"name": "Bench plant", "kind": "site"}),
    )?;
    let bodies = (0..n.div_ceil(20))
        .map(|a| {
            json!({"name": format!("Machine {a:04}"), "kind": "asset", "parent_id": site["id"],
                   "iso20816": {"group": 2, "foundation": "rigid"}})
        })
        .collect();
    plantd
        .post_all("/api/v1/assets", bodies)?
        .iter()
        .map(|a| {
            a["id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("asset without id: {a}"))
        })
        .collect()
}

/// `count` rules: 5% iso20816 (one asset each, round robin), 10% anomaly, 5% rate (one
/// device each), the rest thresholds `> LIMIT` with deadband 10 and no on-delay, device
/// `j % n` for the `j`-th.
fn create_rules(
    plantd: &Plantd,
    ids: &[String],
    assets: &[String],
    count: usize,
) -> Result<RuleSet> {
    let (iso, anomaly, rate) = (
        (count / 20).max(1),
        (count / 10).max(1),
        (count / 20).max(1),
    );
    let threshold = count - iso - anomaly - rate;
    let n = ids.len();
    let mut bodies: Vec<Value> = Vec::with_capacity(count);
    for j in 0..threshold {
        bodies.push(
            json!({"name": format!("threshold {j}"), "device_id": ids[j % n],
            "metric": METRIC, "kind": "threshold", "op": ">", "value": LIMIT,
            "deadband": 10.0, "for_s": 0, "create_work_order": true}),
        );
    }
    for j in 0..iso {
        bodies.push(
            json!({"name": format!("iso20816 {j}"), "asset_id": assets[j % assets.len()],
            "metric": METRIC, "kind": "iso20816"}),
        );
    }
    for j in 0..anomaly {
        bodies.push(
            json!({"name": format!("anomaly {j}"), "device_id": ids[(j * 7) % n],
            "metric": METRIC, "kind": "anomaly"}),
        );
    }
    for j in 0..rate {
        bodies.push(
            json!({"name": format!("rate {j}"), "device_id": ids[(j * 13) % n],
            "metric": METRIC, "kind": "rate", "op": ">", "value": 100.0, "window_s": 10}),
        );
    }
    let created = plantd.post_all("/api/v1/rules", bodies)?;
    let mut thresholds = HashMap::new();
    for (j, rule) in created.iter().take(threshold).enumerate() {
        let id = rule["id"]
            .as_str()
            .ok_or(format!("rule without id: {rule}"))?;
        thresholds.insert(id.to_owned(), j % n);
    }
    Ok(RuleSet {
        thresholds,
        mix: format!("{threshold} threshold, {iso} iso20816, {anomaly} anomaly, {rate} rate"),
    })
}

/// `count` preventive plans, each counting the run hours of one device's metric (every
/// reading is non-zero, so every second counts) towards 500 h: meters fed by the stream.
fn create_plans(plantd: &Plantd, ids: &[String], assets: &[String], count: usize) -> Result<()> {
    let n = ids.len();
    let bodies = (0..count)
        .map(|j| {
            let i = j % n;
            json!({"asset_id": assets[i * assets.len() / n], "title": format!("Service {j}"),
                   "tasks": ["Inspect", "Grease"],
                   "meter": {"device_id": ids[i], "metric": METRIC, "kind": "run_hours", "every": 500}})
        })
        .collect();
    plantd.post_all("/api/v1/maintenance-plans", bodies)?;
    Ok(())
}

/// The devices that cross: `share` of all, evenly spread over those with a threshold rule.
fn crossing_devices(n: usize, with_threshold: usize, share: f64) -> Vec<usize> {
    let m = with_threshold.min(n);
    let c = ((share * n as f64).round() as usize).clamp(1, m.max(1));
    (0..c).map(|k| k * m / c).collect()
}

async fn measure_alarms(
    args: &HealthArgs,
    plantd: &Arc<Plantd>,
    fleet: &Fleet,
    ids: &[String],
    rules: usize,
    set: &RuleSet,
) -> Result<Latency> {
    let n = ids.len();
    let token = {
        let p = plantd.clone();
        blocking(move || {
            p.post(
                "/api/v1/tokens",
                &json!({"name": "bench alarm listener", "scopes": ["mqtt"]}),
            )
        })
        .await??
    };
    let (Some(id), Some(secret)) = (token["id"].as_str(), token["secret"].as_str()) else {
        return Err(format!("token without id or secret: {token}"));
    };
    let listener = Listener::connect(&plantd.mqtt.0, plantd.mqtt.1, (id, secret)).await?;
    drained(plantd).await?;
    let metrics = |p: Arc<Plantd>| blocking(move || p.metrics());
    let before = listener.count();
    let window = Duration::from_secs(args.seconds);
    let crossing = crossing_devices(n, set.thresholds.len(), args.crossing);
    let plan = Arc::new(Plan::new(n, &crossing, WARM_UP, window));
    let stop = Arc::new(AtomicBool::new(false));
    let publishers = fleet.publish(
        Mode::Rate(args.rate.max(1), QoS::AtLeastOnce),
        plan.body(),
        stop.clone(),
    );
    tokio::time::sleep(WARM_UP).await;
    let m0 = metrics(plantd.clone()).await??;
    let (u0, p0, t0) = (
        plantd.pid.map(usage),
        fleet.published.load(Ordering::Relaxed),
        Instant::now(),
    );
    tokio::time::sleep(window).await;
    let m1 = metrics(plantd.clone()).await??;
    let (u1, p1, dt) = (
        plantd.pid.map(usage),
        fleet.published.load(Ordering::Relaxed),
        t0.elapsed().as_secs_f64(),
    );
    // The last crossings may come just after the window: keep publishing until all are out.
    let deadline = Instant::now() + Duration::from_secs(5);
    while plan.crossed().count() < crossing.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for p in publishers {
        let _ = p.await;
    }
    let matched = || {
        let raised = listener.raised.lock().map_err(|e| e.to_string())?;
        let raised = raised.get(before..).unwrap_or_default();
        Ok::<_, String>(alarms::matched(&plan, ids, &set.thresholds, raised))
    };
    let orders = || {
        let orders = listener.orders.lock().map_err(|e| e.to_string())?;
        Ok::<_, String>(alarms::order_latencies(
            &plan,
            ids,
            &set.thresholds,
            &orders,
        ))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut m = matched()?;
    let mut o = orders()?;
    while (m.latencies_ms.len() < m.expected || o.len() < m.expected) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        m = matched()?;
        o = orders()?;
    }
    let m2 = metrics(plantd.clone()).await??;
    listener.disconnect().await;
    let stored = |t: &str| super::target::sum_of(t, "plantd_telemetry_samples_stored_total", "");
    let server = Buckets::between("plantd_alarm_raise_latency_seconds", &m0, &m2);
    Ok(Latency {
        devices: n,
        rules,
        published_per_s: (p1 - p0) as f64 / dt,
        stored_per_s: (stored(&m1) - stored(&m0)) / dt,
        crossings: plan.crossed().count(),
        matched: m,
        orders_ms: o,
        server: (server.quantile(0.5), server.quantile(0.99)),
        cpu_cores: u0
            .zip(u1)
            .map(|(a, b)| (b.cpu_seconds - a.cpu_seconds) / dt),
        mix: set.mix.clone(),
    })
}

fn print_tables(rows: &[((usize, usize), Row)], l: &Latency) {
    println!();
    println!("| devices | rules | meter plans | mode | published/s | stored/s | ÷ without rules or plans | p50 ms | p99 ms | CPU (cores) | peak RSS MiB | notes |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for ((rules, plans), row) in rows {
        let ratio = rows
            .iter()
            .find(|(t, o)| *t == (0, 0) && o.mode == row.mode && o.devices == row.devices)
            .filter(|_| *rules > 0 || *plans > 0)
            .filter(|(_, o)| o.done_per_s > 0.0)
            .map(|(_, o)| format!("{:.2}", row.done_per_s / o.done_per_s))
            .unwrap_or_default();
        println!(
            "| {} | {} | {} | {} | {:.0} | {:.0} | {} | {} | {} |",
            row.devices,
            rules,
            plans,
            row.mode,
            row.published_per_s,
            row.done_per_s,
            ratio,
            row.figures(),
            row.notes
        );
    }
    let mut ms = l.matched.latencies_ms.clone();
    let max = ms
        .iter()
        .copied()
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    println!();
    let mut orders = l.orders_ms.clone();
    let orders_max = orders.iter().copied().fold(0.0, f64::max);
    println!("| devices | rules | published/s | stored/s | crossings | threshold alarms raised (matched / expected) | publish → alarm.raised p50 / p99 / max ms (client) | work orders (got / expected) | publish → workorder.created p50 / p99 / max ms (client) | received → alarm stored p50 / p99 ms (server) | CPU (cores) | notes |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| {} | {} | {:.0} | {:.0} | {} | {} / {} | {} / {} / {} | {} / {} | {} / {} / {:.1} | {} / {} | {} | {}; {} unmatched threshold events, {} other alarms raised |",
        l.devices,
        l.rules,
        l.published_per_s,
        l.stored_per_s,
        l.crossings,
        l.matched.latencies_ms.len(),
        l.matched.expected,
        fmt(quantile(&mut ms, 0.5), 1),
        fmt(quantile(&mut ms, 0.99), 1),
        fmt(max, 1),
        l.orders_ms.len(),
        l.matched.expected,
        fmt(quantile(&mut orders, 0.5), 1),
        fmt(quantile(&mut orders, 0.99), 1),
        orders_max,
        fmt(l.server.0, 1),
        fmt(l.server.1, 1),
        fmt(l.cpu_cores, 2),
        l.mix,
        l.matched.unmatched,
        l.matched.other
    );
}
