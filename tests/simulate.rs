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
    let (_, key) = api(&server).get("/api/v1/firmware/signing-key");
    let saved: Value = serde_json::from_str(&creds).expect("credentials json");
    assert_eq!(
        saved["firmware_signing_key"], key["public_key"],
        "the simulator keeps plantd's firmware key with its credentials"
    );
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

/// A man in the middle of the plaintext channels, as on a shared plant network: an MQTT
/// proxy between the devices and the broker that rewrites the `sha256` of every
/// `firmware/available` notice, and an HTTP server (where plantd's `public_url` now points)
/// that serves the attacker's image, of the genuine size, whose SHA-256 the rewritten
/// notice names. Before signatures the device found size and hash right and installed it.
mod man_in_the_middle {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Serves `image` to every GET; counts the downloads.
    pub fn image_server(image: Vec<u8>) -> (u16, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    image.len()
                );
                let _ = conn.write_all(&image);
            }
        });
        (port, hits)
    }

    /// One MQTT packet from `from`: fixed header and body.
    fn packet(from: &mut TcpStream) -> Option<(Vec<u8>, Vec<u8>)> {
        let mut header = vec![0u8; 1];
        from.read_exact(&mut header).ok()?;
        let (mut len, mut shift) = (0usize, 0);
        loop {
            let mut b = [0u8; 1];
            from.read_exact(&mut b).ok()?;
            header.push(b[0]);
            len |= usize::from(b[0] & 0x7f) << shift;
            shift += 7;
            if b[0] & 0x80 == 0 {
                break;
            }
        }
        let mut body = vec![0u8; len];
        from.read_exact(&mut body).ok()?;
        Some((header, body))
    }

    /// Proxies MQTT to `broker`, replacing the hex after `"sha256":"` in every PUBLISH
    /// with `fake_sha256` (same length, so the packet's length stays right).
    pub fn proxy(broker: u16, fake_sha256: String) -> (u16, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let rewritten = Arc::new(AtomicUsize::new(0));
        let count = rewritten.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", broker)) else {
                    continue;
                };
                let (mut up_in, mut up_out) = (client.try_clone().expect("clone"), server);
                let mut down_in = up_out.try_clone().expect("clone");
                let mut down_out = client;
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut up_in, &mut up_out);
                    let _ = up_out.shutdown(std::net::Shutdown::Both);
                });
                let (fake, count) = (fake_sha256.clone(), count.clone());
                std::thread::spawn(move || {
                    while let Some((header, mut body)) = packet(&mut down_in) {
                        let marker = b"\"sha256\":\"";
                        if header[0] >> 4 == 3 {
                            if let Some(at) = body.windows(marker.len()).position(|w| w == marker) {
                                let start = at + marker.len();
                                body[start..start + 64].copy_from_slice(fake.as_bytes());
                                count.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        if down_out
                            .write_all(&header)
                            .and_then(|_| down_out.write_all(&body))
                            .is_err()
                        {
                            break;
                        }
                    }
                    let _ = down_out.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        (port, rewritten)
    }
}

#[test]
fn attack_a_rewritten_notice_and_a_swapped_image_are_refused_by_the_signature() {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::Ordering;

    let genuine = vec![7u8; 40_000];
    let mut evil = genuine.clone();
    evil[..12].copy_from_slice(b"backdoor!!!!");
    let (evil_port, downloads) = man_in_the_middle::image_server(evil.clone());
    let server = Server::start_with(&[(
        "PLANTD_PUBLIC_URL",
        &format!("http://127.0.0.1:{evil_port}"),
    )]);
    let (proxy_port, rewritten) =
        man_in_the_middle::proxy(server.mqtt_port, hex::encode(Sha256::digest(&evil)));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("plantd-sim-tests")
        .join(format!("{}-{}", std::process::id(), free_port()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let _sim = Simulator(
        Command::new(env!("CARGO_BIN_EXE_plantd"))
            .args(["simulate", "--url", &server.url(""), "--mqtt"])
            .arg(format!("127.0.0.1:{proxy_port}"))
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
    eventually(Duration::from_secs(20), "the simulator online", || {
        let (status, shadow) = api(&server).get(&format!("/api/v1/devices/{device}/shadow"));
        (shadow["reported"]["firmware_version"] == "1.0.0" && status == 200).then_some(())
    });

    let (status, fw) = crate::firmware::upload(&server, "6.6.6", &genuine);
    assert_eq!(status, 201, "{fw}");
    let (status, campaign) = api(&server).post(
        "/api/v1/firmware-campaigns",
        serde_json::json!({ "firmware": fw["id"], "devices": [device], "timeout_s": 30, "retries": 0 }),
    );
    assert_eq!(status, 201, "{campaign}");
    let path = format!(
        "/api/v1/firmware-campaigns/{}",
        campaign["id"].as_str().expect("id")
    );
    let target = eventually(Duration::from_secs(30), "the device to give up", || {
        let (_, c) = api(&server).get(&path);
        let t = c["targets"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["device_id"] == device))
            .cloned()?;
        (t["state"] == "failed" || t["state"] == "done").then_some(t)
    });
    // The attack reached the device: the notice was rewritten and the evil image fetched,
    // and size and hash matched it; only the signature stood in the way.
    assert!(
        rewritten.load(Ordering::SeqCst) >= 1,
        "the proxy rewrote a notice"
    );
    assert!(
        downloads.load(Ordering::SeqCst) >= 1,
        "the device fetched the evil image"
    );
    assert_eq!(target["state"], "failed", "{target}");
    assert!(
        target["detail"]
            .as_str()
            .unwrap_or("")
            .contains("signature"),
        "{target}"
    );
    // Not installed: the device still runs its old version after a while.
    std::thread::sleep(Duration::from_secs(2));
    let (_, shadow) = api(&server).get(&format!("/api/v1/devices/{device}/shadow"));
    assert_eq!(shadow["reported"]["firmware_version"], "1.0.0", "{shadow}");
    let _ = std::fs::remove_dir_all(dir);
}
