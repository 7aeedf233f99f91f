//! The identity actor's answers about people: create, list, read, change and delete
//! users, a person's own password, signing out everywhere. Rules first (`policy.rs`),
//! argon2 on the blocking pool behind the same workers as sign-in, then one transaction;
//! every change of a user holds `user_writes`, so the last enabled admin is always kept.

use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use plantd_contracts::identity::*;
use plantd_contracts::time::now_ms;
use plantd_contracts::DomainError;
use plantd_storage::{Db, DbError};
use tokio::sync::Semaphore;

use crate::actor::Identity;
use crate::users::{self, UserRow};
use crate::{passwords, policy, sessions};
use plantd_secrets as secrets;

const LAST_ADMIN: &str =
    "this is the last enabled admin: make another user an admin first, so someone can still manage plantd";

/// Hashes a new password on the blocking pool, waiting for one of the hashing workers.
async fn hash_password(workers: Arc<Semaphore>, password: String) -> Result<String, DomainError> {
    let _permit = workers
        .acquire_owned()
        .await
        .map_err(|_| DomainError::Unavailable("shutting down".to_owned()))?;
    tokio::task::spawn_blocking(move || passwords::hash(&password))
        .await
        .map_err(|e| DomainError::Unavailable(e.to_string()))?
        .map_err(DomainError::Unavailable)
}

/// Checks a password against a stored hash on the blocking pool.
async fn verify_password(
    workers: Arc<Semaphore>,
    password: String,
    stored: String,
) -> Result<bool, DomainError> {
    let _permit = workers
        .acquire_owned()
        .await
        .map_err(|_| DomainError::Unavailable("shutting down".to_owned()))?;
    tokio::task::spawn_blocking(move || passwords::verify(&password, &stored))
        .await
        .map_err(|e| DomainError::Unavailable(e.to_string()))
}

fn details(row: &UserRow) -> Result<UserDetails, DomainError> {
    row.details().ok_or_else(|| {
        DomainError::Unavailable(format!("user {} has an unknown role", row.username))
    })
}

fn not_found(username: &str) -> DbError {
    DbError::Domain(DomainError::NotFound(format!("user {username}")))
}

/// Refuses a change that takes away the last enabled admin.
fn keep_an_admin(conn: &mut plantd_storage::DbConnection, before: &UserRow) -> Result<(), DbError> {
    if before.is_enabled_admin() && users::other_enabled_admins(conn, &before.username)? == 0 {
        return Err(DbError::Domain(DomainError::Conflict(
            LAST_ADMIN.to_owned(),
        )));
    }
    Ok(())
}

/// What a change of a user needs: the database, the hashing workers, the users' lock.
type UserWork = (Db, Arc<Semaphore>, Arc<tokio::sync::Mutex<()>>);

impl Identity {
    fn user_work(&self) -> UserWork {
        (
            self.db.clone(),
            self.password_checks.clone(),
            self.user_writes.clone(),
        )
    }
}

impl Handler<CreateUser> for Identity {
    type Result = ResponseFuture<Result<UserDetails, DomainError>>;

    fn handle(&mut self, msg: CreateUser, _: &mut Context<Self>) -> Self::Result {
        let checked = policy::username(&msg.username).and_then(|name| {
            let skills = policy::skills(&msg.skills)?;
            policy::password(self.password_min_length, &name, &msg.password, "password")?;
            Ok((name, skills))
        });
        let (username, skills) = match checked {
            Ok(checked) => checked,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let (db, workers, writes) = self.user_work();
        Box::pin(async move {
            let hash = hash_password(workers, msg.password).await?;
            let row = UserRow::new(username.clone(), hash, msg.role, &skills, now_ms());
            let stored = row.clone();
            let _writing = writes.lock().await;
            db.run(move |conn| users::insert_user(conn, &stored))
                .await
                .map_err(|e| {
                    if e.is_unique_violation() {
                        DomainError::Conflict(format!("user {username} exists already"))
                    } else {
                        DomainError::from(e)
                    }
                })?;
            tracing::info!(user = %row.username, role = %row.role, "user created");
            details(&row)
        })
    }
}

impl Handler<ListUsers> for Identity {
    type Result = ResponseFuture<Result<Vec<UserDetails>, DomainError>>;

    fn handle(&mut self, msg: ListUsers, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let skill = msg.skill.map(|s| s.trim().to_ascii_lowercase());
            let rows = db.run(users::list_users).await?;
            Ok(rows
                .iter()
                .filter_map(UserRow::details)
                .filter(|u| msg.role.is_none_or(|role| u.role == role))
                .filter(|u| skill.as_ref().is_none_or(|s| u.skills.contains(s)))
                .collect())
        })
    }
}

impl Handler<GetUser> for Identity {
    type Result = ResponseFuture<Result<UserDetails, DomainError>>;

    fn handle(&mut self, msg: GetUser, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let name = msg.username.clone();
            let row = db.run(move |conn| users::find_user(conn, &name)).await?;
            details(&row.ok_or_else(|| DomainError::NotFound(format!("user {}", msg.username)))?)
        })
    }
}

impl Handler<UpdateUser> for Identity {
    type Result = ResponseFuture<Result<UserDetails, DomainError>>;

