//! `plantd bench health` at tiny sizes, as a user runs it: it starts its own plantd (on
//! PostgreSQL when the suite runs there), loads rules of every kind (the thresholds ask
//! for work orders) and meter plans, and matches every threshold alarm it caused, and
//! its work order, to its publish. Figures are printed, never asserted.

use crate::support::Server;

/// The cells of the table row whose first cells are `first`.
fn row<'a>(stdout: &'a str, first: &[&str]) -> Vec<&'a str> {
    stdout
        .lines()
        .map(|l| l.split('|').map(str::trim).skip(1).collect::<Vec<_>>())
        .find(|cells| cells.len() > first.len() && cells[..first.len()] == *first)
        .unwrap_or_else(|| panic!("no row {first:?} in:\n{stdout}"))
}

#[test]
fn bench_health_loads_rules_and_matches_each_raised_alarm_to_its_publish() {
    // The server is not started: it gives the bench's own plantd a database (a fresh
    // PostgreSQL one under PLANTD_TEST_DATABASE_URL) and cleans it up.
    let server = Server::prepare(&[]);
    let out = server
        .command()
        .args([
            "bench",
            "health",
            "--devices",
            "4",
            "--rules",
            "8",
            "--plans",
            "20",
        ])
        .args([
            "--seconds",
            "1",
            "--rate",
            "200",
            "--crossing",
            "0.5",
            "--no-flat",
        ])
        .output()
        .expect("run plantd bench health");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // The ingest mode without rules, with the rules, and with the plans too, all storing.
    for (rules, plans) in [("0", "0"), ("8", "0"), ("8", "20")] {
        let cells = row(&stdout, &["4", rules, plans, "200 msg/s, QoS 1"]);
        let stored: f64 = cells[5].parse().expect("stored/s");
        assert!(
            stored > 0.0,
            "nothing stored with {rules} rules, {plans} plans: {cells:?}"
        );
    }
    let with_rules = row(&stdout, &["4", "8", "20", "200 msg/s, QoS 1"]);
    assert!(!with_rules[6].is_empty(), "no ratio: {with_rules:?}");
    // 8 rules: 5 thresholds (devices 0, 1, 2, 3, 0), one each of iso20816, anomaly, rate.
    // Half the devices (0 and 2) cross once: 3 threshold alarms, each matched.
    let latency = stdout
        .lines()
        .find(|l| l.contains("threshold, 1 iso20816, 1 anomaly, 1 rate"))
        .map(|l| l.split('|').map(str::trim).skip(1).collect::<Vec<_>>())
        .unwrap_or_else(|| panic!("no latency row in:\n{stdout}"));
    assert_eq!(latency[4], "2", "crossings: {latency:?}");
    assert_eq!(latency[5], "3 / 3", "matched / expected: {latency:?}");
    assert!(latency[11].contains("5 threshold"), "{latency:?}");
    assert!(latency[11].contains("0 unmatched"), "{latency:?}");
    let p50 = latency[6].split(" / ").next().expect("p50");
    assert!(p50.parse::<f64>().is_ok(), "no client latency: {latency:?}");
    // Each threshold alarm opened one work order, each matched to its publish.
    assert_eq!(
        latency[7], "3 / 3",
        "work orders got / expected: {latency:?}"
    );
    let p50 = latency[8].split(" / ").next().expect("p50");
    assert!(
        p50.parse::<f64>().is_ok(),
        "no work-order latency: {latency:?}"
    );
}

#[test]
fn bench_reports_times_the_report_over_a_year_of_data_and_the_orders() {
    let server = Server::prepare(&[]);
    let out = server
        .command()
        .args([
            "bench",
            "reports",
            "--assets",
            "2",
            "--orders",
            "20",
            "--samples",
            "2",
        ])
        .output()
        .expect("run plantd bench reports");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for request in [
        "GET /api/v1/reports/maintenance (a year)",
        "GET /reports?range=12m (page)",
    ] {
        let cells = row(&stdout, &[request, "2", "20"]);
        let p50: f64 = cells[4].parse().expect("p50 ms");
        assert!(p50 > 0.0, "{cells:?}");
        let bytes: usize = cells[7].parse().expect("answer bytes");
        assert!(bytes > 1000, "an answer with the figures: {cells:?}");
    }
}

#[test]
fn bench_ui_times_every_main_page_and_counts_its_own_scripts_and_styles() {
    // As above: the bench starts its own plantd on this suite's backend.
    let server = Server::prepare(&[]);
    let out = server
        .command()
        .args([
            "bench",
            "ui",
            "--devices",
            "5",
            "--orders",
            "12",
            "--samples",
            "3",
        ])
        .output()
        .expect("run plantd bench ui");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for page in [
        "`/`",
        "`/devices`",
        "`/work-orders/board`",
        "`/reports`",
        "`/settings/users`",
        "`/login`",
        "`/alarms?sort=device&dir=desc&page=15`",
        "`/alarms/stats`",
        "`/work-orders?sort=due&dir=asc&page=100`",
        "`/settings`",
    ] {
        let cells = row(&stdout, &[page, "5", "12"]);
        let p95: f64 = cells[4].parse().expect("p95 ms");
        assert!(p95 > 0.0, "{cells:?}");
        let html: usize = cells[6].parse().expect("HTML bytes");
        assert!(html > 500, "a whole page: {cells:?}");
        let assets: usize = cells[7].parse().expect("JS + CSS bytes");
        assert!(
            assets > 1000,
            "the stylesheet and script are counted: {cells:?}"
        );
    }
}
