//! API tokens: their rows, and the in-memory index that answers authentication.

use std::collections::HashMap;

use diesel::prelude::*;
use plantd_contracts::identity::{Principal, Scope, TokenView};
use plantd_contracts::time::{to_datetime, Millis};
use plantd_storage::{with_conn, DbConnection, DbError};

use crate::schema::identity_tokens;
use plantd_secrets as secrets;

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = identity_tokens)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub scopes: String,
    pub secret_digest: String,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
}

impl TokenRow {
    pub fn scopes(&self) -> Vec<Scope> {
        self.scopes
            .split(',')
            .filter_map(|s| s.parse().ok())
            .collect()
    }

    pub fn view(&self) -> TokenView {
        TokenView {
            id: self.id.clone(),
            name: self.name.clone(),
            scopes: self.scopes(),
            created_at: to_datetime(self.created_at),
        }
    }
}

pub fn encode_scopes(scopes: &[Scope]) -> String {
    let mut names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(",")
}

pub fn load_active(conn: &mut DbConnection) -> Result<Vec<TokenRow>, DbError> {
    with_conn!(conn, |c| identity_tokens::table
        .filter(identity_tokens::revoked_at.is_null())
        .order(identity_tokens::created_at)
        .load::<TokenRow>(c))
    .map_err(DbError::from)
}

pub fn count_all(conn: &mut DbConnection) -> Result<i64, DbError> {
    with_conn!(conn, |c| identity_tokens::table
        .count()
        .get_result::<i64>(c))
    .map_err(DbError::from)
}

pub fn insert(conn: &mut DbConnection, row: &TokenRow) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::insert_into(identity_tokens::table)
        .values(row)
        .execute(c))
    .map(|_| ())
    .map_err(DbError::from)
}

pub fn revoke(conn: &mut DbConnection, id: &str, at: Millis) -> Result<usize, DbError> {
    with_conn!(conn, |c| diesel::update(
        identity_tokens::table
            .filter(identity_tokens::id.eq(id))
            .filter(identity_tokens::revoked_at.is_null())
    )
    .set(identity_tokens::revoked_at.eq(Some(at)))
    .execute(c))
    .map_err(DbError::from)
}

/// Active tokens by id and by digest; the only copy of token state outside the database.
#[derive(Default)]
pub struct TokenIndex {
    by_id: HashMap<String, TokenRow>,
    id_by_digest: HashMap<String, String>,
}

impl TokenIndex {
    pub fn insert(&mut self, row: TokenRow) {
        self.id_by_digest
            .insert(row.secret_digest.clone(), row.id.clone());
        self.by_id.insert(row.id.clone(), row);
    }

    pub fn remove(&mut self, id: &str) -> bool {
        match self.by_id.remove(id) {
            Some(row) => {
                self.id_by_digest.remove(&row.secret_digest);
                true
            }
            None => false,
        }
    }

    pub fn list(&self) -> Vec<TokenView> {
        let mut views: Vec<TokenView> = self.by_id.values().map(TokenRow::view).collect();
        // By id: the key the API pages by.
        views.sort_by(|a, b| a.id.cmp(&b.id));
        views
    }

    /// MQTT login: the id names the token, the secret must match its digest.
    pub fn authenticate(&self, id: &str, secret: &str) -> Option<Principal> {
        let row = self.by_id.get(id)?;
        secrets::digest_matches(secret, &row.secret_digest).then(|| principal(row))
    }

    /// HTTP bearer: the secret alone; its digest finds the token.
    pub fn authenticate_bearer(&self, secret: &str) -> Option<Principal> {
        let id = self.id_by_digest.get(&secrets::digest(secret))?;
        self.by_id.get(id).map(principal)
    }
}

fn principal(row: &TokenRow) -> Principal {
    Principal {
        name: format!("token:{}", row.id),
        scopes: row.scopes(),
    }
}
