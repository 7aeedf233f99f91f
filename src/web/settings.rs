//! Settings (admins only): the overview `GET /settings` (links to Users, Tokens and
//! Webhooks; retention, plant time zone, broker listeners, the effective configuration
//! with each value's origin and secrets masked; version, uptime, database size) and the
//! SQLite backup download `GET /settings/backup` (one at a time; PostgreSQL shows
//! `pg_dump` instructions instead). Reads `AppState::about`; the database work is
//! `plantd_storage::admin`, the snapshot file lives in the data folder only while it is
//! streamed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Utc;
use futures_util::StreamExt;
use plantd_storage::{admin, Backend};
use tracing::Instrument;

use super::local_time::{duration, exact};
use super::numbers::format_bytes;
use super::session;
use crate::edge::render;
use crate::state::AppState;

const ADMINS_ONLY: &str = "only admins see the settings";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings", web::get().to(page))
        .route("/settings/backup", web::get().to(backup));
}

pub struct ConfigLine {
    pub key: &'static str,
    pub value: String,
    pub origin: &'static str,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    username: String,
    role: String,
    csrf_token: String,
    version: &'static str,
    uptime: String,
    now: String,
    time_zone: String,
    backend: &'static str,
    database_size: String,
    sqlite: bool,
    retention: Vec<ConfigLine>,
    listeners: Vec<(&'static str, String)>,
    config: Vec<ConfigLine>,
}

pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let current = match session::admin(&req, &state, ADMINS_ONLY).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let about = &state.about;
    let database_size = match state.db.run(admin::database_size).await {
        Ok(n) => format_bytes(n),
        Err(e) => {
            tracing::warn!(error = %e, "cannot measure the database");
            "unknown".to_owned()
        }
    };
    let line = |(key, value, origin): &(&'static str, String, &'static str)| ConfigLine {
        key,
        value: if value.is_empty() {
            "(unset)".to_owned()
        } else {
            value.clone()
        },
        origin,
    };
    let backend = state.db.backend();
    render(&SettingsPage {
        username: current.username,
        role: current.role.as_str().to_owned(),
        csrf_token: current.csrf_token,
        version: about.version,
        uptime: duration(state.started_at.elapsed().as_secs()),
        now: exact(Utc::now()),
        time_zone: about.time_zone.clone(),
        backend: backend.as_str(),
        database_size,
        sqlite: backend == Backend::Sqlite,
        retention: about
            .settings
            .iter()
            .filter(|(key, _, _)| key.contains("retention"))
            .map(line)
            .collect(),
        listeners: about.listeners.clone(),
        config: about.settings.iter().map(line).collect(),
    })
}

/// One backup at a time: a second answers 409 while the first is made or streamed.
static BACKUP_RUNNING: AtomicBool = AtomicBool::new(false);

/// Frees the backup slot when the download ends, however it ends.
struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        BACKUP_RUNNING.store(false, Ordering::SeqCst);
    }
}

/// `PLANTD_TEST_HOLD_BACKUP` (a file path; tests only, not a setting): the backup waits,
/// holding its slot, while that file exists (at most a minute).
async fn test_hold() {
    let Some(path) = std::env::var_os("PLANTD_TEST_HOLD_BACKUP") else {
        return;
    };
    let path = std::path::PathBuf::from(path);
    for _ in 0..1200 {
        if !path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn plain(status: actix_web::http::StatusCode, text: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(text.to_owned())
}

/// A snapshot of the database, open and already unlinked: the open file streams, and
/// nothing is left behind however the download ends.
async fn snapshot(state: &AppState) -> Result<std::fs::File, String> {
    test_hold().await;
    let target = state
        .about
        .data_dir
        .join(format!(".backup-{}.db", plantd_secrets::random_hex(8)));
    let made = {
        let target = target.clone();
        state
            .db
            .run(move |conn| admin::sqlite_snapshot(conn, &target))
            .await
    };
    let opened = made
        .map_err(|e| e.to_string())
        .and_then(|()| std::fs::File::open(&target).map_err(|e| e.to_string()));
    let _ = std::fs::remove_file(&target);
    opened
}

pub async fn backup(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    use actix_web::http::StatusCode;
    if let Err(refusal) = session::admin(&req, &state, ADMINS_ONLY).await {
        return refusal;
    }
    if state.db.backend() != Backend::Sqlite {
        metrics::counter!("plantd_backups_total", "outcome" => "postgres").increment(1);
        return plain(
            StatusCode::NOT_IMPLEMENTED,
            "plantd on PostgreSQL is backed up with pg_dump (see Settings)",
        );
    }
    if BACKUP_RUNNING
        .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        metrics::counter!("plantd_backups_total", "outcome" => "busy").increment(1);
        return plain(
            StatusCode::CONFLICT,
            "a backup is being made; try again when it is done",
        );
    }
    let running = Running;
    let file = match snapshot(&state)
        .instrument(tracing::info_span!("backup"))
        .await
    {
        Ok(file) => file,
        Err(e) => {
            tracing::error!(error = %e, "backup failed");
            metrics::counter!("plantd_backups_total", "outcome" => "failed").increment(1);
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the backup failed; see the log",
            );
        }
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    metrics::counter!("plantd_backups_total", "outcome" => "made").increment(1);
    metrics::gauge!("plantd_backup_last_bytes").set(size as f64);
    tracing::info!(bytes = size, "backup made");
    let stream =
        tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file)).map(move |chunk| {
            let _slot = &running;
            chunk
        });
    let name = format!("plantd-{}.db", Utc::now().format("%Y%m%d-%H%M%S"));
    HttpResponse::Ok()
        .content_type("application/vnd.sqlite3")
        .insert_header((header::CONTENT_LENGTH, size))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(stream)
}
