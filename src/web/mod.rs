//! The web UI: server-rendered askama pages that work without JavaScript. Sign-in uses a
//! double-submit CSRF cookie; every later form carries the session's CSRF token. Templates
//! and static files are compiled into the binary: one file to deploy, no CDN.

mod control;
pub mod control_panel;
mod devices;
mod firmware;
pub mod firmware_section;
mod pages;
mod session;
pub mod telemetry;
mod views;

pub use views::render;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(pages::dashboard))
        .route("/login", web::get().to(pages::login_form))
        .route("/login", web::post().to(pages::login))
        .route("/logout", web::post().to(pages::logout))
        .route("/devices", web::get().to(devices::list))
        .route("/devices", web::post().to(devices::provision))
        .route("/devices/{id}", web::get().to(devices::show))
        .route("/devices/{id}/edit", web::post().to(devices::edit))
        .route("/devices/{id}/credentials", web::post().to(devices::rotate))
        .route("/devices/{id}/disable", web::post().to(devices::disable))
        .route("/devices/{id}/enable", web::post().to(devices::enable))
        .route("/devices/{id}/delete", web::post().to(devices::delete))
        .route("/devices/{id}/telemetry", web::get().to(telemetry::page))
        .route("/static/{file}", web::get().to(pages::static_file))
        .route("/devices/{id}/control", web::get().to(control::show))
        .route(
            "/devices/{id}/shadow",
            web::post().to(control::update_desired),
        )
        .route(
            "/devices/{id}/commands",
            web::post().to(control::send_command),
        )
        .route(
            "/devices/{id}/commands/{cmd}/cancel",
            web::post().to(control::cancel_command),
        )
        .configure(firmware::routes);
}
