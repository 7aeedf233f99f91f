//! Resident memory of plantd with N idle MQTT device connections, next to Mosquitto.
//!
//! ```text
//! cargo bench --bench idle_connections                      # N = 1000 and 10000
//! cargo bench --bench idle_connections -- 1000 10000 [--subscribe] [--idle 5]
//!     [--no-mosquitto] [--concurrency 64] [--pause SECS] [--publish K [--topic SUFFIX]
//!     [--bursts B]]
//!     [--storm]
//! ```
//!
//! For each N: starts the release plantd on free ports with its own data directory,
//! provisions N devices over the REST API, reads plantd's VmRSS, connects N devices
//! (client id = username = device id, keep-alive 60 s, every CONNACK awaited), waits idle,
//! reads VmRSS and VmHWM again, disconnects them all and stops plantd with SIGTERM. When a
//! `mosquitto` binary is on the PATH (or in /usr/sbin) the same N clients then connect to
//! a private Mosquitto on a free port, so plantd can be stated as a ratio of it.
//!
//! `--subscribe` makes every device also subscribe to `devices/{id}/commands/+` (what a
//! real device does), which gives the broker one subscription filter per device.
//! `--publish K` makes every device, once all are connected, publish K small QoS 1 messages
//! to `devices/{id}/telemetry` (or `devices/{id}/SUFFIX` with `--topic SUFFIX`) and waits
//! for every PUBACK before idling: the broker's in-memory logs then hold data, which is
//! what `PLANTD_MQTT_SEGMENT_BYTES` and `PLANTD_MQTT_SEGMENT_COUNT` bound. `--bursts B`
//! runs that burst B times against plantd and prints its RSS after each (memory after
//! overload must stay bounded, not grow with every burst).
//!
//! `--storm`: once idle, every device reconnects with the same client id, at most
//! `--concurrency` at a time, and drops its old connection (the socket closes, no
//! DISCONNECT) as soon as the new one is acknowledged: the broker's takeover of the old
//! session and that session's own close race, as when devices come back after a network
//! outage. The bench reports the time until all are connected again,
//! how many of the NEW sessions the broker closed while idling afterwards (a late cleanup
//! of an old session must not end its successor: should be 0), plantd's device connection
//! gauge against N, and RSS after the storm.
//!
//! Devices connect at most `--concurrency` (64) at a time: plantd's MQTT listener has an
//! accept backlog of 128 and accepts about one connection per millisecond, so a larger
//! burst overflows the backlog and the connect time then measures SYN retransmits (1 s, 3 s).
//!
//! plantd gets the bench's own `PLANTD_MQTT_*`, `MALLOC_*` and `GLIBC_TUNABLES` variables,
//! so router settings and allocator tunables can be compared without a rebuild, e.g.
//! `PLANTD_MQTT_SEGMENT_COUNT=2 MALLOC_ARENA_MAX=2 cargo bench --bench idle_connections`;
//! `PLANTD_BENCH_LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2` runs plantd on
//! another malloc (set as its `LD_PRELOAD` only). `PLANTD_BENCH_BIN=/path/to/plantd` runs
//! another plantd binary than this build's (e.g. a copy from before a change).

use std::collections::HashMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio::task::{AbortHandle, JoinHandle};

const ADMIN_TOKEN: &str = "bench-admin-token-0123456789abcdef0123456789";
const KEEP_ALIVE: Duration = Duration::from_secs(60);
const PROVISION_THREADS: usize = 4;

struct Options {
    counts: Vec<usize>,
    idle: Duration,
    subscribe: bool,
    mosquitto: bool,
    concurrency: usize,
    /// Seconds to wait after provisioning, before connecting (to attach a profiler).
    pause: Duration,
    /// Messages each device publishes once all are connected.
    publish: usize,
    /// Topic suffix under `devices/{id}/` of those messages.
    topic: String,
    /// How many times the publish burst runs (RSS is read after each: memory after a
    /// burst must be bounded, not grow with every one).
    bursts: usize,
    /// After idling, every connection drops at once and every device reconnects.
    storm: bool,
}

