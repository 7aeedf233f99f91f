//! The command line: `--version`, settings errors (exit code 2, one line naming the
//! setting), `plantd migrate`, `plantd device add` against a running server's database, and
//! the first start's generated admin credentials printed once.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rumqttc::QoS;
use serde_json::Value;

use crate::support::http::{api, stored_points};
use crate::support::mqtt::device;
use crate::support::server::free_port;
use crate::support::{eventually, Server};

/// The plantd binary with a clean environment (no `PLANTD_*` from the caller) and quiet
/// logs, run in `dir`.
fn plantd(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_plantd"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PLANTD_LOG", "warn")
        // Not the default WebSocket port (8083), which parallel tests would share.
        .env("PLANTD_MQTT_WS_ADDR", "off")
        .current_dir(dir);
    cmd
}

/// A fresh, empty folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("plantd-cli-tests")
        .join(format!("{}-{name}-{}", std::process::id(), free_port()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Runs to completion; a command that is still running after `limit` is killed and the
/// test fails (a bad setting that was accepted would start a server that never exits).
fn run(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn plantd");
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "plantd still running after {limit:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn version_prints_the_crate_version() {
    let out = run(
        {
            let mut cmd = plantd(&std::env::temp_dir());
            cmd.arg("--version");
            cmd
        },
        Duration::from_secs(10),
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        text(&out.stdout).trim(),
        format!("plantd {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_bad_setting_exits_with_code_2_and_one_line_naming_it() {
    let dir = scratch("bad-settings");
    let config = dir.join("custom.toml");
    std::fs::write(&config, "http_adr = \"127.0.0.1:9000\"\n").expect("write config");
    // ./plantd.toml is read without --config.
    let cwd = dir.join("cwd");
    std::fs::create_dir_all(&cwd).expect("cwd");
    std::fs::write(cwd.join("plantd.toml"), "mqtt_segment_count = \"lots\"\n").expect("write");
    let bad_value = dir.join("bad-value.toml");
    std::fs::write(&bad_value, "telemetry_batch_size = 0\n").expect("write config");

    // (how to run it, what the one line must say)
    let cases: Vec<(Command, String)> = vec![
        (
            {
                let mut cmd = plantd(&dir);
                cmd.env("PLANTD_DATA_DIR", &dir)
                    .env("PLANTD_HTTP_ADDR", "nonsense");
                cmd
            },
            "plantd: PLANTD_HTTP_ADDR: 'nonsense' is not an address".to_owned(),
        ),
        (
            {
                let mut cmd = plantd(&dir);
                cmd.env("PLANTD_DATA_DIR", &dir)
                    .args(["--mqtt-addr", "nope"]);
                cmd
            },
            "plantd: --mqtt-addr: 'nope' is not an address".to_owned(),
        ),
        (
            {
                let mut cmd = plantd(&dir);
                cmd.env("PLANTD_DATA_DIR", &dir)
                    .arg("--config")
                    .arg(&config);
                cmd
            },
            format!("plantd: {}: http_adr: unknown setting", config.display()),
        ),
        (
            {
                let mut cmd = plantd(&dir);
                cmd.env("PLANTD_DATA_DIR", &dir)
                    .arg("--config")
                    .arg(&bad_value);
                cmd
            },
            format!("plantd: {}: telemetry_batch_size:", bad_value.display()),
        ),
        (
            {
                let mut cmd = plantd(&cwd);
                cmd.env("PLANTD_DATA_DIR", &dir);
                cmd
            },
            "plantd: plantd.toml: mqtt_segment_count: 'lots' is not a whole number".to_owned(),
        ),
        (
            // Subcommands read the same settings.
            {
                let mut cmd = plantd(&dir);
                cmd.env("PLANTD_DATA_DIR", &dir)
                    .env("PLANTD_LOG_FORMAT", "xml")
                    .arg("migrate");
                cmd
            },
            "plantd: PLANTD_LOG_FORMAT: 'xml' is neither text nor json".to_owned(),
        ),
    ];
    for (cmd, expected) in cases {
        let shown = format!("{cmd:?}");
        let out = run(cmd, Duration::from_secs(10));
        let stderr = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{shown}: exit code\nstderr: {stderr}"
        );
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{shown}: exactly one line: {stderr:?}");
        assert!(
            lines[0].starts_with(&expected),
            "{shown}: {:?} should start with {expected:?}",
            lines[0]
        );
        assert!(text(&out.stdout).is_empty(), "{shown}: nothing on stdout");
    }
    assert!(
        !dir.join("plantd.db").exists(),
        "nothing was started or created with a bad setting"
    );
}

/// Issue 14.7. Attack: an installer sets `admin_password = "admin"` (or a short token),
/// and the first online guesses open the whole plant. plantd must refuse to start with a
/// short admin secret, naming the setting and never echoing the secret itself.
#[test]
fn a_short_admin_secret_is_refused_at_start_naming_the_setting() {
    let dir = scratch("short-secrets");
    let config = dir.join("short.toml");
    std::fs::write(&config, "admin_token = \"short-token-0123\"\n").expect("write config");
    let cases: Vec<(Command, String, &str)> = vec![
        (
            {
                let mut cmd = plantd(&dir);
                cmd.env("PLANTD_DATA_DIR", &dir)
                    .env("PLANTD_ADMIN_PASSWORD", "hunter2");
                cmd
            },
            "plantd: PLANTD_ADMIN_PASSWORD: too short (7 characters): use at least 12".to_owned(),
            "hunter2",
        ),
        (
            {
                let mut cmd = plantd(&dir);
                cmd.env("PLANTD_DATA_DIR", &dir)
                    .args(["--admin-token", "abc123"]);
                cmd
            },
            "plantd: --admin-token: too short (6 characters): use at least 24".to_owned(),
            "abc123",
        ),
        (
            {
                let mut cmd = plantd(&dir);
                cmd.env("PLANTD_DATA_DIR", &dir)
                    .arg("--config")
                    .arg(&config);
                cmd
            },
            format!(
                "plantd: {}: admin_token: too short (16 characters): use at least 24",
                config.display()
            ),
            "short-token-0123",
        ),
    ];
    for (cmd, expected, secret) in cases {
        let shown = format!("{cmd:?}");
        let out = run(cmd, Duration::from_secs(10));
        let stderr = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{shown}: exit code\nstderr: {stderr}"
        );
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{shown}: exactly one line: {stderr:?}");
        assert!(
            lines[0].starts_with(&expected),
            "{shown}: {:?} should start with {expected:?}",
            lines[0]
        );
        assert!(!stderr.contains(secret), "{shown}: the secret is not shown");
    }
    assert!(
        !dir.join("plantd.db").exists(),
        "nothing was started or created with a short secret"
    );
}

#[test]
fn migrate_applies_migrations_once_then_says_up_to_date() {
    // Always SQLite, in a folder that does not exist yet: the freshest possible data dir.
    let data_dir = scratch("migrate").join("data");
    let migrate = || {
        let mut cmd = plantd(data_dir.parent().expect("parent"));
        cmd.env("PLANTD_DATA_DIR", &data_dir).arg("migrate");
        run(cmd, Duration::from_secs(60))
    };
    let first = migrate();
    assert!(
        first.status.success(),
        "first migrate: {}",
        text(&first.stderr)
    );
    let stdout = text(&first.stdout);
    let applied = stdout
        .trim()
        .strip_prefix("applied ")
        .unwrap_or_else(|| panic!("first run reports what it applied: {stdout:?}"));
    let (count, names) = applied.split_once(" migration(s): ").expect("count: names");
    let count: usize = count.parse().expect("a count");
    assert!(
        count >= 3,
        "identity, devices and telemetry at least: {stdout}"
    );
    assert_eq!(names.split(", ").count(), count, "{stdout}");
    assert!(data_dir.join("plantd.db").exists(), "the SQLite file");

    let second = migrate();
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert_eq!(text(&second.stdout).trim(), "database is up to date");

    // The migrated database is one a server starts on.
    let http_port = free_port();
    let mqtt_port = free_port();
    let mut server = Running::spawn(
        {
            let mut cmd = plantd(&data_dir);
            cmd.env("PLANTD_DATA_DIR", &data_dir)
                .env("PLANTD_HTTP_ADDR", format!("127.0.0.1:{http_port}"))
                .env("PLANTD_MQTT_ADDR", format!("127.0.0.1:{mqtt_port}"))
                .env("PLANTD_ADMIN_TOKEN", "a-token-for-the-migrate-test-000000")
                .env("PLANTD_ADMIN_PASSWORD", "a-password-for-the-migrate-test");
            cmd
        },
        http_port,
    );
    let (status, _) = server.stop();
    assert!(status.success());
}

#[test]
fn device_add_prints_credentials_that_log_in_to_the_running_server() {
    let server = Server::start();
    let out = run(
        {
            let mut cmd = server.command();
            cmd.args([
                "device",
                "add",
                "cli-press",
                "--name",
                "Press from the CLI",
                "--kind",
                "press",
            ]);
            cmd
        },
        Duration::from_secs(60),
    );
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "device add: {stdout}\n{}",
        text(&out.stderr)
    );
    let field = |label: &str| -> String {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("no {label:?} line in {stdout:?}"))
    };
    assert_eq!(field("username:"), "cli-press");
    assert_eq!(field("client id:"), "cli-press");
    let password = field("password:");
    assert!(password.len() >= 32, "a long random password: {password:?}");

    // The running server picks the device up (it polls for devices added by other
    // processes), with what the CLI gave it.
    let view = eventually(
        Duration::from_secs(10),
        "the server to know the CLI device",
        || {
            let (status, view) = api(&server).get("/api/v1/devices/cli-press");
            (status == 200).then_some(view)
        },
    );
    assert_eq!(view["name"], "Press from the CLI");
    assert_eq!(view["kind"], "press");

    // The printed credentials log in over MQTT and the telemetry is stored.
    let mut mqtt = device(&server, "cli-press", &password);
    mqtt.publish(
        "devices/cli-press/telemetry",
        r#"{"ts": "2026-01-05T10:00:00Z", "values": {"force_kn": 412.5}}"#,
        QoS::AtLeastOnce,
    );
    let stored = stored_points(&server, "cli-press", "force_kn", 1);
    assert_eq!(stored, vec![("2026-01-05T10:00:00Z".to_owned(), 412.5)]);
    let (_, view) = api(&server).get("/api/v1/devices/cli-press");
    assert_eq!(view["online"], true, "{view}");

    // A wrong password for the same device is refused.
    assert!(
        crate::support::mqtt::connect(&server, "cli-press", Some(("cli-press", "wrong"))).is_err(),
        "a wrong password must not log in"
    );

    // Adding the same id again fails and says why; a bad id fails too.
    for (id, reason) in [("cli-press", "exists"), ("Bad/Id", "device ids")] {
        let mut cmd = server.command();
        cmd.args(["device", "add", id]);
        let out = run(cmd, Duration::from_secs(60));
        assert!(!out.status.success(), "device add {id} must fail");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(reason),
            "device add {id}: {reason:?} not in {stderr:?}"
        );
        assert!(
            !text(&out.stdout).contains("password"),
            "no credentials printed for {id}"
        );
    }
}

