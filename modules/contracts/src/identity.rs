//! Messages of the identity module: people, their sessions, and API tokens.

use std::fmt;
use std::str::FromStr;

use actix::Message;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::DomainError;

mod users;
pub use users::*;

/// What an API token may do. `mqtt` lets it log in to the broker as an integration.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Read,
    Write,
    Admin,
    Mqtt,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Write, Scope::Admin, Scope::Mqtt];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
            Scope::Mqtt => "mqtt",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| DomainError::invalid("scopes", format!("unknown scope '{s}'")))
    }
}

/// A person's role in the UI.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Engineer,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Engineer, Role::Viewer];

    /// The API scopes a signed-in person of this role holds.
    pub fn scopes(self) -> &'static [Scope] {
        match self {
            Role::Admin => &[Scope::Read, Scope::Write, Scope::Admin],
            Role::Engineer => &[Scope::Read, Scope::Write],
            Role::Viewer => &[Scope::Read],
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Engineer => "engineer",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "engineer" => Some(Role::Engineer),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// Who is calling, after authentication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// `token:<id>` or `user:<name>`, for logs.
    pub name: String,
    pub scopes: Vec<Scope>,
}

impl Principal {
    /// `admin` implies every other scope except `mqtt`.
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
            || (scope != Scope::Mqtt && self.scopes.contains(&Scope::Admin))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<CreatedToken, DomainError>")]
pub struct CreateToken {
    pub name: String,
    pub scopes: Vec<Scope>,
}

/// A new token; `secret` is shown this once and stored only as a digest.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub token: TokenView,
    pub secret: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    /// When it last authenticated (HTTP or MQTT), to the minute; `null` if never.
    #[serde(default)]
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<Vec<TokenView>, DomainError>")]
pub struct ListTokens;

#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<(), DomainError>")]
pub struct RevokeToken {
    pub id: String,
}

/// Check an API token (HTTP bearer or MQTT login). Answered from memory.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Option<Principal>")]
pub struct AuthenticateToken {
    pub id: String,
    pub secret: String,
}

/// Check a person's password (argon2id), unless the account or the address must wait
/// after failures, or every hashing worker is busy and the queue is full.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<PasswordCheck, DomainError>")]
pub struct VerifyPassword {
    pub username: String,
    pub password: String,
    /// The caller's IP address, for the per-address back-off; empty when not known.
    pub address: String,
}

/// The answer to `VerifyPassword`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum PasswordCheck {
    Verified(UserView),
    /// Wrong user name or password.
    Wrong,
    /// Refused unchecked: too many recent failures of this account or address.
    BackingOff {
        retry_after_secs: u64,
    },
    /// Refused unchecked: the password-hashing queue is full.
    Busy,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserView {
    pub username: String,
    pub role: Role,
}

/// Start a web session for a verified user.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<IssuedSession, DomainError>")]
pub struct StartSession {
    pub username: String,
}

/// The session cookie's secret and the CSRF token that forms of this session carry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuedSession {
    pub secret: String,
    pub csrf_token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Option<SessionView>")]
pub struct ResolveSession {
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionView {
    pub username: String,
    pub role: Role,
    pub csrf_token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct EndSession {
    pub secret: String,
}

/// First-start set-up: the admin token and the `admin` user's password. A value given is
/// used; one not given is generated and returned, once. A second start changes nothing.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<BootstrapReport, DomainError>")]
pub struct Bootstrap {
    pub admin_token: Option<String>,
    pub admin_password: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BootstrapReport {
    /// `Some((token id, secret))` when a token was created now.
    pub admin_token: Option<(String, String)>,
    pub token_was_generated: bool,
    /// `Some(password)` when the admin user was created now with a generated password.
    pub generated_password: Option<String>,
    pub admin_user_created: bool,
}