fn options() -> Options {
    let mut opts = Options {
        counts: Vec::new(),
        idle: Duration::from_secs(5),
        subscribe: false,
        mosquitto: true,
        concurrency: 64,
        pause: Duration::ZERO,
        publish: 0,
        topic: "telemetry".to_owned(),
        bursts: 1,
        storm: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            // cargo bench passes --bench to harness = false targets.
            "--bench" => {}
            "--subscribe" => opts.subscribe = true,
            "--storm" => opts.storm = true,
            "--no-mosquitto" => opts.mosquitto = false,
            "--idle" => {
                let secs: u64 = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .expect("--idle needs a number of seconds");
                opts.idle = Duration::from_secs(secs);
            }
            "--pause" => {
                let secs: u64 = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .expect("--pause needs a number of seconds");
                opts.pause = Duration::from_secs(secs);
            }
            "--publish" => {
                opts.publish = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .expect("--publish needs a number of messages per device");
            }
            "--topic" => opts.topic = args.next().expect("--topic needs a topic suffix"),
            "--bursts" => {
                opts.bursts = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&b| b > 0)
                    .expect("--bursts needs a positive number");
            }
            "--concurrency" => {
                opts.concurrency = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&c| c > 0)
                    .expect("--concurrency needs a positive number");
            }
            other => match other.parse::<usize>() {
                Ok(n) if n > 0 => opts.counts.push(n),
                _ => panic!(
                    "unknown argument {other:?}; use N... [--subscribe] [--idle SECS] \
                     [--no-mosquitto] [--concurrency C] [--pause SECS] [--publish K] \
                     [--topic SUFFIX] [--bursts B] [--storm]"
                ),
            },
        }
    }
    if opts.counts.is_empty() {
        opts.counts = vec![1_000, 10_000];
    }
    opts
}

// ---------------------------------------------------------------------------------------
// /proc

#[derive(Clone, Copy, Default)]
struct Mem {
    /// VmRSS in KiB.
    rss: u64,
    /// VmHWM (peak RSS) in KiB.
    hwm: u64,
    threads: u64,
}

fn mem(pid: u32) -> Mem {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let field = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {path}"))
    };
    Mem {
        rss: field("VmRSS:"),
        hwm: field("VmHWM:"),
        threads: field("Threads:"),
    }
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0), so the peak is that of the connect phase
/// rather than of provisioning. Best effort.
fn reset_peak(pid: u32) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/{pid}/clear_refs"))
    {
        let _ = f.write_all(b"5");
    }
}

// ---------------------------------------------------------------------------------------
// processes and ports

