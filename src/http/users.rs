//! `/api/v1/users`: people (admin scope), and `/users/me/…` for whoever is signed in
//! (their own password, signing out everywhere). Translates HTTP to identity messages.

use actix_web::{web, HttpResponse};
use plantd_contracts::identity::{
    ChangeOwnPassword, CreateUser, DeleteUser, EndUserSessions, GetUser, ListUsers, Role, Scope,
    UpdateUser, UserDetails,
};
use plantd_contracts::DomainError;
use serde::Deserialize;

use super::{ApiResult, AppState, Caller, Page, Problem};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/users", web::post().to(create))
        .route("/users", web::get().to(list))
        .route("/users/me", web::get().to(me))
        .route("/users/me/password", web::post().to(change_password))
        .route("/users/me/sessions/revoke", web::post().to(revoke_sessions))
        .route("/users/{name}", web::get().to(get))
        .route("/users/{name}", web::patch().to(patch))
        .route("/users/{name}", web::delete().to(delete));
}

/// A role named in a request: `admin`, `engineer` or `viewer`.
fn role(name: &str) -> Result<Role, Problem> {
    Role::parse(name).ok_or_else(|| {
        DomainError::invalid(
            "role",
            format!("unknown role '{name}'; use admin, engineer or viewer"),
        )
        .into()
    })
}

/// The person behind the call; an API token belongs to nobody.
fn own_name(caller: &Caller) -> Result<&str, Problem> {
    caller.principal.name.strip_prefix("user:").ok_or_else(|| {
        Problem::forbidden("an API token belongs to no user: sign in as the person instead")
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// 1-64 of a-z, 0-9, `.`, `_`, `-`.
    #[schema(example = "erin")]
    username: String,
    /// At least `password_min_length` characters, not a common password.
    password: String,
    /// `admin`, `engineer` or `viewer`.
    #[schema(example = "engineer")]
    role: String,
    /// Short tags, e.g. `["mechanical", "vibration"]`.
    #[serde(default)]
    skills: Vec<String>,
}

/// Create a user.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUser,
    responses((status = 201, body = UserDetails), (status = 409, description = "the name is taken"),
        (status = 422, description = "a field breaks a rule (e.g. a short or common password)")),
    security(("bearer" = [])))]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<NewUser>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Admin)?;
    let body = body.into_inner();
    let user = state
        .identity
        .send(CreateUser {
            role: role(&body.role)?,
            username: body.username,
            password: body.password,
            skills: body.skills,
        })
        .await??;
    tracing::info!(by = %caller.principal.name, user = %user.username, "user created");
    Ok(HttpResponse::Created().json(user))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// Only users of this role.
    role: Option<String>,
    /// Only users with this skill.
    skill: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// List users by name, filtered by role and skill.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(UserFilter),
    responses((status = 200, description = "`{items: [UserDetails], next_cursor}`")),
    security(("bearer" = [])))]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<UserFilter>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Admin)?;
    let query = query.into_inner();
    let users = state
        .identity
        .send(ListUsers {
            role: query.role.as_deref().map(role).transpose()?,
            skill: query.skill.filter(|s| !s.trim().is_empty()),
        })
        .await??;
    let page = Page {
        limit: query.limit,
        cursor: query.cursor,
    };
    Ok(HttpResponse::Ok().json(page.apply(users, |u| u.username.as_str())?))
}

async fn details(state: &AppState, username: String) -> ApiResult<UserDetails> {
    Ok(state.identity.send(GetUser { username }).await??)
}

/// One user.
#[utoipa::path(get, path = "/api/v1/users/{name}", tag = "users", params(("name" = String, Path)),
    responses((status = 200, body = UserDetails), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Admin)?;
    Ok(HttpResponse::Ok().json(details(&state, name.into_inner()).await?))
}

/// The signed-in person.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users",
    responses((status = 200, body = UserDetails), (status = 403, description = "an API token")),
    security(("bearer" = [])))]
pub async fn me(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let name = own_name(&caller)?.to_owned();
    Ok(HttpResponse::Ok().json(details(&state, name).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// `admin`, `engineer` or `viewer`; the last enabled admin keeps `admin` (409).
    role: Option<String>,
    /// `true` signs the user out at once and keeps them out; never the last enabled admin.
    disabled: Option<bool>,
    /// Replaces the skills.
    skills: Option<Vec<String>>,
    /// A password reset: the user's sessions end.
    password: Option<String>,
}

/// Change a user's role, disabled flag or skills, or reset their password.
#[utoipa::path(patch, path = "/api/v1/users/{name}", tag = "users", params(("name" = String, Path)),
    request_body = UserPatch,
    responses((status = 200, body = UserDetails), (status = 404),
        (status = 409, description = "it would leave no enabled admin"), (status = 422)),
    security(("bearer" = [])))]
pub async fn patch(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
    body: web::Json<UserPatch>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Admin)?;
    let body = body.into_inner();
    let user = state
        .identity
        .send(UpdateUser {
            username: name.into_inner(),
            role: body.role.as_deref().map(role).transpose()?,
            disabled: body.disabled,
            skills: body.skills,
            password: body.password,
        })
        .await??;
    tracing::info!(by = %caller.principal.name, user = %user.username, "user changed");
    Ok(HttpResponse::Ok().json(user))
}

/// Delete a user; their sessions end.
#[utoipa::path(delete, path = "/api/v1/users/{name}", tag = "users", params(("name" = String, Path)),
    responses((status = 204), (status = 404), (status = 409, description = "the last enabled admin")),
    security(("bearer" = [])))]
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Admin)?;
    let username = name.into_inner();
    state
        .identity
        .send(DeleteUser {
            username: username.clone(),
        })
        .await??;
    tracing::info!(by = %caller.principal.name, user = %username, "user deleted");
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current: String,
    /// At least `password_min_length` characters, not a common password, not the name.
    new: String,
}

/// Change your own password (needs the current one; wrong guesses back off as sign-in's).
#[utoipa::path(post, path = "/api/v1/users/me/password", tag = "users", request_body = PasswordChange,
    responses((status = 204), (status = 403, description = "an API token"),
        (status = 422, description = "`current` is wrong or `new` breaks a rule")),
    security(("bearer" = [])))]
pub async fn change_password(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<PasswordChange>,
) -> ApiResult<HttpResponse> {
    let username = own_name(&caller)?.to_owned();
    let body = body.into_inner();
    state
        .identity
        .send(ChangeOwnPassword {
            username,
            current: body.current,
            new: body.new,
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Sign out everywhere: every web session of the caller ends, this one too.
#[utoipa::path(post, path = "/api/v1/users/me/sessions/revoke", tag = "users",
    responses((status = 200, description = "`{sessions_ended}`"), (status = 403, description = "an API token")),
    security(("bearer" = [])))]
pub async fn revoke_sessions(
    caller: Caller,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let username = own_name(&caller)?.to_owned();
    let ended = state.identity.send(EndUserSessions { username }).await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "sessions_ended": ended })))
}
