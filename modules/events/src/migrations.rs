//! This crate's migrations (`migrations/{sqlite,postgres}/events/`), run before the
//! domain modules' (see `src/app.rs`), so a module may record events from its first
//! migration on.

use diesel_migrations::embed_migrations;
use plantd_storage::ModuleMigrations;

pub const MIGRATIONS: ModuleMigrations = ModuleMigrations::new(
    "events",
    embed_migrations!("../../migrations/sqlite/events"),
    embed_migrations!("../../migrations/postgres/events"),
);
