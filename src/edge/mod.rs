//! What the REST API (`http/`) and the web UI (`web/`) both use, so neither imports the
//! other: the problem type, rendering a template, moving firmware image bytes, the
//! session cookie's name. It may use `state.rs` and the contracts, never `http/`, `web/`
//! or `routes.rs`.

pub mod firmware_transfer;
mod problem;
mod render;

pub use problem::{ApiResult, Problem};
pub use render::render;

/// The cookie that carries a web session's secret: set by the UI's sign-in, accepted by
/// the API as well (with the session's CSRF token on changes).
pub const SESSION_COOKIE: &str = "plantd_session";
