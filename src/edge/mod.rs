//! What the REST API (`http/`) and the web UI (`web/`) both use, so neither imports the
//! other: the problem type, rendering a template, ranking engineers for a job, moving firmware image bytes, checking
//! a device's asset, revoking a token, the session cookie's name. It may use `state.rs` and the contracts, never `http/`, `web/`
//! or `routes.rs`.

pub mod assignees;
pub mod device_assets;
pub mod firmware_transfer;
pub mod maintenance_report;
mod problem;
mod render;
pub mod tokens;

pub use problem::{ApiResult, Problem};
pub use render::render;

/// The cookie that carries a web session's secret: set by the UI's sign-in, accepted by
/// the API as well (with the session's CSRF token on changes). With `secure_cookies` it is
/// `__Host-plantd_session`: a browser keeps a `__Host-` cookie only when it is `Secure`,
/// has `Path=/` and no `Domain`, so neither plain HTTP nor a sibling host can plant or
/// overwrite it.
pub fn session_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-plantd_session"
    } else {
        "plantd_session"
    }
}
