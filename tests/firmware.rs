//! Firmware roll-outs end to end: an image uploaded over HTTP, a campaign offered to three
//! real MQTT devices (one succeeds, one reports failure, one stays silent and times out),
//! the download guarded by each device's own credentials, the campaign's counts, and a
//! cancel that clears the retained notice.

use std::time::Duration;

use base64::Engine;
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use rumqttc::Packet;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::support::http::{anonymous, api, metric, provision};
use crate::support::mqtt::{device, Mqtt};
use crate::support::server::ADMIN_TOKEN;
use crate::support::{eventually, web, Server};

/// Uploads `image` as version `version`; returns the reply.
pub fn upload(server: &Server, version: &str, image: &[u8]) -> (u16, Value) {
    let result = ureq::post(&server.url(&format!(
        "/api/v1/firmware?version={version}&name=test-image"
    )))
    .timeout(Duration::from_secs(30))
    .set("Authorization", &format!("Bearer {ADMIN_TOKEN}"))
    .set("Content-Type", "application/octet-stream")
    .send_bytes(image);
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("HTTP transport error: {e}"),
    };
    let status = response.status();
    let body = response.into_json().unwrap_or(Value::Null);
    (status, body)
}

/// GET of a firmware image with Basic credentials; returns status and bytes.
pub fn download(url: &str, user: &str, password: &str) -> (u16, Vec<u8>) {
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let response = match ureq::get(url)
        .timeout(Duration::from_secs(30))
        .set("Authorization", &format!("Basic {auth}"))
        .call()
    {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("HTTP transport error: {e}"),
    };
    let status = response.status();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes).expect("body");
    (status, bytes)
}

/// The next `firmware/available` message of this device (`Value::Null` for a cleared one).
fn next_notice(mqtt: &mut Mqtt, id: &str) -> Value {
    let topic = format!("devices/{id}/firmware/available");
    match mqtt.expect(
        Duration::from_secs(10),
        "firmware notice",
        |p| matches!(p, Packet::Publish(p) if p.topic == topic),
    ) {
        Packet::Publish(p) if p.payload.is_empty() => Value::Null,
        Packet::Publish(p) => serde_json::from_slice(&p.payload).expect("notice is JSON"),
        _ => unreachable!(),
    }
}

fn report(mqtt: &mut Mqtt, id: &str, status: Value) {
    mqtt.publish(
        &format!("devices/{id}/firmware/status"),
        status.to_string(),
        rumqttc::QoS::AtLeastOnce,
    );
}

fn campaign(server: &Server, id: &str) -> Value {
    let (status, body) = api(server).get(&format!("/api/v1/firmware-campaigns/{id}"));
    assert_eq!(status, 200, "{body}");
    body
}

fn target<'a>(campaign: &'a Value, device: &str) -> &'a Value {
    campaign["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .find(|t| t["device_id"] == device)
        .expect("target listed")
}

