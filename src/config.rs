//! Settings: defaults, then an optional `plantd.toml`, then `PLANTD_*` environment
//! variables, then command-line flags. One table names every setting once, so each
//! source, the error messages and the README all use the same names.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use plantd_broker::BrokerSettings;
use plantd_telemetry::TelemetrySettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub http_addr: SocketAddr,
    pub database_url: Option<String>,
    pub db_pool_size: u32,
    pub admin_token: Option<String>,
    pub admin_password: Option<String>,
    pub log: String,
    pub log_format: LogFormat,
    pub secure_cookies: bool,
    pub broker: BrokerSettings,
    pub telemetry: TelemetrySettings,
    pub public_url: Option<String>,
    pub firmware_max_upload_bytes: u64,
    pub firmware_step_timeout: Duration,
    pub firmware_retries: u32,
    pub events_retention: Duration,
}

/// Every setting: its key (in `plantd.toml`), what it is, and its default as text.
/// The environment variable is `PLANTD_` + the key in upper case.
pub const SETTINGS: &[(&str, &str, &str)] = &[
    (
        "data_dir",
        "folder for the SQLite database and other state",
        "./plantd-data",
    ),
    (
        "http_addr",
        "address of the web UI and REST API",
        "0.0.0.0:8080",
    ),
    (
        "mqtt_addr",
        "address of the MQTT broker (3.1.1 and 5)",
        "0.0.0.0:1883",
    ),
    (
        "database_url",
        "postgres://… for PostgreSQL; default: SQLite file plantd.db in data_dir",
        "",
    ),
    ("db_pool_size", "database connections in the pool", "8"),
    (
        "admin_token",
        "first start only: secret of the admin API token (generated and printed when unset)",
        "",
    ),
    (
        "admin_password",
        "first start only: UI password of user admin (generated and printed when unset)",
        "",
    ),
    (
        "log",
        "log filter (tracing EnvFilter syntax)",
        "info,rumqttd=off",
    ),
    ("log_format", "text or json", "text"),
    (
        "secure_cookies",
        "mark session cookies Secure (set true behind TLS)",
        "false",
    ),
    (
        "mqtt_max_connections",
        "MQTT connections accepted at most",
        "20000",
    ),
    (
        "mqtt_max_packet_bytes",
        "MQTT packets larger than this close the connection",
        "1048576",
    ),
    (
        "mqtt_segment_bytes",
        "in-memory log segment of a subscription filter or unsubscribed topic",
        "262144",
    ),
    (
        "mqtt_segment_count",
        "log segments kept per filter or topic",
        "2",
    ),
    (
        "mqtt_gateway_segment_bytes",
        "log segment of the filters plantd consumes (all device telemetry)",
        "4194304",
    ),
    (
        "mqtt_gateway_segment_count",
        "log segments kept for those filters",
        "8",
    ),
    (
        "mqtt_connect_timeout_ms",
        "time a new connection has to send CONNECT",
        "10000",
    ),
    (
        "mqtt_backpressure_samples",
        "samples not yet committed above which device publishes wait unacknowledged",
        "10000",
    ),
    (
        "telemetry_batch_size",
        "samples per write transaction at most",
        "1000",
    ),
    (
        "telemetry_batch_interval_ms",
        "longest time a sample waits before it is written",
        "250",
    ),
    (
        "telemetry_batch_min_age_ms",
        "group commit: with no write in flight, samples are written once the oldest is this old",
        "0",
    ),
    (
        "telemetry_max_payload_bytes",
        "telemetry payloads over this are rejected",
        "262144",
    ),
    (
        "telemetry_max_buffered_samples",
        "samples held while storage is behind before payloads are refused",
        "1000000",
    ),
    (
        "telemetry_compact_interval_ms",
        "committed samples are compacted into chunks and roll-ups this often",
        "300000",
    ),
    (
        "telemetry_max_head_samples",
        "or as soon as this many wait",
        "500000",
    ),
    (
        "telemetry_retention_raw_days",
        "raw points are kept this many days (0: forever)",
        "30",
    ),
    (
        "telemetry_retention_minute_days",
        "minute roll-ups are kept this many days (0: forever)",
        "365",
    ),
    (
        "telemetry_retention_hour_days",
        "hour roll-ups are kept this many days (0: forever)",
        "0",
    ),
    (
        "public_url",
        "base URL devices reach plantd's HTTP at (firmware downloads); default: http://http_addr",
        "",
    ),
    (
        "firmware_max_upload_bytes",
        "firmware images larger than this are refused",
        "67108864",
    ),
    (
        "firmware_step_timeout_s",
        "seconds a device has to make progress in each firmware update state",
        "300",
    ),
    (
        "firmware_retries",
        "times a device that timed out is offered the image again before it is failed",
        "2",
    ),
    (
        "events_retention_days",
        "days delivered domain events stay listed at GET /api/v1/events",
        "7",
    ),
];

