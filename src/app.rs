//! Start-up and shutdown: open and migrate the database, start the modules and the
//! broker, wire them by message type, bootstrap the first credentials, serve HTTP, and on
//! SIGTERM/SIGINT stop taking data, flush telemetry and exit.

use std::time::{Duration, Instant};

use actix::prelude::*;
use plantd_broker::{BrokerHandle, BrokerWiring};
use plantd_contracts::devices::{FlushPending, PersistPresence};
use plantd_contracts::events::EventFilter;
use plantd_contracts::identity::Bootstrap;
use plantd_contracts::telemetry::FlushTelemetry;
use plantd_devices::firmware::{Firmware, FirmwareWiring};
use plantd_devices::{Control, Devices};
use plantd_events::Subscription;
use plantd_health::Health;
use plantd_identity::Identity;
use plantd_maintenance::Maintenance;
use plantd_storage::{Db, ModuleMigrations};
use plantd_telemetry::Telemetry;
use plantd_workorders::WorkOrders;

use crate::config::Settings;
use crate::http;
use crate::routes;
use crate::state::AppState;

/// Every module's migrations, in the order they run (start and `plantd migrate`). An
/// infrastructure crate's tables come first, before the domain modules that write to them.
const MIGRATIONS: &[&ModuleMigrations] = &[
    &plantd_events::MIGRATIONS,
    &plantd_webhooks::MIGRATIONS,
    &plantd_identity::MIGRATIONS,
    &plantd_devices::MIGRATIONS,
    &plantd_telemetry::MIGRATIONS,
    &plantd_health::MIGRATIONS,
    &plantd_workorders::MIGRATIONS,
    &plantd_maintenance::MIGRATIONS,
];

/// Opens the database the settings name and applies pending migrations; returns them as
/// `module/version`.
pub async fn open_database(settings: &Settings) -> Result<(Db, Vec<String>), String> {
    let url = settings.database_url();
    let pool_size = settings.db_pool_size;
    let opened = actix_web::rt::task::spawn_blocking(move || {
        let db = Db::open(&url, pool_size)?;
        let applied = plantd_storage::run_migrations(&db, MIGRATIONS).map_err(|e| e.to_string())?;
        Ok::<_, String>((db, applied))
    })
    .await
    .map_err(|e| format!("database start-up failed: {e}"))?;
    let (db, applied) = opened.map_err(|e| format!("PLANTD_DATABASE_URL: {e}"))?;
    if !applied.is_empty() {
        tracing::info!(count = applied.len(), "database migrations applied");
    }
    Ok((db, applied))
}

