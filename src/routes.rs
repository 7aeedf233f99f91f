//! The route table: every URL plantd serves and the handler behind it. The REST API under
//! `/api/v1` (authenticated in middleware, one `routes` per resource file in `http/`), its
//! OpenAPI document, the operations endpoints, the UI's pages and static files, and the
//! request-wide limits, error shapes of the extractors and security headers. It imports `http/`, `web/` and
//! `state.rs`; nothing but `app.rs` imports it.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::edge::Problem;
use crate::http;
use crate::state::AppState;
use crate::web as ui;

/// What a page may load and who may frame it: scripts and styles only from plantd's own
/// files (no inline script or handler, no `eval`, no inline style), nothing may frame
/// it. The UI's pages keep to this; `tests/security.rs` checks them in a browser.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Headers on every response (a handler's own header of the same name wins): the CSP,
/// `nosniff` (a download is never run as a script or page), no referrer to other sites,
/// and `X-Frame-Options` for browsers older than `frame-ancestors`.
pub fn security_headers() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"))
}

/// Largest JSON body the API reads (telemetry ingest reads its own, larger limit).
const JSON_LIMIT: usize = 64 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig, state: AppState) {
    cfg.app_data(web::Data::new(state))
        .app_data(
            web::JsonConfig::default()
                .limit(JSON_LIMIT)
                .error_handler(|e, _req: &HttpRequest| json_error(e)),
        )
        .app_data(
            web::QueryConfig::default()
                .error_handler(|e, _req| Problem::bad_request("query", e.to_string()).into()),
        )
        .app_data(
            web::PathConfig::default()
                .error_handler(|e, _req| Problem::bad_request("path", e.to_string()).into()),
        )
        .configure(http::openapi::routes)
        .service(
            web::scope("/api/v1")
                .wrap(actix_web::middleware::from_fn(http::auth::authenticate))
                .configure(http::tokens::routes)
                .configure(http::users::routes)
                .configure(http::assignees::routes)
                .configure(http::devices::routes)
                .configure(http::shadow::routes)
                .configure(http::commands::routes)
                .configure(http::telemetry::routes)
                .configure(http::firmware::routes)
                .configure(http::events::routes)
                .configure(http::assets::routes)
                .configure(http::rules::routes)
                .configure(http::alarms::routes)
                .configure(http::maintenance::routes)
                .configure(http::reports::routes)
                .configure(http::webhooks::routes)
                .configure(http::workorders::routes)
                .configure(http::work_requests::routes)
                .configure(http::failure_codes::routes)
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(Problem::new(
                        StatusCode::NOT_FOUND,
                        "Not found",
                        "no such API route",
                    ))
                })),
        )
        .configure(http::ops::routes)
        .configure(pages);
}

/// The web UI: sign-in, dashboard, device pages and their sections, firmware, static files.
fn pages(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(ui::dashboard::page))
        .route("/dashboard/live", web::get().to(ui::dashboard_live::stream))
        .route("/login", web::get().to(ui::pages::login_form))
        .route("/login", web::post().to(ui::pages::login))
        .route("/logout", web::post().to(ui::pages::logout))
        .route("/devices", web::get().to(ui::devices::list))
        .route("/devices", web::post().to(ui::devices::provision))
        .route("/devices/{id}", web::get().to(ui::devices::show))
        .route("/devices/{id}/edit", web::post().to(ui::devices::edit))
        .route(
            "/devices/{id}/credentials",
            web::post().to(ui::devices::rotate),
        )
        .route(
            "/devices/{id}/disable",
            web::post().to(ui::devices::disable),
        )
        .route("/devices/{id}/enable", web::post().to(ui::devices::enable))
        .route("/devices/{id}/delete", web::post().to(ui::devices::delete))
        .route(
            "/devices/{id}/telemetry",
            web::get().to(ui::telemetry::page),
        )
        .route("/static/{file}", web::get().to(ui::pages::static_file))
        .route("/devices/{id}/control", web::get().to(ui::control::show))
        .route(
            "/devices/{id}/shadow",
            web::post().to(ui::control::update_desired),
        )
        .route(
            "/devices/{id}/commands",
            web::post().to(ui::control::send_command),
        )
        .route(
            "/devices/{id}/commands/{cmd}/cancel",
            web::post().to(ui::control::cancel_command),
        )
        .configure(ui::firmware::routes)
        .configure(ui::webhooks::routes)
        .configure(ui::assets::routes)
        .configure(ui::alarms::routes)
        .configure(ui::reports::routes)
        .configure(ui::rules::routes)
        .configure(ui::workorders::routes)
        .configure(ui::requests::routes)
        .configure(ui::maintenance::routes)
        .configure(ui::failure_codes::routes)
        .configure(ui::users::routes)
        .configure(ui::settings::routes)
        .configure(ui::tokens::routes)
        .configure(ui::account::routes);
}

fn json_error(e: actix_web::error::JsonPayloadError) -> actix_web::Error {
    use actix_web::error::JsonPayloadError;
    let problem = match &e {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Payload too large",
                format!("request bodies are limited to {JSON_LIMIT} bytes"),
            )
        }
        JsonPayloadError::ContentType => {
            Problem::bad_request("body", "send Content-Type: application/json")
        }
        JsonPayloadError::Deserialize(d) if d.is_data() => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid request",
            d.to_string(),
        ),
        other => Problem::bad_request("body", other.to_string()),
    };
    problem.into()
}
