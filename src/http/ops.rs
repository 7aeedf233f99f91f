//! Operations endpoints: `/healthz` (the process answers) and `/readyz` (database and
//! broker are up) are open, for probes, and reveal nothing but "ok"; `/metrics`
//! (Prometheus text format) needs a token with the `read` scope.

use actix_web::{web, HttpResponse};
use plantd_contracts::broker::BrokerReady;
use serde_json::json;

use plantd_contracts::identity::Scope;

use super::{ApiResult, AppState, Caller};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .service(
            web::resource("/metrics")
                .wrap(actix_web::middleware::from_fn(super::auth::authenticate))
                .route(web::get().to(metrics)),
        );
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = match state.db.ping().await {
        Ok(()) => "ok".to_owned(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database is not answering");
            "unavailable".to_owned()
        }
    };
    let broker = match state.broker.send(BrokerReady).await {
        Ok(true) => "ok",
        _ => "unavailable",
    };
    let ready = database == "ok" && broker == "ok";
    let body = json!({ "status": if ready { "ready" } else { "not ready" }, "database": database, "broker": broker });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn metrics(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    if let Some(rss) = resident_memory_bytes() {
        metrics::gauge!("plantd_process_resident_memory_bytes").set(rss as f64);
    }
    metrics::gauge!("plantd_uptime_seconds").set(state.started_at.elapsed().as_secs_f64());
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render()))
}

/// Resident set size from `/proc/self/statm` (Linux; `None` elsewhere).
fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
