//! `plantd bench ui`: how fast the server renders each main page with a plant of size.
//! One private plantd gets `--devices` devices (on ten assets), `--orders` work orders,
//! a rule on each asset and an alarm on every device (one sample each over HTTP ingest),
//! and a maintenance plan; then each page (deep pages and searches of the long tables too) is
//! requested signed in, three times untimed and `--samples` times timed: p50 / p95 / max,
//! the HTML's size, and the page's own JavaScript and CSS (the `<script src>` and
//! `<link rel=stylesheet>` it loads, fetched and counted) against the goals of 50 ms p95
//! and 100 KB. Touches nothing but the process it starts.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use base64::Engine;
use clap::Args;
use serde_json::{json, Value};

use super::load::quantile;
use super::reports::sign_in;
use super::target::{Plantd, Result};
use super::{fmt, on_scratch_plantd};

#[derive(Debug, Args)]
pub struct UiArgs {
    /// Devices provisioned (spread over ten assets).
    #[arg(long, default_value_t = 1000)]
    devices: usize,
    /// Work orders created.
    #[arg(long, default_value_t = 10_000)]
    orders: usize,
    /// Timed requests of each page.
    #[arg(long, default_value_t = 30)]
    samples: usize,
}

/// The goals: server time of a page (p95) and the bytes of its own JavaScript and CSS.
const GOAL_P95_MS: f64 = 50.0;
const GOAL_ASSET_BYTES: usize = 100 * 1024;

pub async fn run(args: UiArgs) -> Result<()> {
    if args.devices == 0 || args.samples == 0 {
        return Err("--devices and --samples: at least 1".into());
    }
    let rows = on_scratch_plantd("ui", args, seed_and_time).await?;
    println!();
    println!("| page | devices | orders | p50 ms | p95 ms | max ms | HTML bytes | own JS + CSS bytes | goals (p95 ≤ 50 ms, JS + CSS < 100 KB) |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in rows {
        println!("{r}");
    }
    Ok(())
}

fn id_of(v: &Value, what: &str) -> Result<String> {
    v["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{what} without id: {v}"))
}

