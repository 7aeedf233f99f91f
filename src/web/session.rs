//! Cookies of the UI (the session cookie and the sign-in form's CSRF cookie) and the gate
//! every changing form passes: a live session, its CSRF token, a role that may change (or,
//! for the few forms viewers use, any role; for the admin pages, an admin).

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use plantd_contracts::identity::{ResolveSession, Scope, SessionView};

use crate::edge::session_cookie;
use crate::state::AppState;

/// The sign-in form's CSRF cookie (`__Host-` with `secure_cookies`, as the session's).
pub fn login_csrf_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-plantd_login_csrf"
    } else {
        "plantd_login_csrf"
    }
}

/// A cookie of the UI: whole site (`Path=/`, no `Domain`, as `__Host-` needs), HttpOnly,
/// SameSite=Lax, `Secure` with `secure_cookies`.
pub fn cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish()
}

/// Removes a cookie set by [`cookie`] (a browser drops a `__Host-` cookie only with the
/// same attributes).
pub fn removal(name: &'static str, secure: bool) -> Cookie<'static> {
    let mut c = Cookie::build(name, "").path("/").secure(secure).finish();
    c.make_removal();
    c
}

/// The signed-in person, if the session cookie names a live session.
pub async fn current(req: &HttpRequest, state: &AppState) -> Option<(String, SessionView)> {
    let secret = req
        .cookie(session_cookie(state.secure_cookies))?
        .value()
        .to_owned();
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

/// A 303 to `to` (after a form, or to the sign-in page).
pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// Roles with the `write` scope (admins, engineers) change things; viewers read.
pub fn can_change(session: &SessionView) -> bool {
    session.role.scopes().contains(&Scope::Write)
}

/// 403 with a plain-text reason, counted.
pub fn forbidden(message: &str) -> HttpResponse {
    metrics::counter!("plantd_http_forbidden_total").increment(1);
    HttpResponse::Forbidden()
        .content_type("text/plain; charset=utf-8")
        .body(message.to_owned())
}

/// The signed-in person who may submit a changing form, or the response refusing them:
/// no live session → to sign in; a CSRF token other than the session's → 403; a viewer →
/// 403 with `viewer_refusal`.
pub async fn changer(
    req: &HttpRequest,
    state: &AppState,
    csrf_token: &str,
    viewer_refusal: &str,
) -> Result<SessionView, HttpResponse> {
    let current = poster(req, state, csrf_token).await?;
    if !can_change(&current) {
        return Err(forbidden(viewer_refusal));
    }
    Ok(current)
}

/// The signed-in person of any role who submits a form viewers may use too (a work
/// request): a live session and its CSRF token, else the same refusals as [`changer`].
pub async fn poster(
    req: &HttpRequest,
    state: &AppState,
    csrf_token: &str,
) -> Result<SessionView, HttpResponse> {
    let Some((_, current)) = current(req, state).await else {
        return Err(redirect("/login"));
    };
    if !plantd_secrets::same_secret(csrf_token, &current.csrf_token) {
        return Err(forbidden("the form expired; reload the page and try again"));
    }
    Ok(current)
}

/// Admins only (the `admin` scope).
pub fn is_admin(session: &SessionView) -> bool {
    session.role.scopes().contains(&Scope::Admin)
}

/// The signed-in admin, or the response for anyone else (403 with `refusal`).
pub async fn admin(
    req: &HttpRequest,
    state: &AppState,
    refusal: &str,
) -> Result<SessionView, HttpResponse> {
    let Some((_, current)) = current(req, state).await else {
        return Err(redirect("/login"));
    };
    if !is_admin(&current) {
        return Err(forbidden(refusal));
    }
    Ok(current)
}

/// The admin who submitted a form with the session's CSRF token, or the refusal.
pub async fn admin_form(
    req: &HttpRequest,
    state: &AppState,
    csrf_token: &str,
    refusal: &str,
) -> Result<SessionView, HttpResponse> {
    let current = changer(req, state, csrf_token, refusal).await?;
    if !is_admin(&current) {
        return Err(forbidden(refusal));
    }
    Ok(current)
}