#[test]
fn campaign_with_success_failure_and_timeout_then_cancel() {
    let server = Server::start();
    let image: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let (status, fw) = upload(&server, "2.1.0", &image);
    assert_eq!(status, 201, "{fw}");
    assert_eq!(fw["sha256"], hex::encode(Sha256::digest(&image)));
    assert_eq!(fw["size"], image.len());
    let fw_id = fw["id"].as_str().expect("id").to_owned();
    let (status, list) = api(&server).get("/api/v1/firmware");
    assert_eq!(status, 200);
    assert_eq!(list["items"][0]["id"], fw_id);

    let ids = ["fw-ok", "fw-bad", "fw-mute", "fw-other"];
    let passwords: Vec<String> = ids.iter().map(|id| provision(&server, id)).collect();
    let mut devices: Vec<Mqtt> = ids[..3]
        .iter()
        .zip(&passwords)
        .map(|(id, pw)| {
            let mut d = device(&server, id, pw);
            d.subscribe(&format!("devices/{id}/firmware/available"));
            d
        })
        .collect();

    let (status, problem) = api(&server).post(
        "/api/v1/firmware-campaigns",
        json!({ "firmware": fw_id, "label": "line-1" }),
    );
    assert_eq!(status, 422, "no device has that label: {problem}");
    let (status, problem) = api(&server).post(
        "/api/v1/firmware-campaigns",
        json!({ "firmware": fw_id, "devices": ["no-such-device"] }),
    );
    assert_eq!(status, 422, "{problem}");

    let (status, started) = api(&server).post(
        "/api/v1/firmware-campaigns",
        json!({ "firmware": fw_id, "devices": &ids[..3], "timeout_s": 2, "retries": 0 }),
    );
    assert_eq!(status, 201, "{started}");
    assert_eq!(started["counts"]["pending"], 3);
    let campaign_id = started["id"].as_str().expect("id").to_owned();
    let (status, _) = api(&server).post(
        "/api/v1/firmware-campaigns",
        json!({ "firmware": fw_id, "devices": ["fw-ok"] }),
    );
    assert_eq!(status, 409, "a device is in one running campaign at a time");

    let mut notices = Vec::new();
    for (mqtt, id) in devices.iter_mut().zip(ids) {
        let notice = next_notice(mqtt, id);
        assert_eq!(notice["campaign"], campaign_id.as_str());
        assert_eq!(notice["version"], "2.1.0");
        assert_eq!(notice["sha256"], fw["sha256"]);
        assert_eq!(notice["size"], image.len());
        notices.push(notice);
    }
    let url = notices[0]["url"].as_str().expect("url").to_owned();

    // Each notice is signed: ed25519 over the image's raw SHA-256 digest, verifiable with
    // the public key the API shows (and a forged digest does not verify).
    let (status, key) = api(&server).get("/api/v1/firmware/signing-key");
    assert_eq!(status, 200, "{key}");
    assert_eq!(key["algorithm"], "ed25519");
    let b64 = base64::engine::general_purpose::STANDARD;
    let public: [u8; 32] = b64
        .decode(key["public_key"].as_str().expect("key"))
        .expect("base64")
        .try_into()
        .expect("32 bytes");
    let public = ed25519_dalek::VerifyingKey::from_bytes(&public).expect("a key");
    let signature = b64
        .decode(notices[0]["signature"].as_str().expect("signature"))
        .expect("base64");
    let signature = ed25519_dalek::Signature::from_slice(&signature).expect("a signature");
    let digest = Sha256::digest(&image);
    assert!(public.verify_strict(&digest, &signature).is_ok());
    assert!(public
        .verify_strict(&Sha256::digest(b"other"), &signature)
        .is_err());
    assert_eq!(fw["signature"], notices[0]["signature"]);
    assert_eq!(
        anonymous(&server).get("/api/v1/firmware/signing-key").0,
        401
    );

    // Only a target, with its own secret, may download.
    assert_eq!(download(&url, "fw-other", &passwords[3]).0, 404);
    assert_eq!(download(&url, "fw-ok", &passwords[3]).0, 401);
    assert_eq!(download(&url, "fw-ok", "wrong").0, 401);
    let (status, bytes) = download(&url, "fw-ok", &passwords[0]);
    assert_eq!(status, 200);
    assert_eq!(hex::encode(Sha256::digest(&bytes)), fw["sha256"]);

    let ok = &mut devices[0];
    report(
        ok,
        "fw-ok",
        json!({ "campaign": campaign_id, "state": "downloading", "version": "1.0.0" }),
    );
    report(
        ok,
        "fw-ok",
        json!({ "campaign": campaign_id, "state": "installing", "version": "1.0.0" }),
    );
    let seen = eventually(Duration::from_secs(5), "installing", || {
        let c = campaign(&server, &campaign_id);
        (c["counts"]["installing"] == 1).then_some(c)
    });
    assert!(target(&seen, "fw-ok")["deadline"].is_string());
    report(
        ok,
        "fw-ok",
        json!({ "campaign": campaign_id, "state": "done", "version": "2.1.0" }),
    );
    assert_eq!(
        next_notice(ok, "fw-ok"),
        Value::Null,
        "done clears the notice"
    );
    report(
        &mut devices[1],
        "fw-bad",
        json!({ "campaign": campaign_id, "state": "failed", "version": "1.0.0", "detail": "flash write error" }),
    );

    // fw-mute says nothing: after its 2 s it is failed for a timeout.
    let finished = eventually(Duration::from_secs(15), "campaign to finish", || {
        let c = campaign(&server, &campaign_id);
        (c["status"] == "finished").then_some(c)
    });
    assert_eq!(finished["counts"]["done"], 1, "{finished}");
    assert_eq!(finished["counts"]["failed"], 2, "{finished}");
    assert_eq!(target(&finished, "fw-ok")["state"], "done");
    assert_eq!(target(&finished, "fw-ok")["reported_version"], "2.1.0");
    assert_eq!(target(&finished, "fw-bad")["detail"], "flash write error");
    let mute = target(&finished, "fw-mute");
    assert_eq!(mute["state"], "failed");
    assert!(
        mute["detail"].as_str().unwrap_or("").contains("timeout"),
        "{mute}"
    );
    assert_eq!(next_notice(&mut devices[2], "fw-mute"), Value::Null);
    assert_eq!(
        download(&url, "fw-ok", &passwords[0]).0,
        404,
        "nothing to download once finished"
    );
    let (status, _) = api(&server).post(
        &format!("/api/v1/firmware-campaigns/{campaign_id}/cancel"),
        json!({}),
    );
    assert_eq!(status, 409, "a finished campaign cannot be cancelled");

    // A second campaign for the silent device, cancelled: its notice is cleared.
    let (status, second) = api(&server).post(
        "/api/v1/firmware-campaigns",
        json!({ "firmware": fw_id, "devices": ["fw-mute"], "timeout_s": 600 }),
    );
    assert_eq!(status, 201, "{second}");
    let second_id = second["id"].as_str().expect("id").to_owned();
    assert_eq!(
        next_notice(&mut devices[2], "fw-mute")["campaign"],
        second_id.as_str()
    );
    let (status, cancelled) = api(&server).post(
        &format!("/api/v1/firmware-campaigns/{second_id}/cancel"),
        json!({}),
    );
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["counts"]["cancelled"], 1);
    assert_eq!(next_notice(&mut devices[2], "fw-mute"), Value::Null);
    drop(devices);
    let mut again = device(&server, "fw-mute", &passwords[2]);
    again.subscribe("devices/fw-mute/firmware/available");
    let retained = again.received(Duration::from_millis(1500));
    assert!(
        retained.iter().all(|(_, payload)| payload.is_empty()),
        "no notice is retained after the cancel: {retained:?}"
    );
    let (status, list) = api(&server).get("/api/v1/firmware-campaigns");
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
}