/// Where a value came from, for error messages that name the setting as the user wrote it.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    Default,
    File(&'a Path),
    Env,
    Flag,
}

fn describe(key: &str, source: Source<'_>) -> String {
    match source {
        Source::Default => format!("default of {key}"),
        Source::File(path) => format!("{}: {key}", path.display()),
        Source::Env => format!("PLANTD_{}", key.to_uppercase()),
        Source::Flag => format!("--{}", key.replace('_', "-")),
    }
}

impl Settings {
    /// Builds the settings from all sources; `flags` are `(key, value)` pairs from the CLI.
    pub fn load(config_file: Option<&Path>, flags: &[(&str, String)]) -> Result<Settings, String> {
        let mut settings = Settings::defaults()?;
        let default_file = Path::new("plantd.toml");
        let file = match config_file {
            Some(path) => Some(path.to_path_buf()),
            None => std::env::var_os("PLANTD_CONFIG")
                .map(PathBuf::from)
                .or_else(|| default_file.exists().then(|| default_file.to_path_buf())),
        };
        if let Some(path) = &file {
            for (key, value) in read_file(path)? {
                settings.set(&key, &value, Source::File(path))?;
            }
        }
        for (key, _, _) in SETTINGS {
            if let Ok(value) = std::env::var(format!("PLANTD_{}", key.to_uppercase())) {
                settings.set(key, &value, Source::Env)?;
            }
        }
        warn_unknown_env();
        for (key, value) in flags {
            settings.set(key, value, Source::Flag)?;
        }
        Ok(settings)
    }

    fn defaults() -> Result<Settings, String> {
        let mut settings = Settings {
            data_dir: PathBuf::new(),
            http_addr: SocketAddr::from(([0, 0, 0, 0], 8080)),
            database_url: None,
            db_pool_size: 8,
            admin_token: None,
            admin_password: None,
            log: String::new(),
            log_format: LogFormat::Text,
            secure_cookies: false,
            broker: BrokerSettings::default(),
            telemetry: TelemetrySettings::default(),
            public_url: None,
            firmware_max_upload_bytes: 0,
            firmware_step_timeout: Duration::ZERO,
            firmware_retries: 0,
            events_retention: Duration::ZERO,
        };
        for (key, _, default) in SETTINGS {
            settings.set(key, default, Source::Default)?;
        }
        Ok(settings)
    }

