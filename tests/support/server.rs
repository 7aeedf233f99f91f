//! A real plantd process for one test: free ports, its own data directory (and its own
//! PostgreSQL database when `PLANTD_TEST_DATABASE_URL` is set), known admin credentials.

use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};

use super::eventually;

static NEXT_PORT: AtomicU16 = AtomicU16::new(0);

/// A port nobody listens on now, from a range that depends on the process id so that
/// concurrent test runs rarely collide. The range stays below Linux's ephemeral ports
/// (32768 and up): a port found free there could be taken a moment later by one of the
/// tests' own outgoing connections, and plantd would then fail to start.
pub fn free_port() -> u16 {
    let _ = NEXT_PORT.compare_exchange(
        0,
        20_000 + (std::process::id() % 1100) as u16 * 10,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    loop {
        let port = NEXT_PORT.fetch_add(1, Ordering::SeqCst);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Waits until the plantd `child` answers `/readyz` with 200; panics if it exits first.
pub fn wait_ready(mut child: Child, readyz_url: &str) -> Child {
    eventually(Duration::from_secs(60), "plantd to be ready", || {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("plantd exited during start-up: {status}");
        }
        ureq::get(readyz_url)
            .timeout(Duration::from_secs(2))
            .call()
            .ok()
            .filter(|r| r.status() == 200)
    });
    child
}

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef0123";
pub const ADMIN_PASSWORD: &str = "test-admin-password";

pub struct Server {
    child: Option<Child>,
    pub http_port: u16,
    pub mqtt_port: u16,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub extra_env: Vec<(String, String)>,
    pub stdout: String,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts plantd with extra `PLANTD_*` settings.
    pub fn start_with(env: &[(&str, &str)]) -> Server {
        let mut server = Server::prepare(env);
        server.spawn();
        server
    }

    /// Ports, data directory and database for a plantd that is not started yet (start it
    /// with your own [`Server::command`] and hand it over with [`Server::adopt`]).
    pub fn prepare(env: &[(&str, &str)]) -> Server {
        let name = format!("{}-{}", std::process::id(), free_port());
        let data_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("plantd-tests")
            .join(&name);
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir).expect("data dir");
        let database_url = std::env::var("PLANTD_TEST_DATABASE_URL")
            .ok()
            .map(|base| fresh_postgres_database(&base, &name));
        Server {
            child: None,
            http_port: free_port(),
            mqtt_port: free_port(),
            data_dir,
            database_url,
            extra_env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            stdout: String::new(),
        }
    }

    /// Takes a plantd started from [`Server::command`]: waits until it is ready; it is
    /// then stopped and cleaned up like any other.
    pub fn adopt(&mut self, child: Child) {
        let url = self.url("/readyz");
        self.child = Some(wait_ready(child, &url));
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_plantd"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PLANTD_DATA_DIR", &self.data_dir)
            .env("PLANTD_HTTP_ADDR", format!("127.0.0.1:{}", self.http_port))
            .env("PLANTD_MQTT_ADDR", format!("127.0.0.1:{}", self.mqtt_port))
            // The WebSocket listener is on by default (8083): tests that want it give it a
            // free port of their own (`extra_env`, applied below).
            .env("PLANTD_MQTT_WS_ADDR", "off")
            .env("PLANTD_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("PLANTD_ADMIN_PASSWORD", ADMIN_PASSWORD)
            // Pages show times in the plant time zone: UTC keeps their text the same
            // on every machine (a test of another zone sets its own).
            .env("PLANTD_PLANT_TIME_ZONE", "UTC")
            .env(
                "PLANTD_LOG",
                std::env::var("PLANTD_TEST_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .current_dir(&self.data_dir);
        if let Some(url) = &self.database_url {
            cmd.env("PLANTD_DATABASE_URL", url);
        }
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    fn spawn(&mut self) {
        let child = self
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start plantd");
        let url = self.url("/readyz");
        self.child = Some(wait_ready(child, &url));
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http_port)
    }

    /// SIGTERM, then waits for a clean exit; returns its status and what it printed.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -TERM failed");
        let exit = eventually(
            Duration::from_secs(30),
            "plantd to exit after SIGTERM",
            || child.try_wait().ok().flatten(),
        );
        if let Some(mut out) = child.stdout.take() {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            self.stdout.push_str(&text);
        }
        exit
    }

    /// SIGKILL: the process ends at once, as in a power cut (no drain, no flush).
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("server running");
        child.kill().expect("kill -9");
        child.wait().expect("wait for the killed plantd");
    }

    /// Stops with SIGTERM and starts again on the same data and ports.
    pub fn restart(&mut self) {
        let status = self.stop();
        assert!(status.success(), "plantd did not exit cleanly: {status}");
        self.spawn();
    }

    /// Starts again after [`Server::stop`], on the same data and ports.
    pub fn restart_stopped(&mut self) {
        self.spawn();
    }

    /// The plantd process's id (to send it a signal such as SIGHUP).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    pub fn mqtt_addr(&self) -> (&'static str, u16) {
        ("127.0.0.1", self.mqtt_port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let (Some(url), Ok(base)) = (
            &self.database_url,
            std::env::var("PLANTD_TEST_DATABASE_URL"),
        ) {
            drop_postgres_database(&base, url);
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

pub fn drop_postgres_database(base: &str, url: &str) {
    let Some(db) = url.rsplit('/').next() else {
        return;
    };
    let admin = format!("{}/postgres", base.trim_end_matches('/'));
    if let Ok(mut conn) = PgConnection::establish(&admin) {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .execute(&mut conn);
    }
}

/// Creates an empty database `plantd_<name>` on the server of `base` and returns its URL.
pub fn fresh_postgres_database(base: &str, name: &str) -> String {
    let db = format!("plantd_{}", name.replace('-', "_"));
    let admin = format!("{}/postgres", base.trim_end_matches('/'));
    let mut conn =
        PgConnection::establish(&admin).expect("connect to PostgreSQL (PLANTD_TEST_DATABASE_URL)");
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {db}"))
        .execute(&mut conn)
        .expect("drop database");
    diesel::sql_query(format!("CREATE DATABASE {db}"))
        .execute(&mut conn)
        .expect("create database");
    format!("{}/{db}", base.trim_end_matches('/'))
}
