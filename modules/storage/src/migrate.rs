//! The runner of the modules' migrations. Each module that owns tables embeds its own sets
//! (`migrations/{sqlite,postgres}/{module}/`) as one [`ModuleMigrations`]; the composition
//! root hands the list, in the order it wants, to [`run_migrations`]. This file owns no
//! migration and no table: it touches only diesel's `__diesel_schema_migrations`, through
//! diesel_migrations.
//!
//! All modules share that one table of applied versions. diesel's
//! `run_pending_migrations` applies the migrations of the source it is given whose version
//! is not in the table and ignores every other row, so one module's run is not confused by
//! the versions of the others; but a version two modules both used would be skipped in the
//! second one. [`run_migrations`] therefore refuses such a list before it applies anything.

use std::collections::{HashMap, HashSet};

use diesel::backend::Backend as DieselBackend;
use diesel::migration::{Migration, MigrationSource};
use diesel::pg::Pg;
use diesel::sqlite::Sqlite;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

use crate::{Backend, Db, DbConnection, DbError};

/// One module's migrations for both backends, embedded by the module that owns the tables:
///
/// ```text
/// pub const MIGRATIONS: ModuleMigrations = ModuleMigrations::new(
///     "identity",
///     embed_migrations!("../../migrations/sqlite/identity"),
///     embed_migrations!("../../migrations/postgres/identity"),
/// );
/// ```
pub struct ModuleMigrations {
    module: &'static str,
    sqlite: EmbeddedMigrations,
    postgres: EmbeddedMigrations,
}

impl ModuleMigrations {
    /// `module` is the module's name, which is also its folder under
    /// `migrations/{backend}/` and the prefix of its tables.
    pub const fn new(
        module: &'static str,
        sqlite: EmbeddedMigrations,
        postgres: EmbeddedMigrations,
    ) -> ModuleMigrations {
        ModuleMigrations {
            module,
            sqlite,
            postgres,
        }
    }

    pub fn module(&self) -> &'static str {
        self.module
    }

    /// The versions of this module's migrations for `backend` (the digits of each folder
    /// name's date-number prefix), ascending.
    pub fn versions(&self, backend: Backend) -> Result<Vec<String>, DbError> {
        let mut versions = match backend {
            Backend::Sqlite => versions_of::<Sqlite>(&self.sqlite),
            Backend::Postgres => versions_of::<Pg>(&self.postgres),
        }
        .map_err(|e| DbError::Migration(format!("{}: {e}", self.module)))?;
        versions.sort();
        Ok(versions)
    }
}

/// Lends an embedded set to diesel, whose harness takes its source by value.
struct Lent<'a>(&'a EmbeddedMigrations);

impl<DB: DieselBackend> MigrationSource<DB> for Lent<'_> {
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn Migration<DB>>>> {
        MigrationSource::<DB>::migrations(self.0)
    }
}

fn versions_of<DB: DieselBackend>(
    set: &EmbeddedMigrations,
) -> diesel::migration::Result<Vec<String>> {
    Ok(MigrationSource::<DB>::migrations(set)?
        .iter()
        .map(|m| m.name().version().to_string())
        .collect())
}

/// Applies each module's pending migrations, module after module in the order given;
/// returns what it applied now as `module/version`. Refuses, before applying anything, a
/// list that names a module twice or in which two modules share a version (on either
/// backend).
pub fn run_migrations(db: &Db, modules: &[&ModuleMigrations]) -> Result<Vec<String>, DbError> {
    check_distinct(modules)?;
    let mut conn = db.conn()?;
    let mut applied = Vec::new();
    for module in modules {
        let versions = match &mut *conn {
            DbConnection::Sqlite(c) => c
                .run_pending_migrations(Lent(&module.sqlite))
                .map(|vs| vs.iter().map(|v| v.to_string()).collect::<Vec<_>>()),
            DbConnection::Pg(c) => c
                .run_pending_migrations(Lent(&module.postgres))
                .map(|vs| vs.iter().map(|v| v.to_string()).collect::<Vec<_>>()),
        }
        .map_err(|e| DbError::Migration(format!("{}: {e}", module.module)))?;
        applied.extend(
            versions
                .into_iter()
                .map(|v| format!("{}/{v}", module.module)),
        );
    }
    Ok(applied)
}

fn check_distinct(modules: &[&ModuleMigrations]) -> Result<(), DbError> {
    let mut sets = Vec::new();
    for module in modules {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            sets.push((module.module, backend, module.versions(backend)?));
        }
    }
    match find_clash(&sets) {
        Some(clash) => Err(DbError::Migration(clash)),
        None => Ok(()),
    }
}

/// The first module named twice, or version used twice among one backend's migrations.
fn find_clash(sets: &[(&str, Backend, Vec<String>)]) -> Option<String> {
    let mut listed = HashSet::new();
    let mut owners: HashMap<(Backend, &str), &str> = HashMap::new();
    for (module, backend, versions) in sets {
        if !listed.insert((*module, *backend)) {
            return Some(format!("module {module} is listed twice"));
        }
        for version in versions {
            if let Some(other) = owners.insert((*backend, version.as_str()), module) {
                return Some(format!(
                    "{} migration version {version} is used by {other} and by {module}; \
                     a version must be unique across all modules",
                    backend.as_str()
                ));
            }
        }
    }
    None
}

#[cfg(test)]
#[path = "migrate_tests.rs"]
mod tests;
