//! Faults (issue 13, item 6): no acknowledged loss. Devices publish QoS 1 samples in a
//! loop and record every PUBACK they get; then plantd is stopped (SIGTERM), killed
//! (kill -9), loses its PostgreSQL (a TCP forwarder between them is cut) or its disk fills
//! up (SQLite on a small tmpfs); afterwards every acknowledged sample must be stored, once.
//! plantd acknowledges a device's QoS 1 telemetry only after its commit
//! (`mqtt_puback_after_commit`), so while storage cannot commit, devices wait.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::backpressure::{stored_seqs, Loader};
use crate::support::http::{metric, provision};
use crate::support::proxy::{through_proxy, Proxy};
use crate::support::{eventually, Server};

/// No per-device rate limit: each device publishes as fast as its in-flight window (100
/// unacknowledged publishes, rumqttc's default) allows.
const FLAT_OUT: &[(&str, &str)] = &[("PLANTD_MQTT_DEVICE_MAX_MSGS_PER_S", "0")];

/// How long the database stays away in the outage test: 5 s, or `PLANTD_TEST_OUTAGE_S`
/// (the README's manual run of 30 s).
fn outage() -> Duration {
    let seconds = std::env::var("PLANTD_TEST_OUTAGE_S")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    Duration::from_secs(seconds)
}

/// Starts `devices` QoS 1 publishers and waits until each has had more than `flowing`
/// publishes acknowledged.
fn start_load(
    server: &Server,
    prefix: &str,
    devices: usize,
    flowing: u64,
) -> Vec<(String, Loader)> {
    let loaders: Vec<_> = (0..devices)
        .map(|i| {
            let id = format!("{prefix}-{i}");
            let password = provision(server, &id);
            let loader = Loader::start(server, &id, &password, u64::MAX);
            (id, loader)
        })
        .collect();
    eventually(Duration::from_secs(60), "the load to be flowing", || {
        acked(&loaders).iter().all(|n| *n > flowing).then_some(())
    });
    loaders
}

fn acked(loaders: &[(String, Loader)]) -> Vec<u64> {
    loaders.iter().map(|(_, l)| l.acked()).collect()
}

/// Stops the publishers: (device, sent, acknowledged seqs) each.
fn finish(loaders: Vec<(String, Loader)>) -> Vec<(String, u64, BTreeSet<u64>)> {
    loaders
        .into_iter()
        .map(|(id, l)| {
            let (sent, acked) = l.finish();
            (id, sent, acked)
        })
        .collect()
}

/// Waits until every loader has had 100 more publishes acknowledged than `frozen`.
fn wait_until_every_device_moves_on(loaders: &[(String, Loader)], frozen: &[u64], what: &str) {
    eventually(Duration::from_secs(90), what, || {
        acked(loaders)
            .iter()
            .zip(frozen)
            .all(|(now, before)| *now > before + 100)
            .then_some(())
    });
}

/// Every acknowledged sample is stored (once: `stored_seqs` checks), and only samples
/// that were sent (a stored sample whose PUBACK was cut off is allowed).
fn assert_acknowledged_stored(
    server: &Server,
    what: &str,
    counts: &[(String, u64, BTreeSet<u64>)],
) {
    for (id, sent, acknowledged) in counts {
        assert!(!acknowledged.is_empty(), "{id}: the load was flowing");
        let stored = eventually(
            Duration::from_secs(60),
            "acknowledged samples stored",
            || {
                let stored = stored_seqs(server, id);
                acknowledged.is_subset(&stored).then_some(stored)
            },
        );
        eprintln!(
            "{what}: {id}: {sent} sent, {} acknowledged, {} stored",
            acknowledged.len(),
            stored.len()
        );
        assert!(stored.iter().all(|seq| seq < sent), "{id}: {stored:?}");
    }
}

fn readyz(server: &Server) -> u16 {
    match ureq::get(&server.url("/readyz"))
        .timeout(Duration::from_secs(30))
        .call()
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(_) => 0,
    }
}