fn seed_and_time(args: &UiArgs, plantd: &Plantd) -> Result<Vec<String>> {
    let started = Instant::now();
    let site = plantd.post(
        "/api/v1/assets",
        &json!({"name": "Bench plant", "kind": "site"}),
    )?;
    let assets: Vec<String> = plantd
        .post_all(
            "/api/v1/assets",
            (0..10)
                .map(|a| json!({"name": format!("Line {a}"), "kind": "asset", "parent_id": site["id"]}))
                .collect(),
        )?
        .iter()
        .map(|a| id_of(a, "asset"))
        .collect::<Result<_>>()?;
    eprintln!("plantd: {} devices", args.devices);
    let ids: Vec<String> = (0..args.devices).map(|i| format!("dev-{i:05}")).collect();
    let passwords = plantd.provision(&ids, |i| Some(assets[i % assets.len()].clone()))?;
    // A rule on each asset, and one sample over it from every device: an alarm per
    // device, so the alarm table has pages to go deep into.
    let rules = plantd.post_all(
        "/api/v1/rules",
        assets
            .iter()
            .map(|a| {
                json!({"name": "Vibration high", "asset_id": a, "metric": "vib",
                       "kind": "threshold", "op": ">", "value": 5.0, "severity": "major"})
            })
            .collect(),
    )?;
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build();
    eprintln!("plantd: a sample from each device");
    ingest_all(plantd, &ids, &passwords)?;
    let rule = rules.first().cloned().unwrap_or_default();
    eprintln!("plantd: {} work orders", args.orders);
    let kinds = ["corrective", "preventive", "inspection"];
    let bodies = (0..args.orders)
        .map(|k| {
            json!({"title": format!("Order {k}"), "kind": kinds[k % kinds.len()],
                   "asset_id": assets[k % assets.len()], "assignee": format!("tech{}", k % 7),
                   "due_at": plantd_contracts::time::format_ms(
                       super::load::now_ms() + (k as i64 % 60 - 30) * 86_400_000)})
        })
        .collect();
    let orders = plantd.post_all("/api/v1/work-orders", bodies)?;
    let order = orders
        .first()
        .map(|o| id_of(o, "order"))
        .transpose()?
        .unwrap_or_default();
    let plan = plantd.post(
        "/api/v1/maintenance-plans",
        &json!({"asset_id": assets[0], "title": "Grease bearings", "tasks": ["grease"],
                "calendar": {"every": 7, "unit": "days", "mode": "fixed",
                             "start": "2030-01-03T00:00:00Z"}}),
    )?;
    let rule_id = id_of(&rule, "rule")?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let alarm = loop {
        let page: Value = serde_json::from_str(&plantd.get("/api/v1/alarms?limit=1000")?)
            .map_err(|e| format!("alarms: {e}"))?;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        let first = items
            .iter()
            .find(|a| a["rule_id"] == rule_id.as_str())
            .and_then(|a| a["id"].as_str());
        if let (Some(id), true) = (first, items.len() >= ids.len().min(1000)) {
            break id.to_owned();
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} of {} alarms raised in 120 s",
                items.len(),
                ids.len()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!("plantd: seeded in {:.0} s", started.elapsed().as_secs_f64());

    let session = sign_in(plantd, &agent)?;
    let device = &ids[0];
    let plan = id_of(&plan, "plan")?;
    let asset = &assets[0];
    // (what the table shows, the path requested)
    let pages: Vec<(&str, String)> = vec![
        ("/login", "/login".to_owned()),
        ("/", "/".to_owned()),
        ("/assets", "/assets".to_owned()),
        ("/assets/{id}", format!("/assets/{asset}")),
        ("/devices", "/devices".to_owned()),
        (
            "/devices?sort=last_seen&dir=desc&page=10",
            "/devices?sort=last_seen&dir=desc&page=10".to_owned(),
        ),
        ("/devices/{id}", format!("/devices/{device}")),
        (
            "/devices/{id}/telemetry",
            format!("/devices/{device}/telemetry"),
        ),
        ("/alarms", "/alarms".to_owned()),
        (
            "/alarms?sort=device&dir=desc&page=15",
            "/alarms?sort=device&dir=desc&page=15".to_owned(),
        ),
        ("/alarms?q=dev-0099", "/alarms?q=dev-0099".to_owned()),
        ("/alarms/{id}", format!("/alarms/{alarm}")),
        ("/alarms/stats", "/alarms/stats".to_owned()),
        ("/rules", "/rules".to_owned()),
        ("/work-orders", "/work-orders".to_owned()),
        (
            "/work-orders?sort=due&dir=asc&page=100",
            "/work-orders?sort=due&dir=asc&page=100".to_owned(),
        ),
        (
            "/work-orders?q=order+99&sort=assignee&dir=desc",
            "/work-orders?q=order+99&sort=assignee&dir=desc".to_owned(),
        ),
        ("/work-orders/board", "/work-orders/board".to_owned()),
        ("/work-orders/new", "/work-orders/new".to_owned()),
        ("/requests", "/requests".to_owned()),
        ("/work-orders/{id}", format!("/work-orders/{order}")),
        ("/maintenance", "/maintenance".to_owned()),
        (
            "/maintenance/plans/{id}",
            format!("/maintenance/plans/{plan}"),
        ),
        ("/maintenance/calendar", "/maintenance/calendar".to_owned()),
        ("/reports", "/reports".to_owned()),
        ("/firmware", "/firmware".to_owned()),
        ("/settings", "/settings".to_owned()),
        ("/settings/users", "/settings/users".to_owned()),
        ("/settings/tokens", "/settings/tokens".to_owned()),
        ("/webhooks", "/webhooks".to_owned()),
        ("/failure-codes", "/failure-codes".to_owned()),
        ("/account", "/account".to_owned()),
    ];
    let get = |path: &str| -> Result<String> {
        agent
            .get(&format!("{}{path}", plantd.http))
            .set("Cookie", &session)
            .call()
            .map_err(|e| format!("GET {path}: {e}"))?
            .into_string()
            .map_err(|e| format!("GET {path}: {e}"))
    };
    let mut rows = Vec::new();
    for (label, path) in &pages {
        for _ in 0..3 {
            get(path)?;
        }
        let mut ms = Vec::with_capacity(args.samples);
        let mut html = String::new();
        for _ in 0..args.samples {
            let t = Instant::now();
            html = get(path)?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let mut assets_bytes = 0;
        for asset in own_assets(&html) {
            assets_bytes += get(&asset)?.len();
        }
        let max = ms.iter().copied().fold(0.0, f64::max);
        let p95 = quantile(&mut ms, 0.95);
        let goals = match (
            p95.is_some_and(|p| p <= GOAL_P95_MS),
            assets_bytes < GOAL_ASSET_BYTES,
        ) {
            (true, true) => "met",
            (false, true) => "p95 missed",
            (true, false) => "size missed",
            (false, false) => "both missed",
        };
        rows.push(format!(
            "| `{label}` | {} | {} | {} | {} | {max:.1} | {} | {assets_bytes} | {goals} |",
            args.devices,
            args.orders,
            fmt(quantile(&mut ms, 0.5), 1),
            fmt(p95, 1),
            html.len(),
        ));
    }
    Ok(rows)
}

/// Sends `{"vib": 9.5}` over HTTP ingest from every device (its own Basic credentials),
/// on four threads.
fn ingest_all(plantd: &Plantd, ids: &[String], passwords: &[String]) -> Result<()> {
    let one = |agent: &ureq::Agent, i: usize| -> Result<()> {
        let (id, password) = (&ids[i], &passwords[i]);
        let auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{password}"))
        );
        agent
            .post(&format!("{}/api/v1/devices/{id}/telemetry", plantd.http))
            .set("Authorization", &auth)
            .send_string(r#"{"values":{"vib":9.5,"temp":41.0}}"#)
            .map_err(|e| format!("ingest {id}: {e}"))?;
        Ok(())
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                s.spawn(move || {
                    let agent = ureq::AgentBuilder::new()
                        .timeout(Duration::from_secs(60))
                        .build();
                    (t..ids.len().min(passwords.len()))
                        .step_by(4)
                        .try_for_each(|i| one(&agent, i))
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .map_err(|_| "an ingest thread panicked".to_owned())?
        })
    })
}

/// The page's own scripts and stylesheets: `src` of `<script>` and `href` of
/// `<link rel="stylesheet">` that start with `/` (nothing is fetched from elsewhere).
fn own_assets(html: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (tag, attr) in [
        ("<script", "src=\""),
        ("<link rel=\"stylesheet\"", "href=\""),
    ] {
        for piece in html.split(tag).skip(1) {
            let end = piece.find('>').unwrap_or(piece.len());
            if let Some(value) = piece[..end]
                .split(attr)
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .filter(|v| v.starts_with('/'))
            {
                found.insert(value.to_owned());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_pages_own_scripts_and_stylesheets() {
        let html = r#"<link rel="stylesheet" href="/static/plantd.css"><script src="/static/plantd.js" defer></script>
            <script src="/static/plantd.js"></script><a href="/devices">x</a><link rel="stylesheet" href="/static/telemetry.css">"#;
        let found: Vec<String> = own_assets(html).into_iter().collect();
        assert_eq!(
            found,
            vec![
                "/static/plantd.css",
                "/static/plantd.js",
                "/static/telemetry.css"
            ]
        );
    }
}
