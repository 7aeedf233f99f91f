//! The rules a user's name, skills and password must pass before anything is stored.
//! Pure: no I/O; the common-password list is compiled into the binary.

use std::collections::HashSet;
use std::sync::OnceLock;

use plantd_contracts::DomainError;

/// Longest password accepted: argon2 takes any length, a form should not.
pub const MAX_PASSWORD_CHARS: usize = 256;
const MAX_USERNAME_CHARS: usize = 64;
const MAX_SKILL_CHARS: usize = 32;
const MAX_SKILLS: usize = 32;
/// Names the API uses for the caller (`/users/me`): nobody may be called so.
const RESERVED_NAMES: [&str; 1] = ["me"];

static COMMON_LIST: &str = include_str!("common_passwords.txt");

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_LIST
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// A user name: 1-64 of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn username(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    let valid = !name.is_empty()
        && name.len() <= MAX_USERNAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && !RESERVED_NAMES.contains(&name);
    if valid {
        Ok(name.to_owned())
    } else {
        Err(DomainError::invalid(
            "username",
            "use 1-64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit (not 'me')",
        ))
    }
}

/// Skills as stored: trimmed, lower case, unique, sorted; each 1-32 of `a-z 0-9 _ -`.
pub fn skills(given: &[String]) -> Result<Vec<String>, DomainError> {
    let mut out: Vec<String> = given
        .iter()
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(bad) = out.iter().find(|s| {
        s.len() > MAX_SKILL_CHARS
            || !s
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))
    }) {
        return Err(DomainError::invalid(
            "skills",
            format!("'{bad}' is not a skill tag: use 1-32 of a-z, 0-9, '_' and '-'"),
        ));
    }
    out.sort_unstable();
    out.dedup();
    if out.len() > MAX_SKILLS {
        return Err(DomainError::invalid(
            "skills",
            format!("at most {MAX_SKILLS} skills"),
        ));
    }
    Ok(out)
}

/// Skills as one column: tags separated by single spaces.
pub fn encode_skills(skills: &[String]) -> String {
    skills.join(" ")
}

pub fn decode_skills(stored: &str) -> Vec<String> {
    stored.split_whitespace().map(str::to_owned).collect()
}

/// A new password: at least `min_length` characters, at most [`MAX_PASSWORD_CHARS`], not
/// the user name and not one of the common passwords. `field` names it in the error.
/// The error never repeats the password.
pub fn password(
    min_length: usize,
    username: &str,
    password: &str,
    field: &str,
) -> Result<(), DomainError> {
    let chars = password.chars().count();
    if chars < min_length {
        return Err(DomainError::invalid(
            field,
            format!("use at least {min_length} characters"),
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(DomainError::invalid(
            field,
            format!("use at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    let lower = password.to_lowercase();
    if lower == username.to_lowercase() {
        return Err(DomainError::invalid(
            field,
            "the password must not be the user name",
        ));
    }
    if common_passwords().contains(lower.as_str()) {
        return Err(DomainError::invalid(
            field,
            "this is one of the most common passwords; choose another",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: DomainError) -> String {
        match e {
            DomainError::Invalid { field, .. } => field,
            other => panic!("not invalid: {other}"),
        }
    }

    #[test]
    fn passwords_short_common_or_the_name_are_refused() {
        assert!(password(10, "erin", "a-long-and-rare-phrase", "password").is_ok());
        assert_eq!(
            field_of(password(10, "erin", "short", "password").unwrap_err()),
            "password"
        );
        assert_eq!(
            field_of(password(10, "erin", "Password123", "new").unwrap_err()),
            "new"
        );
        assert!(password(10, "erin", "Basketball", "password").is_err());
        assert!(password(8, "engineer42", "ENGINEER42", "password").is_err());
        assert!(password(10, "erin", &"x".repeat(300), "password").is_err());
        // The list is the size the README says and has no comment lines in it.
        let set = common_passwords();
        assert!(set.len() > 1500 && set.len() < 2100, "{}", set.len());
        assert!(!set.iter().any(|p| p.starts_with('#')));
    }

    #[test]
    fn names_and_skills_are_normalised_or_refused() {
        assert_eq!(username(" erin.k ").unwrap(), "erin.k");
        for bad in ["", "Erin", "-x", "me", "a b", &"a".repeat(65)] {
            assert_eq!(field_of(username(bad).unwrap_err()), "username", "{bad}");
        }
        let given = ["Vibration", " mechanical", "vibration", ""].map(str::to_owned);
        assert_eq!(skills(&given).unwrap(), ["mechanical", "vibration"]);
        assert_eq!(
            decode_skills(&encode_skills(&skills(&given).unwrap())),
            ["mechanical", "vibration"]
        );
        assert!(skills(&["hot work".to_owned()]).is_err());
    }
}