pub fn multipart(fields: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "plantd-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, value) in fields {
        let disposition = if *name == "image" {
            format!("form-data; name=\"{name}\"; filename=\"fw.bin\"\r\nContent-Type: application/octet-stream")
        } else {
            format!("form-data; name=\"{name}\"")
        };
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[test]
fn firmware_pages_upload_start_and_cancel_with_csrf() {
    let server = Server::start();
    provision(&server, "ui-press");
    let agent = web::agent();
    let session = web::sign_in(&server, &agent);
    let get = |path: &str| {
        let r = agent
            .get(&server.url(path))
            .set("Cookie", &session)
            .call()
            .expect("page");
        r.into_string().expect("html")
    };
    let page = get("/firmware");
    let (_, key) = api(&server).get("/api/v1/firmware/signing-key");
    assert!(
        page.contains(key["public_key"].as_str().expect("key")),
        "the page shows the signing key for device makers"
    );
    let csrf = web::form_token(&page).expect("the page carries the session's CSRF token");

    let post = |path: &str, content_type: &str, body: &[u8]| match agent
        .post(&server.url(path))
        .set("Cookie", &session)
        .set("Content-Type", content_type)
        .send_bytes(body)
    {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("HTTP transport error: {e}"),
    };
    let image = vec![42u8; 10_000];
    let (ct, forged) = multipart(&[
        ("csrf_token", b"nope"),
        ("version", b"3.0.0"),
        ("image", &image),
    ]);
    web::assert_refused(
        post("/firmware", &ct, &forged),
        "the form expired; reload the page and try again",
    );
    assert_eq!(
        api(&server).get("/api/v1/firmware").1["items"],
        json!([]),
        "the forged upload stored nothing"
    );
    let (ct, body) = multipart(&[
        ("csrf_token", csrf.as_bytes()),
        ("version", b"3.0.0"),
        ("name", b"press controller"),
        ("image", &image),
    ]);
    let uploaded = post("/firmware", &ct, &body);
    assert_eq!(uploaded.status(), 303);
    let (_, list) = api(&server).get("/api/v1/firmware");
    assert_eq!(
        list["items"].as_array().map(Vec::len),
        Some(1),
        "only the real form stored an image"
    );
    assert_eq!(
        list["items"][0]["sha256"],
        hex::encode(Sha256::digest(&image))
    );
    let fw_id = list["items"][0]["id"].as_str().expect("id").to_owned();
    assert!(get("/firmware").contains("press controller"));

    let form = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    };
    let urlencoded = "application/x-www-form-urlencoded";
    let started = post(
        "/firmware/campaigns",
        urlencoded,
        form(&[
            ("csrf_token", &csrf),
            ("firmware", &fw_id),
            ("devices", "ui-press"),
        ])
        .as_bytes(),
    );
    assert_eq!(started.status(), 303);
    let location = started.header("location").expect("location").to_owned();
    assert!(location.starts_with("/firmware/campaigns/"), "{location}");
    let detail = get(&location);
    assert!(detail.contains("data-device=\"ui-press\""), "{detail}");
    assert!(
        detail.contains("<td data-state=\"pending\">1</td>"),
        "{detail}"
    );

    let cancel = format!("{location}/cancel");
    let campaign_id = location.trim_start_matches("/firmware/campaigns/");
    let before = campaign(&server, campaign_id);
    web::assert_refused(
        post(&cancel, urlencoded, form(&[("csrf_token", "x")]).as_bytes()),
        "the form expired; reload the page and try again",
    );
    assert_eq!(
        campaign(&server, campaign_id),
        before,
        "the forged cancel changed nothing"
    );
    assert_eq!(
        post(
            &cancel,
            urlencoded,
            form(&[("csrf_token", &csrf)]).as_bytes()
        )
        .status(),
        303
    );
    let detail = get(&location);
    assert!(
        detail.contains("<td data-state=\"cancelled\">1</td>"),
        "{detail}"
    );
    assert!(
        !detail.contains("Cancel campaign"),
        "no cancel form once cancelled"
    );
}

