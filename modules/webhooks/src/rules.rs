//! What a subscription may say, checked before anything is stored: its URL (http or https
//! with a host), its event selectors (a known type, `prefix.*`, `*`), and which events a
//! selector takes. Pure: no I/O.

use plantd_contracts::{DomainError, EventData};

/// Longest URL accepted.
const MAX_URL_CHARS: usize = 2048;
/// Most selectors in one subscription.
const MAX_SELECTORS: usize = 64;

/// The URL as it will be called, or why not (field `url`).
pub fn check_url(url: &str) -> Result<String, DomainError> {
    let url = url.trim();
    let invalid = |m: &str| DomainError::invalid("url", m);
    if url.len() > MAX_URL_CHARS {
        return Err(invalid("at most 2048 characters"));
    }
    let parsed = url::Url::parse(url).map_err(|e| invalid(&format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("must be http:// or https://"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("must name a host"));
    }
    if parsed.fragment().is_some() {
        return Err(invalid("must not have a #fragment"));
    }
    Ok(parsed.to_string())
}

/// The selectors, de-duplicated in their order, or why not (field `events`).
pub fn check_events(events: &[String]) -> Result<Vec<String>, DomainError> {
    if events.is_empty() {
        return Err(DomainError::invalid(
            "events",
            "name at least one event type, `prefix.*` or `*`",
        ));
    }
    if events.len() > MAX_SELECTORS {
        return Err(DomainError::invalid("events", "at most 64 entries"));
    }
    let mut kept: Vec<String> = Vec::new();
    for entry in events {
        let entry = entry.trim();
        if !is_selector(entry) {
            let shown: String = entry.chars().take(64).collect();
            return Err(DomainError::invalid(
                "events",
                format!(
                    "unknown event type '{shown}' (known: {}; or `prefix.*`, `*`)",
                    EventData::TYPES.join(", ")
                ),
            ));
        }
        if !kept.iter().any(|k| k == entry) {
            kept.push(entry.to_owned());
        }
    }
    Ok(kept)
}

fn is_selector(entry: &str) -> bool {
    if entry == "*" || EventData::TYPES.contains(&entry) {
        return true;
    }
    // A family, possibly of types a later version adds (`alarm.*`).
    entry.strip_suffix(".*").is_some_and(|prefix| {
        !prefix.is_empty()
            && prefix.len() <= 64
            && prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
    })
}

/// Whether a subscription with these selectors wants an event of type `kind`.
pub fn wants(selectors: &[String], kind: &str) -> bool {
    selectors.iter().any(|s| {
        s == "*"
            || s == kind
            || s.strip_suffix('*')
                .is_some_and(|prefix| prefix.ends_with('.') && kind.starts_with(prefix))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_take_types_families_and_everything() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(wants(&s(&["device.*"]), "device.provisioned"));
        assert!(!wants(&s(&["device.*"]), "devices.x"));
        assert!(wants(&s(&["*"]), "command.created"));
        assert!(wants(&s(&["command.created"]), "command.created"));
        assert!(!wants(&s(&["command.created"]), "command.created2"));
        assert!(check_events(&s(&["alarm.*", "device.provisioned"])).is_ok());
        assert!(check_events(&s(&["alarm.raised"])).is_ok());
        assert!(check_events(&s(&["no.such_type"])).is_err());
        assert!(check_events(&s(&[".*"])).is_err());
        assert!(check_events(&[]).is_err());
    }

    #[test]
    fn urls_are_http_with_a_host() {
        assert!(check_url("http://127.0.0.1:9/hook").is_ok());
        assert!(check_url("https://example.com/x?y=1").is_ok());
        assert!(check_url("ftp://example.com/").is_err());
        assert!(check_url("http://").is_err());
        assert!(check_url("example.com/hook").is_err());
        assert!(check_url("file:///etc/passwd").is_err());
    }
}
