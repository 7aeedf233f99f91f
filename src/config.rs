//! Settings: defaults, then an optional `plantd.toml`, then `PLANTD_*` environment
//! variables, then command-line flags. Every setting is declared once, in `config/table.rs`
//! (key, default, doc line, how a value is checked and stored); the loader here, the flags
//! and their `--help` (`flags.rs`) and README's table (`markdown.rs`) all come from that
//! list, so each source, the error messages and the README use the same names. Reads the
//! config file and the names of `PLANTD_*` variables; touches nothing else.

mod file;
pub mod flags;
pub mod markdown;
mod setting;
mod table;
mod values;
mod zone;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use plantd_broker::BrokerSettings;
use plantd_identity::SignInLimits;
use plantd_telemetry::TelemetrySettings;

pub use setting::{Initial, Setting};
pub use table::SETTINGS;

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
    pub sign_in: SignInLimits,
    pub log: String,
    pub log_format: LogFormat,
    /// Lines per kind and 10 s of the warnings a client can cause.
    pub log_warnings_per_10s: u32,
    pub secure_cookies: bool,
    /// The dashboard's live figures (`web/dashboard_live.rs`).
    pub dashboard: DashboardSettings,
    pub broker: BrokerSettings,
    /// The TLS certificate and key (both or neither); `Settings::load` puts them in `broker`.
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    pub tls_client_ca_file: Option<PathBuf>,
    pub telemetry: TelemetrySettings,
    pub public_url: Option<String>,
    pub firmware_max_upload_bytes: u64,
    /// Caps of Control's per-device queues.
    pub device_queue: plantd_devices::QueueLimits,
    pub firmware_max_total_bytes: u64,
    pub firmware_max_images: usize,
    pub firmware_step_timeout: Duration,
    pub firmware_retries: u32,
    pub firmware_report_max_detail_bytes: usize,
    pub firmware_report_max_version_bytes: usize,
    pub events_retention: Duration,
    pub health: plantd_health::HealthSettings,
    pub webhooks: plantd_webhooks::WebhookSettings,
    pub workorders: plantd_workorders::WorkOrdersSettings,
    pub maintenance: plantd_maintenance::MaintenanceSettings,
    /// How often at most a token's last use is written to the database.
    pub token_last_used_write: Duration,
    /// The zone the pages show times in.
    pub plant_time_zone: chrono_tz::Tz,
    /// Each setting's value as last given (trimmed) and where it came from, for the
    /// Settings page; in the order of `SETTINGS`.
    given: Vec<(&'static str, String, Origin)>,
    /// Points one chart draws at most.
    pub chart_max_points: usize,
    /// Rows on one page of a web UI table.
    pub ui_page_size: u32,
}

/// Where a setting's value in force came from, without the file's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Default,
    File,
    Env,
    Flag,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Default => "default",
            Origin::File => "file",
            Origin::Env => "env",
            Origin::Flag => "flag",
        }
    }
}

/// One setting as the Settings page shows it: a secret's value is masked.
#[derive(Debug, Clone)]
pub struct Effective {
    pub key: &'static str,
    pub value: String,
    pub origin: Origin,
}

/// How the dashboard's live stream runs: one computation every `refresh` while anyone
/// listens, at most `max_clients` listeners.
#[derive(Debug, Clone, Copy, Default)]
pub struct DashboardSettings {
    pub refresh: Duration,
    pub max_clients: usize,
}

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
        Source::Env => setting::env_var(key),
        Source::Flag => format!("--{}", setting::long(key)),
    }
}

/// A value the command line gave a setting: a flag, or the environment variable that clap
/// read for it (a flag hides its variable).
#[derive(Debug, Clone)]
pub struct Given {
    pub key: &'static str,
    pub value: String,
    pub from: Source<'static>,
}

