//! Settings → Users (admins only): every user with their role, skills and state, and the
//! forms to create one, change role and skills, disable or enable, reset a password and
//! delete. Every form carries the session's CSRF token; anyone but an admin is refused
//! (403), forged posts included. Talks to identity only by message.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{DateTime, Utc};
use plantd_contracts::identity::{
    BrowseUsers, CreateUser, DeleteUser, GetPasswordRules, Role, SessionView, UpdateUser,
    UserDetails, UserSort,
};
use plantd_contracts::window::SortDir;
use plantd_contracts::DomainError;
use plantd_identity::Identity;
use serde::Deserialize;

use super::session::{self, redirect};
use super::table::{Table, TableQuery};
use crate::edge::{render, Problem};
use crate::state::AppState;

const ADMINS_ONLY: &str = "only admins manage users";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings/users", web::get().to(page))
        .route("/settings/users", web::post().to(create))
        .route("/settings/users/{name}", web::post().to(update))
        .route("/settings/users/{name}/disable", web::post().to(disable))
        .route("/settings/users/{name}/enable", web::post().to(enable))
        .route(
            "/settings/users/{name}/password",
            web::post().to(reset_password),
        )
        .route("/settings/users/{name}/delete", web::post().to(delete));
}

/// A time as the pages show it, to the second, in the plant time zone.
pub fn when(t: DateTime<Utc>) -> String {
    super::local_time::exact(t)
}

