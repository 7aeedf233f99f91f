//! Security hardening (issue 14), each test written as the attack it stops: secrets left in
//! the journal, hostile telemetry ranges, pages framed or scripted by another origin.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Child, Stdio};

use crate::support::http::{anonymous, api};
use crate::support::Server;

/// Starts `server`'s plantd without configured admin credentials (so the first start
/// generates them), logging at info to `{data_dir}/{log}`; returns its stdout file.
fn start_generating(server: &Server, log: &str) -> (Child, std::path::PathBuf) {
    let stdout = server.data_dir.join(format!("{log}.stdout"));
    let stderr = server.data_dir.join(format!("{log}.stderr"));
    let mut cmd = server.command();
    cmd.env_remove("PLANTD_ADMIN_TOKEN")
        .env_remove("PLANTD_ADMIN_PASSWORD")
        .env("PLANTD_LOG", "info")
        .stdout(Stdio::from(
            std::fs::File::create(&stdout).expect("stdout file"),
        ))
        .stderr(Stdio::from(
            std::fs::File::create(&stderr).expect("stderr file"),
        ));
    (cmd.spawn().expect("start plantd"), stdout)
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The attack: whoever reads the journal (stdout is kept by journald, often readable by a
/// wider group) learns the admin credentials printed at the first start. The secrets must
/// also land once in a 0600 file, and the log must point there without the secret.
#[test]
fn first_start_secrets_go_to_a_private_file_named_in_the_log() {
    let mut server = Server::prepare(&[]);
    let (child, stdout) = start_generating(&server, "first");
    server.adopt(child);
    let file = server.data_dir.join("first-start-credentials.txt");
    let meta = std::fs::metadata(&file).expect("the first start writes its credentials file");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "owner only");
    let text = read(&file);
    let token = text
        .lines()
        .find_map(|l| l.strip_prefix("admin API token: "))
        .expect("token line")
        .to_owned();
    let password = text
        .lines()
        .find_map(|l| l.strip_prefix("web UI password: "))
        .expect("password line")
        .to_owned();
    assert!(!token.is_empty() && !password.is_empty(), "{text}");
    // The token in the file is the one plantd accepts.
    let (status, _) = anonymous(&server).with_token(&token).get("/api/v1/devices");
    assert_eq!(status, 200, "the file's token works");
    server.stop();
    let console = read(&stdout);
    assert!(
        console.contains(&token) && console.contains(&password),
        "console shows both once"
    );
    let log = read(&server.data_dir.join("first.stderr"));
    let line = log
        .lines()
        .find(|l| l.contains("first-start-credentials.txt"))
        .unwrap_or_else(|| panic!("a log line names the file:\n{log}"));
    assert!(line.contains(&file.display().to_string()), "{line}");
    assert!(!log.contains(&token), "no token in the log:\n{log}");
    assert!(!log.contains(&password), "no password in the log:\n{log}");

    // A second start generates nothing and leaves the file as it was.
    let before = (std::fs::metadata(&file).expect("file").ino(), read(&file));
    let (child, stdout) = start_generating(&server, "second");
    server.adopt(child);
    let (status, _) = api(&server).with_token(&token).get("/api/v1/devices");
    assert_eq!(status, 200, "the first start's token still works");
    server.stop();
    let after = (std::fs::metadata(&file).expect("file").ino(), read(&file));
    assert_eq!(before, after, "not rewritten");
    assert!(!read(&stdout).contains("first start"), "nothing printed");
    let log = read(&server.data_dir.join("second.stderr"));
    assert!(!log.contains("first-start-credentials.txt"), "{log}");
}
