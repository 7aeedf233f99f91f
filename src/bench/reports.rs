//! `plantd bench reports`: the maintenance report over a plant with history. One private
//! plantd gets a site with `--assets` assets, one device each that reports `running` for
//! a year (every 10 minutes, sent over HTTP ingest with timestamps and compacted into
//! roll-ups), and `--orders` work orders over those assets (corrective, preventive and
//! inspection; most of them worked and done, corrective ones with closing codes). Then the
//! report over the last year is timed: the REST resource (`GET
//! /api/v1/reports/maintenance`) and the signed-in reports page (`GET /reports?range=12m`),
//! `--samples` times each after a warm-up; p50 / p95 / max. The orders are all created
//! now (the API does not backdate): the figures code reads every order either way.
//!
//! Touches nothing but the process it starts.

use std::time::{Duration, Instant};

use base64::Engine;
use clap::Args;
use serde_json::{json, Value};

use super::load::{now_ms, quantile};
use super::target::{Plantd, Result, ADMIN_PASSWORD};
use super::{fmt, on_scratch_plantd};

#[derive(Debug, Args)]
pub struct ReportsArgs {
    /// Assets (one device each, with a year of `running`).
    #[arg(long, default_value_t = 10)]
    assets: usize,
    /// Work orders created.
    #[arg(long, default_value_t = 10_000)]
    orders: usize,
    /// Timed requests of each kind.
    #[arg(long, default_value_t = 30)]
    samples: usize,
}

const DAY_MS: i64 = 86_400_000;
const STEP_MS: i64 = 600_000;

pub async fn run(args: ReportsArgs) -> Result<()> {
    if args.assets == 0 || args.samples == 0 {
        return Err("--assets and --samples: at least 1".into());
    }
    let rows = on_scratch_plantd("reports", args, seed_and_time).await?;
    println!();
    println!("| request | assets | orders | data | p50 ms | p95 ms | max ms | answer bytes |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in rows {
        println!("{r}");
    }
    Ok(())
}

