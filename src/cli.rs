//! The command line: `plantd [serve]`, `plantd migrate`, `plantd device add <id>`,
//! `plantd bench ingest`, `plantd simulate`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "plantd",
    version,
    about = "Watch and maintain a small plant's machines: MQTT broker, telemetry, devices, web UI."
)]
pub struct Cli {
    /// A plantd.toml to read (default: ./plantd.toml when present, or $PLANTD_CONFIG).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub overrides: Overrides,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags that override the file and the environment.
#[derive(Debug, Args)]
pub struct Overrides {
    /// Folder for the SQLite database and other state [PLANTD_DATA_DIR]
    #[arg(long, global = true)]
    pub data_dir: Option<String>,
    /// Address of the web UI and REST API [PLANTD_HTTP_ADDR]
    #[arg(long, global = true)]
    pub http_addr: Option<String>,
    /// Address of the MQTT broker [PLANTD_MQTT_ADDR]
    #[arg(long, global = true)]
    pub mqtt_addr: Option<String>,
    /// postgres://… or a SQLite path [PLANTD_DATABASE_URL]
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Log filter, e.g. info or debug,plantd=trace [PLANTD_LOG]
    #[arg(long, global = true)]
    pub log: Option<String>,
    /// text or json [PLANTD_LOG_FORMAT]
    #[arg(long, global = true)]
    pub log_format: Option<String>,
}

impl Overrides {
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("data_dir", &self.data_dir),
            ("http_addr", &self.http_addr),
            ("mqtt_addr", &self.mqtt_addr),
            ("database_url", &self.database_url),
            ("log", &self.log),
            ("log_format", &self.log_format),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect()
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run plantd: broker, modules, web UI and API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage devices from the command line.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Measure plantd (and Mosquitto, when installed) under load.
    #[command(subcommand)]
    Bench(crate::bench::BenchCommand),
    /// Simulate N devices over MQTT (demo and load source): samples, offline buffering,
    /// shadow and command answers, firmware updates.
    Simulate(crate::simulate::SimulateArgs),
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Provision a device and print its MQTT credentials (shown this once).
    Add {
        /// Device id: 1-64 of a-z 0-9 _ -, starting with a letter or digit.
        id: String,
        /// A human name (default: the id).
        #[arg(long)]
        name: Option<String>,
        /// What kind of device it is, e.g. vibration-sensor.
        #[arg(long)]
        kind: Option<String>,
    },
}
