//! Range queries on a month of 1 s data for one device, and the store rate of the
//! telemetry layout next to the old indexed table.
//!
//! ```text
//! cargo bench --bench range_query                     # SQLite, 30 days
//! cargo bench --bench range_query -- --days 7 --runs 100
//! cargo bench --bench range_query -- --database-url postgres://plantd:plantd@127.0.0.1/plantd_bench
//! cargo bench --bench range_query -- --no-ingest      # skip the ingest comparison
//! ```
//!
//! 1. Loads `--days` of one sample per second of one metric (a random walk) through the
//!    telemetry actor, as `IngestPayload`s of 1000 samples (the path MQTT and HTTP ingest
//!    take, validation included), then compacts everything into chunks and roll-ups.
//! 2. Times a query of the whole range for a 1000-point chart (step = range / 1000, which
//!    minute roll-ups answer), `--runs` times: p50 and p99; then, as the peer, the same
//!    query answered from the raw points (`resolution: raw`, every chunk decoded).
//! 3. Ingest: 1M samples from 1000 interleaved series (100 samples per payload, devices in
//!    turn) through the actor into the new layout, and the same rows inserted directly
//!    into the old layout (`telemetry_samples`, primary key device, metric, ts, WITHOUT
//!    ROWID) in 1000-row transactions: samples stored per second of each.
//!
//! The SQLite database is a fresh file under `target/`; a PostgreSQL database given with
//! `--database-url` must be empty (migrations are applied).

use std::time::{Duration, Instant};

use actix::prelude::*;
use plantd_contracts::telemetry::{
    Aggregate, FlushTelemetry, IngestPayload, IngestSource, QueryAggregate, Resolution,
    RunTelemetryMaintenance,
};
use plantd_contracts::DeviceId;
use plantd_storage::Db;
use plantd_telemetry::{Telemetry, TelemetrySettings};

const DAY_MS: i64 = 86_400_000;

struct Options {
    days: i64,
    runs: usize,
    database_url: Option<String>,
    ingest: bool,
}

fn options() -> Options {
    let mut o = Options {
        days: 30,
        runs: 200,
        database_url: None,
        ingest: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--days" => o.days = args.next().and_then(|v| v.parse().ok()).unwrap_or(30),
            "--runs" => o.runs = args.next().and_then(|v| v.parse().ok()).unwrap_or(200),
            "--database-url" => o.database_url = args.next(),
            "--no-ingest" => o.ingest = false,
            _ => {} // cargo bench passes --bench
        }
    }
    o
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn fresh_sqlite(name: &str) -> String {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench-range-query");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path.display().to_string()
}

fn open(url: &str) -> Db {
    let db = Db::open(url, 8).expect("open database");
    // Telemetry alone: the only module this benchmark starts.
    plantd_storage::run_migrations(&db, &[&plantd_telemetry::MIGRATIONS]).expect("migrations");
    db
}

fn settings() -> TelemetrySettings {
    TelemetrySettings {
        max_buffered_samples: 4_000_000,
        compact_interval: Duration::from_secs(3600),
        retention_raw: None,
        retention_minute: None,
        retention_hour: None,
        ..TelemetrySettings::default()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// One payload: `n` samples of metric `value` from `start`, 1 s apart, a random walk.
fn payload(start: i64, n: usize, walk: &mut f64, rng: &mut u64) -> Vec<u8> {
    let mut out = String::with_capacity(n * 48);
    out.push('[');
    for i in 0..n {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        *walk += ((*rng % 2001) as f64 - 1000.0) / 10_000.0;
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            r#"{{"ts":{},"values":{{"value":{:.2}}}}}"#,
            start + i as i64 * 1000,
            *walk
        ));
    }
    out.push(']');
    out.into_bytes()
}

async fn ingest(telemetry: &Addr<Telemetry>, device: &DeviceId, body: Vec<u8>) {
    let msg = IngestPayload {
        device_id: device.clone(),
        payload: body,
        received_at: now_ms(),
        source: IngestSource::Http,
        receipt: None,
    };
    match telemetry.send(msg).await {
        Ok(Ok(_)) => {}
        other => panic!("ingest refused: {other:?}"),
    }
}