    /// The database URL in force: the configured one, or the SQLite file in the data dir.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            self.data_dir
                .join("plantd.db")
                .to_string_lossy()
                .into_owned()
        })
    }

    /// Firmware roll-outs: their folder under the data dir, and the URL devices download from.
    /// The outbox dispatcher's settings. `PLANTD_TEST_HOLD_EVENTS` (a file path; tests
    /// only, not a setting) holds delivery while that file exists.
    pub fn events(&self) -> plantd_events::EventSettings {
        plantd_events::EventSettings {
            retention: self.events_retention,
            hold_file: std::env::var_os("PLANTD_TEST_HOLD_EVENTS").map(PathBuf::from),
            ..plantd_events::EventSettings::default()
        }
    }

    pub fn firmware(&self) -> plantd_devices::firmware::FirmwareSettings {
        let public_url = self.public_url.clone().unwrap_or_else(|| {
            let mut addr = self.http_addr;
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("http://{addr}")
        });
        plantd_devices::firmware::FirmwareSettings {
            dir: self.data_dir.join("firmware"),
            public_url,
            step_timeout: self.firmware_step_timeout,
            retries: self.firmware_retries,
            max_upload_bytes: self.firmware_max_upload_bytes,
        }
    }

    fn set(&mut self, key: &str, value: &str, source: Source<'_>) -> Result<(), String> {
        let name = || describe(key, source);
        let value = value.trim();
        match key {
            "data_dir" => self.data_dir = PathBuf::from(value),
            "http_addr" => self.http_addr = addr(value, name)?,
            "mqtt_addr" => self.broker.listen = addr(value, name)?,
            "database_url" => {
                self.database_url = (!value.is_empty()).then(|| value.to_owned());
                if let Some(url) = &self.database_url {
                    if url.contains("://")
                        && !["postgres://", "postgresql://", "sqlite://"]
                            .iter()
                            .any(|p| url.starts_with(p))
                    {
                        return Err(format!(
                            "{}: use postgres://… or sqlite://PATH (or a file path)",
                            name()
                        ));
                    }
                }
            }
            "db_pool_size" => self.db_pool_size = number(value, 1, 256, name)?,
            "admin_token" => self.admin_token = (!value.is_empty()).then(|| value.to_owned()),
            "admin_password" => self.admin_password = (!value.is_empty()).then(|| value.to_owned()),
            "log" => self.log = value.to_owned(),
            "log_format" => {
                self.log_format = match value {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => return Err(format!("{}: '{value}' is neither text nor json", name())),
                }
            }
            "secure_cookies" => self.secure_cookies = boolean(value, name)?,
            "mqtt_max_connections" => {
                self.broker.max_connections = number(value, 1, 1_000_000, name)?
            }
            "mqtt_max_packet_bytes" => {
                self.broker.max_packet_bytes = number(value, 1024, 256 << 20, name)?
            }
            "mqtt_segment_bytes" => self.broker.segment_size = number(value, 4096, 1 << 30, name)?,
            "mqtt_segment_count" => self.broker.segment_count = number(value, 1, 1000, name)?,
            "mqtt_gateway_segment_bytes" => {
                self.broker.gateway_segment_size = number(value, 4096, 1 << 30, name)?
            }
            "mqtt_gateway_segment_count" => {
                self.broker.gateway_segment_count = number(value, 1, 1000, name)?
            }
            "mqtt_connect_timeout_ms" => {
                self.broker.connect_timeout_ms = number(value, 100, 60_000, name)?
            }
            "mqtt_backpressure_samples" => {
                self.broker.backpressure_samples = number(value, 1, 1 << 30, name)?
            }
            "telemetry_batch_size" => {
                self.telemetry.batch_size = number(value, 1, 1_000_000, name)?
            }
            "telemetry_batch_interval_ms" => {
                self.telemetry.batch_interval =
                    Duration::from_millis(number(value, 1, 60_000, name)?)
            }
            "telemetry_batch_min_age_ms" => {
                self.telemetry.batch_min_age =
                    Duration::from_millis(number(value, 0, 60_000, name)?)
            }
            "telemetry_max_payload_bytes" => {
                self.telemetry.max_payload_bytes = number(value, 64, 64 << 20, name)?
            }
            "telemetry_max_buffered_samples" => {
                self.telemetry.max_buffered_samples = number(value, 1000, 1 << 32, name)?
            }
            "telemetry_compact_interval_ms" => {
                self.telemetry.compact_interval =
                    Duration::from_millis(number(value, 100, 86_400_000, name)?)
            }
            "telemetry_max_head_samples" => {
                self.telemetry.max_head_samples = number(value, 1000, 100_000_000, name)?
            }
            "telemetry_retention_raw_days" => self.telemetry.retention_raw = days(value, name)?,
            "telemetry_retention_minute_days" => {
                self.telemetry.retention_minute = days(value, name)?
            }
            "telemetry_retention_hour_days" => self.telemetry.retention_hour = days(value, name)?,
            "public_url" => {
                self.public_url =
                    (!value.is_empty()).then(|| value.trim_end_matches('/').to_owned());
                if self
                    .public_url
                    .as_ref()
                    .is_some_and(|u| !u.starts_with("http://") && !u.starts_with("https://"))
                {
                    return Err(format!("{}: use http://host:port or https://…", name()));
                }
            }
            "firmware_max_upload_bytes" => {
                self.firmware_max_upload_bytes = number(value, 1024, 1 << 40, name)?
            }
            "firmware_step_timeout_s" => {
                self.firmware_step_timeout =
                    Duration::from_secs(number(value, 1, 7 * 24 * 3600, name)?)
            }
            "firmware_retries" => self.firmware_retries = number(value, 0, 100, name)?,
            "events_retention_days" => {
                self.events_retention =
                    Duration::from_secs(number::<u64>(value, 1, 3650, name)? * 24 * 3600)
            }
            _ => return Err(format!("{}: unknown setting", name())),
        }
        Ok(())
    }
}

