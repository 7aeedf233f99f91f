//! The connection enum, its r2d2 manager, and the pool handle modules receive.

use std::path::Path;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection};
use diesel::{Connection, PgConnection, SqliteConnection};

use crate::DbError;

/// The two backends plantd runs on, from one code base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// One connection of either backend. Queries dispatch on it with [`crate::with_conn!`].
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

pub type PooledConn = PooledConnection<Manager>;

/// Opens connections for the backend the URL names and applies SQLite's pragmas.
#[derive(Debug)]
pub struct Manager {
    backend: Backend,
    target: String,
}

/// busy_timeout first, so the other pragmas (WAL needs a lock) wait instead of failing.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
     PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;";

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.target)
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
            Backend::Postgres => PgConnection::establish(&self.target)
                .map(DbConnection::Pg)
                .map_err(diesel::r2d2::Error::ConnectionError),
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        crate::with_conn!(conn, |c| c.batch_execute("SELECT 1"))
            .map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// The database handle a module receives: a cloneable pool and the backend it speaks.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    backend: Backend,
}

impl Db {
    /// Opens a pool for `url`: `postgres://…` or `postgresql://…` selects PostgreSQL,
    /// `sqlite://PATH` or a plain path selects SQLite (the file and its folder are created).
    pub fn open(url: &str, max_connections: u32) -> Result<Db, String> {
        let (backend, target) =
            if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                (Backend::Postgres, url.to_owned())
            } else {
                let path = url.strip_prefix("sqlite://").unwrap_or(url);
                if let Some(parent) = Path::new(path).parent() {
                    if !parent.as_os_str().is_empty() {
                        std::fs::create_dir_all(parent).map_err(|e| {
                            format!("cannot create the folder of the database {path}: {e}")
                        })?;
                    }
                }
                (Backend::Sqlite, path.to_owned())
            };
        let manager = Manager { backend, target };
        let pool = Pool::builder()
            .max_size(max_connections)
            // Connections are opened on demand only: no background thread is ever left
            // half-way through a PostgreSQL handshake (OpenSSL) when the process exits,
            // which crashed short commands like `plantd device add` at exit.
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)
            .map_err(|e| match e.to_string() {
                m if m.is_empty() => "cannot connect to the database".to_owned(),
                m => format!("cannot connect to the database: {m}"),
            })?;
        Ok(Db { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection from the pool. Blocking: call it inside [`Db::run`] or a sync actor.
    pub fn conn(&self) -> Result<PooledConn, DbError> {
        self.pool.get().map_err(|e| DbError::Pool(e.to_string()))
    }

    /// Runs blocking diesel work on tokio's blocking pool, never on an executor thread.
    pub async fn run<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        let db = self.clone();
        let result = tokio::task::spawn_blocking(move || {
            let mut conn = db.conn()?;
            work(&mut conn)
        })
        .await
        .map_err(|e| DbError::Task(e.to_string()))?;
        if let Err(e) = &result {
            e.count();
        }
        result
    }

    /// Like [`Db::run`], but hands `input` back whatever happens, so a caller can keep data
    /// whose write failed (the database went away) and try again later.
    pub async fn run_keeping<I, T, F>(
        &self,
        input: I,
        work: F,
    ) -> Result<(I, Result<T, DbError>), DbError>
    where
        I: Send + 'static,
        T: Send + 'static,
        F: FnOnce(&mut DbConnection, &I) -> Result<T, DbError> + Send + 'static,
    {
        let db = self.clone();
        let (input, result) = tokio::task::spawn_blocking(move || {
            let result = db.conn().and_then(|mut conn| work(&mut conn, &input));
            (input, result)
        })
        .await
        .map_err(|e| DbError::Task(e.to_string()))?;
        if let Err(e) = &result {
            e.count();
        }
        Ok((input, result))
    }

    /// Cheap liveness check for `/readyz`.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(|conn| {
            crate::with_conn!(conn, |c| c.batch_execute("SELECT 1")).map_err(DbError::from)
        })
        .await
    }
}

impl std::fmt::Debug for DbConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbConnection::Sqlite(_) => f.write_str("DbConnection::Sqlite"),
            DbConnection::Pg(_) => f.write_str("DbConnection::Pg"),
        }
    }
}

impl DbConnection {
    /// Runs `work` in a transaction of either backend (a savepoint when one is open
    /// already; on SQLite an IMMEDIATE one, so read-then-write never fails busy): committed when it returns `Ok`, rolled back when it returns `Err`. Lets a
    /// module write its rows and record its events (`plantd-events`) in one transaction.
    pub fn transaction<T, E, F>(&mut self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        match self {
            // SQLite: the outermost transaction takes the write lock at once (waiting on
            // busy_timeout). A deferred one that reads first and then writes fails at
            // once with SQLITE_BUSY when another connection wrote since its read.
            DbConnection::Sqlite(c) => {
                let outermost = AnsiTransactionManager::transaction_manager_status_mut(c)
                    .transaction_depth()?
                    .is_none();
                if outermost {
                    AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
                } else {
                    AnsiTransactionManager::begin_transaction(c)?
                }
            }
            DbConnection::Pg(c) => AnsiTransactionManager::begin_transaction(c)?,
        }
        let outcome = work(self);
        let end = match (&outcome, &mut *self) {
            (Ok(_), DbConnection::Sqlite(c)) => AnsiTransactionManager::commit_transaction(c),
            (Ok(_), DbConnection::Pg(c)) => AnsiTransactionManager::commit_transaction(c),
            (Err(_), DbConnection::Sqlite(c)) => AnsiTransactionManager::rollback_transaction(c),
            (Err(_), DbConnection::Pg(c)) => AnsiTransactionManager::rollback_transaction(c),
        };
        match (outcome, end) {
            (Ok(value), Ok(())) => Ok(value),
            (Ok(_), Err(e)) => {
                // A failed commit leaves the transaction open: roll it back, report the
                // commit's error.
                let _ = match self {
                    DbConnection::Sqlite(c) => AnsiTransactionManager::rollback_transaction(c),
                    DbConnection::Pg(c) => AnsiTransactionManager::rollback_transaction(c),
                };
                Err(e.into())
            }
            (Err(e), _) => Err(e),
        }
    }
}
