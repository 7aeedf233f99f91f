//! The processes a benchmark measures: a private plantd (this very binary, on free ports,
//! its own data directory and admin token) or one already running, and a private Mosquitto;
//! their CPU time and peak memory from `/proc`, plantd's counters from `/metrics`.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN_TOKEN: &str = "bench-admin-token-0123456789abcdef0123456789";
/// The web UI password of `admin` in a plantd the bench starts (pages are timed signed in).
pub const ADMIN_PASSWORD: &str = "bench-admin-password-4f9c2e71";

pub type Result<T> = std::result::Result<T, String>;

/// A port nobody listens on.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(|e| format!("free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("free port: {e}"))
}

fn wait_until(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while !check()? {
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// CPU seconds (user + system) and peak resident memory of a process.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub cpu_seconds: f64,
    pub peak_rss_kib: u64,
}

pub fn usage(pid: u32) -> Usage {
    let cpu_seconds = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // Fields after the command name (which may hold spaces) in parentheses.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(0.0);
    let peak_rss_kib = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0);
    Usage {
        cpu_seconds,
        peak_rss_kib,
    }
}

/// Resets the peak (VmHWM) to the current RSS, so each phase has its own. Best effort.
pub fn reset_peak(pid: u32) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/{pid}/clear_refs"))
    {
        let _ = f.write_all(b"5");
    }
}