/// Skills typed into a form: separated by spaces or commas.
pub fn skills_from_form(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub struct UserLine {
    pub username: String,
    pub role: &'static str,
    pub disabled: bool,
    pub skills: String,
    pub created_at: String,
    pub last_sign_in: String,
    pub is_self: bool,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    username: String,
    role: String,
    csrf_token: String,
    error: Option<String>,
    users: Vec<UserLine>,
    roles: [&'static str; 3],
    min_length: usize,
    /// Sort, search and paging (`templates/partials/pager.html`).
    table: Table,
    filter_role: String,
}

/// The columns the user table sorts by.
const SORT_KEYS: [&str; 3] = ["username", "role", "last_sign_in"];

#[derive(Deserialize, Default)]
pub struct UsersQuery {
    #[serde(default)]
    role: String,
    #[serde(flatten)]
    table: TableQuery,
}

fn line(u: UserDetails, me: &str) -> UserLine {
    UserLine {
        is_self: u.username == me,
        role: u.role.as_str(),
        disabled: u.disabled,
        skills: u.skills.join(" "),
        created_at: when(u.created_at),
        last_sign_in: u
            .last_sign_in_at
            .map(when)
            .unwrap_or_else(|| "never".to_owned()),
        username: u.username,
    }
}

async fn render_list(
    state: &AppState,
    current: SessionView,
    error: Option<(StatusCode, String)>,
) -> HttpResponse {
    render_table(state, current, error, UsersQuery::default()).await
}

/// The list for a query (role filter, search, sort, page).
async fn render_table(
    state: &AppState,
    current: SessionView,
    error: Option<(StatusCode, String)>,
    query: UsersQuery,
) -> HttpResponse {
    let table = Table::new(
        "/settings/users",
        &query.table,
        &SORT_KEYS,
        ("username", SortDir::Asc),
        state.ui_page_size,
    )
    .keep("role", &query.role);
    let browse = BrowseUsers {
        role: Role::parse(&query.role),
        q: table.search(),
        sort: UserSort::parse(table.sort).unwrap_or_default(),
        dir: table.dir,
        window: table.window(),
    };
    let (users, rules) = match (
        state.identity.send(browse).await,
        state.identity.send(GetPasswordRules).await,
    ) {
        (Ok(Ok(users)), Ok(rules)) => (users, rules),
        _ => return HttpResponse::ServiceUnavailable().body("plantd is not ready; try again"),
    };
    let status = error.as_ref().map(|(s, _)| *s);
    let mut response = render(&UsersPage {
        users: users
            .items
            .into_iter()
            .map(|u| line(u, &current.username))
            .collect(),
        username: current.username,
        role: current.role.as_str().to_owned(),
        csrf_token: current.csrf_token,
        error: error.map(|(_, m)| m),
        roles: Role::ALL.map(Role::as_str),
        min_length: rules.min_length,
        table: table.counted(users.total),
        filter_role: query.role,
    });
    if let Some(status) = status {
        *response.status_mut() = status;
    }
    response
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<UsersQuery>,
) -> HttpResponse {
    match session::admin(&req, &state, ADMINS_ONLY).await {
        Ok(current) => render_table(&state, current, None, query.into_inner()).await,
        Err(refusal) => refusal,
    }
}

/// The list again after a form: its outcome, or the problem shown above the list.
async fn after<T>(
    state: &AppState,
    current: SessionView,
    sent: Result<Result<T, DomainError>, actix::MailboxError>,
) -> HttpResponse {
    match sent
        .map_err(Problem::from)
        .and_then(|r| r.map_err(Problem::from))
    {
        Ok(_) => redirect("/settings/users"),
        Err(p) => render_list(state, current, Some((p.status, p.detail))).await,
    }
}

/// A role named in a form.
fn role(name: &str) -> Result<Role, DomainError> {
    Role::parse(name).ok_or_else(|| DomainError::invalid("role", "use admin, engineer or viewer"))
}

/// Submits an admin's form: checks the session, its CSRF token and the admin role, sends
/// `msg` to identity (or shows why it could not be made), then the list again.
async fn submit<M, T>(
    req: &HttpRequest,
    state: &AppState,
    csrf_token: &str,
    msg: Result<M, DomainError>,
) -> HttpResponse
where
    M: actix::Message<Result = Result<T, DomainError>> + Send + 'static,
    T: Send + 'static,
    Identity: actix::Handler<M>,
{
    let current = match session::admin_form(req, state, csrf_token, ADMINS_ONLY).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let sent = match msg {
        Ok(msg) => state.identity.send(msg).await,
        Err(e) => Ok(Err(e)),
    };
    after(state, current, sent).await
}

#[derive(Deserialize)]
pub struct NewUserForm {
    csrf_token: String,
    username: String,
    password: String,
    role: String,
    #[serde(default)]
    skills: String,
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<NewUserForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let msg = role(&form.role).map(|role| CreateUser {
        username: form.username,
        password: form.password,
        role,
        skills: skills_from_form(&form.skills),
    });
    submit(&req, &state, &form.csrf_token, msg).await
}

#[derive(Deserialize)]
pub struct UserForm {
    csrf_token: String,
    role: String,
    #[serde(default)]
    skills: String,
}

pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: web::Form<UserForm>,
) -> HttpResponse {
    let msg = role(&form.role).map(|role| UpdateUser {
        username: name.into_inner(),
        role: Some(role),
        skills: Some(skills_from_form(&form.skills)),
        ..UpdateUser::default()
    });
    submit(&req, &state, &form.csrf_token, msg).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    csrf_token: String,
}

fn set_disabled(username: String, disabled: bool) -> Result<UpdateUser, DomainError> {
    Ok(UpdateUser {
        username,
        disabled: Some(disabled),
        ..UpdateUser::default()
    })
}

pub async fn disable(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: web::Form<TokenForm>,
) -> HttpResponse {
    let msg = set_disabled(name.into_inner(), true);
    submit(&req, &state, &form.csrf_token, msg).await
}

pub async fn enable(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: web::Form<TokenForm>,
) -> HttpResponse {
    let msg = set_disabled(name.into_inner(), false);
    submit(&req, &state, &form.csrf_token, msg).await
}

#[derive(Deserialize)]
pub struct ResetForm {
    csrf_token: String,
    password: String,
}

pub async fn reset_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: web::Form<ResetForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let msg = Ok(UpdateUser {
        username: name.into_inner(),
        password: Some(form.password),
        ..UpdateUser::default()
    });
    submit(&req, &state, &form.csrf_token, msg).await
}

pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: web::Form<TokenForm>,
) -> HttpResponse {
    let msg = Ok(DeleteUser {
        username: name.into_inner(),
    });
    submit(&req, &state, &form.csrf_token, msg).await
}