impl Settings {
    /// Builds the settings: the declared defaults, then `config_file` (or `./plantd.toml`
    /// when present), then what the command line and the environment `given`.
    pub fn load(config_file: Option<&Path>, given: &[Given]) -> Result<Settings, String> {
        let mut settings = Settings::defaults()?;
        let default_file = Path::new("plantd.toml");
        let file = config_file
            .map(Path::to_path_buf)
            .or_else(|| default_file.exists().then(|| default_file.to_path_buf()));
        if let Some(path) = &file {
            for (key, value) in file::read(path)? {
                settings.set(&key, &value, Source::File(path))?;
            }
        }
        warn_unknown_env();
        for given in given {
            settings.set(given.key, &given.value, given.from)?;
        }
        settings.broker.tls = match (&settings.tls_cert_file, &settings.tls_key_file) {
            (Some(cert), Some(key)) => Some(plantd_broker::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: settings.tls_client_ca_file.clone(),
            }),
            (None, None) if settings.tls_client_ca_file.is_some() => {
                return Err(
                    "tls_client_ca_file needs tls_cert_file and tls_key_file (TLS on)".to_owned(),
                )
            }
            (None, None) => None,
            _ => {
                return Err(
                    "tls_cert_file and tls_key_file: set both (TLS on) or neither (TLS off)"
                        .to_owned(),
                )
            }
        };
        Ok(settings)
    }

    /// Every field is then set from its declared default: the values here are blanks.
    fn defaults() -> Result<Settings, String> {
        let mut settings = Settings {
            data_dir: PathBuf::new(),
            http_addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            database_url: None,
            db_pool_size: 0,
            admin_token: None,
            admin_password: None,
            sign_in: SignInLimits::default(),
            log: String::new(),
            log_format: LogFormat::Text,
            log_warnings_per_10s: 0,
            secure_cookies: false,
            dashboard: DashboardSettings::default(),
            broker: BrokerSettings::default(),
            tls_cert_file: None,
            tls_key_file: None,
            tls_client_ca_file: None,
            telemetry: TelemetrySettings::default(),
            public_url: None,
            firmware_max_upload_bytes: 0,
            device_queue: plantd_devices::QueueLimits {
                per_device: 0,
                total: 0,
            },
            firmware_max_total_bytes: 0,
            firmware_max_images: 0,
            firmware_step_timeout: Duration::ZERO,
            firmware_retries: 0,
            firmware_report_max_detail_bytes: 0,
            firmware_report_max_version_bytes: 0,
            events_retention: Duration::ZERO,
            health: plantd_health::HealthSettings::default(),
            webhooks: plantd_webhooks::WebhookSettings::default(),
            workorders: plantd_workorders::WorkOrdersSettings::default(),
            maintenance: plantd_maintenance::MaintenanceSettings::default(),
            token_last_used_write: Duration::ZERO,
            plant_time_zone: chrono_tz::Tz::UTC,
            given: Vec::new(),
            chart_max_points: 0,
            ui_page_size: 0,
        };
        for setting in SETTINGS {
            let value = match setting.default {
                Initial::Value(value) => value,
                Initial::Unset(_) => "",
            };
            settings.set(setting.key, value, Source::Default)?;
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

    /// The outbox dispatcher's settings. `PLANTD_TEST_HOLD_EVENTS` (a file path; tests
    /// only, not a setting) holds delivery while that file exists.
    pub fn events(&self) -> plantd_events::EventSettings {
        plantd_events::EventSettings {
            retention: self.events_retention,
            hold_file: std::env::var_os("PLANTD_TEST_HOLD_EVENTS").map(PathBuf::from),
            ..plantd_events::EventSettings::default()
        }
    }

    /// Preventive maintenance. `PLANTD_TEST_CLOCK_FILE` (a file path; tests only, not a
    /// setting) gives the module a clock read from that file (an RFC 3339 time, or
    /// seconds added to the system clock).
    pub fn maintenance(&self) -> plantd_maintenance::MaintenanceSettings {
        let mut m = self.maintenance.clone();
        if let Some(path) = std::env::var_os("PLANTD_TEST_CLOCK_FILE") {
            m.clock = plantd_maintenance::Clock::File(PathBuf::from(path));
        }
        m
    }

    /// Firmware roll-outs: their folder under the data dir, and the URL devices download from.
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
            max_total_bytes: self.firmware_max_total_bytes,
            max_images: self.firmware_max_images,
            max_report_detail_bytes: self.firmware_report_max_detail_bytes,
            max_report_version_bytes: self.firmware_report_max_version_bytes,
            key_file: self
                .data_dir
                .join(plantd_devices::firmware::SIGNING_KEY_FILE),
        }
    }

    fn set(&mut self, key: &str, value: &str, source: Source<'_>) -> Result<(), String> {
        let name = || describe(key, source);
        let setting = SETTINGS
            .iter()
            .find(|s| s.key == key)
            .ok_or_else(|| format!("{}: unknown setting", name()))?;
        (setting.apply)(self, value.trim()).map_err(|reason| format!("{}: {reason}", name()))?;
        let origin = match source {
            Source::Default => Origin::Default,
            Source::File(_) => Origin::File,
            Source::Env => Origin::Env,
            Source::Flag => Origin::Flag,
        };
        let entry = (setting.key, value.trim().to_owned(), origin);
        match self
            .given
            .iter_mut()
            .find(|(key, _, _)| *key == setting.key)
        {
            Some(slot) => *slot = entry,
            None => self.given.push(entry),
        }
        Ok(())
    }

    /// Every setting in force, in the order of `SETTINGS`, with where its value came from;
    /// secrets (tokens, passwords, a database URL's password) are masked.
    pub fn effective(&self) -> Vec<Effective> {
        self.given
            .iter()
            .map(|(key, value, origin)| Effective {
                key,
                value: masked(key, value),
                origin: *origin,
            })
            .collect()
    }
}