async fn month(o: &Options, url: &str) {
    let db = open(url);
    let telemetry = Telemetry::load(db, settings()).await.expect("load").start();
    let device = DeviceId::parse("bench-1").expect("id");
    let end = now_ms() / 1000 * 1000 - 60_000;
    let start = end - o.days * DAY_MS;
    let total = (o.days * DAY_MS / 1000) as usize;
    let (mut walk, mut rng) = (50.0, 0x9e37_79b9_7f4a_7c15u64);
    let t = Instant::now();
    let mut sent = 0;
    while sent < total {
        let n = (total - sent).min(1000);
        ingest(
            &telemetry,
            &device,
            payload(start + sent as i64 * 1000, n, &mut walk, &mut rng),
        )
        .await;
        sent += n;
        if sent % 200_000 == 0 {
            telemetry
                .send(FlushTelemetry)
                .await
                .expect("mailbox")
                .expect("flush");
        }
    }
    telemetry
        .send(FlushTelemetry)
        .await
        .expect("mailbox")
        .expect("flush");
    let stored = t.elapsed();
    let t = Instant::now();
    let report = telemetry
        .send(RunTelemetryMaintenance)
        .await
        .expect("mailbox")
        .expect("maintenance");
    let compacted = t.elapsed();
    println!(
        "loaded {total} samples ({} days at 1 s) in {:.1} s ({:.0} samples/s stored); compacted {} in {:.1} s",
        o.days,
        stored.as_secs_f64(),
        total as f64 / stored.as_secs_f64(),
        report.samples_compacted,
        compacted.as_secs_f64()
    );
    let step = (end - start) / 1000;
    for (label, resolution, runs) in [
        ("auto (minute roll-ups)", None, o.runs),
        (
            "raw points (peer)",
            Some(Resolution::Raw),
            (o.runs / 10).max(5),
        ),
    ] {
        let mut times = Vec::with_capacity(runs);
        let mut points = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let series = telemetry
                .send(QueryAggregate {
                    device_id: device.clone(),
                    metric: "value".to_owned(),
                    from: start,
                    to: end,
                    step_ms: step,
                    agg: Aggregate::Avg,
                    resolution,
                })
                .await
                .expect("mailbox")
                .expect("query");
            times.push(t.elapsed());
            points = series.points.len();
        }
        times.sort();
        println!(
            "{}-day range, 1000-point chart (step {} s, {points} points), {label}: p50 {:.2} ms, p99 {:.2} ms over {runs} runs",
            o.days,
            step / 1000,
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }
}

async fn ingest_new(url: &str) -> f64 {
    let db = open(url);
    let telemetry = Telemetry::load(db, settings()).await.expect("load").start();
    let devices: Vec<DeviceId> = (0..1000)
        .map(|i| DeviceId::parse(&format!("dev-{i:04}")).expect("id"))
        .collect();
    let start = now_ms() - 2 * DAY_MS;
    let (mut walk, mut rng) = (50.0, 7u64);
    let payloads: Vec<Vec<(usize, Vec<u8>)>> = (0..10)
        .map(|round| {
            devices
                .iter()
                .enumerate()
                .map(|(d, _)| {
                    (
                        d,
                        payload(start + round * 100_000, 100, &mut walk, &mut rng),
                    )
                })
                .collect()
        })
        .collect();
    let t = Instant::now();
    for round in payloads {
        for (d, body) in round {
            ingest(&telemetry, &devices[d], body).await;
        }
    }
    telemetry
        .send(FlushTelemetry)
        .await
        .expect("mailbox")
        .expect("flush");
    let rate = 1_000_000.0 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    telemetry
        .send(RunTelemetryMaintenance)
        .await
        .expect("mailbox")
        .expect("maintenance");
    println!(
        "ingest, new layout: 1M samples from 1000 interleaved series through the actor (JSON, validation, batches): {rate:.0} samples/s; compacting them afterwards took {:.1} s",
        t.elapsed().as_secs_f64()
    );
    rate
}

diesel::table! {
    telemetry_samples (device_id, metric, ts) {
        device_id -> Text,
        metric -> Text,
        ts -> BigInt,
        value -> Double,
    }
}

#[derive(diesel::Insertable)]
#[diesel(table_name = telemetry_samples)]
struct OldRow {
    device_id: String,
    metric: String,
    ts: i64,
    value: f64,
}

fn ingest_old(path: &str) -> f64 {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    let mut c = diesel::SqliteConnection::establish(path).expect("sqlite");
    c.batch_execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
         CREATE TABLE telemetry_samples (device_id TEXT NOT NULL, metric TEXT NOT NULL, \
         ts BIGINT NOT NULL, value DOUBLE NOT NULL, PRIMARY KEY (device_id, metric, ts)) WITHOUT ROWID;",
    )
    .expect("schema");
    let start = now_ms() - 2 * DAY_MS;
    let rows: Vec<OldRow> = (0..1_000_000i64)
        .map(|i| OldRow {
            device_id: format!("dev-{:04}", i % 1000),
            metric: "value".to_owned(),
            ts: start + (i / 1000) * 1000,
            value: (i % 977) as f64 / 10.0,
        })
        .collect();
    let t = Instant::now();
    for batch in rows.chunks(1000) {
        c.transaction(|c| {
            for row in batch {
                diesel::insert_or_ignore_into(telemetry_samples::table)
                    .values(row)
                    .execute(c)?;
            }
            Ok::<_, diesel::result::Error>(())
        })
        .expect("insert");
    }
    let rate = 1_000_000.0 / t.elapsed().as_secs_f64();
    println!(
        "ingest, old layout: the same 1M rows inserted directly (no JSON) into the indexed table, 1000 per transaction: {rate:.0} rows/s"
    );
    rate
}

fn main() {
    let o = options();
    let url = o
        .database_url
        .clone()
        .unwrap_or_else(|| fresh_sqlite("month"));
    println!(
        "backend: {}",
        if url.starts_with("postgres") {
            "postgres"
        } else {
            "sqlite"
        }
    );
    let system = System::new();
    system.block_on(month(&o, &url));
    if o.ingest && o.database_url.is_none() {
        let new = system.block_on(ingest_new(&fresh_sqlite("ingest-new")));
        let old = ingest_old(&fresh_sqlite("ingest-old"));
        println!("new / old store rate: {:.1}×", new / old);
    }
}
