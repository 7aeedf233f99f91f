//! Who could do a job: enabled engineers ranked by how many of the order's required skills
//! they have (all of them first), then by name. Pure; the REST endpoint and the pages
//! fetch the order (work orders) and the engineers (identity) and call [`rank`].

use plantd_contracts::identity::{Role, UserDetails};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Suggestion {
    pub username: String,
    /// Every skill of the engineer.
    pub skills: Vec<String>,
    /// The order's skills the engineer has.
    pub matched: Vec<String>,
    /// The order's skills the engineer lacks.
    pub missing: Vec<String>,
    /// Has every skill the order needs.
    pub has_all: bool,
}

/// Enabled engineers, best first. Skills compare case-insensitively; an order that needs
/// no skills lists every enabled engineer by name.
pub fn rank(required: &[String], users: &[UserDetails]) -> Vec<Suggestion> {
    let mut needed: Vec<String> = required
        .iter()
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    needed.sort_unstable();
    needed.dedup();
    let mut out: Vec<Suggestion> = users
        .iter()
        .filter(|u| u.role == Role::Engineer && !u.disabled)
        .map(|u| {
            let (matched, missing): (Vec<String>, Vec<String>) = needed
                .iter()
                .cloned()
                .partition(|s| u.skills.iter().any(|have| have.eq_ignore_ascii_case(s)));
            Suggestion {
                username: u.username.clone(),
                skills: u.skills.clone(),
                has_all: missing.is_empty(),
                matched,
                missing,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.matched
            .len()
            .cmp(&a.matched.len())
            .then_with(|| a.username.cmp(&b.username))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn user(name: &str, role: Role, disabled: bool, skills: &[&str]) -> UserDetails {
        UserDetails {
            username: name.to_owned(),
            role,
            disabled,
            skills: skills.iter().map(|s| s.to_string()).collect(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
            last_sign_in_at: None,
        }
    }

    #[test]
    fn engineers_with_every_skill_come_first_then_by_count_then_by_name() {
        let users = [
            user(
                "zoe",
                Role::Engineer,
                false,
                &["mechanical", "vibration", "welding"],
            ),
            user("adam", Role::Engineer, false, &["electrical"]),
            user("bea", Role::Engineer, false, &["vibration"]),
            user("carl", Role::Engineer, false, &["Mechanical", "vibration"]),
            user("dora", Role::Engineer, true, &["mechanical", "vibration"]),
            user("erik", Role::Viewer, false, &["mechanical", "vibration"]),
            user("anna", Role::Admin, false, &["mechanical", "vibration"]),
            user("ben", Role::Engineer, false, &["welding"]),
        ];
        let required = [
            "vibration".to_owned(),
            "MECHANICAL".to_owned(),
            "vibration".to_owned(),
        ];
        let ranked = rank(&required, &users);
        let names: Vec<&str> = ranked.iter().map(|s| s.username.as_str()).collect();
        // Disabled engineers, viewers and admins are not offered.
        assert_eq!(names, ["carl", "zoe", "bea", "adam", "ben"]);
        assert!(ranked[0].has_all && ranked[1].has_all && !ranked[2].has_all);
        assert_eq!(ranked[2].matched, ["vibration"]);
        assert_eq!(ranked[2].missing, ["mechanical"]);
        assert_eq!(ranked[3].matched, Vec::<String>::new());

        // No skills needed: every enabled engineer, by name, each "has all".
        let all = rank(&[], &users);
        let names: Vec<&str> = all.iter().map(|s| s.username.as_str()).collect();
        assert_eq!(names, ["adam", "bea", "ben", "carl", "zoe"]);
        assert!(all.iter().all(|s| s.has_all));
    }
}