fn seed_and_time(args: &ReportsArgs, plantd: &Plantd) -> Result<Vec<String>> {
    let now = now_ms();
    let year_ago = now - 365 * DAY_MS;
    eprintln!(
        "plantd: {} assets with a year of `running` each",
        args.assets
    );
    let site = plantd.post(
        "/api/v1/assets",
        &json!({"name": "Bench plant", "kind": "site"}),
    )?;
    let assets: Vec<String> = plantd
        .post_all(
            "/api/v1/assets",
            (0..args.assets)
                .map(|a| json!({"name": format!("Pump {a:03}"), "kind": "asset", "parent_id": site["id"]}))
                .collect(),
        )?
        .iter()
        .map(|a| a["id"].as_str().map(str::to_owned).ok_or("asset without id".to_owned()))
        .collect::<Result<_>>()?;
    let ids: Vec<String> = (0..args.assets).map(|i| format!("pump-{i:03}")).collect();
    let passwords = plantd.provision(&ids, |i| Some(assets[i].clone()))?;
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build();
    for (i, (id, password)) in ids.iter().zip(&passwords).enumerate() {
        let auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{password}"))
        );
        // Runs 16 h of each day, a different shift per asset; 4,000 samples per request.
        let samples: Vec<String> = (0..)
            .map(|k| year_ago + k * STEP_MS)
            .take_while(|ts| *ts < now)
            .map(|ts| {
                let hour = (ts / 3_600_000 + i as i64) % 24;
                format!(
                    r#"{{"ts":{ts},"values":{{"running":{}}}}}"#,
                    u8::from(hour < 16)
                )
            })
            .collect();
        for chunk in samples.chunks(4000) {
            agent
                .post(&format!("{}/api/v1/devices/{id}/telemetry", plantd.http))
                .set("Authorization", &auth)
                .set("Content-Type", "application/json")
                .send_string(&format!("[{}]", chunk.join(",")))
                .map_err(|e| format!("ingest {id}: {e}"))?;
        }
    }
    plantd.post("/api/v1/admin/telemetry/maintenance", &json!({}))?;
    eprintln!("plantd: {} work orders", args.orders);
    let kinds = [
        "corrective",
        "corrective",
        "preventive",
        "preventive",
        "inspection",
    ];
    let priorities = ["low", "medium", "high", "urgent"];
    let bodies = (0..args.orders)
        .map(|k| {
            json!({"title": format!("Order {k}"), "kind": kinds[k % kinds.len()],
                   "asset_id": assets[k % assets.len()], "estimated_hours": 1 + k % 8,
                   "priority": priorities[k % 4]})
        })
        .collect();
    let orders = plantd.post_all("/api/v1/work-orders", bodies)?;
    let codes: Value = serde_json::from_str(&plantd.get("/api/v1/failure-codes")?)
        .map_err(|e| format!("failure codes: {e}"))?;
    let first = |list: &str| {
        codes[list][0]["code"]
            .as_str()
            .unwrap_or("other")
            .to_owned()
    };
    let closing = json!({"failure_mode": first("failure_modes"), "cause": first("causes"),
                         "action": first("actions"), "detection": first("detections")});
    // Four in five are worked: started, then done (corrective ones with closing codes).
    let worked: Vec<(String, bool)> = orders
        .iter()
        .enumerate()
        .filter(|(k, _)| k % 5 != 4)
        .filter_map(|(_, o)| {
            Some((
                o["id"].as_str()?.to_owned(),
                o["kind"].as_str() == Some("corrective"),
            ))
        })
        .collect();
    let path = |id: &str| format!("/api/v1/work-orders/{id}/transitions");
    for (id, _) in &worked {
        plantd.post(&path(id), &json!({"to": "in_progress"}))?;
    }
    for (id, corrective) in &worked {
        let mut body = json!({"to": "done", "actual_hours": 2});
        if *corrective {
            body["closing"] = closing.clone();
        }
        plantd.post(&path(id), &body)?;
    }
    let data = format!("a year of `running` every 10 min × {}", args.assets);
    let api = format!(
        "/api/v1/reports/maintenance?from={}&to={}",
        plantd_contracts::time::format_ms(year_ago),
        plantd_contracts::time::format_ms(now)
    );
    let mut rows = vec![time(
        "GET /api/v1/reports/maintenance (a year)",
        args,
        &data,
        || plantd.get(&api),
    )?];
    let session = sign_in(plantd, &agent)?;
    rows.push(time("GET /reports?range=12m (page)", args, &data, || {
        agent
            .get(&format!("{}/reports?range=12m", plantd.http))
            .set("Cookie", &session)
            .call()
            .map_err(|e| format!("GET /reports: {e}"))?
            .into_string()
            .map_err(|e| e.to_string())
    })?);
    Ok(rows)
}

/// Times `call` `samples` times after three untimed calls; one table row.
fn time(
    label: &str,
    args: &ReportsArgs,
    data: &str,
    call: impl Fn() -> Result<String>,
) -> Result<String> {
    for _ in 0..3 {
        call()?;
    }
    let mut ms = Vec::with_capacity(args.samples);
    let mut bytes = 0;
    for _ in 0..args.samples {
        let t = Instant::now();
        bytes = call()?.len();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let max = ms.iter().copied().fold(0.0, f64::max);
    Ok(format!(
        "| {label} | {} | {} | {data} | {} | {} | {:.1} | {bytes} |",
        args.assets,
        args.orders,
        fmt(quantile(&mut ms, 0.5), 1),
        fmt(quantile(&mut ms, 0.95), 1),
        max
    ))
}

/// Signs in as `admin` (the form's double-submit CSRF cookie); the session cookie pair.
pub(super) fn sign_in(plantd: &Plantd, agent: &ureq::Agent) -> Result<String> {
    let pair = |r: &ureq::Response, name: &str| {
        r.all("set-cookie")
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .and_then(|c| c.split(';').next())
            .map(str::to_owned)
    };
    let form = agent
        .get(&format!("{}/login", plantd.http))
        .call()
        .map_err(|e| format!("GET /login: {e}"))?;
    let csrf_pair = pair(&form, "plantd_login_csrf").ok_or("no CSRF cookie on /login")?;
    let csrf = csrf_pair
        .split_once('=')
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default();
    let no_redirects = ureq::AgentBuilder::new().redirects(0).build();
    let signed_in = no_redirects
        .post(&format!("{}/login", plantd.http))
        .set("Cookie", &csrf_pair)
        .send_form(&[
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("csrf_token", &csrf),
        ])
        .map_err(|e| format!("POST /login: {e}"))?;
    pair(&signed_in, "plantd_session").ok_or_else(|| "sign-in gave no session cookie".to_owned())
}
