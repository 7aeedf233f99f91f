//! My account (everyone signed in): who I am, my role and skills, changing my own
//! password with the rules spelled out, and signing out of every session. Forms carry the
//! session's CSRF token. Talks to identity only by message.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use plantd_contracts::identity::{
    ChangeOwnPassword, EndUserSessions, GetPasswordRules, GetUser, SessionView,
};
use serde::Deserialize;

use super::session::{self, forbidden, redirect};
use super::users::when;
use crate::edge::{render, session_cookie, Problem};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/account", web::get().to(page))
        .route("/account/password", web::post().to(change_password))
        .route(
            "/account/sessions/revoke",
            web::post().to(sign_out_everywhere),
        );
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    username: String,
    role: String,
    csrf_token: String,
    skills: String,
    last_sign_in: String,
    min_length: usize,
    max_length: usize,
    error: Option<String>,
    notice: Option<String>,
}

async fn render_page(
    state: &AppState,
    current: SessionView,
    outcome: Result<Option<String>, (StatusCode, String)>,
) -> HttpResponse {
    let (user, rules) = match (
        state
            .identity
            .send(GetUser {
                username: current.username.clone(),
            })
            .await,
        state.identity.send(GetPasswordRules).await,
    ) {
        (Ok(Ok(user)), Ok(rules)) => (user, rules),
        _ => return HttpResponse::ServiceUnavailable().body("plantd is not ready; try again"),
    };
    let (status, error, notice) = match outcome {
        Ok(notice) => (StatusCode::OK, None, notice),
        Err((status, message)) => (status, Some(message), None),
    };
    let mut response = render(&AccountPage {
        username: current.username,
        role: current.role.as_str().to_owned(),
        csrf_token: current.csrf_token,
        skills: user.skills.join(", "),
        last_sign_in: user
            .last_sign_in_at
            .map(when)
            .unwrap_or_else(|| "never".to_owned()),
        min_length: rules.min_length,
        max_length: rules.max_length,
        error,
        notice,
    });
    *response.status_mut() = status;
    response
}

pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match session::current(&req, &state).await {
        Some((_, current)) => render_page(&state, current, Ok(None)).await,
        None => redirect("/login"),
    }
}

/// The person who submitted one of their own forms, with the session's CSRF token.
async fn own_form(
    req: &HttpRequest,
    state: &AppState,
    csrf_token: &str,
) -> Result<SessionView, HttpResponse> {
    let Some((_, current)) = session::current(req, state).await else {
        return Err(redirect("/login"));
    };
    if !plantd_secrets::same_secret(csrf_token, &current.csrf_token) {
        return Err(forbidden("the form expired; reload the page and try again"));
    }
    Ok(current)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf_token: String,
    current: String,
    new: String,
    confirm: String,
}

pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<PasswordForm>,
) -> HttpResponse {
    let current = match own_form(&req, &state, &form.csrf_token).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let form = form.into_inner();
    if form.new != form.confirm {
        let message = "confirm: the two new passwords differ".to_owned();
        return render_page(
            &state,
            current,
            Err((StatusCode::UNPROCESSABLE_ENTITY, message)),
        )
        .await;
    }
    let sent = state
        .identity
        .send(ChangeOwnPassword {
            username: current.username.clone(),
            current: form.current,
            new: form.new,
        })
        .await;
    let outcome = match sent
        .map_err(Problem::from)
        .and_then(|r| r.map_err(Problem::from))
    {
        Ok(()) => Ok(Some("Your password was changed.".to_owned())),
        Err(p) => Err((p.status, p.detail)),
    };
    render_page(&state, current, outcome).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    csrf_token: String,
}

/// Ends every session of the signed-in person, this one too, and goes to sign-in.
pub async fn sign_out_everywhere(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> HttpResponse {
    let current = match own_form(&req, &state, &form.csrf_token).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    match state
        .identity
        .send(EndUserSessions {
            username: current.username,
        })
        .await
    {
        Ok(Ok(_)) => {
            let mut response = redirect("/login");
            let _ = response.add_removal_cookie(&session::removal(
                session_cookie(state.secure_cookies),
                state.secure_cookies,
            ));
            response
        }
        _ => HttpResponse::ServiceUnavailable().body("plantd is not ready; try again"),
    }
}
