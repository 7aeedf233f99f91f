//! Telemetry charts (server-drawn SVG): axes with the unit and time ticks, a default range
//! that fits fresh data, the range picker without JavaScript, the min–max band where a
//! point aggregates many samples, rule limits and alarm episodes on the alarm page and the
//! rule preview, and in Chromium the readout on hover and a live sample over MQTT. Also the
//! page's weight and render time for 10 metrics × 30 days (printed, bounded loosely).

use std::time::{Duration, Instant};

use rumqttc::QoS;
use serde_json::{json, Map, Value};

use crate::support::http::{api, provision};
use crate::support::mqtt::device;
use crate::support::{eventually, web, Server};

const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;
/// The plot area of chart.rs's SVG (x from 44 to 470 user units).
const X0: f64 = 44.0;
const X1: f64 = 470.0;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Posts `(ts, {metric: value})` samples as the device, with units, 500 to a payload.
fn send(
    server: &Server,
    id: &str,
    password: &str,
    units: &Value,
    samples: &[(i64, Map<String, Value>)],
) {
    for part in samples.chunks(500) {
        let body: Vec<Value> = part
            .iter()
            .map(|(ts, values)| json!({"ts": ts, "values": values, "units": units}))
            .collect();
        let (status, reply) = api(server).post_as_device(
            &format!("/api/v1/devices/{id}/telemetry"),
            id,
            password,
            Value::Array(body).to_string().as_bytes(),
        );
        assert_eq!(status, 202, "{reply}");
    }
}

fn one(metric: &str, value: f64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(metric.to_owned(), json!(value));
    m
}

/// Samples stored of a metric (the REST query, raw).
fn stored(server: &Server, id: &str, metric: &str) -> usize {
    let (status, body) = api(server).get(&format!(
        "/api/v1/devices/{id}/telemetry?metric={metric}&from=0&to=4102444800000&limit=100000"
    ));
    assert_eq!(status, 200, "{body}");
    body["points"].as_array().map_or(0, Vec::len)
}

fn get(server: &Server, cookie: &str, path: &str) -> String {
    let response = web::status_of(
        web::agent()
            .get(&server.url(path))
            .set("Cookie", cookie)
            .call(),
    );
    assert_eq!(response.status(), 200, "{path}");
    response.into_string().expect("html")
}

/// The `<svg class="plot" …>…</svg>` charts of a page.
fn svgs(html: &str) -> Vec<&str> {
    html.split(r#"<svg class="plot""#)
        .skip(1)
        .map(|rest| rest.split("</svg>").next().expect("closed svg"))
        .collect()
}

/// An attribute of the svg's root element.
fn attr<'a>(svg: &'a str, name: &str) -> &'a str {
    svg.split(&format!(" {name}=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no {name} in {svg}"))
}

fn number(svg: &str, name: &str) -> i64 {
    attr(svg, name).parse().expect("a number")
}

