//! This crate's migrations (`migrations/{sqlite,postgres}/events/`), run before the
//! domain modules' so any module may record events from its first migration on.

use diesel_migrations::{embed_migrations, EmbeddedMigrations};

pub const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite/events");
pub const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres/events");