pub async fn serve(settings: Settings) -> Result<(), String> {
    let started = Instant::now();
    crate::web::local_time::set_zone(settings.plant_time_zone);
    raise_open_files_limit();
    std::fs::create_dir_all(&settings.data_dir).map_err(|e| {
        format!(
            "PLANTD_DATA_DIR: cannot create {}: {e}",
            settings.data_dir.display()
        )
    })?;
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        // Publish-to-stored latency as a real histogram (1 ms to 10 s), so p50/p99 can be
        // read from /metrics; other histograms (but the next) stay summaries.
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(
                "plantd_telemetry_commit_delay_seconds".to_owned(),
            ),
            &[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ],
        )
        .map_err(|e| format!("cannot start metrics: {e}"))?
        // Sample received → its alarm stored, likewise (`plantd bench health` reads it).
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(
                "plantd_alarm_raise_latency_seconds".to_owned(),
            ),
            &[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ],
        )
        .map_err(|e| format!("cannot start metrics: {e}"))?
        .install_recorder()
        .map_err(|e| format!("cannot start metrics: {e}"))?;
    plantd_storage::describe_metrics();
    plantd_broker::describe_metrics();
    plantd_telemetry::describe_metrics();
    plantd_devices::describe_metrics();
    plantd_devices::describe_control_metrics();
    plantd_devices::firmware::describe_metrics();
    plantd_events::describe_metrics();
    plantd_health::describe_metrics();
    plantd_workorders::describe_metrics();
    plantd_maintenance::describe_metrics();
    plantd_webhooks::describe_metrics();
    metrics::describe_counter!(
        "plantd_http_auth_failures_total",
        "API calls and UI sign-ins with bad credentials"
    );
    metrics::describe_counter!(
        "plantd_http_forbidden_total",
        "API calls refused for a missing scope, UI forms for a read-only role"
    );
    metrics::counter!("plantd_http_auth_failures_total").absolute(0);
    metrics::counter!("plantd_http_forbidden_total").absolute(0);
    for reason in ["backoff", "busy"] {
        metrics::counter!("plantd_login_refused_total", "reason" => reason).absolute(0);
    }
    metrics::gauge!("plantd_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    let (db, _) = open_database(&settings).await?;
    tracing::info!(backend = db.backend().as_str(), "database ready");

    // The outbox: modules record events with their changes; the dispatcher, started once
    // every subscriber exists, delivers them.
    let (outbox, mut dispatch) = plantd_events::outbox(db.clone(), settings.events());

    let identity = Identity::load(db.clone(), settings.sign_in.clone())
        .await
        .map_err(|e| e.to_string())?
        .record_token_use_every(settings.token_last_used_write)
        .start();
    // Telemetry forwards committed samples to health, and health asks telemetry for
    // history (backtests): create health's mailbox first, start it once telemetry runs.
    // Its own thread: rule evaluation keeps up with ingest without sharing the UI's.
    let (health_tx, health_start) = start_later::<Health>()?;
    // Maintenance counts its meters (run hours, cycles) from the same stream, on its own
    // thread too.
    let maintenance = {
        let state = Maintenance::load(db.clone(), outbox.clone(), settings.maintenance())
            .await
            .map_err(|e| e.to_string())?;
        Maintenance::start_in_arbiter(&Arbiter::new().handle(), move |_| state)
    };
    let telemetry = {
        let loaded = Telemetry::load(db.clone(), settings.telemetry.clone())
            .await
            .map_err(|e| e.to_string())?
            .with_samples_out(health_tx.clone().recipient())
            .with_samples_out(maintenance.clone().recipient());
        Telemetry::start_in_arbiter(&Arbiter::new().handle(), move |_| loaded)
    };
    let health_state = Health::load(
        db.clone(),
        outbox.clone(),
        settings.health.clone(),
        telemetry.clone().recipient(),
    )
    .await
    .map_err(|e| e.to_string())?;
    if health_start.send(health_state).is_err() {
        return Err("the health module's thread did not start".into());
    }
    let health = health_tx;
    // The broker needs the devices actor's address and devices needs the broker's event
    // publisher: create the devices mailbox first, start the actor once both exist.
    let (devices_tx, devices_ctx) = {
        let ctx = Context::<Devices>::new();
        (ctx.address(), ctx)
    };
    // Likewise the shadow/commands actor: the broker hands it device messages, it
    // publishes through the broker.
    let (control_tx, control_ctx) = {
        let ctx = Context::<Control>::new();
        (ctx.address(), ctx)
    };
    // Firmware roll-outs hear device reports from the broker and presence from devices.
    let (firmware_tx, firmware_ctx) = {
        let ctx = Context::<Firmware>::new();
        (ctx.address(), ctx)
    };
    let broker = plantd_broker::start(
        &settings.broker,
        BrokerWiring {
            authenticate_device: devices_tx.clone().recipient(),
            authenticate_token: identity.clone().recipient(),
            device_connected: devices_tx.clone().recipient(),
            device_disconnected: devices_tx.clone().recipient(),
            device_traffic: devices_tx.clone().recipient(),
            telemetry: telemetry.clone().recipient(),
            telemetry_backlog: telemetry.clone().recipient(),
            device_control: control_tx.clone().recipient(),
            firmware_status: firmware_tx.clone().recipient(),
        },
    )?;
    let devices_state = Devices::load(db.clone(), outbox.clone())
        .await
        .map_err(|e| e.to_string())?
        .with_disconnect(broker.publisher.clone().recipient())
        .with_login_hold(std::env::var_os("PLANTD_TEST_HOLD_LOGINS").map(std::path::PathBuf::from));
    let control = control_ctx.run(Control::new(
        db.clone(),
        devices_tx.clone().recipient(),
        broker.publisher.clone().recipient(),
        outbox.clone(),
        broker.publisher.clone().recipient(),
        settings.device_queue,
    ));
    drop(control_tx);
    let devices = devices_ctx.run(devices_state);
    drop(devices_tx);
    let firmware_state = Firmware::load(
        db.clone(),
        settings.firmware(),
        FirmwareWiring {
            publisher: broker.publisher.clone().recipient(),
            devices: devices.clone().recipient(),
            outbox: outbox.clone(),
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let firmware = firmware_ctx.run(firmware_state);
    drop(firmware_tx);
    // Webhooks: a delivery log fed by the outbox, sent by its own loop.
    let webhooks = plantd_webhooks::Webhooks::new(db.clone(), settings.webhooks.clone()).start();
    let workorders =
        WorkOrders::new(db.clone(), outbox.clone(), settings.workorders.clone()).start();
    // Subscribers, each with its own cursor (the names are the cursors' keys: keep them).
    dispatch
        .subscribe(Subscription {
            name: "broker",
            filter: EventFilter::All,
            recipient: broker.publisher.clone().recipient(),
        })
        .subscribe(Subscription {
            name: "devices.control",
            filter: EventFilter::Prefixes(vec!["device.".into()]),
            recipient: control.clone().recipient(),
        })
        .subscribe(Subscription {
            name: "devices.firmware",
            filter: EventFilter::Prefixes(vec![
                "device.connected".into(),
                "device.disconnected".into(),
            ]),
            recipient: firmware.clone().recipient(),
        })
        .subscribe(Subscription {
            name: "health",
            filter: EventFilter::Prefixes(vec![
                "device.provisioned".into(),
                "device.updated".into(),
                "device.deleted".into(),
                // Orders that stop an asset hold it in maintenance.
                "workorder.".into(),
            ]),
            recipient: health.clone().recipient(),
        })
        .subscribe(Subscription {
            name: "workorders",
            filter: EventFilter::Prefixes(vec![
                "alarm.raised".into(),
                "alarm.cleared".into(),
                "alarm.returned_to_normal".into(),
                "maintenance.due".into(),
            ]),
            recipient: workorders.clone().recipient(),
        })
        .subscribe(Subscription {
            name: "maintenance",
            filter: EventFilter::Prefixes(vec!["workorder.".into()]),
            recipient: maintenance.clone().recipient(),
        })
        .subscribe(Subscription {
            name: "webhooks",
            filter: EventFilter::All,
            recipient: webhooks.clone().recipient(),
        });
    let events = dispatch.start();
    sync_device_assets(&devices, &health).await;

    bootstrap(&identity, &settings).await?;

    let state = AppState {
        identity,
        devices,
        control,
        firmware,
        events,
        health: health.clone(),
        webhooks,
        workorders,
        maintenance,
        telemetry: telemetry.clone(),
        broker: broker.publisher.clone(),
        db: db.clone(),
        metrics,
        secure_cookies: settings.secure_cookies,
        started_at: started,
        about: std::sync::Arc::new(about(&settings)),
        chart_max_points: settings.chart_max_points,
        ui_page_size: settings.ui_page_size,
    };
    // One live-dashboard hub for every worker: one computation, fanned out.
    let dashboard_hub = crate::web::dashboard_live::LiveHub::new(settings.dashboard);
    let server = actix_web::HttpServer::new({
        let state = state.clone();
        let dashboard_hub = actix_web::web::Data::from(dashboard_hub.clone());
        move || {
            actix_web::App::new()
                .wrap(routes::security_headers())
                .app_data(dashboard_hub.clone())
                .configure(|cfg| routes::configure(cfg, state.clone()))
        }
    })
    .workers(2)
    .disable_signals()
    .shutdown_timeout(10)
    .bind(settings.http_addr)
    .map_err(|e| {
        format!(
            "PLANTD_HTTP_ADDR: cannot listen on {}: {e}",
            settings.http_addr
        )
    })?
    .run();
    let server_handle = server.handle();
    let server_task = actix_web::rt::spawn(server);
    tracing::info!(
        http = %settings.http_addr,
        mqtt = %settings.broker.listen,
        data_dir = %settings.data_dir.display(),
        startup_ms = started.elapsed().as_millis() as u64,
        "plantd is running"
    );

    reload_tls_on_sighup(broker.tls());
    wait_for_stop_signal().await;
    // Live dashboards end at once instead of holding the HTTP stop up.
    dashboard_hub.stop();
    shutdown(
        &broker,
        &telemetry,
        &state.devices,
        [
            state.control.clone().recipient(),
            state.firmware.clone().recipient(),
            state.health.clone().recipient(),
            state.maintenance.clone().recipient(),
        ],
        server_handle,
    )
    .await;
    let _ = server_task.await;
    Ok(())
}

/// An actor on its own thread (arbiter) whose address is needed before its state can be
/// built (two modules that message each other): the address now, the state later.
fn start_later<A>() -> Result<(Addr<A>, tokio::sync::oneshot::Sender<A>), String>
where
    A: Actor<Context = Context<A>> + Send,
{
    let (addr_tx, addr_rx) = std::sync::mpsc::sync_channel(1);
    let (state_tx, state_rx) = tokio::sync::oneshot::channel::<A>();
    let spawned = Arbiter::new().spawn_fn(move || {
        let ctx = Context::<A>::new();
        let _ = addr_tx.send(ctx.address());
        actix::spawn(async move {
            if let Ok(state) = state_rx.await {
                ctx.run(state);
            }
        });
    });
    if !spawned {
        return Err("cannot start a module's thread".into());
    }
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(5))
        .map_err(|_| "a module's thread did not start".to_owned())?;
    Ok((addr, state_tx))
}

/// SIGHUP reads the broker's TLS certificate and key again (a failed read keeps the old
/// ones: logged and counted by the broker). Without TLS it is logged and ignored (rather
/// than ending the process, SIGHUP's default).
fn reload_tls_on_sighup(tls: Option<std::sync::Arc<plantd_broker::TlsAcceptorCell>>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::hangup()) {
            Ok(mut hangup) => {
                actix::spawn(async move {
                    while hangup.recv().await.is_some() {
                        match &tls {
                            // Two small files: read on a blocking thread all the same.
                            Some(tls) => {
                                let tls = tls.clone();
                                let _ = tokio::task::spawn_blocking(move || tls.reload()).await;
                            }
                            None => tracing::warn!("SIGHUP: no TLS certificate to reload"),
                        }
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for SIGHUP (TLS reload)"),
        }
    }
    #[cfg(not(unix))]
    let _ = tls;
}

/// SIGTERM or SIGINT (Ctrl-C).
async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Stop taking data (MQTT and HTTP), let everything acknowledged reach telemetry, write
/// it (retrying while the database is away, for a bounded time), and store presence.
async fn shutdown(
    broker: &BrokerHandle,
    telemetry: &Addr<Telemetry>,
    devices: &Addr<Devices>,
    device_state: [Recipient<FlushPending>; 4],
    server: actix_web::dev::ServerHandle,
) {
    tracing::info!("stopping: refusing new data and flushing telemetry");
    if let Err(e) = broker.drain(Duration::from_secs(10)).await {
        tracing::error!(error = %e, "MQTT messages acknowledged just before the stop may be lost");
    }
    // HTTP stops accepting and finishes the requests in flight (ingest among them); live
    // telemetry streams end at their next poll instead of holding the stop up.
    http::end_live_streams();
    server.stop(true).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match telemetry.send(FlushTelemetry).await {
            Ok(Ok(n)) => {
                tracing::info!(samples = n, "telemetry flushed");
                break;
            }
            Ok(Err(e)) if Instant::now() < deadline => {
                tracing::warn!(error = %e, "telemetry not flushed yet; retrying");
                actix_web::rt::time::sleep(Duration::from_secs(1)).await;
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "telemetry could not be flushed; buffered samples are lost");
                break;
            }
            Err(e) => {
                tracing::error!(error = %e, "telemetry is not running");
                break;
            }
        }
    }
    // Shadow reports, command results and firmware progress the broker acknowledged
    // before the drain, alarm changes and detector state, and maintenance meters and
    // schedules, are written before the process ends.
    for module in device_state {
        match module.send(FlushPending).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "device state not written before the stop"),
            Err(e) => tracing::warn!(error = %e, "a devices actor is not running"),
        }
    }
    match devices.send(PersistPresence).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "device presence not stored"),
        Err(e) => tracing::warn!(error = %e, "devices module is not running"),
    }
    tracing::info!("plantd stopped");
}

