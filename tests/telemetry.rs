//! The telemetry pipeline end to end, on the real binary over HTTP (and MQTT via the ingest
//! tests): raw, aggregated and CSV queries; roll-ups corrected by late and out-of-order
//! samples; duplicates stored once across compaction; retention; the live stream; and a
//! property test of aggregates against a brute-force computation over the raw points.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::http::{api, metric, provision, token};
use crate::support::server::ADMIN_TOKEN;
use crate::support::{eventually, web, Server};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn ms(rfc3339: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339.as_str().expect("ts is a string"))
        .expect("RFC 3339")
        .timestamp_millis()
}

/// Sends samples `(ts, value)` of one metric over HTTP ingest, as arrays of at most 500.
fn send(server: &Server, device: &str, password: &str, metric: &str, samples: &[(i64, f64)]) {
    for part in samples.chunks(500) {
        let body: Vec<Value> = part
            .iter()
            .map(|(ts, v)| json!({"ts": ts, "values": {metric: v}}))
            .collect();
        let (status, reply) = api(server).post_as_device(
            &format!("/api/v1/devices/{device}/telemetry"),
            device,
            password,
            Value::Array(body).to_string().as_bytes(),
        );
        assert_eq!(status, 202, "{reply}");
    }
}

/// Writes what is buffered and compacts it into chunks and roll-ups now.
fn maintenance(server: &Server) -> Value {
    let (status, report) = api(server).post("/api/v1/admin/telemetry/maintenance", json!({}));
    assert_eq!(status, 200, "{report}");
    report
}

/// `(ts, value)` of a query's points.
fn query(server: &Server, device: &str, params: &str) -> Vec<(i64, f64)> {
    let (status, body) = api(server).get(&format!("/api/v1/devices/{device}/telemetry?{params}"));
    assert_eq!(status, 200, "{params}: {body}");
    body["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| (ms(&p["ts"]), p["value"].as_f64().expect("value")))
        .collect()
}

fn raw_count(server: &Server, device: &str, metric: &str) -> usize {
    query(
        server,
        device,
        &format!("metric={metric}&from=0&to=4102444800000&limit=100000"),
    )
    .len()
}

#[test]
fn batched_and_single_samples_are_stored_aggregated_and_exported() {
    let server = Server::start();
    let password = provision(&server, "mill-1");
    let base = (now_ms() - 2 * HOUR).div_euclid(HOUR) * HOUR;
    // One sample with a unit, then an array of two samples with two metrics each.
    let single = json!({"ts": base, "values": {"speed": 10.0}, "units": {"speed": "rpm"}});
    let (status, _) = api(&server).post_as_device(
        "/api/v1/devices/mill-1/telemetry",
        "mill-1",
        &password,
        single.to_string().as_bytes(),
    );
    assert_eq!(status, 202);
    let batch = json!([
        {"ts": base + 30_000, "values": {"speed": 20.0, "running": true}},
        {"ts": base + 90_000, "values": {"speed": 30.0, "running": false}}
    ]);
    let (status, reply) = api(&server).post_as_device(
        "/api/v1/devices/mill-1/telemetry",
        "mill-1",
        &password,
        batch.to_string().as_bytes(),
    );
    assert_eq!((status, reply["accepted"].as_u64()), (202, Some(4)));
    eventually(Duration::from_secs(10), "three speed samples", || {
        (raw_count(&server, "mill-1", "speed") == 3).then_some(())
    });
    let range = format!("metric=speed&from={base}&to={}", base + HOUR - 1);
    let expected_minutes = vec![(base, 15.0), (base + MINUTE, 30.0)];
    // From the head (not compacted yet), then from chunks and roll-ups: the same answers.
    for phase in ["head", "chunks"] {
        assert_eq!(
            query(&server, "mill-1", &range),
            vec![(base, 10.0), (base + 30_000, 20.0), (base + 90_000, 30.0)],
            "{phase}: raw"
        );
        assert_eq!(
            query(&server, "mill-1", &format!("{range}&step=1m&agg=avg")),
            expected_minutes,
            "{phase}: minute averages"
        );
        assert_eq!(
            query(&server, "mill-1", &format!("{range}&step=1h&agg=sum")),
            vec![(base, 60.0)],
            "{phase}: hour sum"
        );
        assert_eq!(
            query(&server, "mill-1", &format!("{range}&step=30s&agg=max")),
            vec![(base, 10.0), (base + 30_000, 20.0), (base + 90_000, 30.0)],
            "{phase}: raw steps"
        );
        maintenance(&server);
    }
    let (_, body) = api(&server).get(&format!(
        "/api/v1/devices/mill-1/telemetry?{range}&step=60s&agg=count"
    ));
    assert_eq!(body["resolution"], "1m", "{body}");
    assert_eq!(body["step_ms"], 60_000);

    // CSV of the same range.
    let response = ureq::get(&server.url(&format!(
        "/api/v1/devices/mill-1/telemetry?{range}&step=1m&agg=avg"
    )))
    .set("Authorization", &format!("Bearer {ADMIN_TOKEN}"))
    .set("Accept", "text/csv")
    .call()
    .expect("csv");
    assert!(response.content_type().starts_with("text/csv"));
    let text = response.into_string().expect("text");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], "ts,value");
    assert!(lines[1].ends_with(",15"), "{text}");

    // The registry: units, first seen and latest value; the device's ingest counters.
    let (status, metrics) = api(&server).get("/api/v1/devices/mill-1/metrics");
    assert_eq!(status, 200);
    let speed = metrics["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|m| m["metric"] == "speed")
        .cloned()
        .expect("speed");
    assert_eq!(speed["unit"], "rpm");
    assert_eq!(speed["value"], 30.0);
    assert_eq!(ms(&speed["first_seen"]), base);
    assert_eq!(metrics["ingest"]["payloads_accepted"], 2);

    // Bad parameters are problems, not crashes.
    for (params, status) in [
        ("metric=speed&step=soon", 400),
        ("metric=speed&step=1m&agg=median", 400),
        ("metric=speed&agg=avg", 400),
        ("metric=speed&from=10&to=5&step=1m", 422),
        ("metric=speed&from=0&to=4102444800000&step=1s", 422),
    ] {
        let (got, body) = api(&server).get(&format!("/api/v1/devices/mill-1/telemetry?{params}"));
        assert_eq!(got, status, "{params}: {body}");
    }
}

