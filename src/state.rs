//! `AppState`: what every HTTP handler, REST or UI, is given. It holds the modules'
//! addresses (handlers talk to modules only by message), the database pool (for
//! readiness, database size and backup), the metrics handle and a few edge settings. Built once by `app.rs`;
//! it imports only the modules' crates, so `http/`, `web/` and `routes.rs` all stand on it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use actix::Addr;
use metrics_exporter_prometheus::PrometheusHandle;
use plantd_broker::EventPublisher;
use plantd_devices::firmware::Firmware;
use plantd_devices::{Control, Devices};
use plantd_events::Dispatcher;
use plantd_health::Health;
use plantd_identity::Identity;
use plantd_maintenance::Maintenance;
use plantd_storage::Db;
use plantd_telemetry::Telemetry;
use plantd_webhooks::Webhooks;
use plantd_workorders::WorkOrders;

#[derive(Clone)]
pub struct AppState {
    pub identity: Addr<Identity>,
    pub devices: Addr<Devices>,
    pub control: Addr<Control>,
    pub firmware: Addr<Firmware>,
    pub events: Addr<Dispatcher>,
    pub health: Addr<Health>,
    pub webhooks: Addr<Webhooks>,
    pub workorders: Addr<WorkOrders>,
    pub maintenance: Addr<Maintenance>,
    pub telemetry: Addr<Telemetry>,
    pub broker: Addr<EventPublisher>,
    pub db: Db,
    pub metrics: PrometheusHandle,
    pub secure_cookies: bool,
    pub started_at: Instant,
    /// What the Settings page shows of the configuration (read-only, secrets masked).
    pub about: Arc<About>,
    /// Points one chart draws at most (`chart_max_points`).
    pub chart_max_points: usize,
    /// Rows on one page of a table (`ui_page_size`).
    pub ui_page_size: u32,
}

/// The configuration as the Settings page shows it, fixed at start-up.
pub struct About {
    pub version: &'static str,
    /// `plant_time_zone` in force (its IANA name).
    pub time_zone: String,
    /// Every setting: key, value (secrets masked), where it came from (default, file, env,
    /// flag).
    pub settings: Vec<(&'static str, String, &'static str)>,
    /// The MQTT listeners: what they are and their address.
    pub listeners: Vec<(&'static str, String)>,
    /// The data folder: the SQLite file (and a backup's temporary copy) live there.
    pub data_dir: PathBuf,
}
