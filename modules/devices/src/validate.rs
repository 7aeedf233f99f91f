//! The registry's field rules (names, kinds, asset ids, labels, metadata) and the JSON
//! merge patch applied to metadata. Pure functions: no I/O, no state.

use plantd_contracts::DomainError;
use serde_json::Value;

pub const MAX_LABELS: usize = 32;
const MAX_NAME: usize = 200;
const MAX_KIND: usize = 64;
const MAX_ASSET_ID: usize = 128;
/// Metadata is for a handful of facts (location, serial number, vendor), not documents.
const MAX_METADATA_BYTES: usize = 16 * 1024;

pub fn name(value: &str) -> Result<(), DomainError> {
    if value.trim().is_empty() || value.chars().count() > MAX_NAME {
        return Err(DomainError::invalid(
            "name",
            format!("1 to {MAX_NAME} characters"),
        ));
    }
    Ok(())
}

/// A kind or an asset id: short, printable, no surrounding spaces.
pub fn short_text(field: &str, value: &str) -> Result<(), DomainError> {
    let max = if field == "kind" {
        MAX_KIND
    } else {
        MAX_ASSET_ID
    };
    if value.len() > max || value.trim() != value || value.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            field,
            format!("at most {max} printable characters, no surrounding spaces"),
        ));
    }
    Ok(())
}

/// `[a-z0-9][a-z0-9_.:-]{0,63}`: a label can be a plain word (`line-2`) or a key and a
/// value (`site:north`), and is safe in a URL query and an MQTT topic.
pub fn is_valid_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    match bytes.first() {
        Some(b) if b.is_ascii_lowercase() || b.is_ascii_digit() => {}
        _ => return false,
    }
    bytes.len() <= 64
        && bytes.iter().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b':' | b'-')
        })
}

/// Checks labels and returns them sorted without duplicates.
pub fn labels(labels: Vec<String>) -> Result<Vec<String>, DomainError> {
    if let Some(bad) = labels.iter().find(|l| !is_valid_label(l)) {
        return Err(DomainError::invalid(
            "labels",
            format!("'{bad}' is not a label: 1-64 characters of a-z, 0-9, '_', '.', ':' and '-', starting with a letter or digit"),
        ));
    }
    let mut labels = labels;
    labels.sort();
    labels.dedup();
    if labels.len() > MAX_LABELS {
        return Err(DomainError::invalid(
            "labels",
            format!("at most {MAX_LABELS} labels"),
        ));
    }
    Ok(labels)
}

pub fn metadata(value: &Value) -> Result<(), DomainError> {
    if !value.is_object() {
        return Err(DomainError::invalid("metadata", "must be a JSON object"));
    }
    if value.to_string().len() > MAX_METADATA_BYTES {
        return Err(DomainError::invalid(
            "metadata",
            format!("at most {MAX_METADATA_BYTES} bytes of JSON"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_follow_the_rule_and_are_normalised() {
        assert!(is_valid_label("line-2"));
        assert!(is_valid_label("site:north.hall_1"));
        assert!(!is_valid_label(""));
        assert!(!is_valid_label("-x"));
        assert!(!is_valid_label("Upper"));
        assert!(!is_valid_label("a b"));
        assert!(!is_valid_label(&"a".repeat(65)));
        let got = labels(vec!["b".into(), "a".into(), "b".into()]).expect("valid");
        assert_eq!(got, vec!["a".to_owned(), "b".to_owned()]);
        assert!(labels((0..33).map(|i| format!("l{i}")).collect()).is_err());
    }

    #[test]
    fn metadata_must_be_an_object() {
        assert!(metadata(&json!({"x": 1})).is_ok());
        assert!(metadata(&json!([1])).is_err());
        assert!(metadata(&json!("s")).is_err());
    }
}
