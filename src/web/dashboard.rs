//! The dashboard (`GET /`): the figures an engineer keeps open — devices online of all,
//! open alarms by severity, open and overdue work orders, maintenance due within a week,
//! the ingest rate and rejected payloads, the latest events — each linking to the list
//! behind it. `gather` asks the owning modules concurrently (count messages, answered from
//! their memory or one count query); the live stream (`dashboard_live.rs`) sends the same
//! figures. It may use `state.rs`, `edge/` and the contracts only.

use std::collections::BTreeMap;
use std::time::Duration;

use super::local_time::exact_ms as format_ms;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use plantd_contracts::devices::CountDevices;
use plantd_contracts::events::RecentEvents;
use plantd_contracts::health::{CountOpenAlarms, Severity};
use plantd_contracts::maintenance::CountDuePlans;
use plantd_contracts::telemetry::GetTelemetryHealth;
use plantd_contracts::workorders::CountWorkOrders;
use plantd_contracts::Event;
use serde::Serialize;
use tracing::Instrument;

use super::health_common::{reader, Head};
use crate::edge::render;
use crate::state::AppState;

/// "Due this week": plans whose next due time is within this of now (or overdue).
pub const DUE_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);
/// The events listed under "Recent events" (the events API pages through the rest).
const RECENT_EVENTS: u32 = 10;
/// What a figure shows when its module did not answer.
const UNKNOWN: &str = "—";

/// One line of the recent events: when, what, and the thing it is about.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EventLine {
    pub at: String,
    pub kind: String,
    pub subject: String,
    /// The page of the subject, or empty.
    pub href: String,
}

/// Every figure by its key (the page's `data-figure`), as text; and the recent events
/// (`None`: the events module did not answer).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Figures {
    pub values: BTreeMap<&'static str, String>,
    pub events: Option<Vec<EventLine>>,
}

impl Figures {
    /// The figure's text (`—` when it is not known).
    pub fn get(&self, key: &str) -> &str {
        self.values.get(key).map(String::as_str).unwrap_or(UNKNOWN)
    }

    /// Whether the figure is known to be zero (the empty states show then).
    pub fn is_zero(&self, key: &str) -> bool {
        self.get(key) == "0"
    }
}

/// The severities in the order the page shows them, with their figure keys.
pub const SEVERITIES: [(Severity, &str); 4] = [
    (Severity::Critical, "alarms_critical"),
    (Severity::Major, "alarms_major"),
    (Severity::Minor, "alarms_minor"),
    (Severity::Warning, "alarms_warning"),
];

/// Asks every module at once; a module that does not answer leaves its figures unknown.
pub async fn gather(state: &AppState) -> Figures {
    let span = tracing::debug_span!("dashboard_figures");
    async {
        let started = std::time::Instant::now();
        let (devices, alarms, orders, plans, telemetry, events) = tokio::join!(
            state.devices.send(CountDevices),
            state.health.send(CountOpenAlarms),
            state.workorders.send(CountWorkOrders),
            state.maintenance.send(CountDuePlans { within: DUE_WINDOW }),
            state.telemetry.send(GetTelemetryHealth),
            state.events.send(RecentEvents {
                limit: RECENT_EVENTS
            }),
        );
        let mut values = BTreeMap::new();
        let mut put = |key: &'static str, value: String| {
            values.insert(key, value);
        };
        if let Ok(d) = devices {
            put("devices_total", d.total.to_string());
            put("devices_online", d.online.to_string());
            put("devices_offline", d.offline.to_string());
            put("devices_disabled", d.disabled.to_string());
        }
        if let Ok(a) = alarms {
            put("alarms_total", a.total().to_string());
            for (severity, key) in SEVERITIES {
                put(key, a.of(severity).to_string());
            }
        }
        if let Ok(Ok(o)) = orders {
            put("orders_open", o.open.to_string());
            put("orders_overdue", o.overdue.to_string());
        }
        if let Ok(p) = plans {
            put("plans_due", p.due.to_string());
            put("plans_overdue", p.overdue.to_string());
        }
        if let Ok(t) = telemetry {
            put("ingest_rate", rate(t.samples_per_second));
            put("payloads_rejected", t.payloads_rejected_total.to_string());
        }
        let events = match events {
            Ok(Ok(events)) => Some(events.iter().map(line_of).collect()),
            _ => None,
        };
        metrics::histogram!("plantd_dashboard_gather_seconds")
            .record(started.elapsed().as_secs_f64());
        Figures { values, events }
    }
    .instrument(span)
    .await
}

/// Samples a second as a person reads it: whole numbers from 10 up, one decimal below.
fn rate(per_second: f64) -> String {
    if per_second >= 10.0 {
        format!("{per_second:.0}")
    } else {
        format!("{per_second:.1}")
    }
}

/// The event's subject (device, alarm, order, plan, request, campaign) and its page.
fn line_of(event: &Event) -> EventLine {
    let data = serde_json::to_value(&event.data)
        .ok()
        .and_then(|v| v.get("data").cloned())
        .unwrap_or_default();
    let text = |key: &str| data.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let (subject, href) = if let Some(id) = text("work_order_id") {
        let title = text("title").unwrap_or_else(|| id.clone());
        (title, format!("/work-orders/{id}"))
    } else if let Some(id) = text("alarm_id") {
        let name = text("rule_name").unwrap_or_else(|| id.clone());
        (name, format!("/alarms/{id}"))
    } else if let Some(id) = text("plan_id") {
        let title = text("title").unwrap_or_else(|| id.clone());
        (title, format!("/maintenance/plans/{id}"))
    } else if let Some(title) = text("request_id").and(text("title")) {
        (title, "/requests".to_owned())
    } else if let Some(id) = text("campaign") {
        (id.clone(), format!("/firmware/campaigns/{id}"))
    } else if let Some(id) = text("device_id") {
        (id.clone(), format!("/devices/{id}"))
    } else {
        (String::new(), String::new())
    };
    EventLine {
        at: format_ms(event.time.timestamp_millis()),
        kind: event.kind().to_owned(),
        subject,
        href,
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    head: Head,
    figures: Figures,
    severities: Vec<(&'static str, &'static str)>,
}

/// `GET /`: every signed-in role reads it.
pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let current = match reader(&req, &state).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let figures = gather(&state).await;
    render(&DashboardPage {
        head: Head::of(&current),
        figures,
        severities: SEVERITIES
            .iter()
            .map(|(s, key)| (s.as_str(), *key))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use plantd_contracts::events::{DeviceRef, EventData};
    use plantd_contracts::DeviceId;

    #[test]
    fn a_device_event_links_to_its_device() {
        let event = Event::new(EventData::DeviceDisconnected(DeviceRef {
            device_id: DeviceId::parse("press-7").expect("id"),
        }));
        let line = line_of(&event);
        assert_eq!(line.kind, "device.disconnected");
        assert_eq!(line.subject, "press-7");
        assert_eq!(line.href, "/devices/press-7");
    }

    #[test]
    fn rates_read_as_people_write_them() {
        assert_eq!(rate(0.0), "0.0");
        assert_eq!(rate(2.35), "2.4");
        assert_eq!(rate(1234.6), "1235");
    }

    #[test]
    fn an_unknown_figure_is_a_dash_and_not_zero() {
        let figures = Figures {
            values: BTreeMap::from([("devices_total", "0".to_owned())]),
            events: None,
        };
        assert!(figures.is_zero("devices_total"));
        assert_eq!(figures.get("orders_open"), "—");
        assert!(!figures.is_zero("orders_open"));
    }
}
