//! `plantd simulate` against a real plantd: its devices keep sampling through a server
//! restart, buffer on disk while the broker is gone, flush on reconnect, and every sample
//! they generated is stored exactly once (counted on both sides); they perform a
//! firmware update campaign, take desired shadow changes and answer commands.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::http::api;
use crate::support::server::{free_port, ADMIN_TOKEN};
use crate::support::{eventually, Server};

const DEVICES: usize = 3;

/// Points of `cycles` stored for all simulated devices (0 for one not provisioned yet).
fn stored(server: &Server) -> usize {
    (0..DEVICES)
        .map(|i| {
            let (status, body) = api(server).get(&format!(
                "/api/v1/devices/sim-{i:04}/telemetry?metric=cycles&from=0&to=4102444800000&limit=100000"
            ));
            if status != 200 {
                return 0;
            }
            body["points"].as_array().map(Vec::len).unwrap_or(0)
        })
        .sum()
}

/// The simulator process, killed if the test ends early.
struct Simulator(std::process::Child);

impl Drop for Simulator {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn simulator_survives_a_broker_restart_without_losing_samples() {
    let mut server = Server::start();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("plantd-sim-tests")
        .join(format!("{}-{}", std::process::id(), free_port()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let mut sim = Simulator(
        Command::new(env!("CARGO_BIN_EXE_plantd"))
            .args(["simulate", "--url", &server.url(""), "--mqtt"])
            .arg(format!("127.0.0.1:{}", server.mqtt_port))
            .args(["--token", ADMIN_TOKEN, "--rate", "20", "--json"])
            .args([
                "--devices",
                &DEVICES.to_string(),
                "--fault",
                "sim-0001:bearing",
            ])
            .arg("--buffer-dir")
            .arg(&dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PLANTD_LOG", "warn")
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start plantd simulate"),
    );

    eventually(
        Duration::from_secs(20),
        "live samples from the simulator",
        || (stored(&server) >= 60).then_some(()),
    );
    let creds = std::fs::read_to_string(dir.join("credentials.json")).expect("credentials");
    assert!(creds.contains("sim-0002"), "{creds}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("credentials.json"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "credentials are for the owner only");
    }

    // The broker goes away for a while; the simulator keeps sampling into its buffers.
    assert!(server.stop().success());
    eventually(
        Duration::from_secs(10),
        "samples buffered on disk during the outage",
        || {
            let buffered: u64 = (0..DEVICES)
                .map(|i| {
                    std::fs::read_to_string(dir.join(format!("sim-{i:04}.jsonl")))
                        .map(|t| t.lines().count() as u64)
                        .unwrap_or(0)
                })
                .sum();
            (buffered > 0).then_some(())
        },
    );
    server.restart_stopped();
    let before_stop = eventually(Duration::from_secs(20), "buffers flushed", || {
        let total: usize = (0..DEVICES)
            .map(|i| {
                std::fs::metadata(dir.join(format!("sim-{i:04}.jsonl")))
                    .map(|m| m.len() as usize)
                    .unwrap_or(0)
            })
            .sum();
        (total == 0).then(|| stored(&server))
    });
    assert!(before_stop > 60);

    // A firmware campaign: every simulated device downloads, verifies, installs, reboots
    // and reports the new version (samples keep flowing through the reboots).
    let (status, fw) = crate::firmware::upload(&server, "1.1.0", &[7u8; 50_000]);
    assert_eq!(status, 201, "{fw}");
    let (status, campaign) = api(&server).post(
        "/api/v1/firmware-campaigns",
        serde_json::json!({ "firmware": fw["id"], "devices": ["sim-0000", "sim-0001", "sim-0002"], "timeout_s": 30 }),
    );
    assert_eq!(status, 201, "{campaign}");
    let path = format!(
        "/api/v1/firmware-campaigns/{}",
        campaign["id"].as_str().expect("id")
    );
    let finished = eventually(Duration::from_secs(30), "the simulated update", || {
        let (_, c) = api(&server).get(&path);
        (c["status"] == "finished").then_some(c)
    });
    assert_eq!(finished["counts"]["done"], DEVICES, "{finished}");

    let status = Command::new("kill")
        .args(["-TERM", &sim.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = eventually(Duration::from_secs(30), "the simulator to exit", || {
        sim.0.try_wait().ok().flatten()
    });
    assert!(exit.success(), "simulate exited with {exit}");
    let mut out = String::new();
    sim.0
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    let totals: Value = serde_json::from_str(out.trim()).expect("--json prints one object");
    let generated = totals["generated"].as_u64().expect("generated");
    assert!(totals["buffered"].as_u64() > Some(0), "{totals}");
    assert!(totals["flushed"].as_u64() > Some(0), "{totals}");
    assert_eq!(totals["left_in_buffer"], 0, "{totals}");
    assert_eq!(totals["lost"], 0, "{totals}");
    assert_eq!(totals["firmware_updates"], DEVICES, "{totals}");
    assert_eq!(totals["acked"].as_u64(), Some(generated), "{totals}");
    let stored = eventually(Duration::from_secs(10), "every sample stored", || {
        let n = stored(&server);
        (n as u64 >= generated).then_some(n)
    });
    assert_eq!(stored as u64, generated, "stored == generated: {totals}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A command's state once it is final (`None` while it is open).
fn final_state(server: &Server, device: &str, id: &str) -> Option<Value> {
    let (status, c) = api(server).get(&format!("/api/v1/devices/{device}/commands/{id}"));
    assert_eq!(status, 200, "{c}");
    (!["pending", "delivered"].contains(&c["state"].as_str().unwrap_or(""))).then_some(c)
}

#[test]
fn simulated_devices_answer_desired_changes_and_commands() {
    let server = Server::start();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("plantd-sim-tests")
        .join(format!("{}-{}", std::process::id(), free_port()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let _sim = Simulator(
        Command::new(env!("CARGO_BIN_EXE_plantd"))
            .args(["simulate", "--url", &server.url(""), "--mqtt"])
            .arg(format!("127.0.0.1:{}", server.mqtt_port))
            .args(["--token", ADMIN_TOKEN, "--rate", "1", "--devices", "1"])
            .arg("--buffer-dir")
            .arg(&dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PLANTD_LOG", "warn")
            .current_dir(&dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("start plantd simulate"),
    );
    let device = "sim-0000";
    // Connected: it reported its firmware version into the shadow.
    eventually(Duration::from_secs(20), "the simulator online", || {
        let (status, shadow) = api(&server).get(&format!("/api/v1/devices/{device}/shadow"));
        (status == 200 && shadow["reported"]["firmware_version"].is_string()).then_some(())
    });

    // (a) A desired change is taken and reported back; the delta empties.
    let patched = crate::shadow::patch_desired(
        &server,
        device,
        serde_json::json!({ "speed_rpm": 1450, "mode": { "eco": true } }),
    );
    assert_eq!(patched["delta"]["speed_rpm"], 1450, "{patched}");
    let shadow = eventually(
        Duration::from_secs(10),
        "the desired state reported",
        || {
            let (_, shadow) = api(&server).get(&format!("/api/v1/devices/{device}/shadow"));
            (shadow["delta"] == serde_json::json!({})).then_some(shadow)
        },
    );
    assert_eq!(shadow["reported"]["speed_rpm"], 1450, "{shadow}");
    assert_eq!(shadow["reported"]["mode"]["eco"], true, "{shadow}");
    assert!(
        shadow["reported"]["firmware_version"].is_string(),
        "{shadow}"
    );

    // (b) Commands: `ping` succeeds, an unknown name fails with the device's reason.
    let send = |name: &str| {
        let (status, c) = api(&server).post(
            &format!("/api/v1/devices/{device}/commands"),
            serde_json::json!({ "name": name, "args": {} }),
        );
        assert_eq!(status, 202, "{c}");
        c["id"].as_str().expect("id").to_owned()
    };
    let ping = send("ping");
    let unknown = send("self_destruct");
    let ping = eventually(Duration::from_secs(10), "ping answered", || {
        final_state(&server, device, &ping)
    });
    assert_eq!(ping["state"], "succeeded", "{ping}");
    assert_eq!(ping["result"]["detail"], "pong", "{ping}");
    let unknown = eventually(Duration::from_secs(10), "unknown answered", || {
        final_state(&server, device, &unknown)
    });
    assert_eq!(unknown["state"], "failed", "{unknown}");
    assert!(
        unknown["result"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("self_destruct")),
        "{unknown}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
