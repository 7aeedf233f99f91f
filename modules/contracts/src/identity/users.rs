//! Messages about the people who use plantd: create, list, read, change and delete users
//! (admins), change one's own password and sign out everywhere (anyone signed in).
//! Passwords travel inside these messages once and are stored only as argon2id hashes.

use actix::Message;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Role;
use crate::DomainError;

/// A user as the admin pages and `/users` show it (never the password hash).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDetails {
    pub username: String,
    pub role: Role,
    /// A disabled user cannot sign in; their sessions ended when they were disabled.
    pub disabled: bool,
    /// Short tags (`mechanical`, `vibration`, …), sorted; meaningful for engineers.
    pub skills: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

/// Create a user; the password must pass the password rules.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<UserDetails, DomainError>")]
pub struct CreateUser {
    pub username: String,
    pub password: String,
    pub role: Role,
    pub skills: Vec<String>,
}

/// Users, by name; `role` and `skill` narrow the list (a user matches `skill` when it
/// is one of theirs).
#[derive(Debug, Clone, Default, Serialize, Deserialize, Message)]
#[rtype(result = "Result<Vec<UserDetails>, DomainError>")]
pub struct ListUsers {
    pub role: Option<Role>,
    pub skill: Option<String>,
}

/// The orders a user table can be sorted in (ties broken by user name).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserSort {
    #[default]
    Username,
    Role,
    LastSignIn,
}

impl UserSort {
    pub const ALL: [UserSort; 3] = [UserSort::Username, UserSort::Role, UserSort::LastSignIn];

    pub fn as_str(self) -> &'static str {
        match self {
            UserSort::Username => "username",
            UserSort::Role => "role",
            UserSort::LastSignIn => "last_sign_in",
        }
    }

    pub fn parse(raw: &str) -> Option<UserSort> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// One window of the users with `role` whose name or skills contain `q` (any case), in
/// the order asked; the reply counts them all.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Message)]
#[rtype(result = "Result<crate::window::Windowed<UserDetails>, DomainError>")]
pub struct BrowseUsers {
    pub role: Option<Role>,
    pub q: Option<String>,
    pub sort: UserSort,
    pub dir: crate::window::SortDir,
    pub window: crate::window::Window,
}

#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<UserDetails, DomainError>")]
pub struct GetUser {
    pub username: String,
}

/// An admin's change to a user; fields left `None` stay. Disabling ends the user's
/// sessions; the last enabled admin cannot be disabled or demoted (`Conflict`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, Message)]
#[rtype(result = "Result<UserDetails, DomainError>")]
pub struct UpdateUser {
    pub username: String,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    pub skills: Option<Vec<String>>,
    /// A new password set by an admin (a reset); the user's sessions end.
    pub password: Option<String>,
}

/// Delete a user and end their sessions; never the last enabled admin (`Conflict`).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<(), DomainError>")]
pub struct DeleteUser {
    pub username: String,
}

/// A person changes their own password, proving the current one. Their other sessions
/// stay (use `EndUserSessions` to sign out everywhere).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<(), DomainError>")]
pub struct ChangeOwnPassword {
    pub username: String,
    pub current: String,
    pub new: String,
}

/// Ends every web session of a user ("sign out everywhere"); answers how many ended.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<usize, DomainError>")]
pub struct EndUserSessions {
    pub username: String,
}

/// The password rules in force, for forms that explain them.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "PasswordRules")]
pub struct GetPasswordRules;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasswordRules {
    pub min_length: usize,
    pub max_length: usize,
}
