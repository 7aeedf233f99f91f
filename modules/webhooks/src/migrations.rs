//! This crate's migrations (`migrations/{sqlite,postgres}/webhooks/`), run after the
//! events crate's (see `src/app.rs`).

use diesel_migrations::embed_migrations;
use plantd_storage::ModuleMigrations;

pub const MIGRATIONS: ModuleMigrations = ModuleMigrations::new(
    "webhooks",
    embed_migrations!("../../migrations/sqlite/webhooks"),
    embed_migrations!("../../migrations/postgres/webhooks"),
);