/// A port nobody listens on, below the ephemeral range the 10k client sockets draw from.
fn free_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let _ = NEXT.compare_exchange(
        0,
        21_000 + (std::process::id() as usize % 1000) * 10,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    loop {
        let port = u16::try_from(NEXT.fetch_add(1, Ordering::SeqCst)).expect("ports left");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn wait_until(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sigterm(child: &mut Child, what: &str) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM {what} failed");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match child.try_wait().expect("wait for child") {
            Some(status) => {
                if !status.success() {
                    eprintln!("  note: {what} exited with {status}");
                }
                return;
            }
            None if Instant::now() > deadline => {
                eprintln!("  note: {what} ignored SIGTERM for 60 s; killing it");
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

struct Plantd {
    child: Child,
    http: String,
    mqtt_port: u16,
    data_dir: PathBuf,
    log: PathBuf,
}

impl Plantd {
    fn start(n: usize) -> Plantd {
        let data_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("idle-connections")
            .join(format!("{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir).expect("create plantd data dir");
        // rumqttd logs every disconnection at error level; keep that out of the table.
        let log = data_dir.with_extension("log");
        let log_file = std::fs::File::create(&log).expect("create plantd log file");
        let http_port = free_port();
        let mqtt_port = free_port();
        let mut cmd = Command::new(plantd_binary());
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PLANTD_DATA_DIR", &data_dir)
            .env("PLANTD_HTTP_ADDR", format!("127.0.0.1:{http_port}"))
            .env("PLANTD_MQTT_ADDR", format!("127.0.0.1:{mqtt_port}"))
            .env("PLANTD_MQTT_WS_ADDR", "off")
            .env("PLANTD_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("PLANTD_LOG", "warn")
            .current_dir(&data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        for (key, value) in passed_env() {
            cmd.env(key, value);
        }
        let mut child = cmd.spawn().expect("start plantd");
        let http = format!("http://127.0.0.1:{http_port}");
        let ready = format!("{http}/readyz");
        wait_until(Duration::from_secs(60), "plantd to be ready", || {
            if let Some(status) = child.try_wait().expect("poll plantd") {
                panic!(
                    "plantd exited during start-up: {status}; see {}",
                    log.display()
                );
            }
            ureq::get(&ready)
                .timeout(Duration::from_secs(2))
                .call()
                .is_ok_and(|r| r.status() == 200)
        });
        Plantd {
            child,
            http,
            mqtt_port,
            data_dir,
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A counter from `/metrics` (summed over its label sets); None if absent.
    fn counter(&self, name: &str) -> Option<f64> {
        let text = ureq::get(&format!("{}/metrics", self.http))
            .set("Authorization", &format!("Bearer {ADMIN_TOKEN}"))
            .timeout(Duration::from_secs(10))
            .call()
            .expect("GET /metrics")
            .into_string()
            .expect("read /metrics");
        let values: Vec<f64> = text
            .lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
            .collect();
        (!values.is_empty()).then(|| values.iter().sum())
    }

    fn stop(mut self) {
        sigterm(&mut self.child, "plantd");
        let _ = std::fs::remove_dir_all(&self.data_dir);
        let lines = std::fs::read_to_string(&self.log)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines > 0 {
            eprintln!("  plantd logged {lines} lines to {}", self.log.display());
        }
    }
}

/// The plantd binary: this build's, or `PLANTD_BENCH_BIN` (to compare two builds, e.g. a
/// copy of the binary before a change, in one run).
fn plantd_binary() -> PathBuf {
    std::env::var_os("PLANTD_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_plantd")))
}

/// The bench's own settings that plantd gets too (router limits, allocator tunables);
/// `PLANTD_BENCH_LD_PRELOAD` becomes plantd's `LD_PRELOAD` (to try another malloc).
fn passed_env() -> Vec<(String, String)> {
    std::env::vars()
        .filter_map(|(k, v)| {
            if k == "PLANTD_BENCH_LD_PRELOAD" {
                Some(("LD_PRELOAD".to_owned(), v))
            } else if (k.starts_with("PLANTD_MQTT_") && k != "PLANTD_MQTT_ADDR")
                || k.starts_with("MALLOC_")
                || k == "GLIBC_TUNABLES"
            {
                Some((k, v))
            } else {
                None
            }
        })
        .collect()
}

fn find_mosquitto() -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join("mosquitto"))
        .find(|p| p.is_file())
}

struct Mosquitto {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Mosquitto {
    fn start(binary: &Path) -> Mosquitto {
        let port = free_port();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("idle-connections")
            .join(format!("{}-mosquitto-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create mosquitto dir");
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\nmax_connections -1\n\
                 persistence false\nlog_dest stderr\nlog_type error\n"
            ),
        )
        .expect("write mosquitto.conf");
        let child = Command::new(binary)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start mosquitto");
        let mut m = Mosquitto { child, port, dir };
        wait_until(Duration::from_secs(10), "mosquitto to listen", || {
            if let Some(status) = m.child.try_wait().expect("poll mosquitto") {
                panic!("mosquitto exited during start-up: {status}");
            }
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        // That probe connection must be gone before the baseline is read.
        std::thread::sleep(Duration::from_millis(300));
        m
    }

    fn stop(mut self) {
        sigterm(&mut self.child, "mosquitto");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------
// provisioning

fn provision(plantd: &Plantd, n: usize) -> Vec<(String, String)> {
    let url = format!("{}/api/v1/devices", plantd.http);
    let next = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..PROVISION_THREADS)
        .map(|_| {
            let url = url.clone();
            let next = next.clone();
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(60))
                    .build();
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return out;
                    }
                    let id = format!("dev-{i:05}");
                    let reply = agent
                        .post(&url)
                        .set("Authorization", &format!("Bearer {ADMIN_TOKEN}"))
                        .send_json(serde_json::json!({ "id": id }));
                    let body: serde_json::Value = match reply {
                        Ok(r) => r.into_json().expect("read provisioning reply"),
                        Err(ureq::Error::Status(code, r)) => panic!(
                            "provisioning {id}: HTTP {code}: {}",
                            r.into_string().unwrap_or_default()
                        ),
                        Err(e) => panic!("provisioning {id}: {e}"),
                    };
                    let creds = &body["credentials"];
                    let username = creds["username"]
                        .as_str()
                        .expect("credentials.username in provisioning reply");
                    let password = creds["password"]
                        .as_str()
                        .expect("credentials.password in provisioning reply");
                    assert_eq!(username, id, "username is the device id");
                    out.push((i, id, password.to_owned()));
                }
            })
        })
        .collect();
    let mut all: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("provisioning thread"))
        .collect();
    all.sort_by_key(|(i, _, _)| *i);
    all.into_iter().map(|(_, id, pw)| (id, pw)).collect()
}

// ---------------------------------------------------------------------------------------
// MQTT clients

struct Clients {
    clients: Vec<(String, AsyncClient, JoinHandle<()>)>,
    failures: Vec<String>,
    elapsed: Duration,
    /// PUBACKs received over all connections.
    pubacks: Arc<AtomicUsize>,
}

/// Connects one device and waits for its CONNACK (and SUBACK with `subscribe`); then keeps
/// its event loop running (pings) until it is told to disconnect.
async fn connect_one(
    port: u16,
    id: String,
    password: String,
    subscribe: bool,
    pubacks: Arc<AtomicUsize>,
) -> Result<(String, AsyncClient, JoinHandle<()>), String> {
    let mut opts = MqttOptions::new(id.clone(), "127.0.0.1", port);
    opts.set_keep_alive(KEEP_ALIVE);
    opts.set_inflight(10);
    opts.set_clean_session(true);
    opts.set_credentials(id.clone(), password);
    let (client, mut eventloop) = AsyncClient::new(opts, 4);
    let mut net = eventloop.network_options();
    net.set_connection_timeout(60);
    eventloop.set_network_options(net);
    match eventloop.poll().await {
        Ok(Event::Incoming(Packet::ConnAck(_))) => {}
        Ok(other) => return Err(format!("{id}: expected CONNACK, got {other:?}")),
        Err(e) => return Err(format!("{id}: {e}")),
    }
    if subscribe {
        client
            .subscribe(format!("devices/{id}/commands/+"), QoS::AtLeastOnce)
            .await
            .map_err(|e| format!("{id}: subscribe: {e}"))?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            match tokio::time::timeout_at(deadline, eventloop.poll()).await {
                Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => break,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(format!("{id}: waiting for SUBACK: {e}")),
                Err(_) => return Err(format!("{id}: no SUBACK within 60 s")),
            }
        }
    }
    let task = tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                Ok(Event::Incoming(Packet::PubAck(_))) => {
                    pubacks.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {}
            }
        }
    });
    Ok((id, client, task))
}

