//! The dashboard's live figures: `GET /dashboard/live`, a `text/event-stream` of
//! `figures` events. ONE hub per process computes the figures every
//! `dashboard_refresh_ms` while at least one page listens (none when nobody does) and fans
//! the same event out to every stream; a new stream gets the latest figures at once.
//! Beyond `dashboard_live_max_clients` streams the answer is 503 (the page is complete
//! without the stream). A stream ends when its session ends (checked every
//! `SESSION_RECHECK`) or at shutdown. It may use `state.rs`, `config`, the dashboard's
//! figures and the session; built once by `app.rs`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use plantd_contracts::identity::ResolveSession;
use tokio::sync::broadcast;

use super::dashboard::gather;
use super::session;
use crate::config::DashboardSettings;
use crate::state::AppState;

/// A quiet stream sends a comment this often, so proxies and the browser keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often a stream checks that its session still holds.
const SESSION_RECHECK: Duration = Duration::from_secs(10);

/// The one source of live figures, shared by every stream of the process.
pub struct LiveHub {
    settings: DashboardSettings,
    sender: broadcast::Sender<Arc<str>>,
    /// The latest event sent, for a stream that opens between two computations (a task
    /// started for it sends fresh figures at once).
    latest: Mutex<Option<Arc<str>>>,
    clients: AtomicUsize,
    /// The computing task runs (it stops by itself when the last stream closes).
    running: AtomicBool,
    stopping: AtomicBool,
}

impl LiveHub {
    pub fn new(settings: DashboardSettings) -> Arc<LiveHub> {
        let (sender, _) = broadcast::channel(4);
        Arc::new(LiveHub {
            settings,
            sender,
            latest: Mutex::new(None),
            clients: AtomicUsize::new(0),
            running: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
        })
    }

    /// At shutdown: the streams end at once, so they do not hold up the server's stop.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Dropping no sender: the streams see `stopping` on their next wake-up.
        let _ = self.sender.send(Arc::from(""));
    }

    /// A place for one more stream, or `None` when all are taken.
    fn join(self: &Arc<LiveHub>, state: &AppState) -> Option<Listener> {
        let taken = self
            .clients
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.settings.max_clients).then_some(n + 1)
            })
            .is_ok();
        if !taken {
            return None;
        }
        metrics::gauge!("plantd_dashboard_live_clients").increment(1.0);
        let receiver = self.sender.subscribe();
        if !self.running.swap(true, Ordering::SeqCst) {
            actix_web::rt::spawn(compute(self.clone(), state.clone()));
        }
        Some(Listener {
            hub: self.clone(),
            receiver,
        })
    }

    fn latest(&self) -> Option<Arc<str>> {
        self.latest.lock().ok().and_then(|l| l.clone())
    }
}

/// One stream's place at the hub; dropping it (the browser went away) frees the place.
struct Listener {
    hub: Arc<LiveHub>,
    receiver: broadcast::Receiver<Arc<str>>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.hub.clients.fetch_sub(1, Ordering::SeqCst);
        metrics::gauge!("plantd_dashboard_live_clients").decrement(1.0);
    }
}

/// The hub's task: figures every `refresh` while anyone listens; sent when they changed.
async fn compute(hub: Arc<LiveHub>, state: AppState) {
    tracing::debug!("live dashboard: computing");
    let mut last: Option<Arc<str>> = None;
    loop {
        if hub.stopping.load(Ordering::SeqCst) {
            break;
        }
        let figures = gather(&state).await;
        metrics::counter!("plantd_dashboard_live_computations_total").increment(1);
        match serde_json::to_string(&figures) {
            Ok(json) => {
                let event: Arc<str> = Arc::from(format!("event: figures\ndata: {json}\n\n"));
                if last.as_deref() != Some(&*event) {
                    if let Ok(mut latest) = hub.latest.lock() {
                        *latest = Some(event.clone());
                    }
                    let _ = hub.sender.send(event.clone());
                    last = Some(event);
                }
            }
            Err(e) => tracing::warn!(error = %e, "live dashboard: figures do not serialise"),
        }
        tokio::time::sleep(hub.settings.refresh).await;
        // Stop when nobody listens; a stream that joins meanwhile starts a new task.
        if hub.clients.load(Ordering::SeqCst) == 0 {
            hub.running.store(false, Ordering::SeqCst);
            if hub.clients.load(Ordering::SeqCst) == 0 || hub.running.swap(true, Ordering::SeqCst) {
                break;
            }
        }
    }
    tracing::debug!("live dashboard: nobody listens, computing stopped");
}

/// `GET /dashboard/live`: a signed-in person of any role.
pub async fn stream(
    req: HttpRequest,
    state: web::Data<AppState>,
    hub: web::Data<LiveHub>,
) -> HttpResponse {
    let Some((secret, _)) = session::current(&req, &state).await else {
        return HttpResponse::Unauthorized()
            .content_type("text/plain; charset=utf-8")
            .body("sign in to watch the dashboard");
    };
    let hub = hub.into_inner();
    let Some(listener) = hub.join(&state) else {
        metrics::counter!("plantd_dashboard_live_refused_total").increment(1);
        tracing::info!(
            max = hub.settings.max_clients,
            "live dashboard stream refused: all places taken"
        );
        return HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, "30"))
            .content_type("text/plain; charset=utf-8")
            .body("too many live dashboards are open; the page still shows the figures as loaded");
    };
    let state = state.into_inner();
    let first = match hub.latest() {
        Some(event) => format!("retry: 5000\n{event}"),
        None => "retry: 5000\n: waiting for the figures\n\n".to_owned(),
    };
    let stream = futures_util::stream::unfold(
        (Some(first), listener, tokio::time::Instant::now()),
        move |(first, mut listener, mut checked_at)| {
            let state = state.clone();
            let secret = secret.clone();
            async move {
                if let Some(first) = first {
                    return Some((
                        Ok::<_, actix_web::Error>(web::Bytes::from(first)),
                        (None, listener, checked_at),
                    ));
                }
                let next = tokio::time::timeout(KEEP_ALIVE, listener.receiver.recv()).await;
                if listener.hub.stopping.load(Ordering::SeqCst) {
                    return None;
                }
                if checked_at.elapsed() >= SESSION_RECHECK {
                    let alive = state
                        .identity
                        .send(ResolveSession {
                            secret: secret.clone(),
                        })
                        .await
                        .ok()
                        .flatten()
                        .is_some();
                    if !alive {
                        tracing::info!("live dashboard stream ended: its session ended");
                        return None;
                    }
                    checked_at = tokio::time::Instant::now();
                }
                let bytes = match next {
                    Ok(Ok(event)) => web::Bytes::from(event.as_bytes().to_vec()),
                    // Fell behind: the next event has every figure anyway.
                    Ok(Err(broadcast::error::RecvError::Lagged(_))) | Err(_) => {
                        web::Bytes::from_static(b": keep-alive\n\n")
                    }
                    Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                };
                Some((Ok(bytes), (None, listener, checked_at)))
            }
        },
    );
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream)
}