/// Health learns devices' assets from events; at start it also gets the whole list, so
/// devices attached before an event was missed (or before health existed) count too.
async fn sync_device_assets(devices: &Addr<Devices>, health: &Addr<Health>) {
    use plantd_contracts::devices::ListDevices;
    use plantd_contracts::health::SyncDeviceAssets;
    let mut after = None;
    let mut all = Vec::new();
    loop {
        let page = devices
            .send(ListDevices {
                state: None,
                kind: None,
                label: None,
                after: after.clone(),
                limit: Some(1000),
            })
            .await;
        match page {
            Ok(Ok(page)) => {
                all.extend(page.items.into_iter().map(|d| (d.id, d.asset_id)));
                match page.next_cursor {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            other => {
                tracing::warn!(outcome = ?other.err(), "devices' assets not listed at start; health knows them from events");
                return;
            }
        }
    }
    health.do_send(SyncDeviceAssets(all));
}

/// The file in the data directory that keeps what the first start generated (0600).
pub const FIRST_START_FILE: &str = "first-start-credentials.txt";

/// First start: the admin token and password, from the settings or generated. What was
/// generated is printed once to the console and written once to a 0600 file in the data
/// directory (journald keeps stdout; the file can be read and deleted); the log names
/// that file, never a secret.
async fn bootstrap(identity: &Addr<Identity>, settings: &Settings) -> Result<(), String> {
    let report = identity
        .send(Bootstrap {
            admin_token: settings.admin_token.clone(),
            admin_password: settings.admin_password.clone(),
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("bootstrap failed: {e}"))?;
    let mut generated = String::new();
    if let Some((id, secret)) = &report.admin_token {
        if report.token_was_generated {
            println!("plantd: first start. Admin API token (shown only now, keep it safe):");
            println!("    Authorization: Bearer {secret}");
            generated.push_str(&format!("admin API token: {secret}\n"));
        }
        tracing::info!(token = %id, generated = report.token_was_generated, "admin API token created");
    }
    if report.admin_user_created {
        if let Some(password) = &report.generated_password {
            println!("plantd: first start. Web UI sign-in (shown only now): user admin, password {password}");
            generated.push_str(&format!(
                "web UI user: admin\nweb UI password: {password}\n"
            ));
        }
        tracing::info!(
            generated = report.generated_password.is_some(),
            "web UI user admin created"
        );
    }
    if !generated.is_empty() {
        let path = settings.data_dir.join(FIRST_START_FILE);
        match write_private_once(&path, &generated) {
            Ok(()) => tracing::warn!(
                path = %path.display(),
                "first start: the generated admin credentials are in this file (mode 0600); \
                 read it, keep them safe, then delete it"
            ),
            Err(e) => tracing::warn!(
                path = %path.display(),
                error = %e,
                "first start: could not write the generated admin credentials to a file; \
                 they were printed to the console only"
            ),
        }
    }
    Ok(())
}

/// Creates `path` with mode 0600 (owner read/write) and writes `text`; never replaces an
/// existing file.
fn write_private_once(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Thousands of devices need thousands of sockets: lift the soft limit to the hard one.
fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open files limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open files limit"),
    }
}

/// The configuration the Settings page shows (secrets masked by `Settings::effective`).
fn about(settings: &Settings) -> crate::state::About {
    crate::state::About {
        version: env!("CARGO_PKG_VERSION"),
        time_zone: settings.plant_time_zone.name().to_owned(),
        settings: settings
            .effective()
            .into_iter()
            .map(|e| (e.key, e.value, e.origin.as_str()))
            .collect(),
        listeners: plantd_broker::planned_listeners(&settings.broker)
            .into_iter()
            .map(|(kind, addr)| (kind.describe(), addr.to_string()))
            .collect(),
        data_dir: settings.data_dir.clone(),
    }
}
