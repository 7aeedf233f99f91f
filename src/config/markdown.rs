//! README's settings table, rendered from the declarations (`plantd settings --markdown`
//! prints it). A test keeps README.md equal to it. Pure.

use std::fmt::Write;

use super::SETTINGS;

pub fn table() -> String {
    let mut out = String::from(
        "| key | environment | flag | default | meaning |\n| --- | --- | --- | --- | --- |\n",
    );
    for setting in SETTINGS {
        let _ = writeln!(
            out,
            "| `{}` | `{}` | `--{}` | {} | {} |",
            setting.key,
            setting.env_var(),
            setting.long(),
            setting.shown_default(),
            setting.doc
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn readme_holds_the_settings_table_as_declared() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).expect("README.md");
        let table = table();
        // A whole block: a line of its own before it, an empty line after it.
        assert!(
            readme.contains(&format!("\n{table}\n")),
            "README.md's settings table differs from the declarations in src/config/table.rs; \
             replace it with the output of `plantd settings --markdown`:\n\n{table}"
        );
    }

    #[test]
    fn declarations_are_unique_and_fit_every_source() {
        let mut keys = HashSet::new();
        for setting in SETTINGS {
            assert!(keys.insert(setting.key), "{} declared twice", setting.key);
            assert!(
                !setting.key.is_empty()
                    && setting
                        .key
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{}: a key is lower case, digits and _ (it names a variable and a flag)",
                setting.key
            );
            assert_ne!(
                setting.key, "config",
                "`config` names the file, not a setting"
            );
            for text in [setting.doc, &setting.shown_default()] {
                assert!(
                    !text.contains('|') && !text.contains('\n') && !text.is_empty(),
                    "{}: one line without | in the table: {text:?}",
                    setting.key
                );
            }
        }
    }
}
