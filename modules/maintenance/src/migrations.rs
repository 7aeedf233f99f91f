//! The migrations of the `maintenance_*` tables, both backends, embedded from
//! `migrations/{sqlite,postgres}/maintenance/`. They touch no other module's tables; the
//! composition root runs them in its order of modules.

use diesel_migrations::embed_migrations;
use plantd_storage::ModuleMigrations;

pub const MIGRATIONS: ModuleMigrations = ModuleMigrations::new(
    "maintenance",
    embed_migrations!("../../migrations/sqlite/maintenance"),
    embed_migrations!("../../migrations/postgres/maintenance"),
);
