//! `plantd simulate`: N devices that behave like the plant's sensors, for demos and as the
//! load source of benchmarks. Each has its own MQTT connection, publishes samples at the
//! given rate, buffers them on disk while the broker is unreachable and flushes them after
//! a reconnect, answers shadow deltas and commands, and performs firmware updates.
//!
//! It talks to plantd only as a device does (MQTT, the firmware download), plus the REST
//! API once to provision devices it has no credentials for and to fetch the firmware
//! signing key it verifies images with (kept in the credentials file).

mod buffer;
mod credentials;
mod device;
mod signals;
mod update;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;
use tokio::sync::watch;

use credentials::Credentials;
use device::{Common, Spec, Totals};
use signals::Fault;

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// plantd's HTTP address, for provisioning and firmware downloads.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The MQTT broker, host:port.
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub mqtt: String,
    /// An API token with the write scope; needed only to provision new devices.
    #[arg(long)]
    pub token: Option<String>,
    /// Number of devices.
    #[arg(long, default_value_t = 10)]
    pub devices: usize,
    /// Samples per device per second.
    #[arg(long, default_value_t = 1.0)]
    pub rate: f64,
    /// Device ids are PREFIX-0000, PREFIX-0001, …
    #[arg(long, default_value = "sim")]
    pub prefix: String,
    /// Folder for the offline buffers and, by default, the credentials file.
    #[arg(long, default_value = "plantd-sim")]
    pub buffer_dir: PathBuf,
    /// The credentials file (default: BUFFER_DIR/credentials.json), mode 0600.
    #[arg(long)]
    pub credentials: Option<PathBuf>,
    /// Stop after this many seconds (default: run until SIGINT/SIGTERM).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Inject a fault: DEVICE:KIND, KIND one of bearing, imbalance, overheat (repeatable;
    /// DEVICE is an id or an index).
    #[arg(long)]
    pub fault: Vec<String>,
    /// The firmware version devices start with.
    #[arg(long, default_value = "1.0.0")]
    pub firmware: String,
    /// Print the totals at exit as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs the simulator on its own multi-threaded runtime.
pub fn main(args: SimulateArgs) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(run(args))
}

fn parse_faults(args: &SimulateArgs, ids: &[String]) -> Result<Vec<Option<Fault>>, String> {
    let mut faults = vec![None; ids.len()];
    for spec in &args.fault {
        let (who, kind) = spec
            .split_once(':')
            .ok_or_else(|| format!("--fault {spec}: use DEVICE:KIND"))?;
        let kind = Fault::parse(kind)
            .ok_or_else(|| format!("--fault {spec}: the kind is bearing, imbalance or overheat"))?;
        let index = ids
            .iter()
            .position(|id| id == who)
            .or_else(|| who.parse::<usize>().ok().filter(|i| *i < ids.len()))
            .ok_or_else(|| format!("--fault {spec}: no such simulated device"))?;
        faults[index] = Some(kind);
    }
    Ok(faults)
}

async fn run(args: SimulateArgs) -> Result<(), String> {
    if !(args.rate > 0.0 && args.rate <= 1000.0) {
        return Err("--rate: give samples per second, more than 0 and at most 1000".into());
    }
    let (host, port) = args
        .mqtt
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
        .ok_or_else(|| format!("--mqtt {}: use host:port", args.mqtt))?;
    if !plantd_contracts::ids::is_valid_device_id(&format!("{}-0000", args.prefix)) {
        return Err(format!(
            "--prefix {}: device ids are a-z, 0-9, '_' and '-', at most 64 long",
            args.prefix
        ));
    }
    std::fs::create_dir_all(&args.buffer_dir)
        .map_err(|e| format!("{}: cannot create: {e}", args.buffer_dir.display()))?;
    let ids: Vec<String> = (0..args.devices)
        .map(|i| format!("{}-{i:04}", args.prefix))
        .collect();
    let faults = parse_faults(&args, &ids)?;
    let creds_path = args
        .credentials
        .clone()
        .unwrap_or_else(|| args.buffer_dir.join("credentials.json"));
    let mut creds = provision_missing(&args, &ids, &creds_path).await?;
    let signing_key = firmware_key(&args, &mut creds, &creds_path).await?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let totals = Arc::new(Totals::default());
    let common = Common {
        mqtt_host: host,
        mqtt_port: port,
        interval: Duration::from_secs_f64(1.0 / args.rate),
        buffer_dir: args.buffer_dir.clone(),
        totals: totals.clone(),
        stop: stop_rx,
    };
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (index, (id, fault)) in ids.iter().zip(faults).enumerate() {
        let spec = Spec {
            id: id.clone(),
            secret: creds.devices.get(id).cloned().unwrap_or_default(),
            index,
            fault,
            firmware: args.firmware.clone(),
            signing_key,
        };
        let common = common.clone();
        tasks.push(tokio::spawn(async move {
            // Spread the connects: the broker accepts about a thousand a second.
            tokio::time::sleep(Duration::from_millis(index as u64)).await;
            device::run(spec, common).await
        }));
    }
    tracing::info!(
        devices = ids.len(),
        rate = args.rate,
        "simulated devices started"
    );
    let progress = tokio::spawn(report_progress(totals.clone()));
    wait_for_stop(args.duration).await;
    tracing::info!("stopping: flushing buffers and waiting for acknowledgements");
    let _ = stop_tx.send(true);
    for task in tasks {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "a simulated device failed"),
            Err(e) => tracing::error!(error = %e, "a simulated device task failed"),
        }
    }
    progress.abort();
    let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let summary = json!({
        "devices": ids.len(),
        "generated": get(&totals.generated),
        "acked": get(&totals.acked),
        "buffered": get(&totals.buffered),
        "flushed": get(&totals.flushed),
        "left_in_buffer": get(&totals.left_in_buffer),
        "lost": get(&totals.lost),
        "reconnects": get(&totals.reconnects),
        "firmware_updates": get(&totals.firmware_updates),
        "elapsed_s": started.elapsed().as_secs_f64(),
    });
    if args.json {
        println!("{summary}");
    } else {
        println!(
            "plantd simulate: {} devices, {} samples generated, {} acknowledged, {} buffered offline ({} flushed, {} left in the buffer), {} reconnects, {} firmware updates",
            ids.len(),
            summary["generated"],
            summary["acked"],
            summary["buffered"],
            summary["flushed"],
            summary["left_in_buffer"],
            summary["reconnects"],
            summary["firmware_updates"],
        );
    }
    Ok(())
}