#[test]
fn late_out_of_order_and_repeated_samples_correct_roll_ups_once() {
    let server = Server::start();
    let password = provision(&server, "pump-2");
    let base = (now_ms() - 3 * HOUR).div_euclid(HOUR) * HOUR;
    send(
        &server,
        "pump-2",
        &password,
        "flow",
        &[(base + 2_000, 2.0), (base, 1.0), (base + 61_000, 5.0)],
    );
    maintenance(&server);
    let minutes = |agg: &str| {
        query(
            &server,
            "pump-2",
            &format!(
                "metric=flow&from={base}&to={}&step=1m&agg={agg}",
                base + HOUR - 1
            ),
        )
    };
    assert_eq!(minutes("count"), vec![(base, 2.0), (base + MINUTE, 1.0)]);
    assert_eq!(minutes("last"), vec![(base, 2.0), (base + MINUTE, 5.0)]);

    // Late: into the compacted first minute (new time), a repeat of a compacted sample with
    // another value (a QoS 1 redelivery: the first stays), and an earlier minute.
    send(
        &server,
        "pump-2",
        &password,
        "flow",
        &[
            (base + 1_000, 7.0),
            (base + 2_000, 99.0),
            (base - MINUTE, 3.0),
        ],
    );
    // A repeat of a sample that is still in the head, sent again before compaction.
    send(
        &server,
        "pump-2",
        &password,
        "flow",
        &[(base + 1_000, 50.0)],
    );
    check_late(&server, base, false, "before compaction");
    let report = maintenance(&server);
    assert_eq!(
        report["chunks_merged"], 2,
        "the late sample's chunk and its window's first chunk became one: {report}"
    );
    check_late(&server, base, false, "after compaction");
    // Not compacted before the restart: the head comes back from the recent table, and a
    // repeat of it after the restart is still a repeat.
    send(
        &server,
        "pump-2",
        &password,
        "flow",
        &[(base + 2 * MINUTE, 6.0)],
    );
    check_late(&server, base, true, "before the restart");
    let mut server = server;
    server.restart();
    send(
        &server,
        "pump-2",
        &password,
        "flow",
        &[(base + 2 * MINUTE, 66.0), (base + 2_000, 42.0)],
    );
    // Both are repeats, so nothing may change: wait until both were recognised as such
    // (the head's at once, the compacted one when its batch commits), then check.
    eventually(Duration::from_secs(10), "both repeats dropped", || {
        (metric(&server, "plantd_telemetry_duplicates_total", "") == 2.0).then_some(())
    });
    check_late(&server, base, true, "after the restart");
    maintenance(&server);
    check_late(&server, base, true, "after the restart and a compaction");
}

