//! Web sessions: rows and queries (table `identity_sessions`, read with its user).

use diesel::prelude::*;
use plantd_contracts::time::Millis;
use plantd_storage::{with_conn, DbConnection, DbError};

use crate::schema::{identity_sessions, identity_users};
use crate::users::UserRow;

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = identity_sessions)]
pub struct SessionRow {
    pub digest: String,
    pub username: String,
    pub csrf_token: String,
    pub created_at: Millis,
    pub expires_at: Millis,
}

pub fn insert_session(conn: &mut DbConnection, row: &SessionRow) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::insert_into(identity_sessions::table)
        .values(row)
        .execute(c))
    .map(|_| ())
    .map_err(DbError::from)
}

/// A live session and its user, or `None` when unknown, expired or the user is disabled.
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
        .filter(identity_users::disabled.eq(false))
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

/// Ends every session of `username`; answers how many there were.
pub fn delete_user_sessions(conn: &mut DbConnection, username: &str) -> Result<usize, DbError> {
    with_conn!(conn, |c| diesel::delete(
        identity_sessions::table.filter(identity_sessions::username.eq(username))
    )
    .execute(c))
    .map_err(DbError::from)
}