    fn handle(&mut self, msg: UpdateUser, _: &mut Context<Self>) -> Self::Result {
        let min_length = self.password_min_length;
        let checked = msg
            .skills
            .as_deref()
            .map(policy::skills)
            .transpose()
            .and_then(|skills| {
                if let Some(password) = &msg.password {
                    policy::password(min_length, &msg.username, password, "password")?;
                }
                Ok(skills)
            });
        let skills = match checked {
            Ok(skills) => skills,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let (db, workers, writes) = self.user_work();
        Box::pin(async move {
            let hash = match msg.password {
                Some(password) => Some(hash_password(workers, password).await?),
                None => None,
            };
            let _writing = writes.lock().await;
            let username = msg.username.clone();
            let (row, ended) = db
                .run(move |conn| {
                    conn.transaction(|conn| {
                        let before = users::find_user(conn, &username)?
                            .ok_or_else(|| not_found(&username))?;
                        let mut row = before.clone();
                        if let Some(role) = msg.role {
                            row.role = role.as_str().to_owned();
                        }
                        if let Some(disabled) = msg.disabled {
                            row.disabled = disabled;
                        }
                        if let Some(skills) = &skills {
                            row.skills = policy::encode_skills(skills);
                        }
                        let reset = hash.is_some();
                        if let Some(hash) = hash {
                            row.password_hash = hash;
                        }
                        if !row.is_enabled_admin() {
                            keep_an_admin(conn, &before)?;
                        }
                        row.updated_at = now_ms();
                        users::save_user(conn, &row)?;
                        // Disabled or given a new password by an admin: signed out at once.
                        let ended = if row.disabled || reset {
                            sessions::delete_user_sessions(conn, &row.username)?
                        } else {
                            0
                        };
                        Ok::<_, DbError>((row, ended))
                    })
                })
                .await?;
            tracing::info!(
                user = %row.username,
                role = %row.role,
                disabled = row.disabled,
                sessions_ended = ended,
                "user changed"
            );
            details(&row)
        })
    }
}

impl Handler<DeleteUser> for Identity {
    type Result = ResponseFuture<Result<(), DomainError>>;

    fn handle(&mut self, msg: DeleteUser, _: &mut Context<Self>) -> Self::Result {
        let (db, writes) = (self.db.clone(), self.user_writes.clone());
        Box::pin(async move {
            let _writing = writes.lock().await;
            let username = msg.username.clone();
            let ended = db
                .run(move |conn| {
                    conn.transaction(|conn| {
                        let before = users::find_user(conn, &username)?
                            .ok_or_else(|| not_found(&username))?;
                        keep_an_admin(conn, &before)?;
                        let ended = sessions::delete_user_sessions(conn, &username)?;
                        users::delete_user(conn, &username)?;
                        Ok::<_, DbError>(ended)
                    })
                })
                .await?;
            tracing::info!(user = %msg.username, sessions_ended = ended, "user deleted");
            Ok(())
        })
    }
}

/// What a change of one's own password found, for the actor to count against the account.
enum OwnPassword {
    Changed,
    WrongCurrent,
}

impl Handler<ChangeOwnPassword> for Identity {
    type Result = ResponseActFuture<Self, Result<(), DomainError>>;

    fn handle(&mut self, msg: ChangeOwnPassword, _: &mut Context<Self>) -> Self::Result {
        // The sign-in back-off guards this check too: a borrowed session must not become a
        // way to guess the account's password.
        let account = format!("user:{}", secrets::digest(&msg.username));
        if let Some(wait) = self.throttle.wait(&account, Instant::now()) {
            let message = format!(
                "too many wrong passwords; try again in {} s",
                wait.as_secs().max(1)
            );
            return Box::pin(fut::ready(Err(DomainError::invalid("current", message))));
        }
        if let Err(e) = policy::password(self.password_min_length, &msg.username, &msg.new, "new") {
            return Box::pin(fut::ready(Err(e)));
        }
        let (db, workers, writes) = self.user_work();
        Box::pin(
            change_own_password(db, workers, writes, msg)
                .into_actor(self)
                .map(move |res, act, _| match res? {
                    OwnPassword::Changed => {
                        act.throttle.succeeded(&account);
                        Ok(())
                    }
                    OwnPassword::WrongCurrent => {
                        act.throttle.failed(&account, Instant::now());
                        Err(DomainError::invalid(
                            "current",
                            "the current password is wrong",
                        ))
                    }
                }),
        )
    }
}

async fn change_own_password(
    db: Db,
    workers: Arc<Semaphore>,
    writes: Arc<tokio::sync::Mutex<()>>,
    msg: ChangeOwnPassword,
) -> Result<OwnPassword, DomainError> {
    let name = msg.username.clone();
    let Some(row) = db.run(move |conn| users::find_user(conn, &name)).await? else {
        return Err(DomainError::NotFound(format!("user {}", msg.username)));
    };
    if !verify_password(workers.clone(), msg.current, row.password_hash).await? {
        return Ok(OwnPassword::WrongCurrent);
    }
    let hash = hash_password(workers, msg.new).await?;
    let _writing = writes.lock().await;
    let username = msg.username.clone();
    db.run(move |conn| {
        let mut row = users::find_user(conn, &username)?.ok_or_else(|| not_found(&username))?;
        row.password_hash = hash;
        row.updated_at = now_ms();
        users::save_user(conn, &row)
    })
    .await?;
    tracing::info!(user = %msg.username, "user changed their password");
    Ok(OwnPassword::Changed)
}

impl Handler<EndUserSessions> for Identity {
    type Result = ResponseFuture<Result<usize, DomainError>>;

    fn handle(&mut self, msg: EndUserSessions, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let name = msg.username.clone();
            let ended = db
                .run(move |conn| sessions::delete_user_sessions(conn, &name))
                .await?;
            tracing::info!(user = %msg.username, sessions_ended = ended, "signed out everywhere");
            Ok(ended)
        })
    }
}

impl Handler<GetPasswordRules> for Identity {
    type Result = MessageResult<GetPasswordRules>;

    fn handle(&mut self, _: GetPasswordRules, _: &mut Context<Self>) -> Self::Result {
        MessageResult(PasswordRules {
            min_length: self.password_min_length,
            max_length: policy::MAX_PASSWORD_CHARS,
        })
    }
}
