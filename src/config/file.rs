//! `plantd.toml`: a flat table of `key = value`. Every value is read as text, so it is
//! checked like one from the environment or a flag. Reads that one file.

use std::collections::BTreeMap;
use std::path::Path;

pub fn read(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: not valid TOML: {e}", path.display()))?;
    table
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Float(f) => f.to_string(),
                _ => {
                    return Err(format!(
                        "{}: {key}: give a string, number or boolean",
                        path.display()
                    ))
                }
            };
            Ok((key, text))
        })
        .collect()
}