/// The key firmware images must be signed with: from the credentials file, else fetched
/// once with `--token` and saved there. Without one every update is refused (and said so).
async fn firmware_key(
    args: &SimulateArgs,
    creds: &mut Credentials,
    path: &std::path::Path,
) -> Result<Option<ed25519_dalek::VerifyingKey>, String> {
    if creds.firmware_signing_key.is_none() {
        if let Some(token) = args.token.clone() {
            let url = args.url.clone();
            let key =
                tokio::task::spawn_blocking(move || credentials::fetch_signing_key(&url, &token))
                    .await
                    .map_err(|e| e.to_string())??;
            creds.firmware_signing_key = Some(key);
            creds.save(path)?;
        }
    }
    match &creds.firmware_signing_key {
        Some(text) => update::parse_key(text)
            .map(Some)
            .map_err(|e| format!("{}: firmware_signing_key: {e}", path.display())),
        None => {
            tracing::warn!(file = %path.display(), "no firmware signing key (give --token once): firmware updates will be refused");
            Ok(None)
        }
    }
}

/// Reads the credentials file and provisions the devices it lacks (saving after each, so
/// an interrupted run loses none).
async fn provision_missing(
    args: &SimulateArgs,
    ids: &[String],
    path: &std::path::Path,
) -> Result<Credentials, String> {
    let mut creds = Credentials::load(path)?;
    let missing: Vec<String> = ids
        .iter()
        .filter(|id| !creds.devices.contains_key(*id))
        .cloned()
        .collect();
    if missing.is_empty() {
        return Ok(creds);
    }
    let token = args.token.clone().ok_or_else(|| {
        format!(
            "{} device(s) have no credentials in {}: give --token to provision them",
            missing.len(),
            path.display()
        )
    })?;
    tracing::info!(devices = missing.len(), "provisioning simulated devices");
    let count = missing.len();
    for (n, id) in missing.into_iter().enumerate() {
        let (url, token) = (args.url.clone(), token.clone());
        let one = id.clone();
        let secret =
            tokio::task::spawn_blocking(move || credentials::provision(&url, &token, &one))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
        match secret {
            Ok(secret) => {
                creds.devices.insert(id, secret);
            }
            Err(e) => {
                // Keep the secrets already issued: each is shown only once.
                creds.save(path)?;
                return Err(e);
            }
        }
        if n % 100 == 99 || n + 1 == count {
            creds.save(path)?;
        }
    }
    Ok(creds)
}

async fn wait_for_stop(duration: Option<f64>) {
    let deadline = async {
        match duration {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s.max(0.0))).await,
            None => std::future::pending().await,
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
                _ = deadline => {}
            }
            return;
        }
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = deadline => {}
    }
}

async fn report_progress(totals: Arc<Totals>) {
    let mut every = tokio::time::interval(Duration::from_secs(10));
    every.tick().await;
    loop {
        every.tick().await;
        tracing::info!(
            generated = totals.generated.load(Ordering::Relaxed),
            acked = totals.acked.load(Ordering::Relaxed),
            buffered = totals.buffered.load(Ordering::Relaxed),
            "simulation progress"
        );
    }
}