#[test]
fn a_device_that_times_out_is_offered_again_and_succeeds_after_a_reboot() {
    let server = Server::start();
    let (status, fw) = upload(&server, "5.0.1", &[1u8; 4096]);
    assert_eq!(status, 201, "{fw}");
    let password = provision(&server, "fw-retry");
    let topic = "devices/fw-retry/firmware/available";
    let mut dev = device(&server, "fw-retry", &password);
    dev.subscribe(topic);
    let (status, started) = api(&server).post(
        "/api/v1/firmware-campaigns",
        json!({ "firmware": fw["id"], "devices": ["fw-retry"], "timeout_s": 1, "retries": 1 }),
    );
    assert_eq!(status, 201, "{started}");
    let id = started["id"].as_str().expect("id").to_owned();
    assert_eq!(next_notice(&mut dev, "fw-retry")["campaign"], id.as_str());
    report(
        &mut dev,
        "fw-retry",
        json!({ "campaign": id, "state": "downloading", "version": "5.0.0" }),
    );

    // It hangs in downloading: after 1 s it is offered the image again, not failed.
    assert_eq!(next_notice(&mut dev, "fw-retry")["campaign"], id.as_str());
    let retried = campaign(&server, &id);
    let t = target(&retried, "fw-retry");
    assert_eq!(t["state"], "pending", "{retried}");
    assert_eq!(t["attempts"], 2);
    assert_eq!(t["detail"], "timeout in downloading; offered again");

    // A reboot: the device comes back, sees the retained notice and reports the version.
    drop(dev);
    let mut dev = device(&server, "fw-retry", &password);
    dev.subscribe(topic);
    assert_eq!(next_notice(&mut dev, "fw-retry")["version"], "5.0.1");
    report(
        &mut dev,
        "fw-retry",
        json!({ "campaign": id, "state": "done", "version": "5.0.1" }),
    );
    let done = eventually(Duration::from_secs(10), "done after the retry", || {
        let c = campaign(&server, &id);
        (c["status"] == "finished").then_some(c)
    });
    assert_eq!(done["counts"]["done"], 1, "{done}");
    assert_eq!(target(&done, "fw-retry")["attempts"], 2);
}

