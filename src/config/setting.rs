//! What one setting's declaration holds, and the names that follow from its key: the
//! environment variable `PLANTD_{KEY}` and the flag `--{key-with-dashes}`. Pure: no I/O.

use super::Settings;

/// One setting, declared once in `table.rs`. Everything else about it (the loader, its
/// environment variable and flag, `--help`, README's table) comes from here.
pub struct Setting {
    /// Its key in `plantd.toml`: lower case, words joined by `_`.
    pub key: &'static str,
    pub default: Initial,
    /// One line of Markdown for README's table (`--help` shows it without the marks).
    pub doc: &'static str,
    /// Checks a value (already trimmed) and stores it; the error is the reason only, the
    /// loader puts the setting's name, as the user wrote it, in front.
    pub apply: fn(&mut Settings, &str) -> Result<(), String>,
}

/// A setting's value before any source names one.
pub enum Initial {
    /// This text, read like any other value.
    Value(&'static str),
    /// Unset (`apply` gets ""); the text says, in Markdown, what happens then.
    Unset(&'static str),
}

impl Setting {
    pub fn env_var(&self) -> String {
        env_var(self.key)
    }

    /// The flag without its dashes in front: `http-addr`.
    pub fn long(&self) -> String {
        long(self.key)
    }

    /// What the default is, in Markdown.
    pub fn shown_default(&self) -> String {
        match self.default {
            Initial::Value(value) => format!("`{value}`"),
            Initial::Unset(meaning) => meaning.to_owned(),
        }
    }
}

pub fn env_var(key: &str) -> String {
    format!("PLANTD_{}", key.to_uppercase())
}

pub fn long(key: &str) -> String {
    key.replace('_', "-")
}