#[test]
fn sigterm_drains_and_every_acknowledged_sample_is_stored() {
    let mut server = Server::start_with(FLAT_OUT);
    let loaders = start_load(&server, "term", 6, 300);
    let asked = Instant::now();
    // Panics unless plantd exits within 30 s (its drain deadline: the broker's 10 s, then
    // telemetry's flush).
    let status = server.stop();
    eprintln!(
        "SIGTERM under load: exited {status} after {:?}",
        asked.elapsed()
    );
    assert!(status.success(), "clean exit under load: {status}");
    let counts = finish(loaders);
    server.restart_stopped();
    assert_acknowledged_stored(&server, "SIGTERM", &counts);
}

#[test]
fn kill_9_under_qos1_load_loses_no_acknowledged_sample() {
    let mut server = Server::start_with(FLAT_OUT);
    let loaders = start_load(&server, "cut", 6, 300);
    // A power cut as far as plantd can tell: no drain, no flush.
    server.kill();
    let counts = finish(loaders);
    server.restart_stopped();
    assert_acknowledged_stored(&server, "kill -9", &counts);
}

#[test]
fn database_outage_holds_acknowledgements_and_ingest_resumes_alone() {
    let mut server = Server::prepare(FLAT_OUT);
    let Some(url) = server.database_url.clone() else {
        // SQLite is a file, not a server to lose: its failing writes are the disk-full test.
        eprintln!("database outage: PostgreSQL only (PLANTD_TEST_DATABASE_URL unset)");
        return;
    };
    // Never stop the shared PostgreSQL: cut a forwarder between it and plantd instead.
    let (target, via) = through_proxy(&url);
    let proxy = Proxy::start(&target);
    server.database_url = Some(via(proxy.port));
    let child = server
        .command()
        .stdout(Stdio::null())
        .spawn()
        .expect("start plantd");
    server.adopt(child);
    let loaders = start_load(&server, "outage", 4, 200);

    proxy.cut();
    eventually(Duration::from_secs(90), "/readyz to answer 503", || {
        (readyz(&server) == 503).then_some(())
    });
    // Whatever was committed before the cut is acknowledged by now; from here on nothing
    // can commit, so nothing more may be acknowledged for as long as the outage lasts.
    let frozen = acked(&loaders);
    let cut_at = Instant::now();
    let outage = outage();
    while cut_at.elapsed() < outage {
        assert_eq!(
            acked(&loaders),
            frozen,
            "a PUBACK while the database was away"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let waiting = metric(&server, "plantd_mqtt_pubacks_waiting_connections", "");
    let unavailable = metric(
        &server,
        "plantd_storage_errors_total",
        "kind=\"unavailable\"",
    );
    eprintln!(
        "outage of {outage:?}: acknowledged {frozen:?} before it, {waiting} connections waiting, \
         {unavailable} storage errors (unavailable)"
    );
    assert!(waiting >= 1.0, "devices wait for their PUBACKs");
    assert!(unavailable > 0.0, "the failed writes are counted");

    proxy.restore();
    eventually(
        Duration::from_secs(90),
        "/readyz to answer 200 again",
        || (readyz(&server) == 200).then_some(()),
    );
    wait_until_every_device_moves_on(&loaders, &frozen, "ingest to resume by itself");
    let counts = finish(loaders);
    assert_acknowledged_stored(&server, "database outage", &counts);
}

/// A tmpfs mounted on a folder for as long as it lives (lazily unmounted: plantd may still
/// hold files in it).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// `None` when this process may not mount (not root, or no CAP_SYS_ADMIN).
    fn mount(at: &std::path::Path, size: &str) -> Option<Tmpfs> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes zeros to `path` until the file system is full.
fn fill(path: &std::path::Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).expect("filler");
    for chunk in [1 << 20, 4096, 512] {
        let zeros = vec![0u8; chunk];
        while file.write_all(&zeros).is_ok() {}
    }
    let _ = file.sync_all();
}

#[test]
fn disk_full_holds_acknowledgements_and_recovers_when_space_returns() {
    let mut server = Server::prepare(FLAT_OUT);
    if server.database_url.is_some() {
        eprintln!("disk full: SQLite only (a PostgreSQL server's disk is not ours to fill)");
        return;
    }
    // A real full disk: the data directory on a small tmpfs. Mounting needs root (as CI
    // runs, `.ci/run`): like a missing browser or database, not being able to fails the
    // test rather than skipping it.
    let Some(_disk) = Tmpfs::mount(&server.data_dir, "48m") else {
        panic!("disk full: cannot mount a tmpfs on the data directory (run the tests as root, as CI does)");
    };
    let child = server
        .command()
        .stdout(Stdio::null())
        .spawn()
        .expect("start plantd");
    server.adopt(child);
    let loaders = start_load(&server, "full", 3, 200);

    let filler = server.data_dir.join("filler");
    fill(&filler);
    let full =
        |server: &Server| metric(server, "plantd_storage_errors_total", "kind=\"disk_full\"");
    let first = eventually(
        Duration::from_secs(120),
        "a write to fail: disk full",
        || {
            let n = full(&server);
            (n > 0.0).then_some(n)
        },
    );
    // Writes keep failing (telemetry retries each batch interval); no PUBACK goes out
    // meanwhile.
    let frozen = acked(&loaders);
    eventually(Duration::from_secs(60), "more failed writes", || {
        (full(&server) >= first + 3.0).then_some(())
    });
    assert_eq!(acked(&loaders), frozen, "a PUBACK while the disk was full");
    assert!(
        metric(&server, "plantd_mqtt_pubacks_waiting_connections", "") >= 1.0,
        "devices wait for their PUBACKs"
    );
    eprintln!(
        "disk full: acknowledged {frozen:?} before it, {} failed writes",
        full(&server)
    );

    std::fs::remove_file(&filler).expect("free the space");
    wait_until_every_device_moves_on(&loaders, &frozen, "ingest to resume once space returned");
    let counts = finish(loaders);
    assert_acknowledged_stored(&server, "disk full", &counts);
}

/// Storage's write lock, taken from outside plantd until released: an IMMEDIATE
/// transaction on the SQLite file (plantd's writes fail busy and are retried), or on
/// PostgreSQL an exclusive lock on the telemetry table (plantd's batch waits).
enum StorageHold {
    Sqlite(diesel::SqliteConnection),
    Pg(diesel::PgConnection),
}

impl StorageHold {
    fn take(server: &Server) -> StorageHold {
        use diesel::{Connection, RunQueryDsl};
        match &server.database_url {
            Some(url) => {
                let mut c = diesel::PgConnection::establish(url).expect("PostgreSQL");
                diesel::sql_query("BEGIN").execute(&mut c).expect("begin");
                diesel::sql_query("LOCK TABLE telemetry_recent IN ACCESS EXCLUSIVE MODE")
                    .execute(&mut c)
                    .expect("lock");
                StorageHold::Pg(c)
            }
            None => {
                let path = server.data_dir.join("plantd.db");
                let mut c = diesel::SqliteConnection::establish(&path.display().to_string())
                    .expect("SQLite");
                diesel::sql_query("PRAGMA busy_timeout = 10000")
                    .execute(&mut c)
                    .expect("busy_timeout");
                diesel::sql_query("BEGIN IMMEDIATE")
                    .execute(&mut c)
                    .expect("write lock");
                StorageHold::Sqlite(c)
            }
        }
    }

    fn release(self) {
        use diesel::RunQueryDsl;
        let done = match self {
            StorageHold::Sqlite(mut c) => diesel::sql_query("COMMIT").execute(&mut c),
            StorageHold::Pg(mut c) => diesel::sql_query("COMMIT").execute(&mut c),
        };
        done.expect("release the lock");
    }
}

/// A payload refused because `telemetry_max_buffered_samples` wait for storage was
/// acknowledged and lost before; now its session ends without a PUBACK, the device sends
/// it again after reconnecting, and it is stored once storage catches up.
#[test]
fn a_qos1_payload_refused_while_storage_is_behind_is_sent_again_not_acknowledged() {
    use rumqttc::{Client, Event, Packet, QoS};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    let server = Server::start_with(&[
        ("PLANTD_MQTT_DEVICE_MAX_MSGS_PER_S", "0"),
        ("PLANTD_TELEMETRY_MAX_BUFFERED_SAMPLES", "1000"),
    ]);
    let filler_password = provision(&server, "filler-1");
    let mut filler = crate::support::mqtt::device(&server, "filler-1", &filler_password);
    let password = provision(&server, "press-1");
    // press-1 records each PUBACK, each end of its connection, and whether storage was
    // released when the PUBACK came; rumqttc reconnects and sends unacknowledged
    // publishes again by itself.
    let (client, mut connection) = Client::new(
        crate::support::mqtt::options(&server, "press-1", Some(("press-1", &password))),
        10,
    );
    let acked = Arc::new(AtomicU64::new(0));
    let acked_while_held = Arc::new(AtomicU64::new(0));
    let closed = Arc::new(AtomicU64::new(0));
    let connected = Arc::new(AtomicU64::new(0));
    let held = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let events = {
        let (acked, acked_while_held, closed, connected, held, stop) = (
            acked.clone(),
            acked_while_held.clone(),
            closed.clone(),
            connected.clone(),
            held.clone(),
            stop.clone(),
        );
        std::thread::spawn(move || {
            for event in connection.iter() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        connected.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        acked.fetch_add(1, Ordering::SeqCst);
                        if held.load(Ordering::SeqCst) {
                            acked_while_held.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Ok(_) => {}
                    Err(_) => {
                        closed.fetch_add(1, Ordering::SeqCst);
                        // A pause before rumqttc's next attempt, not a wait for a result.
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
            }
        })
    };
    eventually(Duration::from_secs(15), "press-1 connected", || {
        (connected.load(Ordering::SeqCst) > 0).then_some(())
    });

    held.store(true, Ordering::SeqCst);
    let hold = StorageHold::take(&server);
    // 1,000 samples (four payloads of 250 metrics) fill the ingest buffer.
    let accepted_before = metric(&server, "plantd_telemetry_samples_accepted_total", "");
    for ts in 0..4 {
        let values: Vec<String> = (0..250).map(|m| format!("\"m{m}\": {ts}")).collect();
        let payload = format!(
            r#"{{"ts": {}, "values": {{{}}}}}"#,
            5_000_000 + ts,
            values.join(",")
        );
        filler.publish("devices/filler-1/telemetry", payload, QoS::AtMostOnce);
    }
    eventually(Duration::from_secs(30), "the buffer full", || {
        (metric(&server, "plantd_telemetry_samples_accepted_total", "") >= accepted_before + 1000.0)
            .then_some(())
    });
    client
        .publish(
            "devices/press-1/telemetry",
            QoS::AtLeastOnce,
            false,
            r#"{"ts": 7000000, "values": {"seq": 42}}"#,
        )
        .expect("publish");
    let overloaded = |s: &Server| {
        metric(
            s,
            "plantd_telemetry_payloads_rejected_total",
            "reason=\"overloaded\"",
        )
    };
    eventually(
        Duration::from_secs(30),
        "the payload refused, the session ended",
        || (overloaded(&server) >= 1.0 && closed.load(Ordering::SeqCst) >= 1).then_some(()),
    );
    assert!(
        metric(
            &server,
            "plantd_mqtt_unacknowledged_session_ends_total",
            "reason=\"not_stored\""
        ) >= 1.0,
        "the session was ended unacknowledged"
    );
    assert_eq!(
        acked_while_held.load(Ordering::SeqCst),
        0,
        "a PUBACK for a payload that was not stored"
    );

    // Released first: a PUBACK that slipped out while it was held is still counted.
    hold.release();
    held.store(false, Ordering::SeqCst);
    eventually(Duration::from_secs(60), "the PUBACK after a resend", || {
        (acked.load(Ordering::SeqCst) >= 1).then_some(())
    });
    assert_eq!(acked_while_held.load(Ordering::SeqCst), 0);
    let stored = eventually(Duration::from_secs(30), "the sample stored", || {
        let points = crate::support::http::points(&server, "press-1", "seq");
        (!points.is_empty()).then_some(points)
    });
    assert_eq!(stored.len(), 1, "stored once: {stored:?}");
    assert_eq!(stored[0].1, 42.0);
    eprintln!(
        "overload: {} refusals, {} connections ended, then acknowledged",
        overloaded(&server),
        closed.load(Ordering::SeqCst)
    );
    stop.store(true, Ordering::SeqCst);
    let _ = client.disconnect();
    let _ = events.join();
}
