//! The migrations of the `identity_*` tables, both backends, embedded from
//! `migrations/{sqlite,postgres}/identity/`. They touch no other module's tables (a
//! test reads every file); the composition root runs them, in its order of modules,
//! with `plantd_storage::run_migrations`.

use diesel_migrations::embed_migrations;
use plantd_storage::ModuleMigrations;

pub const MIGRATIONS: ModuleMigrations = ModuleMigrations::new(
    "identity",
    embed_migrations!("../../migrations/sqlite/identity"),
    embed_migrations!("../../migrations/postgres/identity"),
);
