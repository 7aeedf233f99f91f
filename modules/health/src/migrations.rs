//! The migrations of the `health_*` tables, both backends, embedded from
//! `migrations/{sqlite,postgres}/health/`. They touch no other module's tables; the
//! composition root runs them in its order of modules.

use diesel_migrations::embed_migrations;
use plantd_storage::ModuleMigrations;

pub const MIGRATIONS: ModuleMigrations = ModuleMigrations::new(
    "health",
    embed_migrations!("../../migrations/sqlite/health"),
    embed_migrations!("../../migrations/postgres/health"),
);