fn connect_all(
    rt: &Runtime,
    port: u16,
    devices: &[(String, String)],
    subscribe: bool,
    concurrency: usize,
) -> Clients {
    connect_replacing(rt, port, devices, subscribe, concurrency, HashMap::new())
}

/// `connect_all`, where a device with an entry in `old` drops that old connection (its
/// event loop aborted: the socket closes without a DISCONNECT) as soon as its new one is
/// acknowledged.
fn connect_replacing(
    rt: &Runtime,
    port: u16,
    devices: &[(String, String)],
    subscribe: bool,
    concurrency: usize,
    mut old: HashMap<String, AbortHandle>,
) -> Clients {
    rt.block_on(async {
        let permits = Arc::new(Semaphore::new(concurrency));
        let pubacks = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let tasks: Vec<_> = devices
            .iter()
            .cloned()
            .map(|(id, password)| {
                let permits = permits.clone();
                let pubacks = pubacks.clone();
                let old = old.remove(&id);
                tokio::spawn(async move {
                    let _permit = permits.acquire_owned().await.expect("semaphore open");
                    let new = connect_one(port, id, password, subscribe, pubacks).await;
                    if let Some(old) = old {
                        old.abort();
                    }
                    new
                })
            })
            .collect();
        let mut clients = Vec::with_capacity(devices.len());
        let mut failures = Vec::new();
        for task in tasks {
            match task.await.expect("connect task") {
                Ok(c) => clients.push(c),
                Err(e) => failures.push(e),
            }
        }
        Clients {
            clients,
            failures,
            elapsed: start.elapsed(),
            pubacks,
        }
    })
}

