//! The identity actor: owns the token index and answers identity messages. Database work
//! runs on the blocking pool through `Db::run`; the index changes only after a commit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use plantd_contracts::identity::*;
use plantd_contracts::time::now_ms;
use plantd_contracts::DomainError;
use plantd_storage::{Db, DbError};
use tokio::sync::Semaphore;

use crate::passwords;
use crate::sessions::{self, SessionRow};
use crate::throttle::{SignInLimits, Throttle};
use crate::tokens::{self, TokenIndex, TokenRow};
use crate::users::{self, UserRow};
use plantd_secrets as secrets;

/// How long a web session lives without signing in again.
const SESSION_TTL_MS: i64 = 12 * 60 * 60 * 1000;
/// A token's last use is written to its row at most this often by default (memory has
/// every use); `Identity::record_token_use_every` sets it (`token_last_used_write_s`).
const LAST_USED_WRITE_INTERVAL_MS: i64 = 60_000;
/// The id of the token made from `PLANTD_ADMIN_TOKEN` or generated on first start.
const BOOTSTRAP_TOKEN_ID: &str = "tok.admin";

pub struct Identity {
    pub(crate) db: Db,
    tokens: TokenIndex,
    pub(crate) password_checks: Arc<Semaphore>,
    /// Password checks accepted and not finished (hashing or waiting for a worker).
    checks_in_flight: Arc<AtomicUsize>,
    /// Checks in flight beyond which a sign-in is refused (`Busy`).
    max_in_flight: usize,
    pub(crate) throttle: Throttle,
    /// The fewest characters of a new password.
    pub(crate) password_min_length: usize,
    /// Held by every change of a user, so two admins demoting each other at once cannot
    /// both pass the "not the last enabled admin" check (either backend).
    pub(crate) user_writes: Arc<tokio::sync::Mutex<()>>,
    /// How often at most a token's last use is written to its row.
    last_used_write_ms: i64,
}

impl Identity {
    /// Loads the active tokens; call once at start, before the actor serves anyone.
    pub async fn load(db: Db, limits: SignInLimits) -> Result<Identity, DbError> {
        let rows = db.run(tokens::load_active).await?;
        let mut index = TokenIndex::default();
        for row in rows {
            index.insert(row);
        }
        Ok(Identity {
            db,
            tokens: index,
            password_checks: Arc::new(Semaphore::new(CONCURRENT_PASSWORD_CHECKS)),
            checks_in_flight: Arc::new(AtomicUsize::new(0)),
            max_in_flight: CONCURRENT_PASSWORD_CHECKS + limits.queue,
            throttle: Throttle::new(&limits),
            password_min_length: limits.password_min_length,
            user_writes: Arc::new(tokio::sync::Mutex::new(())),
            last_used_write_ms: LAST_USED_WRITE_INTERVAL_MS,
        })
    }

    /// Writes a token's last use to its row at most once per `interval` (at least 1 s).
    pub fn record_token_use_every(mut self, interval: std::time::Duration) -> Identity {
        self.last_used_write_ms = i64::try_from(interval.as_millis())
            .unwrap_or(i64::MAX)
            .max(1_000);
        self
    }
}

impl Actor for Identity {
    type Context = Context<Self>;
}

type Reply<T> = ResponseActFuture<Identity, Result<T, DomainError>>;

fn validate_token_request(msg: &CreateToken) -> Result<(), DomainError> {
    if msg.name.trim().is_empty() || msg.name.len() > 100 {
        return Err(DomainError::invalid(
            "name",
            "give the token a name of 1-100 characters",
        ));
    }
    if msg.scopes.is_empty() {
        return Err(DomainError::invalid(
            "scopes",
            "give at least one of read, write, admin, mqtt",
        ));
    }
    Ok(())
}

fn new_token_row(id: String, name: String, scopes: &[Scope], secret: &str) -> TokenRow {
    TokenRow {
        id,
        name,
        scopes: tokens::encode_scopes(scopes),
        secret_digest: secrets::digest(secret),
        created_at: now_ms(),
        revoked_at: None,
        last_used_at: None,
    }
}

impl Handler<CreateToken> for Identity {
    type Result = Reply<CreatedToken>;