/// The roll-ups the late-samples test expects, before and after the sixth sample.
fn check_late(server: &Server, base: i64, sixth: bool, phase: &str) {
    let all = |agg: &str| {
        query(
            server,
            "pump-2",
            &format!(
                "metric=flow&from={}&to={}&step=1m&agg={agg}",
                base - MINUTE,
                base + HOUR - 1
            ),
        )
    };
    let with_sixth = |mut v: Vec<(i64, f64)>, value: f64| {
        if sixth {
            v.push((base + 2 * MINUTE, value));
        }
        v
    };
    let expect_count = with_sixth(
        vec![(base - MINUTE, 1.0), (base, 3.0), (base + MINUTE, 1.0)],
        1.0,
    );
    eventually(Duration::from_secs(10), "late samples committed", || {
        (all("count") == expect_count).then_some(())
    });
    assert_eq!(
        all("sum"),
        with_sixth(
            vec![(base - MINUTE, 3.0), (base, 10.0), (base + MINUTE, 5.0)],
            6.0
        ),
        "{phase}"
    );
    assert_eq!(
        all("max"),
        with_sixth(
            vec![(base - MINUTE, 3.0), (base, 7.0), (base + MINUTE, 5.0)],
            6.0
        ),
        "{phase}"
    );
    assert_eq!(
        all("min"),
        with_sixth(
            vec![(base - MINUTE, 3.0), (base, 1.0), (base + MINUTE, 5.0)],
            6.0
        ),
        "{phase}"
    );
    assert_eq!(
        all("last"),
        with_sixth(
            vec![(base - MINUTE, 3.0), (base, 2.0), (base + MINUTE, 5.0)],
            6.0
        ),
        "{phase}: the latest time wins, not the latest arrival"
    );
    let hour_range = format!("metric=flow&from={}&to={}", base - HOUR, base + HOUR - 1);
    let n = if sixth { 5.0 } else { 4.0 };
    assert_eq!(
        query(server, "pump-2", &format!("{hour_range}&step=1h&agg=count")),
        vec![(base - HOUR, 1.0), (base, n)],
        "{phase}: hour roll-ups"
    );
    let avg = if sixth { 21.0 / 5.0 } else { 15.0 / 4.0 };
    assert_eq!(
        query(
            server,
            "pump-2",
            &format!("{hour_range}&step=1h&agg=avg&resolution=raw")
        ),
        vec![(base - HOUR, 3.0), (base, avg)],
        "{phase}: the same from raw points"
    );
    assert_eq!(
        raw_count(server, "pump-2", "flow"),
        if sixth { 6 } else { 5 },
        "{phase}: each stored once"
    );
}

#[test]
fn retention_removes_only_what_expired() {
    let server = Server::start_with(&[
        ("PLANTD_TELEMETRY_RETENTION_RAW_DAYS", "1"),
        ("PLANTD_TELEMETRY_RETENTION_MINUTE_DAYS", "3"),
        ("PLANTD_TELEMETRY_RETENTION_HOUR_DAYS", "0"),
    ]);
    let password = provision(&server, "oven-3");
    let now = now_ms();
    let old = (now - 5 * DAY).div_euclid(HOUR) * HOUR;
    let middle = (now - 2 * DAY).div_euclid(HOUR) * HOUR;
    let fresh = (now - HOUR).div_euclid(HOUR) * HOUR;
    send(
        &server,
        "oven-3",
        &password,
        "temp",
        &[(old, 1.0), (middle, 2.0), (fresh, 3.0), (fresh + 1, 4.0)],
    );
    let report = maintenance(&server);
    assert_eq!(
        report["chunks_expired"], 2,
        "the chunks of the two samples older than a day: {report}"
    );
    let all = "metric=temp&from=0&to=4102444800000";
    assert_eq!(
        query(&server, "oven-3", &format!("{all}&limit=100")),
        vec![(fresh, 3.0), (fresh + 1, 4.0)],
        "raw points older than a day are gone, newer ones stay"
    );
    assert_eq!(
        query(
            &server,
            "oven-3",
            &format!(
                "metric=temp&from={}&to={now}&step=1m&agg=sum",
                now - 10 * DAY
            )
        ),
        vec![(middle, 2.0), (fresh, 7.0)],
        "minute roll-ups older than three days are gone"
    );
    assert_eq!(
        query(
            &server,
            "oven-3",
            &format!(
                "metric=temp&from={}&to={now}&step=1h&agg=sum",
                now - 10 * DAY
            )
        ),
        vec![(old, 1.0), (middle, 2.0), (fresh, 7.0)],
        "hour roll-ups are kept forever"
    );
    // The latest value is not history: it stays.
    let (_, metrics) = api(&server).get("/api/v1/devices/oven-3/metrics");
    assert_eq!(metrics["items"][0]["value"], 4.0);
}

