//! The OpenAPI 3 document, generated from the handlers' annotations, at
//! `/api/v1/openapi.json`, and a plain HTML rendering of it at `/api/docs` (no CDN, no
//! JavaScript). Both are public: they describe the API, not the plant.

use actix_web::{web, HttpResponse};
use serde_json::Value;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    alarms, assets, assignees, commands, devices, events, failure_codes, firmware, maintenance,
    reports, rules, shadow, telemetry, tokens, users, webhooks, work_requests, workorders,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "plantd API", description = "REST API of plantd. Errors are RFC 9457 application/problem+json."),
    paths(
        tokens::create, tokens::list, tokens::revoke,
        users::create, users::list, users::me, users::get, users::patch, users::delete,
        users::change_password, users::revoke_sessions,
        assignees::suggested,
        devices::provision, devices::list, devices::get, devices::patch, devices::delete,
        devices::rotate, devices::disable, devices::enable,
        telemetry::range, telemetry::latest, telemetry::ingest, telemetry::live,
        telemetry::health, telemetry::maintenance,
        shadow::get, shadow::patch,
        commands::send, commands::list, commands::get, commands::cancel,
        firmware::upload, firmware::list, firmware::signing_key, firmware::get, firmware::delete, firmware::download,
        firmware::start_campaign, firmware::list_campaigns, firmware::get_campaign, firmware::cancel_campaign,
        events::list,
        assets::create, assets::list, assets::get, assets::patch, assets::delete, assets::maintenance,
        rules::create, rules::list, rules::get, rules::patch, rules::delete, rules::preview,
        alarms::list, alarms::stats, alarms::get, alarms::acknowledge, alarms::shelve, alarms::unshelve, alarms::clear,
        webhooks::create, webhooks::list, webhooks::get, webhooks::patch, webhooks::delete,
        webhooks::deliveries, webhooks::redeliver,
        workorders::create, workorders::list, workorders::get, workorders::patch,
        workorders::transition, workorders::comment, workorders::tick,
        work_requests::create, work_requests::list, work_requests::approve, work_requests::reject,
        failure_codes::get, failure_codes::put,
        maintenance::create, maintenance::list, maintenance::get, maintenance::patch, maintenance::delete,
        maintenance::calendar,
        reports::maintenance,
    ),
    components(schemas(
        plantd_contracts::devices::DeviceView,
        plantd_contracts::devices::ProvisionedDevice,
        plantd_contracts::devices::DeviceCredentials,
        devices::NewDevice,
        devices::DevicePatch,
        devices::DeviceDetail,
        assets::MaintenanceBody,
        rules::PreviewBody,
        alarms::ActionBody,
        alarms::ShelveBody,
        workorders::CommentBody,
        workorders::TickBody,
        work_requests::RejectBody,
        plantd_contracts::identity::TokenView,
        plantd_contracts::identity::CreatedToken,
        plantd_contracts::identity::Scope,
        plantd_contracts::identity::Role,
        plantd_contracts::identity::UserDetails,
        users::NewUser,
        users::UserPatch,
        users::PasswordChange,
        crate::edge::assignees::Suggestion,
        plantd_contracts::telemetry::Point,
        plantd_contracts::telemetry::LatestValue,
        plantd_contracts::telemetry::TelemetryStatus,
        plantd_contracts::shadow::ShadowView,
        plantd_contracts::shadow::ShadowMetadata,
        plantd_contracts::commands::CommandView,
        plantd_contracts::commands::CommandState,
        plantd_contracts::telemetry::MetricInfo,
        plantd_contracts::telemetry::TelemetryHealth,
        plantd_contracts::telemetry::MaintenanceReport,
        plantd_contracts::telemetry::LiveSample,
        plantd_contracts::telemetry::Resolution,
        plantd_contracts::telemetry::Aggregate,
        plantd_contracts::firmware::FirmwareView,
        plantd_contracts::firmware::CampaignView,
        plantd_contracts::firmware::CampaignDetail,
        plantd_contracts::firmware::CampaignCounts,
        plantd_contracts::firmware::CampaignStatus,
        plantd_contracts::firmware::TargetView,
        plantd_contracts::firmware::TargetState,
        plantd_contracts::webhooks::WebhookView,
        plantd_contracts::webhooks::CreatedWebhook,
        plantd_contracts::webhooks::DeliveryView,
        plantd_contracts::webhooks::DeliveryStatus,
        webhooks::NewWebhook,
        webhooks::WebhookPatch,
    )),
    modifiers(&Security)
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "device",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/openapi.json", web::get().to(document))
        .route("/api/docs", web::get().to(docs));
}

async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// One operation of the document, as the docs page shows it.
pub struct Operation {
    pub method: String,
    pub path: String,
    pub summary: String,
    pub parameters: String,
    pub responses: String,
}

#[derive(askama::Template)]
#[template(path = "api_docs.html")]
struct DocsPage {
    operations: Vec<Operation>,
}

/// Every operation as a table row: enough to read the API on a plant network with no
/// internet (no Swagger UI assets to fetch).
async fn docs() -> HttpResponse {
    let doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null);
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in ["get", "post", "put", "patch", "delete"] {
            let op = &item[method];
            if op.is_null() {
                continue;
            }
            let names = |list: &Value, field: &str| -> Vec<String> {
                list.as_array()
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(|p| p[field].as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            operations.push(Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                summary: op["summary"].as_str().unwrap_or("").to_owned(),
                parameters: names(&op["parameters"], "name").join(", "),
                responses: op["responses"]
                    .as_object()
                    .map(|r| r.keys().cloned().collect::<Vec<_>>().join(" "))
                    .unwrap_or_default(),
            });
        }
    }
    crate::edge::render(&DocsPage { operations })
}
