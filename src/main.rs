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
    if let Some(cli::Command::Bench(bench)) = cli.command {
        return bench::main(bench);
    }
    let settings = match config::Settings::load(cli.config.as_deref(), &cli.overrides.pairs()) {
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
    let result = match cli.command {
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
            None | Some(cli::Command::Serve) => app::serve(settings).await,
            Some(cli::Command::Migrate) => commands::migrate(&settings).await,
            Some(cli::Command::Device(cli::DeviceCommand::Add { id, name, kind })) => {
                commands::device_add(&settings, &id, name, kind).await
            }
            Some(cli::Command::Simulate(_) | cli::Command::Bench(_)) => {
                Err("simulate and bench run on their own runtimes".into())
            }
        }
    })
}