/// Words in a setting's key, or a URL's query parameter, that mark its value secret.
const SECRET_WORDS: [&str; 4] = ["token", "password", "secret", "key"];

fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|word| name.contains(word))
}

/// `value` as the Settings page may show it: a secret's value becomes `••••••` (empty
/// stays empty: unset); a URL keeps all but its password and secret query parameters.
fn masked(key: &str, value: &str) -> String {
    if value.is_empty() {
        return String::new();
    }
    if is_secret(key) {
        return "••••••".to_owned();
    }
    masked_url(value).unwrap_or_else(|| value.to_owned())
}

/// A URL with its password and secret query parameters (`?password=…`) masked; `None`
/// when `value` is no URL or holds neither. Rebuilt from the parsed URL, so a password
/// however it is encoded never shows.
fn masked_url(value: &str) -> Option<String> {
    const MARK: &str = "PLANTDMASKED";
    let mut url = url::Url::parse(value).ok()?;
    let mut changed = false;
    if url.password().is_some() {
        url.set_password(Some(MARK)).ok()?;
        changed = true;
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs.iter().any(|(k, _)| is_secret(k)) {
        let mut query = url.query_pairs_mut();
        query.clear();
        for (k, v) in &pairs {
            query.append_pair(k, if is_secret(k) { MARK } else { v });
        }
        drop(query);
        changed = true;
    }
    changed.then(|| url.to_string().replace(MARK, "••••••"))
}

/// A misspelt variable would otherwise be ignored without a word.
fn warn_unknown_env() {
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let Some(key) = name.strip_prefix("PLANTD_") else {
            continue;
        };
        let key = key.to_lowercase();
        if key != "config" && !key.starts_with("test_") && !SETTINGS.iter().any(|s| s.key == key) {
            eprintln!("plantd: warning: {name} is not a plantd setting and is ignored");
        }
    }
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
    fn listeners_switch_off_and_tls_needs_both_files() {
        let flag = |key, value: &str| Given {
            key,
            value: value.to_owned(),
            from: Source::Flag,
        };
        let none = Path::new("/dev/null");
        let s = Settings::load(Some(none), &[]).expect("defaults");
        assert_eq!(
            s.broker.ws_listen,
            Some("0.0.0.0:8083".parse().expect("addr"))
        );
        assert_eq!(
            s.broker.tls_listen,
            Some("0.0.0.0:8883".parse().expect("addr"))
        );
        assert_eq!(s.broker.tls, None, "no certificate: no TLS");
        let s = Settings::load(
            Some(none),
            &[flag("mqtt_ws_addr", "off"), flag("mqtt_tls_addr", "off")],
        )
        .expect("off");
        assert_eq!((s.broker.ws_listen, s.broker.tls_listen), (None, None));
        let err = Settings::load(
            Some(none),
            &[flag("tls_cert_file", "/etc/plantd/broker.crt")],
        )
        .expect_err("a certificate without its key");
        assert!(err.contains("set both"), "{err}");
        let s = Settings::load(
            Some(none),
            &[
                flag("tls_cert_file", "/etc/plantd/broker.crt"),
                flag("tls_key_file", "/etc/plantd/broker.key"),
            ],
        )
        .expect("both");
        assert_eq!(
            s.broker.tls.map(|t| t.key),
            Some(PathBuf::from("/etc/plantd/broker.key"))
        );
        let err = Settings::load(Some(none), &[flag("mqtt_ws_addr", "8083")]).expect_err("bad");
        assert!(err.contains("neither an address"), "{err}");
    }

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
        let flag = |key, value: &str| Given {
            key,
            value: value.to_owned(),
            from: Source::Flag,
        };
        let s = Settings::load(Some(&file), &[flag("telemetry_batch_size", "70")]).expect("load");
        assert_eq!(s.http_addr, "127.0.0.1:9000".parse().expect("addr"));
        assert_eq!(s.telemetry.batch_size, 70, "flags win over the file");
        assert_eq!(s.broker.listen.port(), 1883);
        std::fs::write(&file, "http_adr = \"x\"\n").expect("write");
        let err = Settings::load(Some(&file), &[]).expect_err("unknown key");
        assert!(err.contains("http_adr: unknown setting"), "{err}");
        let err = Settings::load(Some(Path::new("/dev/null")), &[flag("mqtt_addr", "nope")])
            .expect_err("bad addr");
        assert_eq!(
            err,
            "--mqtt-addr: 'nope' is not an address like 0.0.0.0:8080"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_settings_page_sees_origins_and_no_secret() {
        let given = [
            Given {
                key: "admin_token",
                value: "a-secret-of-at-least-24-chars".to_owned(),
                from: Source::Env,
            },
            Given {
                key: "database_url",
                value: "postgres://plantd:hunter2@db/plantd".to_owned(),
                from: Source::Flag,
            },
        ];
        let s = Settings::load(Some(Path::new("/dev/null")), &given).expect("load");
        let shown = s.effective();
        let find = |key: &str| shown.iter().find(|e| e.key == key).expect("shown");
        assert_eq!(find("admin_token").value, "••••••");
        assert_eq!(find("admin_token").origin, Origin::Env);
        assert_eq!(
            find("database_url").value,
            "postgres://plantd:••••••@db/plantd"
        );
        // However the password is written, and wherever: never shown.
        for (url, shown) in [
            (
                "postgres://plantd:p%40ss%7Bw%7D@db/plantd",
                "postgres://plantd:••••••@db/plantd",
            ),
            (
                "postgres://db/plantd?user=plantd&password=hunter2&sslmode=require",
                "postgres://db/plantd?user=plantd&password=••••••&sslmode=require",
            ),
        ] {
            assert_eq!(masked("database_url", url), shown);
        }
        assert_eq!(find("http_addr").origin, Origin::Default);
        assert_eq!(find("admin_password").value, "");
        assert!(Settings::load(
            Some(Path::new("/dev/null")),
            &[Given {
                key: "plant_time_zone",
                value: "Mars/Olympus".to_owned(),
                from: Source::Env,
            }]
        )
        .is_err());
    }
}
