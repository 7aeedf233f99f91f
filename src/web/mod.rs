//! The web UI: server-rendered askama pages that work without JavaScript. Sign-in uses a
//! double-submit CSRF cookie; every later form carries the session's CSRF token. Templates
//! and static files are compiled into the binary: one file to deploy, no CDN.

mod firmware;
mod pages;
mod session;
mod views;

pub use views::render;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(pages::dashboard))
        .route("/login", web::get().to(pages::login_form))
        .route("/login", web::post().to(pages::login))
        .route("/logout", web::post().to(pages::logout))
        .route("/static/{file}", web::get().to(pages::static_file))
        .configure(firmware::routes);
}
