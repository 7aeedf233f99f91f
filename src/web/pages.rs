//! Page handlers: sign-in, sign-out, static files (the dashboard is `dashboard.rs`).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use plantd_contracts::identity::{EndSession, PasswordCheck, StartSession, VerifyPassword};
use serde::Deserialize;

use super::session::{self, login_csrf_cookie};
use super::views::LoginPage;
use crate::edge::{render, session_cookie};
use crate::state::AppState;

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

pub async fn login_form(state: web::Data<AppState>) -> HttpResponse {
    let csrf_token = plantd_secrets::random_hex(32);
    let mut response = render(&LoginPage {
        csrf_token: csrf_token.clone(),
        error: None,
    });
    let _ = response.add_cookie(&session::cookie(
        login_csrf_cookie(state.secure_cookies),
        csrf_token,
        state.secure_cookies,
    ));
    response
}

/// When a sign-in refused for a full hashing queue may try again.
const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// The sign-in page again, with why the attempt was refused (and when to retry).
fn login_refused(
    csrf_token: String,
    status: StatusCode,
    message: String,
    retry_after_secs: Option<u64>,
) -> HttpResponse {
    let mut page = render(&LoginPage {
        csrf_token,
        error: Some(message),
    });
    *page.status_mut() = status;
    if let Some(secs) = retry_after_secs {
        if let Ok(value) = header::HeaderValue::from_str(&secs.to_string()) {
            page.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    page
}

/// "1 second", "15 minutes": a wait as a person reads it.
fn seconds(secs: u64) -> String {
    match secs {
        1 => "1 second".to_owned(),
        s if s < 120 => format!("{s} seconds"),
        s => format!("{} minutes", s.div_ceil(60)),
    }
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf_token: String,
}

pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let expected = req
        .cookie(login_csrf_cookie(state.secure_cookies))
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if !plantd_secrets::same_secret(&form.csrf_token, &expected) {
        return HttpResponse::Forbidden()
            .body("the sign-in form expired; reload the page and try again");
    }
    let verified = state
        .identity
        .send(VerifyPassword {
            username: form.username.clone(),
            password: form.password.clone(),
            // The peer, not a forwarded header: a client must not choose its own address.
            address: req
                .peer_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default(),
        })
        .await;
    let user = match verified {
        Ok(Ok(PasswordCheck::Verified(user))) => user,
        Ok(Ok(PasswordCheck::Wrong)) => {
            metrics::counter!("plantd_http_auth_failures_total").increment(1);
            // Not the user name: a password typed into that field must not reach the log.
            tracing::warn!("UI sign-in refused: wrong user name or password");
            return login_refused(
                expected,
                StatusCode::UNAUTHORIZED,
                "Wrong user name or password.".to_owned(),
                None,
            );
        }
        Ok(Ok(PasswordCheck::BackingOff { retry_after_secs })) => {
            metrics::counter!("plantd_login_refused_total", "reason" => "backoff").increment(1);
            tracing::warn!(
                retry_after_secs,
                "UI sign-in refused unchecked: too many failed attempts"
            );
            return login_refused(
                expected,
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many failed sign-in attempts. Wait {} and try again.",
                    seconds(retry_after_secs)
                ),
                Some(retry_after_secs),
            );
        }
        Ok(Ok(PasswordCheck::Busy)) => {
            metrics::counter!("plantd_login_refused_total", "reason" => "busy").increment(1);
            tracing::warn!("UI sign-in refused unchecked: the password-check queue is full");
            return login_refused(
                expected,
                StatusCode::TOO_MANY_REQUESTS,
                "plantd is busy checking other sign-ins. Try again in a moment.".to_owned(),
                Some(BUSY_RETRY_AFTER_SECS),
            );
        }
        _ => return HttpResponse::ServiceUnavailable().body("sign-in is not available right now"),
    };
    match state
        .identity
        .send(StartSession {
            username: user.username.clone(),
        })
        .await
    {
        Ok(Ok(issued)) => {
            tracing::info!(username = %user.username, "UI sign-in");
            let mut response = redirect("/");
            let _ = response.add_cookie(&session::cookie(
                session_cookie(state.secure_cookies),
                issued.secret,
                state.secure_cookies,
            ));
            let _ = response.add_removal_cookie(&session::removal(
                login_csrf_cookie(state.secure_cookies),
                state.secure_cookies,
            ));
            response
        }
        _ => HttpResponse::ServiceUnavailable().body("sign-in is not available right now"),
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    csrf_token: String,
}

pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LogoutForm>,
) -> HttpResponse {
    if let Some((secret, current)) = session::current(&req, &state).await {
        if !plantd_secrets::same_secret(&form.csrf_token, &current.csrf_token) {
            return HttpResponse::Forbidden()
                .body("the form expired; reload the page and try again");
        }
        state.identity.do_send(EndSession { secret });
    }
    let mut response = redirect("/login");
    let _ = response.add_removal_cookie(&session::removal(
        session_cookie(state.secure_cookies),
        state.secure_cookies,
    ));
    response
}

const CSS: &str = include_str!("../../static/plantd.css");
const TELEMETRY_CSS: &str = include_str!("../../static/telemetry.css");
const TELEMETRY_JS: &str = include_str!("../../static/telemetry.js");
const PLANTD_JS: &str = include_str!("../../static/plantd.js");
const DASHBOARD_JS: &str = include_str!("../../static/dashboard.js");

pub async fn static_file(file: web::Path<String>) -> HttpResponse {
    match file.as_str() {
        "plantd.css" => HttpResponse::Ok()
            .content_type("text/css; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .body(CSS),
        "telemetry.css" => HttpResponse::Ok()
            .content_type("text/css; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .body(TELEMETRY_CSS),
        "telemetry.js" => HttpResponse::Ok()
            .content_type("text/javascript; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .body(TELEMETRY_JS),
        "plantd.js" => HttpResponse::Ok()
            .content_type("text/javascript; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .body(PLANTD_JS),
        "dashboard.js" => HttpResponse::Ok()
            .content_type("text/javascript; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .body(DASHBOARD_JS),
        _ => HttpResponse::NotFound().finish(),
    }
}