    fn handle(&mut self, msg: CreateToken, _: &mut Context<Self>) -> Self::Result {
        if let Err(e) = validate_token_request(&msg) {
            return Box::pin(fut::ready(Err(e)));
        }
        let secret = secrets::random_hex(20);
        let row = new_token_row(
            format!(
                "{}{}",
                plantd_contracts::ids::TOKEN_ID_PREFIX,
                secrets::random_hex(6)
            ),
            msg.name.trim().to_owned(),
            &msg.scopes,
            &secret,
        );
        let stored = row.clone();
        let db = self.db.clone();
        Box::pin(
            async move { db.run(move |conn| tokens::insert(conn, &stored)).await }
                .into_actor(self)
                .map(move |res, act, _| {
                    res.map_err(DomainError::from)?;
                    let token = row.view();
                    act.tokens.insert(row);
                    tracing::info!(token = %token.id, scopes = ?token.scopes, "API token created");
                    Ok(CreatedToken { token, secret })
                }),
        )
    }
}

impl Handler<ListTokens> for Identity {
    type Result = Result<Vec<TokenView>, DomainError>;

    fn handle(&mut self, _: ListTokens, _: &mut Context<Self>) -> Self::Result {
        Ok(self.tokens.list())
    }
}

impl Handler<RevokeToken> for Identity {
    type Result = Reply<()>;

    fn handle(&mut self, msg: RevokeToken, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        let id = msg.id.clone();
        Box::pin(
            async move {
                db.run(move |conn| tokens::revoke(conn, &id, now_ms()))
                    .await
            }
            .into_actor(self)
            .map(move |res, act, _| match res.map_err(DomainError::from)? {
                0 => Err(DomainError::NotFound(format!("token {}", msg.id))),
                _ => {
                    act.tokens.remove(&msg.id);
                    tracing::info!(token = %msg.id, "API token revoked");
                    Ok(())
                }
            }),
        )
    }
}

impl Handler<AuthenticateToken> for Identity {
    type Result = Option<Principal>;

    fn handle(&mut self, msg: AuthenticateToken, _: &mut Context<Self>) -> Self::Result {
        let row = if msg.id.is_empty() {
            self.tokens.authenticate_bearer(&msg.secret)
        } else {
            self.tokens.authenticate(&msg.id, &msg.secret)
        }?;
        let principal = tokens::principal(row);
        let id = row.id.clone();
        // Throttled: a token used all the time costs one write per interval (a minute).
        if let Some(at) = self.tokens.used(&id, now_ms(), self.last_used_write_ms) {
            metrics::counter!("plantd_token_last_used_writes_total").increment(1);
            let db = self.db.clone();
            actix::spawn(async move {
                let written = db.run(move |conn| tokens::record_use(conn, &id, at)).await;
                if let Err(e) = written {
                    tracing::warn!(error = %e, "cannot record a token's last use");
                }
            });
        }
        Some(principal)
    }
}

/// Password checks running at once: argon2id takes ~19 MiB and tens of milliseconds each,
/// so a burst of sign-in attempts must queue rather than take every core.
const CONCURRENT_PASSWORD_CHECKS: usize = 2;

/// Leaves the count of checks in flight when the check ends, however it ends.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Handler<VerifyPassword> for Identity {
    type Result = Reply<PasswordCheck>;

    fn handle(&mut self, msg: VerifyPassword, _: &mut Context<Self>) -> Self::Result {
        // Back-off first: a refused attempt costs no hash and no database read. The account
        // key is a digest, so a long user name cannot grow the table.
        let account = format!("user:{}", secrets::digest(&msg.username));
        let address = (!msg.address.is_empty()).then(|| format!("addr:{}", msg.address));
        let now = Instant::now();
        let wait = [Some(&account), address.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|key| self.throttle.wait(key, now))
            .max();
        if let Some(wait) = wait {
            let retry_after_secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Box::pin(fut::ready(Ok(PasswordCheck::BackingOff {
                retry_after_secs,
            })));
        }
        // A bounded queue: beyond the workers and `queue` waiting, refuse at once rather
        // than let a flood of sign-ins pile up behind argon2 and starve everything else.
        let in_flight = self.checks_in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = InFlight(self.checks_in_flight.clone());
        if in_flight >= self.max_in_flight {
            return Box::pin(fut::ready(Ok(PasswordCheck::Busy)));
        }
        let db = self.db.clone();
        let checks = self.password_checks.clone();
        Box::pin(
            async move {
                let _guard = guard;
                // Read the hash, give the connection back, then hash: a slow argon2 check
                // must never hold one of the pool's connections.
                let username = msg.username.clone();
                let user = db
                    .run(move |conn| users::find_user(conn, &username))
                    .await?;
                let _permit = checks
                    .acquire_owned()
                    .await
                    .map_err(|_| DomainError::Unavailable("shutting down".to_owned()))?;
                let verified = tokio::task::spawn_blocking(move || match user {
                    // A disabled user's password is still checked: the answer takes as long.
                    Some(u)
                        if passwords::verify(&msg.password, &u.password_hash) && !u.disabled =>
                    {
                        Some(u)
                    }
                    Some(_) => None,
                    None => {
                        passwords::verify_dummy(&msg.password);
                        None
                    }
                })
                .await
                .map_err(|e| DomainError::Unavailable(e.to_string()))?;
                Ok(verified.and_then(|u| {
                    Role::parse(&u.role).map(|role| UserView {
                        username: u.username,
                        role,
                    })
                }))
            }
            .into_actor(self)
            .map(move |res: Result<Option<UserView>, DomainError>, act, _| {
                let keys = [Some(account), address].into_iter().flatten();
                match res? {
                    Some(user) => {
                        keys.for_each(|key| act.throttle.succeeded(&key));
                        Ok(PasswordCheck::Verified(user))
                    }
                    None => {
                        let now = Instant::now();
                        keys.for_each(|key| act.throttle.failed(&key, now));
                        Ok(PasswordCheck::Wrong)
                    }
                }
            }),
        )
    }
}

