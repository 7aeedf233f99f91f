//! plantd: one binary that runs a small plant's MQTT broker, telemetry, devices and web UI.
//! This crate is the composition root: configuration, CLI, start-up and shutdown, the HTTP
//! server with its REST handlers and views. Domain logic lives in `modules/`.

mod app;
mod bench;
mod cli;
mod commands;
mod config;
mod edge;
mod http;
mod logging;
mod routes;
mod simulate;
mod state;
mod web;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let server = cli.server_args();
    let command = match cli.command {
        Some(cli::Command::Bench(bench)) => return bench::main(bench),
        Some(cli::Command::Settings { .. }) => {
            print!("{}", config::markdown::table());
            return ExitCode::SUCCESS;
        }
        command => command,
    };
    let settings = match config::Settings::load(server.config_file().as_deref(), server.values()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("plantd: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = logging::init(&settings.log, settings.log_format) {
        eprintln!("plantd: {e}");
        return ExitCode::from(2);
    }
    plantd_contracts::log_throttle::WARNINGS.set_per_window(settings.log_warnings_per_10s);
    let result = match command {
        Some(cli::Command::Simulate(args)) => simulate::main(args),
        command => run(command, settings),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("plantd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Option<cli::Command>, settings: config::Settings) -> Result<(), String> {
    actix_web::rt::System::new().block_on(async move {
        match command {
            None | Some(cli::Command::Serve(_)) => app::serve(settings).await,
            Some(cli::Command::Migrate(_)) => commands::migrate(&settings).await,
            Some(cli::Command::Device(cli::DeviceCommand::Add { id, name, kind, .. })) => {
                commands::device_add(&settings, &id, name, kind).await
            }
            Some(
                cli::Command::Simulate(_) | cli::Command::Bench(_) | cli::Command::Settings { .. },
            ) => Err("simulate, bench and settings run without the server's runtime".into()),
        }
    })
}