#[test]
fn an_open_campaign_survives_a_restart_and_uploads_are_bounded() {
    let mut server = Server::start_with(&[("PLANTD_FIRMWARE_MAX_UPLOAD_BYTES", "4096")]);
    let (status, problem) = upload(&server, "9.0.0", &[0u8; 5000]);
    assert_eq!(status, 413, "{problem}");
    let (status, problem) = upload(&server, "not a version!", &[0u8; 100]);
    assert_eq!(status, 422, "a version breaking the rule: {problem}");
    let (status, problem) = upload(&server, "9.0.0", &[]);
    assert_eq!(status, 422, "an empty image: {problem}");
    let (_, list) = api(&server).get("/api/v1/firmware");
    assert_eq!(list["items"], json!([]), "nothing refused was kept");
    let staged = std::fs::read_dir(server.data_dir.join("firmware/tmp"))
        .expect("staging folder")
        .count();
    assert_eq!(staged, 0, "refused uploads leave no staged file");

    let (status, fw) = upload(&server, "9.0.0", &[9u8; 4096]);
    assert_eq!(status, 201, "{fw}");
    let password = provision(&server, "fw-late");
    let (status, started) = api(&server).post(
        "/api/v1/firmware-campaigns",
        json!({ "firmware": fw["id"], "devices": ["fw-late"] }),
    );
    assert_eq!(status, 201, "{started}");
    let id = started["id"].as_str().expect("id").to_owned();

    // The broker keeps retained messages in memory: plantd offers again after a restart.
    server.restart();
    let mut dev = device(&server, "fw-late", &password);
    dev.subscribe("devices/fw-late/firmware/available");
    let notice = next_notice(&mut dev, "fw-late");
    assert_eq!(notice["campaign"], id.as_str());
    let url = notice["url"].as_str().expect("url").to_owned();
    let (status, bytes) = download(&url, "fw-late", &password);
    assert_eq!((status, bytes.len()), (200, 4096));
    report(
        &mut dev,
        "fw-late",
        json!({ "campaign": id, "state": "done", "version": "9.0.0" }),
    );
    let done = eventually(Duration::from_secs(10), "done after the restart", || {
        let c = campaign(&server, &id);
        (c["status"] == "finished").then_some(c)
    });
    assert_eq!(done["counts"]["done"], 1, "{done}");
}

