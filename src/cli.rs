//! The command line: `plantd [serve]`, `plantd migrate`, `plantd device add <id>`,
//! `plantd bench ingest`, `plantd simulate`. The server's settings are flags of the
//! commands that use them (`config::flags`); `bench` and `simulate` have only their own.

use clap::{Parser, Subcommand};

use crate::config::flags::ServerArgs;

#[derive(Debug, Parser)]
#[command(
    name = "plantd",
    version,
    about = "Watch and maintain a small plant's machines: MQTT broker, telemetry, devices, web UI."
)]
pub struct Cli {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The settings the command line gave: the top level's, under the subcommand's.
    pub fn server_args(&self) -> ServerArgs {
        let top = self.server.clone();
        match &self.command {
            Some(Command::Serve(sub) | Command::Migrate(sub)) => sub.clone().over(top),
            Some(Command::Device(DeviceCommand::Add { server, .. })) => server.clone().over(top),
            _ => top,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run plantd: broker, modules, web UI and API (the default).
    Serve(ServerArgs),
    /// Apply pending database migrations and exit.
    Migrate(ServerArgs),
    /// Manage devices from the command line.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Measure plantd (and Mosquitto, when installed) under load.
    #[command(subcommand)]
    Bench(crate::bench::BenchCommand),
    /// Simulate N devices over MQTT (demo and load source): samples, offline buffering,
    /// shadow and command answers, firmware updates.
    Simulate(crate::simulate::SimulateArgs),
    /// Print README's settings table, generated from the settings' declarations.
    #[command(hide = true)]
    Settings {
        /// As a Markdown table (the only format).
        #[arg(long, required = true)]
        markdown: bool,
    },
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
        #[command(flatten)]
        server: ServerArgs,
    },
}