impl Handler<StartSession> for Identity {
    type Result = ResponseFuture<Result<IssuedSession, DomainError>>;

    fn handle(&mut self, msg: StartSession, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let secret = secrets::random_hex(32);
            let csrf_token = secrets::random_hex(32);
            let now = now_ms();
            let row = SessionRow {
                digest: secrets::digest(&secret),
                username: msg.username,
                csrf_token: csrf_token.clone(),
                created_at: now,
                expires_at: now + SESSION_TTL_MS,
            };
            db.run(move |conn| {
                sessions::delete_expired_sessions(conn, now)?;
                users::record_sign_in(conn, &row.username, now)?;
                sessions::insert_session(conn, &row)
            })
            .await?;
            Ok(IssuedSession { secret, csrf_token })
        })
    }
}

impl Handler<ResolveSession> for Identity {
    type Result = ResponseFuture<Option<SessionView>>;

    fn handle(&mut self, msg: ResolveSession, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let digest = secrets::digest(&msg.secret);
            let found = db
                .run(move |conn| sessions::find_session(conn, &digest, now_ms()))
                .await;
            match found {
                Ok(Some((session, user))) => Role::parse(&user.role).map(|role| SessionView {
                    username: user.username,
                    role,
                    csrf_token: session.csrf_token,
                }),
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot resolve a web session");
                    None
                }
            }
        })
    }
}

impl Handler<EndSession> for Identity {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: EndSession, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let digest = secrets::digest(&msg.secret);
            if let Err(e) = db
                .run(move |conn| sessions::delete_session(conn, &digest))
                .await
            {
                tracing::warn!(error = %e, "cannot end a web session");
            }
        })
    }
}

impl Handler<Bootstrap> for Identity {
    type Result = Reply<BootstrapReport>;

    fn handle(&mut self, msg: Bootstrap, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move { db.run(move |conn| bootstrap(conn, msg)).await }
                .into_actor(self)
                .map(|res, act, _| {
                    let (report, row) = res.map_err(DomainError::from)?;
                    if let Some(row) = row {
                        act.tokens.insert(row);
                    }
                    Ok(report)
                }),
        )
    }
}

/// Creates the admin token when no token was ever made, and the `admin` user when it does
/// not exist. Returns the new token row for the index.
fn bootstrap(
    conn: &mut plantd_storage::DbConnection,
    msg: Bootstrap,
) -> Result<(BootstrapReport, Option<TokenRow>), DbError> {
    let mut report = BootstrapReport::default();
    let mut new_row = None;
    if tokens::count_all(conn)? == 0 {
        let (secret, generated) = match msg.admin_token {
            Some(s) if !s.is_empty() => (s, false),
            _ => (secrets::random_hex(20), true),
        };
        let row = new_token_row(
            BOOTSTRAP_TOKEN_ID.to_owned(),
            "bootstrap admin".to_owned(),
            &[Scope::Admin, Scope::Read, Scope::Write],
            &secret,
        );
        tokens::insert(conn, &row)?;
        report.admin_token = Some((row.id.clone(), secret));
        report.token_was_generated = generated;
        new_row = Some(row);
    }
    if users::find_user(conn, "admin")?.is_none() {
        let (password, generated) = match msg.admin_password {
            Some(p) if !p.is_empty() => (p, false),
            _ => (passwords::generate(), true),
        };
        let hash = passwords::hash(&password).map_err(DbError::Pool)?;
        users::insert_user(
            conn,
            &UserRow::new("admin".to_owned(), hash, Role::Admin, &[], now_ms()),
        )?;
        report.admin_user_created = true;
        if generated {
            report.generated_password = Some(password);
        }
    }
    Ok((report, new_row))
}
