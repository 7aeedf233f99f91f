//! Issue 14.6, log flooding, each test written as the attack: a client makes plantd log a
//! warning per refused publish, rejected payload or refused login, as fast as it can send,
//! with text of its own choosing in the line. plantd's log (its stderr, kept in a file
//! here) must stay bounded while the counters keep the totals, keep no client text whole,
//! and never show the username of a refused login.

use std::fs::File;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use rumqttc::QoS;

use crate::support::http::{metric, provision};
use crate::support::mqtt::{connect, device};
use crate::support::{eventually, Server};

const WAIT: Duration = Duration::from_secs(30);
/// The default of `log_warnings_per_10s`.
const PER_WINDOW: usize = 20;

/// A plantd whose stderr (its log) goes to a file; returns the server and the file.
fn logged_server() -> (Server, PathBuf) {
    logged_server_with(&[])
}

/// A plantd whose stderr goes to a file. The per-device rate limit is off: these floods are
/// about what reaches the log, and a limited device's excess would never be seen there.
fn logged_server_with(env: &[(&str, &str)]) -> (Server, PathBuf) {
    let mut env = env.to_vec();
    env.push(("PLANTD_MQTT_DEVICE_MAX_MSGS_PER_S", "0"));
    let mut server = Server::prepare(&env);
    let log = server.data_dir.join("stderr.log");
    let child = server
        .command()
        .stdout(Stdio::null())
        .stderr(File::create(&log).expect("log file"))
        .spawn()
        .expect("start plantd");
    server.adopt(child);
    (server, log)
}

fn log_text(log: &PathBuf) -> String {
    String::from_utf8_lossy(&std::fs::read(log).expect("read the log")).into_owned()
}

fn lines_with(log: &PathBuf, needle: &str) -> usize {
    log_text(log).lines().filter(|l| l.contains(needle)).count()
}

/// The attack: a device publishes 1,000 times outside its topics; today's code wrote one
/// warning line per publish. The counter must show 1,000, the log at most the throttle's
/// lines (two windows of 10 s at most, for a run that crosses a boundary).
#[test]
fn a_thousand_refused_publishes_log_a_bounded_number_of_lines() {
    let (server, log) = logged_server();
    let password = provision(&server, "press-1");
    let mut press1 = device(&server, "press-1", &password);
    let denied = |s: &Server| metric(s, "plantd_mqtt_denied_publishes_total", "kind=\"publish\"");
    let before = denied(&server);
    for i in 0..1000 {
        press1.publish(
            &format!("devices/press-2/telemetry/{i}"),
            "{}",
            QoS::AtMostOnce,
        );
    }
    eventually(WAIT, "1,000 refused publishes counted", || {
        (denied(&server) - before >= 1000.0).then_some(())
    });
    assert_eq!(denied(&server) - before, 1000.0);
    let needle = "publish outside the client's topics or limits dropped";
    let lines = lines_with(&log, needle);
    assert!(lines >= 1, "the refusal is still logged");
    assert!(lines <= 2 * PER_WINDOW, "{lines} lines for 1,000 refusals");
    let suppressed = metric(
        &server,
        "plantd_log_lines_suppressed_total",
        "reason=\"mqtt_publish_refused\"",
    );
    assert_eq!(
        suppressed as usize + lines,
        1000,
        "every line written or counted"
    );
}

/// The attack: 1,000 rejected telemetry payloads, the first with a 200 KiB metric name,
/// which today's code logged whole (the rejection reason quotes it) once per payload.
#[test]
fn rejected_payloads_log_a_bounded_number_of_lines_and_no_long_name_whole() {
    let (server, log) = logged_server();
    let password = provision(&server, "press-1");
    let mut press1 = device(&server, "press-1", &password);
    let rejected = |s: &Server| metric(s, "plantd_telemetry_payloads_rejected_total", "");
    let before = rejected(&server);
    let long_name = "X".repeat(200 * 1024);
    let payload = format!(r#"{{"values":{{"{long_name}":1}}}}"#);
    press1.publish("devices/press-1/telemetry", payload, QoS::AtLeastOnce);
    for _ in 1..1000 {
        press1.publish("devices/press-1/telemetry", "not json", QoS::AtMostOnce);
    }
    eventually(WAIT, "1,000 rejected payloads counted", || {
        (rejected(&server) - before >= 1000.0).then_some(())
    });
    assert_eq!(rejected(&server) - before, 1000.0);
    let text = log_text(&log);
    let lines = text
        .lines()
        .filter(|l| l.contains("telemetry payload rejected"))
        .count();
    assert!(lines >= 1, "the rejection is still logged");
    assert!(
        lines <= 2 * PER_WINDOW,
        "{lines} lines for 1,000 rejections"
    );
    assert!(
        text.contains(&"X".repeat(64)),
        "the long name's start is in the log"
    );
    assert!(
        !text.contains(&"X".repeat(1024)),
        "the long name is not in the log whole"
    );
    assert!(text.len() < 64 * 1024, "log of {} bytes", text.len());
}

/// The attack on the operator's secrets: someone types a password in the username field
/// of an MQTT client. Today's code logged the refused login's username (in the login's
/// span, shown from the `info` level on, as operators commonly run).
#[test]
fn a_refused_mqtt_logins_username_is_never_logged() {
    let (server, log) = logged_server_with(&[("PLANTD_LOG", "info")]);
    let typed_secret = "s3cret-typed-in-the-wrong-field";
    let refused = connect(&server, "Dash.1", Some((typed_secret, "wrong")));
    assert!(refused.is_err(), "the login is refused");
    eventually(WAIT, "the refusal in the log", || {
        (lines_with(&log, "MQTT login refused") > 0).then_some(())
    });
    assert!(
        !log_text(&log).contains(typed_secret),
        "the username of a refused login is in the log"
    );
}

/// The attack: 1,000 firmware status reports for campaigns that do not exist, the first
/// naming one with a 512 KiB `campaign` string, which today's code logged whole, once per
/// report.
#[test]
fn bad_firmware_reports_log_a_bounded_number_of_lines_and_no_long_campaign_whole() {
    let (server, log) = logged_server();
    let password = provision(&server, "press-1");
    let mut press1 = device(&server, "press-1", &password);
    let ignored = |s: &Server| {
        metric(
            s,
            "plantd_firmware_reports_ignored_total",
            "reason=\"unknown_campaign\"",
        )
    };
    let before = ignored(&server);
    let topic = "devices/press-1/firmware/status";
    let long = "C".repeat(512 * 1024);
    let report = |campaign: &str| format!(r#"{{"campaign":"{campaign}","state":"done"}}"#);
    press1.publish(topic, report(&long), QoS::AtLeastOnce);
    for i in 1..1000 {
        press1.publish(topic, report(&format!("c-{i}")), QoS::AtMostOnce);
    }
    eventually(WAIT, "1,000 bad reports counted", || {
        (ignored(&server) - before >= 1000.0).then_some(())
    });
    assert_eq!(ignored(&server) - before, 1000.0);
    let text = log_text(&log);
    let lines = text
        .lines()
        .filter(|l| l.contains("firmware status ignored"))
        .count();
    assert!(lines >= 1, "the report is still logged");
    assert!(lines <= 2 * PER_WINDOW, "{lines} lines for 1,000 reports");
    assert!(
        !text.contains(&"C".repeat(1024)),
        "the long campaign is not in the log whole"
    );
}
