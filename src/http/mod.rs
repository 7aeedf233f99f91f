//! The HTTP edge: REST under `/api/v1`, operations endpoints, and the web UI. Handlers
//! translate HTTP to module messages and back; they hold no domain logic.

mod auth;
mod commands;
mod device_auth;
mod devices;
mod events;
pub(crate) mod firmware;
mod openapi;
mod ops;
mod problem;
mod shadow;
mod telemetry;
mod tokens;

use std::time::Instant;

use actix::Addr;
use actix_web::{web, HttpRequest};
use metrics_exporter_prometheus::PrometheusHandle;
use plantd_broker::EventPublisher;
use plantd_devices::firmware::Firmware;
use plantd_devices::{Control, Devices};
use plantd_identity::Identity;
use plantd_storage::Db;
use plantd_telemetry::Telemetry;

pub use auth::{Caller, SESSION_COOKIE};
pub use problem::{ApiResult, Problem};
pub use telemetry::end_live_streams;

#[derive(Clone)]
pub struct AppState {
    pub identity: Addr<Identity>,
    pub devices: Addr<Devices>,
    pub control: Addr<Control>,
    pub firmware: Addr<Firmware>,
    pub events: Addr<plantd_events::Dispatcher>,
    pub telemetry: Addr<Telemetry>,
    pub broker: Addr<EventPublisher>,
    pub db: Db,
    pub metrics: PrometheusHandle,
    pub secure_cookies: bool,
    pub started_at: Instant,
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
        .configure(openapi::routes)
        .service(
            web::scope("/api/v1")
                .wrap(actix_web::middleware::from_fn(auth::authenticate))
                .configure(tokens::routes)
                .configure(devices::routes)
                .configure(shadow::routes)
                .configure(commands::routes)
                .configure(telemetry::routes)
                .configure(firmware::routes)
                .configure(events::routes)
                .default_service(web::to(|| async {
                    Err::<actix_web::HttpResponse, _>(Problem::new(
                        actix_web::http::StatusCode::NOT_FOUND,
                        "Not found",
                        "no such API route",
                    ))
                })),
        )
        .configure(ops::routes)
        .configure(crate::web::routes);
}

fn json_error(e: actix_web::error::JsonPayloadError) -> actix_web::Error {
    use actix_web::error::JsonPayloadError;
    let problem = match &e {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            Problem::new(
                actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                "Payload too large",
                format!("request bodies are limited to {JSON_LIMIT} bytes"),
            )
        }
        JsonPayloadError::ContentType => {
            Problem::bad_request("body", "send Content-Type: application/json")
        }
        JsonPayloadError::Deserialize(d) if d.is_data() => Problem::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid request",
            d.to_string(),
        ),
        other => Problem::bad_request("body", other.to_string()),
    };
    problem.into()
}

/// `?limit=&cursor=` paging over items sorted by a string key.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Items per page, 1-1000 (default 50).
    pub limit: Option<usize>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

impl Page {
    /// Items after the cursor, at most `limit` (default 50, at most 1000), and the next cursor.
    pub fn apply<T: serde::Serialize>(
        &self,
        items: Vec<T>,
        key: impl Fn(&T) -> &str,
    ) -> ApiResult<serde_json::Value> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=1000).contains(&limit) {
            return Err(Problem::bad_request("limit", "limit is 1 to 1000"));
        }
        let mut rest: Vec<T> = items
            .into_iter()
            .filter(|item| self.cursor.as_deref().is_none_or(|c| key(item) > c))
            .collect();
        let more = rest.len() > limit;
        rest.truncate(limit);
        let next_cursor = more
            .then(|| rest.last().map(|i| key(i).to_owned()))
            .flatten();
        Ok(serde_json::json!({ "items": rest, "next_cursor": next_cursor }))
    }
}
