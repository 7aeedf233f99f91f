//! Issue 14.13 part 3, attacks on the firmware folder: filling the disk with images (a
//! count and a byte quota, refused before anything is kept) and images nobody can remove
//! (`DELETE /api/v1/firmware/{id}` and the UI's admin-only delete: the bytes go, the
//! campaigns that used the image stay readable, a running campaign's image cannot go).

use serde_json::{json, Value};

use crate::firmware::upload;
use crate::support::http::{api, metric, provision, token};
use crate::support::{web, Server};

fn files_in(server: &Server, folder: &str) -> usize {
    std::fs::read_dir(server.data_dir.join("firmware").join(folder))
        .expect("firmware folder")
        .count()
}

fn listed(server: &Server) -> Vec<String> {
    let (status, list) = api(server).get("/api/v1/firmware");
    assert_eq!(status, 200, "{list}");
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

fn image_id(reply: &Value) -> String {
    reply["id"].as_str().expect("id").to_owned()
}

/// Attack: an uploader with the write scope keeps uploading images until the plant's disk
/// is full. The count quota refuses the third image (409), the byte quota an image that
/// would take the total past it (413, whether its size is declared or not); each problem
/// names its setting, is counted, and leaves no file in `tmp/` or `images/`.
#[test]
fn attack_uploads_past_the_image_quota_are_refused_and_leave_no_file() {
    let server = Server::start_with(&[
        ("PLANTD_FIRMWARE_MAX_IMAGES", "2"),
        ("PLANTD_FIRMWARE_MAX_TOTAL_BYTES", "10240"),
    ]);
    let (status, first) = upload(&server, "1.0.0", &[1u8; 6000]);
    assert_eq!(status, 201, "{first}");

    // 6000 + 5000 > 10240: refused up front (the size is declared).
    let (status, problem) = upload(&server, "1.0.1", &[2u8; 5000]);
    assert_eq!(status, 413, "{problem}");
    assert_eq!(problem["title"], "Payload too large");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("firmware_max_total_bytes")),
        "the problem names the quota: {problem}"
    );

    // Without a declared size (the UI's multipart upload) the bytes are staged, then
    // refused before they are kept.
    let agent = web::agent();
    let session = web::sign_in(&server, &agent);
    let page = web::status_of(
        agent
            .get(&server.url("/firmware"))
            .set("Cookie", &session)
            .call(),
    )
    .into_string()
    .expect("page");
    let csrf = web::form_token(&page).expect("csrf");
    let (ct, body) = crate::firmware::multipart(&[
        ("csrf_token", csrf.as_bytes()),
        ("version", b"1.0.2"),
        ("image", &[3u8; 5000]),
    ]);
    let refused = web::status_of(
        agent
            .post(&server.url("/firmware"))
            .set("Cookie", &session)
            .set("Content-Type", &ct)
            .send_bytes(&body),
    );
    assert_eq!(refused.status(), 413);
    let html = refused.into_string().expect("html");
    assert!(html.contains("firmware_max_total_bytes"), "{html}");

    let (status, second) = upload(&server, "1.0.3", &[4u8; 4000]);
    assert_eq!(status, 201, "within both quotas: {second}");
    let (status, problem) = upload(&server, "1.0.4", &[5u8; 10]);
    assert_eq!(status, 409, "a third image: {problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("firmware_max_images")),
        "the problem names the quota: {problem}"
    );

    assert_eq!(listed(&server), vec![image_id(&first), image_id(&second)]);
    assert_eq!(
        files_in(&server, "tmp"),
        0,
        "refused uploads leave no staged file"
    );
    assert_eq!(
        files_in(&server, "images"),
        2,
        "only the kept images are on disk"
    );
    assert_eq!(
        metric(
            &server,
            "plantd_firmware_uploads_refused_total",
            "firmware_max_total_bytes"
        ),
        2.0
    );
    assert_eq!(
        metric(
            &server,
            "plantd_firmware_uploads_refused_total",
            "firmware_max_images"
        ),
        1.0
    );

    // Deleting one makes room again.
    let (status, _) = api(&server).delete(&format!("/api/v1/firmware/{}", image_id(&first)));
    assert_eq!(status, 204);
    let (status, third) = upload(&server, "1.0.5", &[6u8; 6000]);
    assert_eq!(status, 201, "room after a delete: {third}");
}