fn sigterm(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The plantd under test.
pub struct Plantd {
    child: Option<Child>,
    pub pid: Option<u32>,
    pub http: String,
    pub mqtt: (String, u16),
    pub token: String,
    data_dir: Option<PathBuf>,
    agent: ureq::Agent,
}

impl Plantd {
    /// Starts this binary as `plantd serve` with its own data directory under `dir`.
    /// `PLANTD_*` settings of the bench's environment (batch size, watermarks…) pass on.
    pub fn start(dir: &Path) -> Result<Plantd> {
        let data_dir = dir.join(format!("plantd-{}", free_port()?));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir)
            .map_err(|e| format!("create {}: {e}", data_dir.display()))?;
        let log = std::fs::File::create(data_dir.join("plantd.log"))
            .map_err(|e| format!("create plantd.log: {e}"))?;
        let (http_port, mqtt_port) = (free_port()?, free_port()?);
        let exe = std::env::current_exe().map_err(|e| format!("own binary: {e}"))?;
        let mut cmd = Command::new(exe);
        cmd.arg("serve")
            // Only the TCP listener is measured (unless the environment says otherwise).
            .env("PLANTD_MQTT_WS_ADDR", "off")
            .envs(std::env::vars().filter(|(k, _)| k.starts_with("PLANTD_")))
            .env("PLANTD_DATA_DIR", &data_dir)
            .env("PLANTD_HTTP_ADDR", format!("127.0.0.1:{http_port}"))
            .env("PLANTD_MQTT_ADDR", format!("127.0.0.1:{mqtt_port}"))
            .env("PLANTD_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("PLANTD_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env(
                "PLANTD_LOG",
                std::env::var("PLANTD_LOG").unwrap_or_else(|_| "warn,rumqttd=off".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        // The flat-out modes publish as fast as each device can, far beyond the per-device
        // rate limit: the bench measures ingest, so the limit is off unless asked for.
        if std::env::var_os("PLANTD_MQTT_DEVICE_MAX_MSGS_PER_S").is_none() {
            cmd.env("PLANTD_MQTT_DEVICE_MAX_MSGS_PER_S", "0");
        }
        let child = cmd.spawn().map_err(|e| format!("start plantd: {e}"))?;
        let mut plantd = Plantd {
            pid: Some(child.id()),
            child: Some(child),
            http: format!("http://127.0.0.1:{http_port}"),
            mqtt: ("127.0.0.1".to_owned(), mqtt_port),
            token: ADMIN_TOKEN.to_owned(),
            data_dir: Some(data_dir),
            agent: agent(),
        };
        let ready = format!("{}/readyz", plantd.http);
        let agent = plantd.agent.clone();
        let child = plantd.child.as_mut();
        let mut child = child;
        wait_until(Duration::from_secs(60), "plantd to be ready", || {
            if let Some(c) = child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    return Err(format!("plantd exited during start-up: {status}"));
                }
            }
            Ok(agent.get(&ready).call().is_ok_and(|r| r.status() == 200))
        })?;
        Ok(plantd)
    }

    /// A plantd that is already running (no CPU or memory figures unless `pid` is given).
    pub fn existing(http: String, mqtt: (String, u16), token: String, pid: Option<u32>) -> Plantd {
        Plantd {
            child: None,
            pid,
            http,
            mqtt,
            token,
            data_dir: None,
            agent: agent(),
        }
    }

    /// `/metrics` as text.
    pub fn metrics(&self) -> Result<String> {
        self.agent
            .get(&format!("{}/metrics", self.http))
            .set("Authorization", &format!("Bearer {}", self.token))
            .call()
            .map_err(|e| format!("GET /metrics: {e}"))?
            .into_string()
            .map_err(|e| format!("read /metrics: {e}"))
    }

    /// A counter or gauge, summed over its label sets; 0 when absent.
    pub fn counter(&self, name: &str) -> Result<f64> {
        Ok(sum_of(&self.metrics()?, name, ""))
    }

    /// GETs an API path as admin; returns the answer's body as text.
    pub fn get(&self, path: &str) -> Result<String> {
        self.agent
            .get(&format!("{}{path}", self.http))
            .set("Authorization", &format!("Bearer {}", self.token))
            .call()
            .map_err(|e| format!("GET {path}: {e}"))?
            .into_string()
            .map_err(|e| format!("GET {path}: {e}"))
    }

    /// POSTs a JSON body to an API path as admin; returns the answer's body.
    pub fn post(&self, path: &str, body: &serde_json::Value) -> Result<serde_json::Value> {
        post_with(&self.agent, &self.http, &self.token, path, body)
    }

    /// POSTs each body to `path`, four at a time; returns the answers in order.
    pub fn post_all(
        &self,
        path: &str,
        bodies: Vec<serde_json::Value>,
    ) -> Result<Vec<serde_json::Value>> {
        let chunks: Vec<Vec<(usize, serde_json::Value)>> = (0..4)
            .map(|t| {
                bodies
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % 4 == t)
                    .map(|(i, b)| (i, b.clone()))
                    .collect()
            })
            .collect();
        let results: Vec<Result<Vec<(usize, serde_json::Value)>>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    s.spawn(move || {
                        let agent = agent();
                        chunk
                            .into_iter()
                            .map(|(i, body)| {
                                Ok((i, post_with(&agent, &self.http, &self.token, path, &body)?))
                            })
                            .collect::<Result<Vec<_>>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err("thread".into())))
                .collect()
        });
        let mut all = Vec::with_capacity(bodies.len());
        for r in results {
            all.extend(r?);
        }
        all.sort_by_key(|(i, _)| *i);
        Ok(all.into_iter().map(|(_, v)| v).collect())
    }

    /// Provisions `ids` over the REST API, device `i` attached to `asset(i)`; returns their
    /// passwords, in order.
    pub fn provision(
        &self,
        ids: &[String],
        asset: impl Fn(usize) -> Option<String>,
    ) -> Result<Vec<String>> {
        let bodies = ids
            .iter()
            .enumerate()
            .map(|(i, id)| match asset(i) {
                Some(a) => serde_json::json!({ "id": id, "asset_id": a }),
                None => serde_json::json!({ "id": id }),
            })
            .collect();
        self.post_all("/api/v1/devices", bodies)?
            .iter()
            .zip(ids)
            .map(|(body, id)| {
                body["credentials"]["password"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("provision {id}: no password"))
            })
            .collect()
    }

    pub fn stop(mut self) {
        if let Some(child) = self.child.as_mut() {
            sigterm(child);
        }
        if let Some(dir) = self.data_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn post_with(
    agent: &ureq::Agent,
    http: &str,
    token: &str,
    path: &str,
    body: &serde_json::Value,
) -> Result<serde_json::Value> {
    agent
        .post(&format!("{http}{path}"))
        .set("Authorization", &format!("Bearer {token}"))
        .send_json(body)
        .map_err(|e| match e {
            ureq::Error::Status(code, r) => format!(
                "POST {path}: {code} {}",
                r.into_string().unwrap_or_default()
            ),
            other => format!("POST {path}: {other}"),
        })?
        .into_json()
        .map_err(|e| format!("POST {path}: {e}"))
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build()
}

/// The sum of a metric's samples whose label set contains `labels`.
pub fn sum_of(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter(|l| labels.is_empty() || l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

pub fn find_mosquitto() -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join("mosquitto"))
        .find(|p| p.is_file())
}

/// A private Mosquitto: a free port, anonymous, queues large enough not to drop for the
/// one subscriber (so it is measured delivering, not discarding).
pub struct Mosquitto {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl Mosquitto {
    pub fn start(binary: &Path, dir: &Path) -> Result<Mosquitto> {
        let port = free_port()?;
        let dir = dir.join(format!("mosquitto-{port}"));
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\nmax_connections -1\n\
                 max_queued_messages 1000000\nmax_inflight_messages 100\n\
                 persistence false\nlog_dest stderr\nlog_type error\n"
            ),
        )
        .map_err(|e| format!("write mosquitto.conf: {e}"))?;
        let child = Command::new(binary)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("start mosquitto: {e}"))?;
        let mut m = Mosquitto { child, port, dir };
        let child = &mut m.child;
        wait_until(Duration::from_secs(10), "mosquitto to listen", || {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("mosquitto exited during start-up: {status}"));
            }
            Ok(TcpStream::connect(("127.0.0.1", port)).is_ok())
        })?;
        Ok(m)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stop(mut self) {
        sigterm(&mut self.child);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
