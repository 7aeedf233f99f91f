//! Every setting of `plantd serve`, declared once: key, default, doc line, and how its
//! value is checked and stored. The loader, the flags and their `--help`, and README's
//! table all read this list; its order is theirs. Pure: no I/O.
//!
//! A new setting is one entry here plus the field it fills in `Settings` (`config.rs`).

use std::path::PathBuf;
use std::time::Duration;

use super::setting::Initial::{Unset, Value};
use super::setting::Setting;
use super::values::{
    addr, addr_or_off, base_url, boolean, database_url, days, log_format, millis, number, optional,
    seconds, secret,
};

/// The shortest `admin_token` accepted: it guards the whole API, and a generated one has 40.
const MIN_ADMIN_TOKEN_CHARS: usize = 24;
/// The shortest `admin_password` accepted (a generated one has 20).
const MIN_ADMIN_PASSWORD_CHARS: usize = 12;

pub static SETTINGS: &[Setting] = &[
    Setting {
        key: "data_dir",
        default: Value("./plantd-data"),
        doc: "folder for the SQLite database and other state",
        apply: |s, v| {
            s.data_dir = PathBuf::from(v);
            Ok(())
        },
    },
    Setting {
        key: "http_addr",
        default: Value("0.0.0.0:8080"),
        doc: "web UI and REST API",
        apply: |s, v| {
            s.http_addr = addr(v)?;
            Ok(())
        },
    },
    Setting {
        key: "mqtt_addr",
        default: Value("0.0.0.0:1883"),
        doc: "MQTT broker (3.1.1 and 5 on one port)",
        apply: |s, v| {
            s.broker.listen = addr(v)?;
            Ok(())
        },
    },
    Setting {
        key: "mqtt_tls_addr",
        default: Value("0.0.0.0:8883"),
        doc: "MQTT over TLS (3.1.1 and 5); listens only when `tls_cert_file` and `tls_key_file` are set; `off`: never",
        apply: |s, v| {
            s.broker.tls_listen = addr_or_off(v)?;
            Ok(())
        },
    },
    Setting {
        key: "mqtt_ws_addr",
        default: Value("0.0.0.0:8083"),
        doc: "MQTT over WebSocket, path `/mqtt`, subprotocol `mqtt` (3.1.1 and 5; secure WebSocket when a certificate is set); `off`: none",
        apply: |s, v| {
            s.broker.ws_listen = addr_or_off(v)?;
            Ok(())
        },
    },
    Setting {
        key: "tls_cert_file",
        default: Unset("none: no TLS"),
        doc: "PEM certificate chain (the server's first) of the MQTT TLS and secure WebSocket listeners; read again on SIGHUP",
        apply: |s, v| {
            s.tls_cert_file = optional(v).map(PathBuf::from);
            Ok(())
        },
    },
    Setting {
        key: "tls_client_ca_file",
        default: Unset("none: no client certificates"),
        doc: "PEM CA certificate(s) of device client certificates (optional per device): a device whose certificate's CN or a DNS SAN is its id logs in over TLS without its secret; read again on SIGHUP",
        apply: |s, v| {
            s.tls_client_ca_file = optional(v).map(PathBuf::from);
            Ok(())
        },
    },
    Setting {
        key: "tls_key_file",
        default: Unset("none: no TLS"),
        doc: "PEM private key of `tls_cert_file` (PKCS#8, PKCS#1 or SEC1); read again on SIGHUP",
        apply: |s, v| {
            s.tls_key_file = optional(v).map(PathBuf::from);
            Ok(())
        },
    },
    Setting {
        key: "database_url",
        default: Unset("SQLite `plantd.db` in `data_dir`"),
        doc: "`postgres://user:pass@host/db` selects PostgreSQL",
        apply: |s, v| {
            s.database_url = database_url(v)?;
            Ok(())
        },
    },
    Setting {
        key: "db_pool_size",
        default: Value("8"),
        doc: "database connections",
        apply: |s, v| {
            s.db_pool_size = number(v, 1, 256)?;
            Ok(())
        },
    },
    Setting {
        key: "admin_token",
        default: Unset("generated"),
        doc: "first start only: the admin API token's secret (at least 24 characters)",
        apply: |s, v| {
            s.admin_token = secret(v, MIN_ADMIN_TOKEN_CHARS)?;
            Ok(())
        },
    },
    Setting {
        key: "admin_password",
        default: Unset("generated"),
        doc: "first start only: the UI password of user `admin` (at least 12 characters)",
        apply: |s, v| {
            s.admin_password = secret(v, MIN_ADMIN_PASSWORD_CHARS)?;
            Ok(())
        },
    },
    Setting {
        key: "login_failures_before_backoff",
        default: Value("5"),
        doc: "failed UI sign-ins of one account or one address before it must wait (429): 1 s, doubling with each further failure",
        apply: |s, v| {
            s.sign_in.failures_before_backoff = number(v, 1, 1000)?;
            Ok(())
        },
    },
    Setting {
        key: "login_backoff_max_s",
        default: Value("900"),
        doc: "the longest wait after failed sign-ins, in seconds; a failure is forgotten after as long",
        apply: |s, v| {
            s.sign_in.backoff_max = seconds(v, 1, 24 * 3600)?;
            Ok(())
        },
    },
    Setting {
        key: "login_queue",
        default: Value("8"),
        doc: "sign-ins that may wait for one of the 2 password-hashing workers; more are answered 429 at once",
        apply: |s, v| {
            s.sign_in.queue = number(v, 0, 1000)?;
            Ok(())
        },
    },
    Setting {
        key: "password_min_length",
        default: Value("10"),
        doc: "the fewest characters of a new user password (a common password is refused whatever its length)",
        apply: |s, v| {
            s.sign_in.password_min_length = number(v, 8, 128)?;
            Ok(())
        },
    },
    Setting {
        key: "token_last_used_write_s",
        default: Value("60"),
        doc: "an API token's last use (HTTP or MQTT) is written to the database at most once per this many seconds; memory has every use",
        apply: |s, v| {
            s.token_last_used_write = seconds(v, 1, 86_400)?;
            Ok(())
        },
    },
    Setting {
        key: "log",
        default: Value("info,rumqttd=off"),
        doc: "log filter (`tracing` EnvFilter syntax); `rumqttd=info` shows broker internals",
        apply: |s, v| {
            s.log = v.to_owned();
            Ok(())
        },
    },
    Setting {
        key: "log_format",
        default: Value("text"),
        doc: "`text` or `json` (one JSON object per line)",
        apply: |s, v| {
            s.log_format = log_format(v)?;
            Ok(())
        },
    },
    Setting {
        key: "log_warnings_per_10s",
        default: Value("20"),
        doc: "warning lines a client can cause (refused logins, publishes, payloads, reports) per kind in 10 s at most; the rest are counted in `plantd_log_lines_suppressed_total`",
        apply: |s, v| {
            s.log_warnings_per_10s = number(v, 0, 1_000_000)?;
            Ok(())
        },
    },
    Setting {
        key: "secure_cookies",
        default: Value("false"),
        doc: "the UI's cookies are `Secure` and named `__Host-…` (set behind TLS; a browser then sends them over HTTPS only)",
        apply: |s, v| {
            s.secure_cookies = boolean(v)?;
            Ok(())
        },
    },
    Setting {
        key: "dashboard_refresh_ms",
        default: Value("2000"),
        doc: "how often the dashboard's figures are recomputed while someone watches it live (one computation for all watchers, none when no one watches)",
        apply: |s, v| {
            s.dashboard.refresh = millis(v, 200, 600_000)?;
            Ok(())
        },
    },
    Setting {
        key: "dashboard_live_max_clients",
        default: Value("64"),
        doc: "live dashboard streams open at once; more are answered 503 (`plantd_dashboard_live_refused_total`), and the page stays complete without them",
        apply: |s, v| {
            s.dashboard.max_clients = number(v, 0, 100_000)?;
            Ok(())
        },
    },
    Setting {
        key: "mqtt_max_connections",
        default: Value("20000"),
        doc: "MQTT connections at most",
        apply: |s, v| {
            s.broker.max_connections = number(v, 1, 1_000_000)?;
            Ok(())
        },
    },
    Setting {
        key: "mqtt_max_packet_bytes",
        default: Value("1048576"),
        doc: "larger MQTT packets close the connection",
        apply: |s, v| {
            s.broker.max_packet_bytes = number(v, 1024, 256 << 20)?;
            Ok(())
        },
    },
    Setting {
        key: "mqtt_segment_bytes",
        default: Value("262144"),
        doc: "in-memory log segment of a subscription filter or unsubscribed topic",
        apply: |s, v| {
            s.broker.segment_size = number(v, 4096, 1 << 30)?;
            Ok(())
        },
    },
    Setting {
        key: "mqtt_segment_count",
        default: Value("2"),
        doc: "segments kept per filter or topic",
        apply: |s, v| {
            s.broker.segment_count = number(v, 1, 1000)?;
            Ok(())
        },
    },
    Setting {
        key: "mqtt_gateway_segment_bytes",
        default: Value("4194304"),
        doc: "log segment of the filters plantd consumes (all device telemetry goes through one)",
        apply: |s, v| {
            s.broker.gateway_segment_size = number(v, 4096, 1 << 30)?;
            Ok(())
        },
    },
    Setting {
        key: "mqtt_gateway_segment_count",
        default: Value("8"),
        doc: "segments kept for those filters (32 MiB: a burst of ~500k small samples)",
        apply: |s, v| {
            s.broker.gateway_segment_count = number(v, 1, 1000)?;
            Ok(())
        },
    },
    Setting {
        key: "mqtt_connect_timeout_ms",
        default: Value("10000"),
        doc: "time a new connection has, from its accept, to finish its TLS and WebSocket handshakes and send CONNECT; then it is closed",
        apply: |s, v| {
            s.broker.connect_timeout_ms = number(v, 100, 60_000)?;
            Ok(())
        },
    },
    Setting {
        key: "mqtt_backpressure_samples",
        default: Value("10000"),
        doc: "samples accepted and not committed above which device publishes wait unacknowledged (until half as many are left); keep it above `telemetry_batch_size`",
        apply: |s, v| {
            s.broker.backpressure_samples = number(v, 1, 1 << 30)?;
            Ok(())
        },
    },
    Setting {
        key: "mqtt_puback_after_commit",
        default: Value("true"),
        doc: "a device's QoS 1 telemetry is acknowledged (PUBACK) only once its samples are committed, so a crash loses nothing acknowledged; `false` acknowledges when the broker takes it (faster, a crash loses what was not committed yet)",
        apply: |s, v| {
            s.broker.puback_after_commit = boolean(v)?;
            Ok(())
        },
    },
    Setting {
        key: "mqtt_max_topic_bytes",
        default: Value("256"),
        doc: "longest topic or subscription filter a client may use (the contract's longest is about 130)",
        apply: |s, v| {
            s.broker.max_topic_bytes = number(v, 128, 65_535)?;
            Ok(())
        },
    },
    Setting {
        key: "mqtt_max_filters_per_session",
        default: Value("100"),
        doc: "subscription filters one MQTT session may hold; more are refused (SUBACK failure)",
        apply: |s, v| {
            s.broker.max_filters_per_session = number(v, 8, 1_000_000)?;
            Ok(())
        },
    },
    Setting {
        key: "mqtt_max_retained_per_token",
        default: Value("1000"),
        doc: "retained messages one integration token may have set; more are dropped (devices never retain)",
        apply: |s, v| {
            s.broker.max_retained_per_token = number(v, 0, 10_000_000)?;
            Ok(())
        },
    },
    Setting {
        key: "mqtt_max_sessions_per_token",
        default: Value("100"),
        doc: "live MQTT sessions one integration token may hold; more are refused at CONNECT",
        apply: |s, v| {
            s.broker.max_sessions_per_token = number(v, 1, 1_000_000)?;
            Ok(())
        },
    },
    Setting {
        key: "mqtt_max_keep_alive_s",
        default: Value("1200"),
        doc: "keep-alive a client is held to at most; 0 (none) or more becomes this",
        apply: |s, v| {
            s.broker.max_keep_alive_s = number(v, 1, 65_535)?;
            Ok(())
        },
    },
    Setting {
        key: "mqtt_receive_max",
        default: Value("100"),
        doc: "MQTT 5 receive maximum, announced in the CONNACK: QoS 1 and 2 publishes one client may have unacknowledged; one more ends its connection with DISCONNECT \"receive maximum exceeded\" (`plantd_mqtt_limited_total{limit=\"receive_maximum\"}`)",
        apply: |s, v| {
            s.broker.receive_max = number(v, 1, 65_535)?;
            Ok(())
        },
    },
    Setting {
        key: "mqtt_device_max_msgs_per_s",
        default: Value("200"),
        doc: "publishes a second one device session may send (bursts of twice as many); beyond, QoS 0 is dropped (`plantd_mqtt_dropped_total{reason=\"rate\"}`) and QoS 1 held back unacknowledged (`plantd_mqtt_rate_held_total`). 0: no limit",
        apply: |s, v| {
            s.broker.device_max_msgs_per_s = number(v, 0, 1_000_000)?;
            Ok(())
        },
    },
    Setting {
        key: "telemetry_batch_size",
        default: Value("1000"),
        doc: "samples per write transaction at most",
        apply: |s, v| {
            s.telemetry.batch_size = number(v, 1, 1_000_000)?;
            Ok(())
        },
    },
    Setting {
        key: "telemetry_batch_interval_ms",
        default: Value("250"),
        doc: "timer: buffered samples are written at least this often, a failed write is retried",
        apply: |s, v| {
            s.telemetry.batch_interval = millis(v, 1, 60_000)?;
            Ok(())
        },
    },
    Setting {
        key: "telemetry_batch_min_age_ms",
        default: Value("0"),
        doc: "group commit: with no write in flight, buffered samples are written once the oldest is this old (0: at once)",
        apply: |s, v| {
            s.telemetry.batch_min_age = millis(v, 0, 60_000)?;
            Ok(())
        },
    },
    Setting {
        key: "telemetry_max_payload_bytes",
        default: Value("262144"),
        doc: "larger telemetry payloads are rejected",
        apply: |s, v| {
            s.telemetry.max_payload_bytes = number(v, 64, 64 << 20)?;
            Ok(())
        },
    },
    Setting {
        key: "telemetry_max_series_per_device",
        default: Value("256"),
        doc: "distinct metrics one device may have; a payload adding more is rejected whole (`plantd_telemetry_payloads_rejected_total{reason=\"series_limit\"}`)",
        apply: |s, v| {
            s.telemetry.max_series_per_device = number(v, 1, 1_000_000)?;
            Ok(())
        },
    },
    Setting {
        key: "telemetry_max_buffered_samples",
        default: Value("1000000"),
        doc: "samples held while storage is behind before payloads are refused",
        apply: |s, v| {
            s.telemetry.max_buffered_samples = number(v, 1000, 1 << 32)?;
            Ok(())
        },
    },
    Setting {
        key: "telemetry_compact_interval_ms",
        default: Value("300000"),
        doc: "committed samples are compacted into chunks and roll-ups this often…",
        apply: |s, v| {
            s.telemetry.compact_interval = millis(v, 100, 86_400_000)?;
            Ok(())
        },
    },
    Setting {
        key: "telemetry_max_head_samples",
        default: Value("500000"),
        doc: "…or as soon as this many wait",
        apply: |s, v| {
            s.telemetry.max_head_samples = number(v, 1000, 100_000_000)?;
            Ok(())
        },
    },
    Setting {
        key: "telemetry_retention_raw_days",
        default: Value("30"),
        doc: "raw points kept (0: forever)",
        apply: |s, v| {
            s.telemetry.retention_raw = days(v)?;
            Ok(())
        },
    },
    Setting {
        key: "telemetry_retention_minute_days",
        default: Value("365"),
        doc: "minute roll-ups kept (0: forever)",
        apply: |s, v| {
            s.telemetry.retention_minute = days(v)?;
            Ok(())
        },
    },
    Setting {
        key: "telemetry_retention_hour_days",
        default: Value("0"),
        doc: "hour roll-ups kept (0: forever)",
        apply: |s, v| {
            s.telemetry.retention_hour = days(v)?;
            Ok(())
        },
    },
    Setting {
        key: "telemetry_query_max_points",
        default: Value("1000000"),
        doc: "raw points one query may decode; beyond, it is refused (422) and counted in `plantd_telemetry_queries_refused_total`",
        apply: |s, v| {
            s.telemetry.query_max_points = number(v, 1000, 100_000_000)?;
            Ok(())
        },
    },
    Setting {
        key: "chart_max_points",
        default: Value("1000"),
        doc: "points one chart of a page draws at most (a point is a bucket: average, min–max band); drawn points are counted in `plantd_web_chart_points`",
        apply: |s, v| {
            s.chart_max_points = number(v, 50, 10_000)?;
            Ok(())
        },
    },
    Setting {
        key: "ui_page_size",
        default: Value("50"),
        doc: "rows on one page of a web UI table (devices, alarms, work orders, users), 10–500; the rows each page shows are counted in `plantd_web_table_rows`",
        apply: |s, v| {
            s.ui_page_size = number(v, 10, 500)?;
            Ok(())
        },
    },
    Setting {
        key: "public_url",
        default: Unset("`http://<http_addr>` (`0.0.0.0` → `127.0.0.1`)"),
        doc: "base URL devices reach plantd's HTTP at: firmware notices carry download URLs under it. **Set it** when devices are on other machines",
        apply: |s, v| {
            s.public_url = base_url(v)?;
            Ok(())
        },
    },
    Setting {
        key: "plant_time_zone",
        default: Unset("the server's zone (`TZ`, `/etc/timezone`, `/etc/localtime`), else UTC"),
        doc: "IANA time zone the pages show times in, e.g. `Europe/Berlin`; an unknown name stops start-up",
        apply: |s, v| {
            s.plant_time_zone = super::zone::plant_time_zone(v)?;
            Ok(())
        },
    },
    Setting {
        key: "firmware_max_upload_bytes",
        default: Value("67108864"),
        doc: "larger firmware images are refused (413)",
        apply: |s, v| {
            s.firmware_max_upload_bytes = number(v, 1024, 1 << 40)?;
            Ok(())
        },
    },
    Setting {
        key: "device_queue_max_per_device",
        default: Value("256"),
        doc: "state reports and command results one device may have waiting in Control; at this many its publishes are held unacknowledged (QoS 0 dropped) until they are applied, counted in `plantd_control_queue_full_total{limit=\"per_device\"}`",
        apply: |s, v| {
            s.device_queue.per_device = number(v, 1, 1_000_000)?;
            Ok(())
        },
    },
    Setting {
        key: "device_queue_max_total",
        default: Value("20000"),
        doc: "state reports and command results all devices may have waiting in Control; past it the next sender is held like a full device, counted in `plantd_control_queue_full_total{limit=\"total\"}`",
        apply: |s, v| {
            s.device_queue.total = number(v, 1, 100_000_000)?;
            Ok(())
        },
    },
    Setting {
        key: "firmware_max_total_bytes",
        default: Value("2147483648"),
        doc: "the bytes all kept firmware images may take together; an upload that would exceed it is refused (413, counted in `plantd_firmware_uploads_refused_total{quota=\"firmware_max_total_bytes\"}`)",
        apply: |s, v| {
            s.firmware_max_total_bytes = number(v, 1024, 1 << 50)?;
            Ok(())
        },
    },
    Setting {
        key: "firmware_max_images",
        default: Value("100"),
        doc: "firmware images kept at most; one more is refused (409, counted in `plantd_firmware_uploads_refused_total{quota=\"firmware_max_images\"}`) until one is deleted",
        apply: |s, v| {
            s.firmware_max_images = number(v, 1, 100_000)?;
            Ok(())
        },
    },
    Setting {
        key: "firmware_report_max_detail_bytes",
        default: Value("1024"),
        doc: "a device's firmware status `detail` is clipped to this many bytes before it is kept (counted in `plantd_firmware_report_fields_clipped_total{field=\"detail\"}`)",
        apply: |s, v| {
            s.firmware_report_max_detail_bytes = number(v, 64, 65536)?;
            Ok(())
        },
    },
    Setting {
        key: "firmware_report_max_version_bytes",
        default: Value("64"),
        doc: "a device's firmware status `version` longer than this is clipped (and so never matches the campaign's version: the update counts as failed), counted in `plantd_firmware_report_fields_clipped_total{field=\"version\"}`",
        apply: |s, v| {
            s.firmware_report_max_version_bytes = number(v, 16, 1024)?;
            Ok(())
        },
    },
    Setting {
        key: "firmware_step_timeout_s",
        default: Value("300"),
        doc: "seconds a device has to make progress in each update state (a campaign may set its own `timeout_s`)",
        apply: |s, v| {
            s.firmware_step_timeout = seconds(v, 1, 7 * 24 * 3600)?;
            Ok(())
        },
    },
    Setting {
        key: "firmware_retries",
        default: Value("2"),
        doc: "times a device that timed out is offered the image again before it is failed",
        apply: |s, v| {
            s.firmware_retries = number(v, 0, 100)?;
            Ok(())
        },
    },
    Setting {
        key: "events_retention_days",
        default: Value("7"),
        doc: "days delivered domain events stay listed at `GET /api/v1/events`",
        apply: |s, v| {
            s.events_retention = Duration::from_secs(number::<u64>(v, 1, 3650)? * 24 * 3600);
            Ok(())
        },
    },
    Setting {
        key: "webhooks_connect_timeout_ms",
        default: Value("5000"),
        doc: "milliseconds a webhook delivery may take to connect to its receiver",
        apply: |s, v| {
            s.webhooks.connect_timeout = millis(v, 100, 60_000)?;
            Ok(())
        },
    },
    Setting {
        key: "webhooks_timeout_ms",
        default: Value("10000"),
        doc: "milliseconds a webhook delivery may take in all (connect, send, the response's head); longer counts as a failed attempt",
        apply: |s, v| {
            s.webhooks.timeout = millis(v, 100, 300_000)?;
            Ok(())
        },
    },
    Setting {
        key: "webhooks_retry_initial_ms",
        default: Value("5000"),
        doc: "a failed webhook delivery is retried after a random wait up to this, doubling per failed attempt (full jitter)",
        apply: |s, v| {
            s.webhooks.retry_initial = millis(v, 10, 3_600_000)?;
            Ok(())
        },
    },
    Setting {
        key: "webhooks_retry_max_ms",
        default: Value("3600000"),
        doc: "the longest wait between two attempts of a webhook delivery",
        apply: |s, v| {
            s.webhooks.retry_max = millis(v, 10, 86_400_000)?;
            Ok(())
        },
    },
    Setting {
        key: "webhooks_give_up_after_s",
        default: Value("86400"),
        doc: "seconds a webhook delivery is retried before it is given up (`gave_up`; it can be redelivered by hand)",
        apply: |s, v| {
            s.webhooks.give_up_after = seconds(v, 1, 30 * 86_400)?;
            Ok(())
        },
    },
    Setting {
        key: "webhooks_disable_after_s",
        default: Value("86400"),
        doc: "a webhook whose deliveries have all failed for this many seconds (no success since) is disabled, with the reason shown; re-enable it with `PATCH {\"enabled\": true}`",
        apply: |s, v| {
            s.webhooks.disable_after = seconds(v, 1, 30 * 86_400)?;
            Ok(())
        },
    },
    Setting {
        key: "webhooks_max_subscriptions",
        default: Value("100"),
        doc: "most webhook subscriptions (one more is refused with 409)",
        apply: |s, v| {
            s.webhooks.max_subscriptions = number(v, 1, 10_000)?;
            Ok(())
        },
    },
    Setting {
        key: "webhooks_log_retention_days",
        default: Value("7"),
        doc: "days delivered and given-up webhook deliveries stay in the delivery log",
        apply: |s, v| {
            s.webhooks.log_retention = Duration::from_secs(number::<u64>(v, 1, 3650)? * 24 * 3600);
            Ok(())
        },
    },
    Setting {
        key: "alarm_max_shelve_hours",
        default: Value("8"),
        doc: "the longest an operator may shelve an alarm (ISA-18.2: shelving is time-limited)",
        apply: |s, v| {
            s.health.max_shelve = Duration::from_secs(number::<u64>(v, 1, 720)? * 3600);
            Ok(())
        },
    },
    Setting {
        key: "health_state_save_s",
        default: Value("5"),
        doc: "how often the rule detectors' state (on-delays, anomaly baselines) is saved, so a restart continues where it was",
        apply: |s, v| {
            s.health.save_interval = Duration::from_secs(number::<u64>(v, 1, 3600)?);
            Ok(())
        },
    },
    Setting {
        key: "workorders_repeat_window_days",
        default: Value("30"),
        doc: "an alarm's new work order within this many days of the rule's previous order being done is flagged a repeat failure and linked to it",
        apply: |s, v| {
            s.workorders.repeat_window = Duration::from_secs(number::<u64>(v, 0, 3650)? * 86_400);
            Ok(())
        },
    },
    Setting {
        key: "workorders_crew_hours_per_week",
        default: Value("40"),
        doc: "the maintenance crew's working hours per week: the backlog in weeks is open orders' estimated hours divided by this",
        apply: |s, v| {
            s.workorders.crew_hours_per_week = number::<u64>(v, 1, 100_000)? as f64;
            Ok(())
        },
    },
    Setting {
        key: "maintenance_tick_s",
        default: Value("5"),
        doc: "how often preventive plans are checked for due occurrences and their meters saved (meters count continuously from telemetry)",
        apply: |s, v| {
            s.maintenance.tick = Duration::from_secs(number::<u64>(v, 1, 3600)?);
            Ok(())
        },
    },
    Setting {
        key: "maintenance_meter_max_gap_s",
        default: Value("300"),
        doc: "a run-hours meter counts the time between two samples of its metric only if they are at most this far apart (a longer gap counts nothing)",
        apply: |s, v| {
            s.maintenance.max_gap = Duration::from_secs(number::<u64>(v, 1, 86_400)?);
            Ok(())
        },
    },
];
