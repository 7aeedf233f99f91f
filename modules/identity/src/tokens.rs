//! API tokens: their rows, and the in-memory index that answers authentication and keeps
//! each token's last use (written to its row at most once per interval, so a busy token
//! costs no write per request or MQTT login).

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
    pub last_used_at: Option<Millis>,
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
            last_used_at: self.last_used_at.map(to_datetime),
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

/// Records a token's last use (HTTP or MQTT) in its row.
pub fn record_use(conn: &mut DbConnection, id: &str, at: Millis) -> Result<usize, DbError> {
    with_conn!(conn, |c| diesel::update(
        identity_tokens::table.filter(identity_tokens::id.eq(id))
    )
    .set(identity_tokens::last_used_at.eq(Some(at)))
    .execute(c))
    .map_err(DbError::from)
}

/// Active tokens by id and by digest; the only copy of token state outside the database.
#[derive(Default)]
pub struct TokenIndex {
    by_id: HashMap<String, TokenRow>,
    id_by_digest: HashMap<String, String>,
    /// Each token's last use as stored in its row.
    stored_use: HashMap<String, Millis>,
}

impl TokenIndex {
    pub fn insert(&mut self, row: TokenRow) {
        self.id_by_digest
            .insert(row.secret_digest.clone(), row.id.clone());
        if let Some(at) = row.last_used_at {
            self.stored_use.insert(row.id.clone(), at);
        }
        self.by_id.insert(row.id.clone(), row);
    }

    pub fn remove(&mut self, id: &str) -> bool {
        self.stored_use.remove(id);
        match self.by_id.remove(id) {
            Some(row) => {
                self.id_by_digest.remove(&row.secret_digest);
                true
            }
            None => false,
        }
    }

    /// Notes that token `id` was used at `now`; answers the time to write to its row when
    /// the stored one is `interval_ms` old or more (or there is none), else `None`.
    pub fn used(&mut self, id: &str, now: Millis, interval_ms: i64) -> Option<Millis> {
        let row = self.by_id.get_mut(id)?;
        row.last_used_at = Some(now);
        let due = self
            .stored_use
            .get(id)
            .is_none_or(|stored| now.saturating_sub(*stored) >= interval_ms);
        due.then(|| {
            self.stored_use.insert(id.to_owned(), now);
            now
        })
    }

    pub fn list(&self) -> Vec<TokenView> {
        let mut views: Vec<TokenView> = self.by_id.values().map(TokenRow::view).collect();
        // By id: the key the API pages by.
        views.sort_by(|a, b| a.id.cmp(&b.id));
        views
    }

    /// MQTT login: the id names the token, the secret must match its digest.
    pub fn authenticate(&self, id: &str, secret: &str) -> Option<&TokenRow> {
        let row = self.by_id.get(id)?;
        secrets::digest_matches(secret, &row.secret_digest).then_some(row)
    }

    /// HTTP bearer: the secret alone; its digest finds the token.
    pub fn authenticate_bearer(&self, secret: &str) -> Option<&TokenRow> {
        let id = self.id_by_digest.get(&secrets::digest(secret))?;
        self.by_id.get(id)
    }
}

pub fn principal(row: &TokenRow) -> Principal {
    Principal {
        name: format!("token:{}", row.id),
        scopes: row.scopes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_use_is_written_at_most_once_per_interval() {
        let mut index = TokenIndex::default();
        index.insert(TokenRow {
            id: "tok.a".to_owned(),
            name: "a".to_owned(),
            scopes: "read".to_owned(),
            secret_digest: secrets::digest("s"),
            created_at: 0,
            revoked_at: None,
            last_used_at: None,
        });
        assert_eq!(index.used("tok.a", 1_000, 60_000), Some(1_000), "first use");
        assert_eq!(
            index.used("tok.a", 30_000, 60_000),
            None,
            "within the interval"
        );
        assert_eq!(
            index.list()[0].last_used_at.map(|t| t.timestamp_millis()),
            Some(30_000),
            "memory has the latest use"
        );
        assert_eq!(index.used("tok.a", 61_000, 60_000), Some(61_000));
        assert_eq!(index.used("tok.b", 61_000, 60_000), None, "unknown token");
    }
}