#[test]
fn a_campaign_by_label_targets_the_devices_labelled_at_its_start() {
    let server = Server::start();
    let (status, fw) = upload(&server, "3.0.0", b"image for line seven");
    assert_eq!(status, 201, "{fw}");
    for (id, labels) in [
        ("l7-a", json!(["line-7"])),
        ("l7-b", json!(["line-7", "site:north"])),
        ("l8-a", json!(["line-8"])),
    ] {
        let (status, body) = api(&server).post(
            "/api/v1/devices",
            json!({ "id": id, "name": id, "labels": labels }),
        );
        assert_eq!(status, 201, "{body}");
    }
    let (status, started) = api(&server).post(
        "/api/v1/firmware-campaigns",
        json!({ "firmware": fw["id"], "label": "line-7" }),
    );
    assert_eq!(status, 201, "{started}");
    let mut targets: Vec<&str> = started["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| t["device_id"].as_str().expect("device id"))
        .collect();
    targets.sort_unstable();
    assert_eq!(targets, ["l7-a", "l7-b"]);
    // The same label again: its devices are busy with the running campaign.
    let (status, problem) = api(&server).post(
        "/api/v1/firmware-campaigns",
        json!({ "firmware": fw["id"], "label": "line-7" }),
    );
    assert_eq!(status, 409, "{problem}");
}

#[test]
fn progress_acknowledged_just_before_a_stop_is_kept() {
    let mut server = Server::start();
    let (status, fw) = upload(&server, "4.0.0", b"image stopped mid-update");
    assert_eq!(status, 201, "{fw}");
    let password = provision(&server, "fw-stop");
    let mut mqtt = device(&server, "fw-stop", &password);
    mqtt.subscribe("devices/fw-stop/firmware/available");
    let (status, started) = api(&server).post(
        "/api/v1/firmware-campaigns",
        json!({ "firmware": fw["id"], "devices": ["fw-stop"] }),
    );
    assert_eq!(status, 201, "{started}");
    let campaign_id = started["id"].as_str().expect("id").to_owned();
    next_notice(&mut mqtt, "fw-stop");
    // The database is locked for the targets table while the device reports and plantd is
    // told to stop: the first report's write waits, the later ones wait behind it for the
    // next write. Only a shutdown that flushes firmware progress keeps the last one.
    let (locked_tx, locked) = std::sync::mpsc::channel();
    let (release_tx, release) = std::sync::mpsc::channel::<()>();
    let locker = {
        let url = server.database_url.clone();
        let path = server.data_dir.join("plantd.db");
        std::thread::spawn(move || match url {
            Some(url) => {
                let mut conn = PgConnection::establish(&url).expect("PostgreSQL");
                let mut run = |sql: &str| {
                    diesel::sql_query(sql).execute(&mut conn).expect(sql);
                };
                run("BEGIN");
                run("LOCK TABLE devices_campaign_targets IN EXCLUSIVE MODE");
                locked_tx.send(()).expect("locked");
                let _ = release.recv();
                run("ROLLBACK");
            }
            None => {
                let mut conn =
                    SqliteConnection::establish(path.to_str().expect("path")).expect("SQLite file");
                let mut run = |sql: &str| {
                    diesel::sql_query(sql).execute(&mut conn).expect(sql);
                };
                run("PRAGMA busy_timeout = 5000");
                run("BEGIN IMMEDIATE");
                locked_tx.send(()).expect("locked");
                let _ = release.recv();
                run("ROLLBACK");
            }
        })
    };
    locked.recv().expect("database locked");
    for percent in (5..=95).step_by(10) {
        report(
            &mut mqtt,
            "fw-stop",
            json!({ "campaign": campaign_id, "state": "downloading", "version": "3.0.0", "detail": format!("{percent}%") }),
        );
    }
    // SIGTERM now; the lock goes while plantd is stopping: once it stopped serving HTTP
    // (the broker is drained by then), and a bounded while later, so that without the
    // flush plantd would be past every write of its own (firmware's next tick is 250 ms
    // away). Nothing outside the process shows that moment, hence the bounded wait.
    let http = format!("127.0.0.1:{}", server.http_port);
    let releaser = std::thread::spawn(move || {
        eventually(
            Duration::from_secs(30),
            "plantd to stop serving HTTP",
            || std::net::TcpStream::connect(&http).is_err().then_some(()),
        );
        std::thread::sleep(Duration::from_millis(500));
        let _ = release_tx.send(());
    });
    assert!(server.stop().success(), "plantd stops cleanly");
    releaser.join().expect("releaser");
    locker.join().expect("locker");
    drop(mqtt);
    server.restart_stopped();
    let after = campaign(&server, &campaign_id);
    let t = target(&after, "fw-stop");
    assert_eq!(t["state"], "downloading", "{after}");
    assert_eq!(t["detail"], "95%", "{after}");
}

#[test]
fn attack_oversized_detail_and_version_in_reports_are_clipped_before_they_are_kept() {
    // A target device (or someone holding its secret) answers its campaigns with reports
    // near the payload limit, to park that much per target in plantd's memory and
    // database, and a version long enough to be kept whole.
    let server = Server::start_with(&[
        ("PLANTD_FIRMWARE_REPORT_MAX_DETAIL_BYTES", "200"),
        ("PLANTD_FIRMWARE_REPORT_MAX_VERSION_BYTES", "32"),
    ]);
    let (status, fw) = upload(&server, "3.0.0", &[1u8; 1000]);
    assert_eq!(status, 201, "{fw}");
    let ids = ["fat-detail", "fat-version"];
    let mut devices: Vec<Mqtt> = ids
        .iter()
        .map(|id| {
            let pw = provision(&server, id);
            let mut d = device(&server, id, &pw);
            d.subscribe(&format!("devices/{id}/firmware/available"));
            d
        })
        .collect();
    let (status, started) = api(&server).post(
        "/api/v1/firmware-campaigns",
        json!({ "firmware": fw["id"], "devices": ids, "timeout_s": 60 }),
    );
    assert_eq!(status, 201, "{started}");
    let campaign_id = started["id"].as_str().expect("id").to_owned();
    for (mqtt, id) in devices.iter_mut().zip(ids) {
        next_notice(mqtt, id);
    }
    let clipped = |field: &str| {
        metric(
            &server,
            "plantd_firmware_report_fields_clipped_total",
            &format!("field=\"{field}\""),
        )
    };
    let (detail_before, version_before) = (clipped("detail"), clipped("version"));
    // 200 KB of detail, as text and as a JSON object.
    let huge = "x".repeat(200_000);
    report(
        &mut devices[0],
        ids[0],
        json!({ "campaign": campaign_id, "state": "downloading", "detail": { "log": huge } }),
    );
    report(
        &mut devices[0],
        ids[0],
        json!({ "campaign": campaign_id, "state": "failed", "version": "1.0.0", "detail": huge }),
    );
    // The campaign's version followed by 10 KB: clipped, it cannot pass for "3.0.0".
    report(
        &mut devices[1],
        ids[1],
        json!({ "campaign": campaign_id, "state": "done", "version": format!("3.0.0{}", "0".repeat(10_000)) }),
    );
    let finished = eventually(Duration::from_secs(10), "both devices finished", || {
        let c = campaign(&server, &campaign_id);
        (c["status"] == "finished").then_some(c)
    });
    let fat = target(&finished, ids[0]);
    assert_eq!(fat["state"], "failed", "{fat}");
    let detail = fat["detail"].as_str().expect("detail");
    assert!(
        detail.len() <= 200 && detail.starts_with("xxx"),
        "{}",
        detail.len()
    );
    let long = target(&finished, ids[1]);
    assert_eq!(
        long["state"], "failed",
        "a clipped version is not the campaign's: {long}"
    );
    let version = long["reported_version"].as_str().expect("version");
    assert!(
        version.len() <= 32 && version.starts_with("3.0.0"),
        "{version}"
    );
    assert!(long["detail"].as_str().expect("detail").len() <= 200 + 32 + 40);
    assert_eq!(clipped("detail") - detail_before, 2.0);
    assert_eq!(clipped("version") - version_before, 1.0);
}