/// A misspelt variable would otherwise be ignored without a word.
fn warn_unknown_env() {
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let Some(key) = name.strip_prefix("PLANTD_") else {
            continue;
        };
        let key = key.to_lowercase();
        if key != "config"
            && !key.starts_with("test_")
            && !SETTINGS.iter().any(|(k, _, _)| *k == key)
        {
            eprintln!("plantd: warning: {name} is not a plantd setting and is ignored");
        }
    }
}

fn addr(value: &str, name: impl Fn() -> String) -> Result<SocketAddr, String> {
    value
        .parse()
        .map_err(|_| format!("{}: '{value}' is not an address like 0.0.0.0:8080", name()))
}

fn number<T>(value: &str, min: T, max: T, name: impl Fn() -> String) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    match value.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(format!(
            "{}: '{value}' is not a whole number from {min} to {max}",
            name()
        )),
    }
}

/// Days of retention as milliseconds; 0 keeps forever (`None`).
fn days(value: &str, name: impl Fn() -> String) -> Result<Option<i64>, String> {
    let days: i64 = number(value, 0, 100_000, name)?;
    Ok((days > 0).then_some(days * 86_400_000))
}

fn boolean(value: &str, name: impl Fn() -> String) -> Result<bool, String> {
    match value {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("{}: '{value}' is neither true nor false", name())),
    }
}

/// A flat table of `key = value`; every value is read as text and checked like the others.
fn read_file(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: not valid TOML: {e}", path.display()))?;
    table
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Float(f) => f.to_string(),
                _ => {
                    return Err(format!(
                        "{}: {key}: give a string, number or boolean",
                        path.display()
                    ))
                }
            };
            Ok((key, text))
        })
        .collect()
}

impl fmt::Debug for Settings {
    /// Secrets are never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("data_dir", &self.data_dir)
            .field("http_addr", &self.http_addr)
            .field("mqtt_addr", &self.broker.listen)
            .field("database", &self.database_url.as_ref().map(|_| "<set>"))
            .field("admin_token", &self.admin_token.as_ref().map(|_| "<set>"))
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "<set>"),
            )
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_precedence() {
        let s = Settings::load(Some(Path::new("/nonexistent-plantd.toml")), &[]);
        assert!(
            s.is_err(),
            "a named config file that does not exist is an error"
        );
        let dir = std::env::temp_dir().join(format!("plantd-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("plantd.toml");
        std::fs::write(
            &file,
            "http_addr = \"127.0.0.1:9000\"\ntelemetry_batch_size = 50\n",
        )
        .expect("write");
        let s = Settings::load(Some(&file), &[("telemetry_batch_size", "70".to_owned())])
            .expect("load");
        assert_eq!(s.http_addr, "127.0.0.1:9000".parse().expect("addr"));
        assert_eq!(s.telemetry.batch_size, 70, "flags win over the file");
        assert_eq!(s.broker.listen.port(), 1883);
        std::fs::write(&file, "http_adr = \"x\"\n").expect("write");
        let err = Settings::load(Some(&file), &[]).expect_err("unknown key");
        assert!(err.contains("http_adr: unknown setting"), "{err}");
        let err = Settings::load(
            Some(Path::new("/dev/null")),
            &[("mqtt_addr", "nope".to_owned())],
        )
        .expect_err("bad addr");
        assert_eq!(
            err,
            "--mqtt-addr: 'nope' is not an address like 0.0.0.0:8080"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