/// A plantd server this test started itself, with its stdout collected.
struct Running {
    child: Option<Child>,
}

impl Running {
    fn spawn(mut cmd: Command, http_port: u16) -> Running {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start plantd");
        let url = format!("http://127.0.0.1:{http_port}/readyz");
        Running {
            child: Some(crate::support::server::wait_ready(child, &url)),
        }
    }

    /// SIGTERM, wait, and what it printed on stdout.
    fn stop(&mut self) -> (std::process::ExitStatus, String) {
        let mut child = self.child.take().expect("running");
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let status = eventually(Duration::from_secs(30), "plantd to exit", || {
            child.try_wait().ok().flatten()
        });
        let mut out = String::new();
        if let Some(mut stdout) = child.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        (status, out)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn first_start_prints_generated_admin_credentials_once() {
    // A bootstrapped server gives the ports; the generated-credentials server runs on a
    // fresh SQLite data dir of its own, with the admin settings truly unset.
    let template = Server::start();
    let data_dir = scratch("first-start");
    let http_port = free_port();
    let mqtt_port = free_port();
    let command = || {
        let mut cmd = template.command();
        cmd.env("PLANTD_DATA_DIR", &data_dir)
            .env("PLANTD_HTTP_ADDR", format!("127.0.0.1:{http_port}"))
            .env("PLANTD_MQTT_ADDR", format!("127.0.0.1:{mqtt_port}"))
            .env_remove("PLANTD_DATABASE_URL")
            .env_remove("PLANTD_ADMIN_TOKEN")
            .env_remove("PLANTD_ADMIN_PASSWORD")
            .current_dir(&data_dir);
        cmd
    };
    let base = format!("http://127.0.0.1:{http_port}");

    let mut first = Running::spawn(command(), http_port);
    let (status, stdout) = first.stop();
    assert!(status.success(), "clean exit: {status}");
    let first_start: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("plantd: first start."))
        .collect();
    assert_eq!(
        first_start.len(),
        2,
        "token and password announced: {stdout:?}"
    );
    let secret = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Authorization: Bearer "))
        .unwrap_or_else(|| panic!("the generated token is printed: {stdout:?}"))
        .trim()
        .to_owned();
    let password = stdout
        .lines()
        .find_map(|l| l.split_once("user admin, password "))
        .map(|(_, p)| p.trim().to_owned())
        .unwrap_or_else(|| panic!("the generated password is printed: {stdout:?}"));
    assert!(secret.len() >= 32, "{secret:?}");
    assert!(password.len() >= 12, "{password:?}");

    let mut second = Running::spawn(command(), http_port);
    // The printed token is the admin token, and still works after a restart.
    let response = ureq::get(&format!("{base}/api/v1/tokens"))
        .set("Authorization", &format!("Bearer {secret}"))
        .call()
        .expect("the printed token is accepted");
    let tokens: Value = response.into_json().expect("json");
    assert!(
        tokens["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|t| t["id"] == "tok.admin"),
        "{tokens}"
    );
    // The printed password signs in.
    assert_eq!(sign_in(&base, "admin", &password), 303);
    assert_eq!(sign_in(&base, "admin", "not-the-password"), 401);

    let (status, stdout) = second.stop();
    assert!(status.success());
    assert!(
        !stdout.contains("first start"),
        "second start announces nothing: {stdout:?}"
    );
    assert!(!stdout.contains(&secret), "the token is not reprinted");
    assert!(!stdout.contains(&password), "the password is not reprinted");
}

/// The sign-in form, as a browser submits it; returns the status (303 on success).
fn sign_in(base: &str, user: &str, password: &str) -> u16 {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let form = agent
        .get(&format!("{base}/login"))
        .call()
        .expect("sign-in page");
    let cookie = form
        .all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("plantd_login_csrf="))
        .expect("CSRF cookie")
        .split(';')
        .next()
        .expect("name=value")
        .to_owned();
    let csrf = cookie.split_once('=').expect("=").1.to_owned();
    match agent
        .post(&format!("{base}/login"))
        .set("Cookie", &cookie)
        .send_form(&[
            ("username", user),
            ("password", password),
            ("csrf_token", &csrf),
        ]) {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("sign-in: {e}"),
    }
}
