//! The migrations of the `workorders_*` tables, both backends, embedded from
//! `migrations/{sqlite,postgres}/workorders/`. They touch no other module's tables; the
//! composition root runs them in its order of modules.

use diesel_migrations::embed_migrations;
use plantd_storage::ModuleMigrations;

pub const MIGRATIONS: ModuleMigrations = ModuleMigrations::new(
    "workorders",
    embed_migrations!("../../migrations/sqlite/workorders"),
    embed_migrations!("../../migrations/postgres/workorders"),
);