/// A small deterministic generator (xorshift), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What the server should answer, computed over the raw points alone.
fn brute_force(
    points: &BTreeMap<i64, f64>,
    from: i64,
    to: i64,
    step: i64,
    agg: &str,
    raw: bool,
) -> Vec<(i64, f64)> {
    let width = if raw {
        1
    } else if step >= HOUR {
        HOUR
    } else if step >= MINUTE {
        MINUTE
    } else {
        1
    };
    let step = (step - step % width).max(width);
    let lo = from.div_euclid(width) * width;
    let hi = to.div_euclid(width) * width + width - 1;
    let mut buckets: BTreeMap<i64, Vec<(i64, f64)>> = BTreeMap::new();
    for (&ts, &v) in points.range(lo..=hi) {
        buckets
            .entry(ts.div_euclid(step) * step)
            .or_default()
            .push((ts, v));
    }
    buckets
        .into_iter()
        .map(|(b, vs)| {
            let values = vs.iter().map(|p| p.1);
            let value = match agg {
                "avg" => values.sum::<f64>() / vs.len() as f64,
                "min" => values.fold(f64::INFINITY, f64::min),
                "max" => values.fold(f64::NEG_INFINITY, f64::max),
                "sum" => values.sum(),
                "count" => vs.len() as f64,
                _ => vs
                    .iter()
                    .max_by_key(|p| p.0)
                    .map(|p| p.1)
                    .unwrap_or(f64::NAN),
            };
            (b, value)
        })
        .collect()
}

