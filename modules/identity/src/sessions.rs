//! People and their web sessions: rows and queries.

use diesel::prelude::*;
use plantd_contracts::time::Millis;
use plantd_storage::{with_conn, DbConnection, DbError};

use crate::schema::{identity_sessions, identity_users};

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = identity_users)]
pub struct UserRow {
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: Millis,
}

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = identity_sessions)]
pub struct SessionRow {
    pub digest: String,
    pub username: String,
    pub csrf_token: String,
    pub created_at: Millis,
    pub expires_at: Millis,
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

pub fn insert_session(conn: &mut DbConnection, row: &SessionRow) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::insert_into(identity_sessions::table)
        .values(row)
        .execute(c))
    .map(|_| ())
    .map_err(DbError::from)
}

/// A live session and its user, or `None` when unknown or expired.
pub fn find_session(
    conn: &mut DbConnection,
    digest: &str,
    now: Millis,
) -> Result<Option<(SessionRow, UserRow)>, DbError> {
    with_conn!(conn, |c| identity_sessions::table
        .inner_join(
            identity_users::table.on(identity_users::username.eq(identity_sessions::username))
        )
        .filter(identity_sessions::digest.eq(digest))
        .filter(identity_sessions::expires_at.gt(now))
        .first::<(SessionRow, UserRow)>(c)
        .optional())
    .map_err(DbError::from)
}

pub fn delete_session(conn: &mut DbConnection, digest: &str) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::delete(
        identity_sessions::table.filter(identity_sessions::digest.eq(digest))
    )
    .execute(c))
    .map(|_| ())
    .map_err(DbError::from)
}

pub fn delete_expired_sessions(conn: &mut DbConnection, now: Millis) -> Result<usize, DbError> {
    with_conn!(conn, |c| diesel::delete(
        identity_sessions::table.filter(identity_sessions::expires_at.le(now))
    )
    .execute(c))
    .map_err(DbError::from)
}