/// The x of each vertex of the chart's line.
fn line_xs(svg: &str) -> Vec<f64> {
    let d = svg
        .split(r#"<path class="line" d=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a line");
    d.split(['M', 'L'])
        .filter(|v| !v.is_empty())
        .map(|v| v.split(',').next().expect("x").parse().expect("x number"))
        .collect()
}

/// The time axis' labels.
fn time_ticks(svg: &str) -> Vec<&str> {
    svg.split(r#"text-anchor="middle" data-ts=""#)
        .skip(1)
        .map(|rest| {
            rest.split('>')
                .nth(1)
                .and_then(|t| t.split('<').next())
                .expect("label")
        })
        .collect()
}

#[test]
fn a_fresh_device_gets_axes_with_its_unit_and_a_range_that_fits_its_data() {
    let server = Server::start();
    let password = provision(&server, "oven-1");
    let now = now_ms();
    // Ten minutes, one sample every 10 s.
    let samples: Vec<(i64, Map<String, Value>)> = (0..60)
        .map(|i| {
            (
                now - 10 * MINUTE + i * 10_000,
                one("temp", 20.0 + (i % 5) as f64),
            )
        })
        .collect();
    send(
        &server,
        "oven-1",
        &password,
        &json!({"temp": "°C"}),
        &samples,
    );
    eventually(Duration::from_secs(10), "samples stored", || {
        (stored(&server, "oven-1", "temp") == 60).then_some(())
    });
    let cookie = web::sign_in(&server, &web::agent());
    for path in ["/devices/oven-1/telemetry", "/devices/oven-1"] {
        let html = get(&server, &cookie, path);
        let charts = svgs(&html);
        assert_eq!(charts.len(), 1, "{path}: one chart per metric");
        let svg = charts[0];
        // The value axis names the unit; the time axis has labelled ticks.
        assert!(
            svg.contains(r#"<text class="unit""#) && svg.contains(">°C</text>"),
            "{svg}"
        );
        let ticks = time_ticks(svg);
        assert!(ticks.len() >= 3, "time ticks: {ticks:?}");
        assert!(
            ticks
                .iter()
                .all(|t| t.len() == 5 && t.as_bytes()[2] == b':'),
            "HH:MM labels: {ticks:?}"
        );
        assert!(svg.contains(r#"<text class="tick" x="40" "#), "value ticks");
        // Fitted: not 24 h, and the points spread across the width.
        let span = number(svg, "data-to") - number(svg, "data-from");
        assert!(
            (10 * MINUTE..15 * MINUTE).contains(&span),
            "{path}: a range of {span} ms"
        );
        let xs = line_xs(svg);
        assert_eq!(xs.len(), 60, "one vertex per sample");
        let width = X1 - X0;
        assert!(xs[0] < X0 + 0.15 * width, "first point at {}", xs[0]);
        assert!(
            xs[xs.len() - 1] > X0 + 0.85 * width,
            "last point at {}",
            xs[xs.len() - 1]
        );
        assert!(html.contains(r#"<strong aria-current="page">fit to data</strong>"#));
    }
}

#[test]
fn the_range_picker_works_without_javascript() {
    let server = Server::start();
    let password = provision(&server, "press-2");
    let now = now_ms();
    // Two days, a sample every 2 h.
    let samples: Vec<(i64, Map<String, Value>)> = (0..24)
        .map(|i| (now - 2 * DAY + i * 2 * 3_600_000, one("force", i as f64)))
        .collect();
    send(
        &server,
        "press-2",
        &password,
        &json!({"force": "kN"}),
        &samples,
    );
    eventually(Duration::from_secs(10), "samples stored", || {
        (stored(&server, "press-2", "force") == 24).then_some(())
    });
    let cookie = web::sign_in(&server, &web::agent());
    let html = get(&server, &cookie, "/devices/press-2/telemetry");
    for key in ["15m", "1h", "24h", "7d", "30d"] {
        assert!(html.contains(&format!(r#"href="?range={key}""#)), "{key}");
    }
    assert!(
        html.contains(r#"<form class="custom-range" method="get">"#)
            && html.contains(r#"type="datetime-local" name="from""#),
        "a custom range form (GET, no script)"
    );
    // Older than a day: the fitted range stops at 24 h.
    let fitted = svgs(&html)[0];
    let span = number(fitted, "data-to") - number(fitted, "data-from");
    assert!(span <= DAY + DAY / 10, "{span}");

    let week = get(&server, &cookie, "/devices/press-2/telemetry?range=7d");
    assert!(week.contains(r#"<strong aria-current="page">7 d</strong>"#));
    let svg = svgs(&week)[0];
    assert_eq!(
        number(svg, "data-from"),
        number(svg, "data-to") - 7 * DAY - 7 * DAY / 20
    );
    let xs = line_xs(svg);
    assert_eq!(xs.len(), 24, "every sample in the week");

    // A custom range as the form sends it (datetime-local, UTC).
    let day = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .expect("time")
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let (from, to) = (
        now - 30 * 3_600_000 - 30 * MINUTE,
        now - 20 * 3_600_000 - 30 * MINUTE,
    );
    let custom = get(
        &server,
        &cookie,
        &format!(
            "/devices/press-2/telemetry?range=custom&from={}&to={}",
            day(from),
            day(to)
        ),
    );
    let svg = svgs(&custom)[0];
    assert_eq!(number(svg, "data-from"), from - from.rem_euclid(MINUTE));
    assert_eq!(number(svg, "data-to"), to - to.rem_euclid(MINUTE));
    assert_eq!(
        attr(svg, "data-live"),
        "0",
        "a range in the past is not live"
    );
    assert_eq!(line_xs(svg).len(), 5, "samples at 2 h steps in 10 h");
    assert!(custom.contains(&format!(r#"name="from" value="{}""#, day(from))));
    // A reversed range is refused in words and the fitted range shown.
    let bad = get(
        &server,
        &cookie,
        &format!(
            "/devices/press-2/telemetry?range=custom&from={}&to={}",
            day(to),
            day(from)
        ),
    );
    assert!(bad.contains("must be before"), "{bad}");
    assert!(bad.contains(r#"<strong aria-current="page">fit to data</strong>"#));
}

#[test]
fn a_band_appears_where_points_aggregate_many_samples() {
    let server = Server::start();
    let password = provision(&server, "fan-3");
    let now = now_ms();
    // Two hours, one sample every 10 s, varying.
    let samples: Vec<(i64, Map<String, Value>)> = (0..720)
        .map(|i| {
            (
                now - 2 * 3_600_000 + i * 10_000,
                one("rpm", (i % 7) as f64 * 10.0),
            )
        })
        .collect();
    send(
        &server,
        "fan-3",
        &password,
        &json!({"rpm": "1/min"}),
        &samples,
    );
    eventually(Duration::from_secs(10), "samples stored", || {
        (stored(&server, "fan-3", "rpm") == 720).then_some(())
    });
    let cookie = web::sign_in(&server, &web::agent());
    // 24 h: two-minute points of 12 samples each.
    let day = get(&server, &cookie, "/devices/fan-3/telemetry?range=24h");
    let svg = svgs(&day)[0];
    assert!(svg.contains(r#"<path class="band" d="M"#), "{svg}");
    assert!(day.contains("(band: min–max)"));
    let points: Vec<Vec<f64>> =
        serde_json::from_str(&attr(svg, "data-points").replace("&quot;", "\"")).expect("points");
    assert!(points.len() <= 1000);
    assert!(
        points
            .iter()
            .any(|p| p.len() == 5 && p[4] >= 12.0 && p[2] == 0.0 && p[3] == 60.0),
        "buckets with min, max and count: {points:?}"
    );
    // 15 min: every point one sample, no band, each point just its time and value.
    let quarter = get(&server, &cookie, "/devices/fan-3/telemetry?range=15m");
    let svg = svgs(&quarter)[0];
    assert!(!svg.contains(r#"class="band""#), "{svg}");
    let points: Vec<Vec<f64>> = serde_json::from_str(attr(svg, "data-points")).expect("points");
    assert!(points.iter().all(|p| p.len() == 2), "{points:?}");
    assert!(line_xs(svg).len() >= 85, "15 min of 10 s samples");
}

/// A `vib > 5` rule on `pump-9`, the device's password and the rule's id.
fn pump_with_rule(server: &Server) -> (String, String) {
    let password = provision(server, "pump-9");
    let (status, rule) = api(server).post(
        "/api/v1/rules",
        json!({"name": "vibration high", "device_id": "pump-9", "metric": "vib",
               "kind": "threshold", "op": ">", "value": 5.0, "severity": "major"}),
    );
    assert_eq!(status, 201, "{rule}");
    (password, rule["id"].as_str().expect("id").to_owned())
}

#[test]
fn the_alarm_page_and_the_rule_preview_draw_limits_and_episodes() {
    let server = Server::start();
    let (password, rule_id) = pump_with_rule(&server);
    let now = now_ms();
    let samples: Vec<(i64, Map<String, Value>)> = [2.0, 3.0, 7.5, 8.0, 2.5, 2.0]
        .iter()
        .enumerate()
        .map(|(i, v)| (now - 60_000 + i as i64 * 5_000, one("vib", *v)))
        .collect();
    send(
        &server,
        "pump-9",
        &password,
        &json!({"vib": "mm/s"}),
        &samples,
    );
    let alarm = eventually(Duration::from_secs(15), "the alarm and its return", || {
        let (_, page) = api(&server).get(&format!("/api/v1/alarms?rule_id={rule_id}"));
        page["items"]
            .as_array()
            .and_then(|l| l.first().cloned())
            .filter(|a| !a["returned_at"].is_null())
    });
    let id = alarm["id"].as_str().expect("alarm id");
    let cookie = web::sign_in(&server, &web::agent());
    let html = get(&server, &cookie, &format!("/alarms/{id}"));
    let charts = svgs(&html);
    assert_eq!(charts.len(), 1, "{html}");
    let svg = charts[0];
    assert!(svg.contains(r#"<line class="limit""#), "{svg}");
    assert!(svg.contains("&gt; 5</text>"), "the limit's label: {svg}");
    assert!(svg.contains(r#"<rect class="episode""#), "{svg}");
    assert!(svg.contains(r#"<line class="raised""#));
    assert!(svg.contains(">mm/s</text>"), "the unit");
    // The episode is where the values were above the limit: between the 2nd and 5th.
    let episode_x: f64 = svg
        .split(r#"<rect class="episode" x=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .and_then(|x| x.parse().ok())
        .expect("episode x");
    let xs = line_xs(svg);
    assert!(
        xs[1] < episode_x && episode_x <= xs[2] + 1.0,
        "{xs:?} {episode_x}"
    );

    // The rule editor's backtest draws the same rule over the last week.
    let editor = get(&server, &cookie, &format!("/rules/{rule_id}"));
    let csrf = web::form_token(&editor).expect("csrf");
    let preview = web::status_of(
        web::agent()
            .post(&server.url("/rules/preview"))
            .set("Cookie", &cookie)
            .send_form(&[
                ("csrf_token", &csrf),
                ("name", "vibration high"),
                ("device_id", "pump-9"),
                ("metric", "vib"),
                ("kind", "threshold"),
                ("op", ">"),
                ("value", "5"),
                ("severity", "major"),
                ("preview", "1"),
            ]),
    );
    assert_eq!(preview.status(), 200);
    let html = preview.into_string().expect("html");
    let charts = svgs(&html);
    assert_eq!(charts.len(), 1, "{html}");
    assert!(
        charts[0].contains(r#"<line class="limit""#),
        "{}",
        charts[0]
    );
    assert!(
        charts[0].contains(r#"<rect class="episode""#),
        "{}",
        charts[0]
    );
}

#[test]
fn in_a_browser_the_readout_follows_the_pointer_and_live_samples_grow_the_line() {
    let Some(browser) = crate::ui::Browser::start() else {
        return;
    };
    let server = Server::start();
    let password = provision(&server, "mixer-4");
    let now = now_ms();
    let samples: Vec<(i64, Map<String, Value>)> = (0..20)
        .map(|i| (now - 5 * MINUTE + i * 15_000, one("level", 40.0 + i as f64)))
        .collect();
    send(
        &server,
        "mixer-4",
        &password,
        &json!({"level": "%"}),
        &samples,
    );
    eventually(Duration::from_secs(10), "samples stored", || {
        (stored(&server, "mixer-4", "level") == 20).then_some(())
    });
    browser.goto(&server.url("/login"));
    browser.sign_in("admin", crate::support::server::ADMIN_PASSWORD);
    browser.wait_for_path("/");
    browser.goto(&server.url("/devices/mixer-4/telemetry"));
    assert_eq!(
        browser.attribute("svg.plot", "data-count").as_deref(),
        Some("20")
    );
    // Hovering the middle of the chart reads out a point there, with its unit.
    browser.hover("svg.plot", 20);
    let readout = eventually(Duration::from_secs(10), "a readout", || {
        let text = browser.text("output.readout");
        (!text.is_empty()).then_some(text)
    });
    assert!(
        readout.contains(" UTC · ") && readout.ends_with(" %"),
        "{readout}"
    );
    let value: f64 = readout
        .split(" · ")
        .nth(1)
        .and_then(|v| v.trim_end_matches(" %").parse().ok())
        .expect("a value");
    assert!((45.0..=55.0).contains(&value), "near the middle: {readout}");

    // The keyboard: End reads the latest point, an arrow the one before.
    browser.script("document.querySelector('svg.plot').focus(); return null;");
    browser.press("\u{E010}"); // End
    eventually(Duration::from_secs(10), "the latest point read out", || {
        browser
            .text("output.readout")
            .ends_with(" · 59 %")
            .then_some(())
    });
    browser.press("\u{E012}"); // ArrowLeft
    eventually(Duration::from_secs(10), "the point before read out", || {
        browser
            .text("output.readout")
            .ends_with(" · 58 %")
            .then_some(())
    });

    // A sample over MQTT: the chart grows a point without a reload.
    eventually(Duration::from_secs(10), "the live stream to open", || {
        (browser.text(".live-state") == "live").then_some(())
    });
    // Inside the drawn range (it ends a little after the page was drawn).
    let to: i64 = browser
        .attribute("svg.plot", "data-to")
        .and_then(|t| t.parse().ok())
        .expect("data-to");
    let mut dev = device(&server, "mixer-4", &password);
    dev.publish(
        "devices/mixer-4/telemetry",
        json!({"ts": now_ms().min(to - 1_000), "values": {"level": 99.0}}).to_string(),
        QoS::AtLeastOnce,
    );
    eventually(
        Duration::from_secs(10),
        "the live point on the chart",
        || (browser.attribute("svg.plot", "data-count").as_deref() == Some("21")).then_some(()),
    );
    assert_eq!(browser.text("[data-latest=level]"), "99");
    assert_eq!(
        browser.find_all("svg.plot circle.dot.live").len(),
        1,
        "drawn in range"
    );

    // A sample after the drawn range: the server draws the chart again, moved on, with it.
    dev.publish(
        "devices/mixer-4/telemetry",
        json!({"ts": to + 1, "values": {"level": 12.0}}).to_string(),
        QoS::AtLeastOnce,
    );
    let svg_attr = |name: &str| {
        browser
            .script(&format!(
                "var s = document.querySelector('svg.plot'); return s && s.getAttribute('{name}');"
            ))
            .as_str()
            .map(str::to_owned)
    };
    let moved: i64 = eventually(Duration::from_secs(20), "the chart drawn again", || {
        svg_attr("data-to")
            .and_then(|t| t.parse().ok())
            .filter(|t| *t > to)
    });
    assert!(moved > to + 1);
    assert_eq!(svg_attr("data-count").as_deref(), Some("22"));
    assert_eq!(browser.text("[data-latest=level]"), "12");
}

/// 10 metrics × 30 days at one sample a minute: the device page's weight and render time
/// for each range, on the backend the suite runs on. Figures are printed (README has
/// them); the bounds only catch a page gone heavy.
#[test]
fn bench_a_page_of_ten_metrics_over_thirty_days_stays_light() {
    let server = Server::start();
    let password = provision(&server, "line-10");
    let now = now_ms();
    let start = now - 30 * DAY + 10 * MINUTE;
    let metrics: Vec<String> = (0..10).map(|m| format!("m{m}")).collect();
    let units: Map<String, Value> = metrics.iter().map(|m| (m.clone(), json!("bar"))).collect();
    let loaded = Instant::now();
    let samples: Vec<(i64, Map<String, Value>)> = (0..(30 * DAY - 10 * MINUTE) / MINUTE)
        .map(|i| {
            let values = metrics
                .iter()
                .enumerate()
                .map(|(m, name)| {
                    (
                        name.clone(),
                        json!(((i * (m as i64 + 3)) % 97) as f64 / 7.0),
                    )
                })
                .collect();
            (start + i * MINUTE, values)
        })
        .collect();
    let total = samples.len() * metrics.len();
    send(
        &server,
        "line-10",
        &password,
        &Value::Object(units),
        &samples,
    );
    // Compacted into chunks and roll-ups, as 30 days of data would be (a long call).
    let compacted = web::status_of(
        ureq::post(&server.url("/api/v1/admin/telemetry/maintenance"))
            .timeout(Duration::from_secs(600))
            .set(
                "Authorization",
                &format!("Bearer {}", crate::support::server::ADMIN_TOKEN),
            )
            .send_json(json!({})),
    );
    assert_eq!(compacted.status(), 200);
    let load_s = loaded.elapsed().as_secs_f64();
    let cookie = web::sign_in(&server, &web::agent());
    let mut rows = Vec::new();
    for range in ["fit", "15m", "1h", "24h", "7d", "30d"] {
        let path = format!("/devices/line-10/telemetry?range={range}");
        get(&server, &cookie, &path); // warm
        let mut times = Vec::new();
        let mut html = String::new();
        for _ in 0..5 {
            let t = Instant::now();
            html = get(&server, &cookie, &path);
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let charts = svgs(&html);
        assert_eq!(charts.len(), 10, "{range}");
        let most = charts
            .iter()
            .map(|svg| line_xs(svg).len())
            .max()
            .unwrap_or(0);
        assert!(most <= 1000, "{range}: {most} points in a series");
        assert!(html.len() < 2_000_000, "{range}: {} bytes", html.len());
        rows.push(format!(
            "| {range} | {most} | {:.0} KiB | {:.0} ms | {:.0} ms |",
            html.len() as f64 / 1024.0,
            times[2],
            times[4]
        ));
    }
    let backend = if std::env::var("PLANTD_TEST_DATABASE_URL").is_ok() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "\ncharts bench ({backend}): {total} samples loaded and compacted in {load_s:.1} s\n\
         | range | points per series (max) | page size | median | slowest of 5 |\n| --- | --- | --- | --- | --- |\n{}",
        rows.join("\n")
    );
}
