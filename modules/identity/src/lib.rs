//! The identity module: the people who use the UI (argon2id passwords, roles, web
//! sessions with CSRF tokens) and the API tokens of machines and integrations (SHA-256
//! digests of random secrets, scopes).
//!
//! It owns the `identity_*` tables and nothing else; other modules reach it only through
//! the messages in `plantd_contracts::identity`. Token checks are answered from memory so
//! the broker can ask on every MQTT connect.

mod actor;
mod browse;
mod migrations;
mod passwords;
mod people;
mod policy;
mod schema;
mod sessions;
mod throttle;
mod tokens;
mod users;

pub use actor::Identity;
pub use migrations::MIGRATIONS;
pub use throttle::SignInLimits;