/// Every connected device publishes `k` QoS 1 messages to `devices/{id}/{suffix}`; waits
/// for all PUBACKs (at most 5 minutes). Returns the time taken and the PUBACKs missing.
fn publish_all(rt: &Runtime, clients: &Clients, k: usize, suffix: &str) -> (Duration, usize) {
    let start = Instant::now();
    let before = clients.pubacks.load(Ordering::Relaxed);
    let expected = before + k * clients.clients.len();
    rt.block_on(async {
        let tasks: Vec<_> = clients
            .clients
            .iter()
            .map(|(id, client, _)| {
                let client = client.clone();
                let topic = format!("devices/{id}/{suffix}");
                tokio::spawn(async move {
                    for seq in 0..k {
                        let payload = format!(
                            r#"{{"values":{{"temperature_c":61.5,"vibration_rms_mm_s":2.8,"running":true,"seq":{seq}}}}}"#
                        );
                        if client
                            .publish(topic.as_str(), QoS::AtLeastOnce, false, payload)
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("publish task");
        }
        let deadline = Instant::now() + Duration::from_secs(300);
        while clients.pubacks.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let missing = expected.saturating_sub(clients.pubacks.load(Ordering::Relaxed));
    (start.elapsed(), missing)
}

/// Sends DISCONNECT on every connection and waits for the event loops to end.
fn disconnect_all(rt: &Runtime, clients: Clients) {
    rt.block_on(async {
        let mut tasks = Vec::with_capacity(clients.clients.len());
        for (_, client, task) in clients.clients {
            let _ = client.disconnect().await;
            tasks.push(task);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        for task in tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                abort.abort();
            }
        }
    });
}

/// What a reconnect storm did (`--storm`).
struct StormRow {
    /// Time until every device had its CONNACK again.
    reconnect: Duration,
    failures: usize,
    /// New sessions the broker closed while idling after the storm (should be 0).
    closed: usize,
    /// plantd's device connection gauge once settled (N expected); None for Mosquitto.
    gauge: Option<f64>,
    /// Memory after the storm, idle again.
    mem: Mem,
}

/// Every device reconnects at once with the same client id (the broker takes its session
/// over) and drops its old connection (the socket closes without a DISCONNECT) as soon as
/// the new one is acknowledged, so the old session's close races the takeover. Then waits until
/// `settled` says the broker counts them all (at most 60 s), idles, and counts the new
/// sessions that ended meanwhile: only the broker closes them.
fn storm(
    rt: &Runtime,
    port: u16,
    devices: &[(String, String)],
    old: Clients,
    opts: &Options,
    pid: u32,
    gauge: impl Fn() -> Option<f64>,
) -> (Clients, StormRow) {
    let replaced: HashMap<String, AbortHandle> = old
        .clients
        .iter()
        .map(|(id, _, task)| (id.clone(), task.abort_handle()))
        .collect();
    let clients = connect_replacing(
        rt,
        port,
        devices,
        opts.subscribe,
        opts.concurrency,
        replaced,
    );
    rt.block_on(async {
        for (_, _, task) in old.clients {
            task.abort();
            let _ = task.await;
        }
    });
    report_failures("storm", &clients);
    let expected = clients.clients.len() as f64;
    let deadline = Instant::now() + Duration::from_secs(60);
    while gauge().is_some_and(|g| g != expected) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(opts.idle);
    let closed = clients
        .clients
        .iter()
        .filter(|(_, _, task)| task.is_finished())
        .count();
    let row = StormRow {
        reconnect: clients.elapsed,
        failures: clients.failures.len(),
        closed,
        gauge: gauge(),
        mem: mem(pid),
    };
    eprintln!(
        "  storm: {} reconnected in {:.2?}; {closed} new sessions closed since",
        clients.clients.len(),
        row.reconnect
    );
    (clients, row)
}

// ---------------------------------------------------------------------------------------
// one run

struct Row {
    n: usize,
    provision: Duration,
    before: Mem,
    idle: Mem,
    after_disconnect: Mem,
    connect: Duration,
    failures: usize,
    /// Time to publish and see every PUBACK, and PUBACKs missing (with `--publish`).
    publish: Option<(Duration, usize)>,
    /// Idle memory before the publish burst (with `--publish`).
    before_load: Option<Mem>,
    storm: Option<StormRow>,
    mosquitto: Option<MosquittoRow>,
}

struct MosquittoRow {
    before: Mem,
    idle: Mem,
    connect: Duration,
    failures: usize,
    publish: Option<(Duration, usize)>,
    storm: Option<StormRow>,
}

/// The `--publish` phase, when asked for.
fn load(rt: &Runtime, opts: &Options, clients: &Clients, what: &str) -> Option<(Duration, usize)> {
    if opts.publish == 0 {
        return None;
    }
    let (took, missing) = publish_all(rt, clients, opts.publish, &opts.topic);
    eprintln!(
        "  {what}: {} messages published in {took:.2?}; {missing} PUBACKs missing",
        opts.publish * clients.clients.len()
    );
    Some((took, missing))
}

fn report_failures(what: &str, clients: &Clients) {
    if !clients.failures.is_empty() {
        eprintln!(
            "  {what}: {} of {} connections failed; first: {}",
            clients.failures.len(),
            clients.failures.len() + clients.clients.len(),
            clients.failures[0]
        );
    }
}

fn run(rt: &Runtime, opts: &Options, n: usize, mosquitto: Option<&Path>) -> Row {
    eprintln!("N = {n}: starting plantd");
    let plantd = Plantd::start(n);
    let pid = plantd.pid();
    let t = Instant::now();
    let devices = provision(&plantd, n);
    let provision_time = t.elapsed();
    eprintln!("  provisioned {n} devices in {provision_time:.1?}");
    // Let the provisioning burst settle (pending writes, freed request buffers).
    std::thread::sleep(Duration::from_secs(2));
    if !opts.pause.is_zero() {
        eprintln!(
            "  plantd pid {pid}; pausing {:?} before connecting",
            opts.pause
        );
        std::thread::sleep(opts.pause);
    }
    let before = mem(pid);
    reset_peak(pid);

    let clients = connect_all(
        rt,
        plantd.mqtt_port,
        &devices,
        opts.subscribe,
        opts.concurrency,
    );
    report_failures("plantd", &clients);
    eprintln!(
        "  {} connected in {:.2?}",
        clients.clients.len(),
        clients.elapsed
    );
    let before_load = (opts.publish > 0).then(|| {
        std::thread::sleep(opts.idle);
        mem(pid)
    });
    let publish = load(rt, opts, &clients, "plantd");
    std::thread::sleep(opts.idle);
    if opts.publish > 0 {
        // A broker log that drops a segment before its reader got to it loses messages.
        let routed = plantd
            .counter("plantd_gateway_messages_total")
            .unwrap_or(0.0);
        eprintln!(
            "  plantd's gateway routed {routed} of {} published messages",
            opts.publish * clients.clients.len()
        );
    }
    let idle = mem(pid);
    for burst in 2..=opts.bursts {
        load(rt, opts, &clients, "plantd");
        std::thread::sleep(opts.idle);
        eprintln!(
            "  plantd RSS idle after burst {burst}: {}",
            mib(mem(pid).rss)
        );
    }
    let connect = clients.elapsed;
    let failures = clients.failures.len();
    let (clients, storm_row) = if opts.storm {
        let gauge = || plantd.counter("plantd_mqtt_connections");
        let (c, row) = storm(rt, plantd.mqtt_port, &devices, clients, opts, pid, gauge);
        (c, Some(row))
    } else {
        (clients, None)
    };
    disconnect_all(rt, clients);
    std::thread::sleep(Duration::from_secs(3));
    let after_disconnect = mem(pid);
    plantd.stop();

    let mosquitto = mosquitto.map(|binary| {
        eprintln!("  Mosquitto: connecting {n}");
        let m = Mosquitto::start(binary);
        let mpid = m.child.id();
        let before = mem(mpid);
        let clients = connect_all(rt, m.port, &devices, opts.subscribe, opts.concurrency);
        report_failures("mosquitto", &clients);
        let publish = load(rt, opts, &clients, "mosquitto");
        std::thread::sleep(opts.idle);
        let idle = mem(mpid);
        let connect = clients.elapsed;
        let failures = clients.failures.len();
        let (clients, storm_row) = if opts.storm {
            let (c, row) = storm(rt, m.port, &devices, clients, opts, mpid, || None);
            (c, Some(row))
        } else {
            (clients, None)
        };
        disconnect_all(rt, clients);
        m.stop();
        MosquittoRow {
            before,
            idle,
            connect,
            failures,
            publish,
            storm: storm_row,
        }
    });

    Row {
        n,
        provision: provision_time,
        before,
        idle,
        after_disconnect,
        connect,
        failures,
        publish,
        before_load,
        storm: storm_row,
        mosquitto,
    }
}

// ---------------------------------------------------------------------------------------
// output

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn per_conn(before: u64, after: u64, n: usize) -> String {
    let delta = after.saturating_sub(before) as f64 * 1024.0 / n as f64;
    format!("{:.1} KiB", delta / 1024.0)
}

fn print_table(rows: &[Row], opts: &Options) {
    let env = passed_env();
    println!();
    println!(
        "idle MQTT connections (keep-alive {}s, idle {}s{}{}){}",
        KEEP_ALIVE.as_secs(),
        opts.idle.as_secs(),
        if opts.subscribe {
            ", 1 subscription per device"
        } else {
            ""
        },
        if opts.publish > 0 {
            format!(
                ", after {} QoS 1 publishes per device to devices/{{id}}/{}",
                opts.publish, opts.topic
            )
        } else {
            String::new()
        },
        if env.is_empty() {
            String::new()
        } else {
            format!(
                "; plantd env: {}",
                env.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    );
    println!(
        "| {:>6} | {:>13} | {:>11} | {:>11} | {:>9} | {:>9} | {:>11} | {:>9} | {:>9} | {:>6} |",
        "N",
        "plantd before",
        "plantd idle",
        "plantd peak",
        "per conn",
        "connect",
        "mosq idle",
        "per conn",
        "connect",
        "ratio"
    );
    println!(
        "|{:-<8}|{:-<15}|{:-<13}|{:-<13}|{:-<11}|{:-<11}|{:-<13}|{:-<11}|{:-<11}|{:-<8}|",
        "", "", "", "", "", "", "", "", "", ""
    );
    for r in rows {
        let (m_idle, m_per, m_conn, ratio) = match &r.mosquitto {
            Some(m) => (
                mib(m.idle.rss),
                per_conn(m.before.rss, m.idle.rss, r.n),
                format!("{:.2?}", m.connect),
                format!("{:.1}×", r.idle.rss as f64 / m.idle.rss.max(1) as f64),
            ),
            None => ("-".into(), "-".into(), "-".into(), "-".into()),
        };
        println!(
            "| {:>6} | {:>13} | {:>11} | {:>11} | {:>9} | {:>9} | {:>11} | {:>9} | {:>9} | {:>6} |",
            r.n,
            mib(r.before.rss),
            mib(r.idle.rss),
            mib(r.idle.hwm),
            per_conn(r.before.rss, r.idle.rss, r.n),
            format!("{:.2?}", r.connect),
            m_idle,
            m_per,
            m_conn,
            ratio
        );
    }
    println!();
    for r in rows {
        println!(
            "N = {}: provisioning {:.1?}; plantd threads {} -> {}; RSS 3 s after all \
             disconnected {}; failed connections plantd {}{}",
            r.n,
            r.provision,
            r.before.threads,
            r.idle.threads,
            mib(r.after_disconnect.rss),
            r.failures,
            match &r.mosquitto {
                Some(m) => format!(
                    ", mosquitto {} (its RSS before {}, peak {})",
                    m.failures,
                    mib(m.before.rss),
                    mib(m.idle.hwm)
                ),
                None => String::new(),
            }
        );
        if let Some(b) = &r.before_load {
            println!(
                "N = {}: plantd RSS idle before the publish burst {}, idle after it {} \
                 (peak {})",
                r.n,
                mib(b.rss),
                mib(r.idle.rss),
                mib(r.idle.hwm)
            );
        }
        if let Some(st) = &r.storm {
            println!(
                "N = {}: reconnect storm: plantd {:.2?} ({} failed, {} new sessions closed, \
                 connection gauge {}, RSS after {}){}",
                r.n,
                st.reconnect,
                st.failures,
                st.closed,
                st.gauge.map_or("-".to_owned(), |g| g.to_string()),
                mib(st.mem.rss),
                match r.mosquitto.as_ref().and_then(|m| m.storm.as_ref()) {
                    Some(m) => format!(
                        ", mosquitto {:.2?} ({} failed, {} new sessions closed, RSS after {})",
                        m.reconnect,
                        m.failures,
                        m.closed,
                        mib(m.mem.rss)
                    ),
                    None => String::new(),
                }
            );
        }
        if let Some((took, missing)) = r.publish {
            println!(
                "N = {}: publishing took plantd {took:.2?} ({missing} PUBACKs missing){}",
                r.n,
                match r.mosquitto.as_ref().and_then(|m| m.publish) {
                    Some((t, miss)) => format!(", mosquitto {t:.2?} ({miss} missing)"),
                    None => String::new(),
                }
            );
        }
    }
}

fn main() {
    let opts = options();
    let largest = opts.counts.iter().copied().max().unwrap_or(0);
    let nofile = rlimit::increase_nofile_limit(u64::MAX).expect("raise RLIMIT_NOFILE");
    if nofile < largest as u64 + 100 {
        eprintln!(
            "warning: open-files limit is {nofile}, fewer than {largest} connections need; \
             raise the hard limit (ulimit -Hn)"
        );
    }
    let mosquitto = if opts.mosquitto {
        let found = find_mosquitto();
        if found.is_none() {
            eprintln!("mosquitto not found (apt-get install mosquitto); plantd only");
        }
        found
    } else {
        None
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime for the clients");
    let rows: Vec<Row> = opts
        .counts
        .iter()
        .map(|&n| run(&rt, &opts, n, mosquitto.as_deref()))
        .collect();
    print_table(&rows, &opts);
}
