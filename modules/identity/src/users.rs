//! People: their rows and queries (table `identity_users`), and how a row reads to the
//! rest of plantd. Only the identity module's own code calls these.

use diesel::prelude::*;
use plantd_contracts::identity::{Role, UserDetails};
use plantd_contracts::time::{to_datetime, Millis};
use plantd_storage::{with_conn, DbConnection, DbError};

use crate::policy;
use crate::schema::identity_users;

#[derive(Debug, Clone, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = identity_users)]
pub struct UserRow {
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: Millis,
    pub disabled: bool,
    pub skills: String,
    pub updated_at: Millis,
    pub last_sign_in_at: Option<Millis>,
}

impl UserRow {
    /// A new, enabled user.
    pub fn new(
        username: String,
        password_hash: String,
        role: Role,
        skills: &[String],
        now: Millis,
    ) -> UserRow {
        UserRow {
            username,
            password_hash,
            role: role.as_str().to_owned(),
            created_at: now,
            disabled: false,
            skills: policy::encode_skills(skills),
            updated_at: now,
            last_sign_in_at: None,
        }
    }

    /// An admin who may sign in (the one plantd must always keep).
    pub fn is_enabled_admin(&self) -> bool {
        self.role == Role::Admin.as_str() && !self.disabled
    }

    /// The row as others see it; `None` for a role this version does not know.
    pub fn details(&self) -> Option<UserDetails> {
        Some(UserDetails {
            username: self.username.clone(),
            role: Role::parse(&self.role)?,
            disabled: self.disabled,
            skills: policy::decode_skills(&self.skills),
            created_at: to_datetime(self.created_at),
            updated_at: to_datetime(self.updated_at),
            last_sign_in_at: self.last_sign_in_at.map(to_datetime),
        })
    }
}

pub fn find_user(conn: &mut DbConnection, username: &str) -> Result<Option<UserRow>, DbError> {
    with_conn!(conn, |c| identity_users::table
        .find(username)
        .first::<UserRow>(c)
        .optional())
    .map_err(DbError::from)
}

pub fn insert_user(conn: &mut DbConnection, row: &UserRow) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::insert_into(identity_users::table)
        .values(row)
        .execute(c))
    .map(|_| ())
    .map_err(DbError::from)
}

/// Every user, by name (a plant has tens of people, not thousands).
pub fn list_users(conn: &mut DbConnection) -> Result<Vec<UserRow>, DbError> {
    with_conn!(conn, |c| identity_users::table
        .order(identity_users::username)
        .load::<UserRow>(c))
    .map_err(DbError::from)
}

/// Writes every column of `row` (found by its name).
pub fn save_user(conn: &mut DbConnection, row: &UserRow) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::update(
        identity_users::table.find(&row.username)
    )
    .set(row)
    .execute(c))
    .map(|_| ())
    .map_err(DbError::from)
}

pub fn delete_user(conn: &mut DbConnection, username: &str) -> Result<usize, DbError> {
    with_conn!(conn, |c| diesel::delete(
        identity_users::table.find(username)
    )
    .execute(c))
    .map_err(DbError::from)
}

/// Enabled admins other than `username`.
pub fn other_enabled_admins(conn: &mut DbConnection, username: &str) -> Result<i64, DbError> {
    with_conn!(conn, |c| identity_users::table
        .filter(identity_users::role.eq(Role::Admin.as_str()))
        .filter(identity_users::disabled.eq(false))
        .filter(identity_users::username.ne(username))
        .count()
        .get_result::<i64>(c))
    .map_err(DbError::from)
}

pub fn record_sign_in(conn: &mut DbConnection, username: &str, now: Millis) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::update(
        identity_users::table.find(username)
    )
    .set(identity_users::last_sign_in_at.eq(Some(now)))
    .execute(c))
    .map(|_| ())
    .map_err(DbError::from)
}
