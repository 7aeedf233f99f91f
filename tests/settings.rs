//! Settings on the command line, as declared once: every setting in README's table is a flag
//! (with its variable and default) of the commands that run the server or open its
//! database, works in either place on the line, and is checked like the same value from the
//! environment; `simulate` and `bench` show only their own flags; `plantd settings
//! --markdown` prints README's table.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support::eventually;
use crate::support::server::free_port;

/// Runs the plantd binary with a clean environment (plus `env`) in `dir`, to completion
/// within 60 s.
fn plantd(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_plantd"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PLANTD_LOG", "warn")
        .envs(env.iter().copied())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn plantd");
    let shown = format!("plantd {}", args.join(" "));
    eventually(Duration::from_secs(60), &shown, || {
        child.try_wait().expect("wait").map(|_| ())
    });
    child.wait_with_output().expect("output")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn help(args: &[&str]) -> String {
    let out = plantd(&std::env::temp_dir(), args, &[]);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

/// A fresh, empty folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("plantd-settings-tests")
        .join(format!("{}-{name}-{}", std::process::id(), free_port()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A row of README's settings table.
struct Row {
    key: String,
    env: String,
    flag: String,
    default: String,
}

/// README's settings table (a test of the binary keeps it equal to the declarations).
fn readme_rows() -> Vec<Row> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let header =
        "| key | environment | flag | default | meaning |\n| --- | --- | --- | --- | --- |\n";
    let start = readme.find(header).expect("README has the settings table") + header.len();
    let unquote = |cell: &str| cell.trim().trim_matches('`').to_owned();
    readme[start..]
        .lines()
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
            assert_eq!(cells.len(), 5, "{line}");
            Row {
                key: unquote(cells[0]),
                env: unquote(cells[1]),
                flag: unquote(cells[2]),
                default: cells[3].trim().replace(['`', '*'], ""),
            }
        })
        .collect()
}

#[test]
fn server_commands_list_every_setting_with_its_variable_and_default() {
    let rows = readme_rows();
    assert!(rows.len() >= 32, "every existing setting: {}", rows.len());
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["device", "add", "--help"],
    ] {
        let text = help(&args);
        assert!(text.contains("--config <FILE>"), "{args:?}:\n{text}");
        for row in &rows {
            let value = row.key.to_uppercase();
            let expected = [
                format!("{} <{value}>", row.flag),
                format!("[env: {}]", row.env),
                format!("[default: {}]", row.default),
            ];
            for part in &expected {
                assert!(text.contains(part), "{args:?}: no {part:?} in:\n{text}");
            }
        }
    }
    // Secrets set in the environment never show in the help.
    let out = plantd(
        &std::env::temp_dir(),
        &["--help"],
        &[("PLANTD_ADMIN_TOKEN", "a-secret-in-the-environment")],
    );
    assert!(!stdout(&out).contains("a-secret-in-the-environment"));
}

#[test]
fn simulate_and_bench_show_only_their_own_flags() {
    for (args, own) in [
        (
            vec!["simulate", "--help"],
            vec![
                "--url",
                "--mqtt",
                "--token",
                "--devices",
                "--rate",
                "--buffer-dir",
            ],
        ),
        (vec!["bench", "--help"], vec!["ingest", "health"]),
        (
            vec!["bench", "health", "--help"],
            vec!["--devices", "--rules", "--seconds", "--rate", "--crossing"],
        ),
        (
            vec!["bench", "ingest", "--help"],
            vec![
                "--devices",
                "--seconds",
                "--rate",
                "--no-mosquitto",
                "--url",
            ],
        ),
    ] {
        let text = help(&args);
        for flag in own {
            assert!(
                text.contains(flag),
                "{args:?}: its own {flag} is missing:\n{text}"
            );
        }
        for server_only in [
            "--http-addr",
            "--database-url",
            "--data-dir",
            "--log-format",
            "--config",
            "PLANTD_",
            "Settings:",
        ] {
            assert!(
                !text.contains(server_only),
                "{args:?}: shows the server's {server_only}:\n{text}"
            );
        }
    }
    // The server's flags are refused there, not silently ignored.
    let out = plantd(
        &std::env::temp_dir(),
        &["simulate", "--http-addr", "127.0.0.1:1", "--duration", "0"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--http-addr"), "{}", stderr(&out));
}

#[test]
fn every_setting_is_a_flag_before_or_after_the_command_and_beats_its_variable() {
    let dir = scratch("flags");
    let data = dir.join("data");
    let data = data.to_str().expect("utf-8 path");
    // A setting that was only a file key and a variable before is now a flag too, checked
    // and named like the others, on either side of the subcommand.
    for args in [
        vec!["migrate", "--data-dir", data, "--telemetry-batch-size", "0"],
        vec!["--telemetry-batch-size", "0", "migrate", "--data-dir", data],
    ] {
        let out = plantd(&dir, &args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert_eq!(
            stderr(&out).trim(),
            "plantd: --telemetry-batch-size: '0' is not a whole number from 1 to 1000000",
            "{args:?}"
        );
    }
    assert!(
        !Path::new(data).join("plantd.db").exists(),
        "a bad setting opened no database"
    );

    // A flag hides its variable (a bad one included); the subcommand's flag wins over the
    // top level's.
    let out = plantd(
        &dir,
        &[
            "--data-dir",
            "/nonexistent/plantd-elsewhere",
            "migrate",
            "--data-dir",
            data,
            "--log-format",
            "text",
        ],
        &[("PLANTD_LOG_FORMAT", "xml"), ("PLANTD_DB_POOL_SIZE", "2")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("applied "), "{}", stdout(&out));
    assert!(
        Path::new(data).join("plantd.db").exists(),
        "the subcommand's --data-dir was used"
    );

    // `--config` on the line wins over `PLANTD_CONFIG`, and the file's value over the default.
    let config = dir.join("plantd-flags.toml");
    std::fs::write(&config, "db_pool_size = 0\n").expect("write config");
    let out = plantd(
        &dir,
        &[
            "migrate",
            "--data-dir",
            data,
            "--config",
            config.to_str().expect("utf-8"),
        ],
        &[("PLANTD_CONFIG", "/nonexistent/plantd.toml")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim(),
        format!(
            "plantd: {}: db_pool_size: '0' is not a whole number from 1 to 256",
            config.display()
        )
    );
}

#[test]
fn the_settings_table_the_binary_prints_is_the_one_in_the_readme() {
    let out = plantd(&std::env::temp_dir(), &["settings", "--markdown"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.starts_with("| key | environment | flag | default | meaning |\n"));
    assert_eq!(table.lines().count(), readme_rows().len() + 2);
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    assert!(readme.contains(&format!("\n{table}\n")), "{table}");
    // Not a command a user needs to see.
    let text = help(&["--help"]);
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("settings")),
        "{text}"
    );
}