#[test]
fn aggregates_equal_a_brute_force_over_raw_points() {
    // Background compactions run while samples arrive and queries read (every 300 ms, and
    // at 1000 head samples), besides the ones forced between rounds.
    let server = Server::start_with(&[
        ("PLANTD_TELEMETRY_COMPACT_INTERVAL_MS", "300"),
        ("PLANTD_TELEMETRY_MAX_HEAD_SAMPLES", "1000"),
    ]);
    let password = provision(&server, "prop-1");
    let seed = std::env::var("PLANTD_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_u64);
    eprintln!("property test seed {seed} (PLANTD_TEST_SEED replays it)");
    let mut rng = Rng(seed);
    let start = (now_ms() - 3 * DAY).div_euclid(HOUR) * HOUR;
    let span = 3 * DAY - 2 * HOUR;
    let mut points = BTreeMap::new();
    let mut sent = Vec::new();
    while sent.len() < 3000 {
        // Clusters of dense samples and sparse ones, values with fractions and signs.
        let ts = if rng.below(3) == 0 {
            start + rng.below(span as u64) as i64
        } else {
            start + (rng.below(40) as i64) * HOUR + rng.below(7 * MINUTE as u64) as i64
        };
        if points.contains_key(&ts) {
            continue;
        }
        let value = (rng.below(2_000_001) as f64 - 1_000_000.0) / 1000.0;
        points.insert(ts, value);
        sent.push((ts, value));
    }
    // In three rounds: the first two compacted (the second late into the first's windows),
    // the third left in the head; each round in shuffled order.
    for (round, part) in sent.chunks(1000).enumerate() {
        let mut part = part.to_vec();
        for i in (1..part.len()).rev() {
            part.swap(i, rng.below(i as u64 + 1) as usize);
        }
        send(&server, "prop-1", &password, "x", &part);
        if round < 2 {
            maintenance(&server);
        }
    }
    eventually(Duration::from_secs(10), "every point stored", || {
        (raw_count(&server, "prop-1", "x") == points.len()).then_some(())
    });
    let steps = [
        1_000,
        7_000,
        45_000,
        MINUTE,
        150_000,
        17 * MINUTE + 5_000,
        HOUR,
        5 * HOUR + 1,
        DAY,
    ];
    let aggs = ["avg", "min", "max", "sum", "count", "last"];
    let (mut checked, mut buckets) = (0, 0);
    for case in 0..200 {
        let step = steps[rng.below(steps.len() as u64) as usize];
        let agg = aggs[rng.below(aggs.len() as u64) as usize];
        let a = start - HOUR + rng.below((span + 2 * HOUR) as u64) as i64;
        let b = start - HOUR + rng.below((span + 2 * HOUR) as u64) as i64;
        let (from, to) = (a.min(b), a.max(b));
        let raw = rng.below(4) == 0;
        if (to - from) / step > 50_000 {
            continue;
        }
        let mut params = format!("metric=x&from={from}&to={to}&step={step}ms&agg={agg}");
        if raw {
            params.push_str("&resolution=raw");
        }
        let got = query(&server, "prop-1", &params);
        let want = brute_force(&points, from, to, step, agg, raw);
        checked += 1;
        buckets += want.len();
        assert_eq!(
            got.iter().map(|p| p.0).collect::<Vec<_>>(),
            want.iter().map(|p| p.0).collect::<Vec<_>>(),
            "case {case}: buckets of {params}"
        );
        for ((ts, g), (_, w)) in got.iter().zip(&want) {
            assert!(
                (g - w).abs() <= 1e-9 * w.abs().max(1.0),
                "case {case}: {params} at {ts}: got {g}, brute force {w}"
            );
        }
    }
    eprintln!("{checked} queries, {buckets} buckets compared");
    let compactions =
        crate::support::http::metric(&server, "plantd_telemetry_compactions_total", "");
    assert!(compactions >= 3.0, "{compactions} compactions");
    assert!(
        checked >= 100 && buckets >= 10_000,
        "{checked} queries, {buckets} buckets"
    );
}

#[test]
fn live_stream_delivers_new_samples_and_maintenance_needs_admin() {
    let server = Server::start();
    let password = provision(&server, "fan-4");
    let response = ureq::get(&server.url("/api/v1/devices/fan-4/telemetry/live"))
        .set("Authorization", &format!("Bearer {ADMIN_TOKEN}"))
        .timeout(Duration::from_secs(20))
        .call()
        .expect("live stream");
    assert_eq!(response.content_type(), "text/event-stream");
    let mut lines = BufReader::new(response.into_reader()).lines();
    let ts = now_ms() - 1000;
    send(&server, "fan-4", &password, "rpm", &[(ts, 1200.0)]);
    let mut event = None;
    let mut data = None;
    for line in lines.by_ref() {
        let line = line.expect("a line of the stream");
        if let Some(e) = line.strip_prefix("event: ") {
            event = Some(e.to_owned());
        }
        if let Some(d) = line.strip_prefix("data: ") {
            data = Some(d.to_owned());
            break;
        }
    }
    assert_eq!(event.as_deref(), Some("samples"));
    let samples: Value = serde_json::from_str(&data.expect("data")).expect("JSON");
    assert_eq!(samples[0]["metric"], "rpm");
    assert_eq!(samples[0]["value"], 1200.0);
    assert_eq!(ms(&samples[0]["ts"]), ts);

    let (_, reader) = token(&server, &["read"]);
    // The one sample is committed (and not compacted: compaction runs every 5 minutes).
    let before = eventually(Duration::from_secs(10), "the sample committed", || {
        let (_, health) = api(&server).get("/api/v1/telemetry/health");
        (health["samples_stored_total"] == 1).then_some(health)
    });
    assert_eq!(before["head_samples"], 1, "{before}");
    api(&server).with_token(&reader).assert_forbidden(
        "POST",
        "/api/v1/admin/telemetry/maintenance",
        Some(json!({})),
        "admin",
    );
    let (status, health) = api(&server)
        .with_token(&reader)
        .get("/api/v1/telemetry/health");
    assert_eq!(status, 200);
    assert_eq!(health["samples_stored_total"], 1, "{health}");
    assert_eq!(
        (&health["head_samples"], &health["last_compaction"]),
        (&before["head_samples"], &before["last_compaction"]),
        "the refused maintenance compacted nothing: {health}"
    );
    assert!(health["layout"]
        .as_str()
        .expect("layout")
        .starts_with("chunks"));
}

#[test]
fn the_device_telemetry_page_draws_charts_and_health_without_javascript() {
    let server = Server::start();
    let password = provision(&server, "lathe-5");
    let now = now_ms();
    let samples: Vec<(i64, f64)> = (0..30)
        .map(|i| (now - 20 * MINUTE + i * 30_000, i as f64))
        .collect();
    send(&server, "lathe-5", &password, "spindle_temp_c", &samples);
    eventually(Duration::from_secs(10), "samples stored", || {
        (raw_count(&server, "lathe-5", "spindle_temp_c") == 30).then_some(())
    });
    let anonymous = ureq::AgentBuilder::new().redirects(0).build();
    let status = match anonymous
        .get(&server.url("/devices/lathe-5/telemetry"))
        .call()
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(status, 303, "signed-out visitors go to the sign-in page");
    let cookie = web::sign_in(&server, &web::agent());
    let page = |range: &str| {
        ureq::get(&server.url(&format!("/devices/lathe-5/telemetry?range={range}")))
            .set("Cookie", &cookie)
            .call()
            .expect("page")
            .into_string()
            .expect("html")
    };
    let html = page("1h");
    assert!(html.contains(r#"data-metric="spindle_temp_c""#), "{html}");
    let line = html
        .split(r#"<path class="line" d=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a drawn chart");
    assert_eq!(
        line.matches(['M', 'L']).count(),
        30,
        "one vertex per sample (each in its own step): {line}"
    );
    assert!(
        html.contains("<strong aria-current=\"page\">1 h</strong>"),
        "range picker"
    );
    assert!(html.contains(r#"href="?range=30d""#));
    assert!(
        html.contains(r#"data-latest="spindle_temp_c">29<"#),
        "latest value"
    );
    assert!(html.contains("Telemetry health") && html.contains("Disk usage"));
    assert!(html.contains("/static/telemetry.js"));
    // Longer ranges come from roll-ups: still drawn.
    assert!(page("30d").contains(r#"<path class="line" d="M"#));
    let js = ureq::get(&server.url("/static/telemetry.js"))
        .call()
        .expect("js");
    assert!(js.content_type().contains("javascript"));
    assert!(js.into_string().expect("js").contains("EventSource"));
}

#[test]
fn the_telemetry_page_updates_live_in_a_browser() {
    let Some(browser) = crate::ui::Browser::start() else {
        return;
    };
    let server = Server::start();
    let password = provision(&server, "drill-6");
    send(
        &server,
        "drill-6",
        &password,
        "torque_nm",
        &[(now_ms() - 60_000, 12.0)],
    );
    eventually(Duration::from_secs(10), "the first sample", || {
        (raw_count(&server, "drill-6", "torque_nm") == 1).then_some(())
    });
    browser.goto(&server.url("/login"));
    browser.sign_in("admin", crate::support::server::ADMIN_PASSWORD);
    browser.wait_for_path("/");
    browser.goto(&server.url("/devices/drill-6/telemetry?range=1h"));
    assert_eq!(browser.text("[data-latest=torque_nm]"), "12");
    eventually(Duration::from_secs(10), "the live stream to open", || {
        (browser.text(".live-state") == "live").then_some(())
    });
    send(
        &server,
        "drill-6",
        &password,
        "torque_nm",
        &[(now_ms(), 77.5)],
    );
    eventually(Duration::from_secs(10), "the new value on the page", || {
        (browser.text("[data-latest=torque_nm]") == "77.5").then_some(())
    });
    assert_eq!(
        browser.attribute("svg.plot", "data-count").as_deref(),
        Some("2"),
        "the chart took the new sample"
    );
}

#[test]
fn a_large_head_is_compacted_in_capped_transactions_and_loses_nothing() {
    let server = Server::start();
    let password = provision(&server, "big-1");
    // 120,000 samples at 10 ms: more than two compaction transactions' worth (50,000 each).
    let start = now_ms() - 2 * 3_600_000;
    let samples: Vec<(i64, f64)> = (0..120_000i64)
        .map(|i| (start + i * 10, (i % 997) as f64))
        .collect();
    send(&server, "big-1", &password, "load", &samples);
    let report = maintenance(&server);
    assert_eq!(report["samples_compacted"], 120_000, "{report}");
    let compactions = metric(&server, "plantd_telemetry_compactions_total", "");
    assert!(
        compactions >= 3.0,
        "capped at 50,000 a transaction: {compactions}"
    );
    assert_eq!(
        raw_count(&server, "big-1", "load"),
        100_000,
        "the query's limit"
    );
    let sums = query(
        &server,
        "big-1",
        &format!(
            "metric=load&from={start}&to={}&step=1h&agg=count",
            start + 1_200_000
        ),
    );
    let counted: f64 = sums.iter().map(|(_, c)| c).sum();
    assert_eq!(
        counted, 120_000.0,
        "every sample in the hour roll-ups: {sums:?}"
    );
}
