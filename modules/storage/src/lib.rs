//! Storage infrastructure shared by the domain modules: the connection type (SQLite or
//! PostgreSQL, chosen at run time from the URL), the r2d2 pool, SQLite's pragmas, the
//! runner of the modules' migrations, and the one way to run blocking diesel work off the
//! async executor. It owns no tables and no migrations: each module owns its own schema,
//! migrations (embedded as a [`ModuleMigrations`]) and queries. `admin` measures and snapshots
//! the database as a whole for the Settings page.

pub mod admin;
mod connection;
mod error;
mod migrate;
#[cfg(feature = "testing")]
mod scratch;

pub use connection::{Backend, Db, DbConnection, PooledConn};
pub use error::DbError;
pub use migrate::{run_migrations, ModuleMigrations};
#[cfg(feature = "testing")]
pub use scratch::{scratch_db, ScratchDb};

/// Declares the storage layer's metrics.
pub fn describe_metrics() {
    metrics::describe_counter!(
        "plantd_storage_errors_total",
        "database calls that failed, by kind: disk_full, unavailable (no connection), io, query"
    );
    for kind in ["disk_full", "unavailable", "io", "query"] {
        metrics::counter!("plantd_storage_errors_total", "kind" => kind).absolute(0);
    }
}

/// Runs `$body` with `$c` bound to the concrete connection of either backend, so one query
/// written once compiles for SQLite and for PostgreSQL.
#[macro_export]
macro_rules! with_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::DbConnection::Sqlite($c) => $body,
            $crate::DbConnection::Pg($c) => $body,
        }
    };
}
