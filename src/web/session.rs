//! Cookies of the UI: the session cookie and the sign-in form's CSRF cookie.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;
use plantd_contracts::identity::{ResolveSession, SessionView};

use crate::http::{AppState, SESSION_COOKIE};

pub const LOGIN_CSRF_COOKIE: &str = "plantd_login_csrf";

pub fn cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish()
}

pub fn removal(name: &'static str) -> Cookie<'static> {
    let mut c = Cookie::build(name, "").path("/").finish();
    c.make_removal();
    c
}

/// The signed-in person, if the session cookie names a live session.
pub async fn current(req: &HttpRequest, state: &AppState) -> Option<(String, SessionView)> {
    let secret = req.cookie(SESSION_COOKIE)?.value().to_owned();
    let session = state
        .identity
        .send(ResolveSession {
            secret: secret.clone(),
        })
        .await
        .ok()
        .flatten()?;
    Some((secret, session))
}