/// Attack: remove an image that a running campaign still offers (targets would fetch a
/// missing file), and try the delete without the admin scope. Both are refused and
/// nothing changes; once the campaign is over the image goes: its download is 404, the
/// listing and the UI no longer show it, its file is gone, and the campaign (its row refers
/// to the image) still reads, over the API and in the UI, after a restart too.
#[test]
fn attack_delete_of_an_image_in_use_is_refused_and_a_delete_keeps_campaign_history() {
    let mut server = Server::start();
    let (status, fw) = upload(&server, "7.0.0", &[7u8; 5000]);
    assert_eq!(status, 201, "{fw}");
    let fw_id = image_id(&fw);
    let password = provision(&server, "fw-del");
    let (status, started) = api(&server).post(
        "/api/v1/firmware-campaigns",
        json!({ "firmware": fw_id, "devices": ["fw-del"] }),
    );
    assert_eq!(status, 201, "{started}");
    let campaign_id = started["id"].as_str().expect("id").to_owned();

    let (status, problem) = api(&server).delete(&format!("/api/v1/firmware/{fw_id}"));
    assert_eq!(status, 409, "in use by a running campaign: {problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&campaign_id)),
        "the problem names the campaign: {problem}"
    );
    let (_, writer) = token(&server, &["read", "write"]);
    api(&server).with_token(&writer).assert_forbidden(
        "DELETE",
        &format!("/api/v1/firmware/{fw_id}"),
        None,
        "admin",
    );
    assert_eq!(listed(&server), vec![fw_id.clone()], "nothing was deleted");
    let image_url = server.url(&format!("/api/v1/firmware/{fw_id}/image"));
    assert_eq!(
        crate::firmware::download(&image_url, "fw-del", &password),
        (200, vec![7u8; 5000]),
        "the target still downloads it"
    );

    let (status, _) = api(&server).post(
        &format!("/api/v1/firmware-campaigns/{campaign_id}/cancel"),
        json!({}),
    );
    assert_eq!(status, 200);

    // The UI's delete: a forged form is refused, the admin's form deletes.
    let agent = web::agent();
    let session = web::sign_in(&server, &agent);
    let get = |path: &str| {
        web::status_of(agent.get(&server.url(path)).set("Cookie", &session).call())
            .into_string()
            .expect("html")
    };
    let page = get("/firmware");
    assert!(
        page.contains(&format!("action=\"/firmware/{fw_id}/delete\"")),
        "admins get a delete form"
    );
    let csrf = web::form_token(&page).expect("csrf");
    let post = |csrf: &str| {
        web::status_of(
            agent
                .post(&server.url(&format!("/firmware/{fw_id}/delete")))
                .set("Cookie", &session)
                .send_form(&[("csrf_token", csrf)]),
        )
    };
    web::assert_refused(
        post("forged"),
        "the form expired; reload the page and try again",
    );
    assert_eq!(
        listed(&server),
        vec![fw_id.clone()],
        "the forged form changed nothing"
    );
    let deleted = post(&csrf);
    assert_eq!(deleted.status(), 303);

    let check_gone = |server: &Server| {
        assert_eq!(listed(server), Vec::<String>::new(), "no longer listed");
        let (status, _) = api(server).get(&format!("/api/v1/firmware/{fw_id}"));
        assert_eq!(status, 404);
        let image_url = server.url(&format!("/api/v1/firmware/{fw_id}/image"));
        assert_eq!(
            crate::firmware::download(&image_url, "fw-del", &password).0,
            404,
            "the download is gone"
        );
        assert!(
            !server
                .data_dir
                .join(format!("firmware/images/{fw_id}.bin"))
                .exists(),
            "the bytes are removed"
        );
        let (status, campaign) =
            api(server).get(&format!("/api/v1/firmware-campaigns/{campaign_id}"));
        assert_eq!(status, 200, "the campaign stays readable: {campaign}");
        assert_eq!(campaign["version"], "7.0.0", "{campaign}");
        assert_eq!(campaign["firmware_id"], fw_id.as_str(), "{campaign}");
        assert_eq!(campaign["status"], "cancelled", "{campaign}");
    };
    check_gone(&server);
    let campaign_page = get(&format!("/firmware/campaigns/{campaign_id}"));
    assert!(campaign_page.contains("7.0.0"), "{campaign_page}");
    assert!(!get("/firmware").contains(&format!("data-firmware=\"{fw_id}\"")));
    let (status, _) = api(&server).delete(&format!("/api/v1/firmware/{fw_id}"));
    assert_eq!(status, 404, "deleted once");
    let (status, problem) = api(&server).post(
        "/api/v1/firmware-campaigns",
        json!({ "firmware": fw_id, "devices": ["fw-del"] }),
    );
    assert_eq!(status, 422, "a deleted image starts no campaign: {problem}");

    server.restart();
    check_gone(&server);
}
