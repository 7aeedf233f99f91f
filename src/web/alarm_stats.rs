//! The alarm-system health page: `GetAlarmStats` over the last 24 h or 7 d (a select),
//! beside the ISA-18.2 targets, and the ten rules that raised the most ("bad actors")
//! linking to their rules. Any signed-in role reads it.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use plantd_contracts::health::{AlarmStats, GetAlarmStats};
use plantd_contracts::time::now_ms;
use serde::Deserialize;

use super::health_common::{answer, plain, reader, when, Head};
use crate::edge::render;
use crate::state::AppState;

/// The windows offered: (query value, label, milliseconds).
const WINDOWS: [(&str, &str, i64); 2] = [
    ("24h", "last 24 h", 86_400_000),
    ("7d", "last 7 d", 7 * 86_400_000),
];

#[derive(Template)]
#[template(path = "alarm_stats.html")]
struct StatsPage {
    head: Head,
    window: &'static str,
    windows: [(&'static str, &'static str, i64); 2],
    from: String,
    to: String,
    per_10_min: String,
    flood_percent: String,
    stats: AlarmStats,
}

#[derive(Deserialize)]
pub struct WindowParam {
    window: Option<String>,
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<WindowParam>,
) -> HttpResponse {
    let current = match reader(&req, &state).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let (key, _, span) = WINDOWS
        .iter()
        .find(|(k, _, _)| Some(*k) == q.window.as_deref())
        .copied()
        .unwrap_or(WINDOWS[0]);
    let to = now_ms();
    let stats = match answer(
        state
            .health
            .send(GetAlarmStats {
                from_ms: to - span,
                to_ms: to,
            })
            .await,
    ) {
        Ok(stats) => stats,
        Err(p) => return plain(p),
    };
    render(&StatsPage {
        head: Head::of(&current),
        window: key,
        windows: WINDOWS,
        from: when(stats.from),
        to: when(stats.to),
        per_10_min: format!("{:.2}", stats.per_10_min),
        flood_percent: format!("{:.1}", stats.flood_percent),
        stats,
    })
}
