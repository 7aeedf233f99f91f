//! Users and roles over real HTTP: an admin creates an engineer (with skills) and a viewer
//! over REST; each signs in with the real sign-in form and sees the pages of their role;
//! a viewer's forged post to an admin form is refused; password rules name the field;
//! disabling a user ends their live session; the last admin is kept; the skill filter;
//! changing one's own password and signing out everywhere. One browser test: the admin
//! creates a user on the Users page and that user signs in.

use std::time::Duration;

use serde_json::{json, Value};

use crate::device_pages::sign_in;
use crate::health_pages::{page as html, post};
use crate::support::eventually;
use crate::support::http::{anonymous, api, token};
use crate::support::server::{Server, ADMIN_PASSWORD};
use crate::support::web::{agent, assert_refused, form_token, status_of};
use crate::ui::Browser;

const ERIN_PASSWORD: &str = "turbine-bearing-42";
const VIC_PASSWORD: &str = "clipboard-and-coffee";

fn get(server: &Server, agent: &ureq::Agent, cookie: &str, path: &str) -> ureq::Response {
    status_of(agent.get(&server.url(path)).set("Cookie", cookie).call())
}

fn create(server: &Server, username: &str, password: &str, role: &str, skills: &[&str]) -> Value {
    let (status, user) = api(server).post(
        "/api/v1/users",
        json!({ "username": username, "password": password, "role": role, "skills": skills }),
    );
    assert_eq!(status, 201, "{user}");
    user
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|u| u["username"].as_str().expect("username").to_owned())
        .collect()
}

/// The answer of a UI request that needs sign-in: 303 to `/login`.
fn assert_sent_to_sign_in(response: ureq::Response, what: &str) {
    assert_eq!(
        (response.status(), response.header("location")),
        (303, Some("/login")),
        "{what}"
    );
}

/// The problem's field errors, as (field, message).
fn field_errors(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn admin_creates_an_engineer_and_a_viewer_who_see_their_role_pages_and_a_forged_admin_post_is_refused(
) {
    let server = Server::start();
    let erin = create(
        &server,
        "erin",
        ERIN_PASSWORD,
        "engineer",
        &["Vibration", "mechanical", "vibration"],
    );
    assert_eq!(erin["role"], "engineer");
    assert_eq!(
        erin["skills"],
        json!(["mechanical", "vibration"]),
        "normalised"
    );
    assert_eq!(erin["disabled"], false);
    assert!(erin["last_sign_in_at"].is_null(), "{erin}");
    assert!(erin.get("password_hash").is_none() && !erin.to_string().contains(ERIN_PASSWORD));
    create(&server, "vic", VIC_PASSWORD, "viewer", &[]);
    create(
        &server,
        "walt",
        "sparks-in-the-dark",
        "engineer",
        &["electrical", "welding"],
    );

    // The filters.
    let (status, list) = api(&server).get("/api/v1/users?skill=vibration");
    assert_eq!(status, 200, "{list}");
    assert_eq!(names(&list), ["erin"]);
    assert_eq!(
        names(&api(&server).get("/api/v1/users?role=engineer").1),
        ["erin", "walt"]
    );
    assert_eq!(
        names(&api(&server).get("/api/v1/users?role=viewer").1),
        ["vic"]
    );
    assert_eq!(
        names(&api(&server).get("/api/v1/users").1),
        ["admin", "erin", "vic", "walt"]
    );
    let (status, problem) = api(&server).get("/api/v1/users?role=boss");
    assert_eq!(
        (status, field_errors(&problem)),
        (422, vec!["role".to_owned()]),
        "{problem}"
    );
    // A name taken: 409.
    let (status, problem) = api(&server).post(
        "/api/v1/users",
        json!({ "username": "erin", "password": "another-fine-phrase", "role": "viewer" }),
    );
    assert_eq!(status, 409, "{problem}");
    // Only admins manage users.
    let (_, reader) = token(&server, &["read", "write"]);
    anonymous(&server)
        .with_token(&reader)
        .assert_forbidden("GET", "/api/v1/users", None, "admin");

    // The engineer signs in with the real form: their pages, no Settings.
    let agent = agent();
    let engineer = sign_in(&server, &agent, "erin", ERIN_PASSWORD);
    let home = html(&server, &agent, &engineer, "/");
    assert!(home.contains("href=\"/account\">My account</a>"), "{home}");
    assert!(
        !home.contains("href=\"/settings\""),
        "no Settings for an engineer: {home}"
    );
    let account = html(&server, &agent, &engineer, "/account");
    assert!(
        account.contains("<strong>erin</strong>, role <strong>engineer</strong>"),
        "{account}"
    );
    assert!(
        account.contains("Skills: mechanical, vibration."),
        "{account}"
    );
    assert!(
        account.contains("at least 10 characters"),
        "the rules explained: {account}"
    );
    assert_refused(
        get(&server, &agent, &engineer, "/settings/users"),
        "only admins manage users",
    );
    let (_, me) = api(&server).get("/api/v1/users/erin");
    assert!(me["last_sign_in_at"].is_string(), "sign-in recorded: {me}");

    // The viewer: reads, and a forged post with their own valid token is refused.
    let viewer = sign_in(&server, &agent, "vic", VIC_PASSWORD);
    let home = html(&server, &agent, &viewer, "/");
    assert!(home.contains("vic (viewer)"), "{home}");
    assert!(!home.contains("href=\"/settings\""), "{home}");
    let csrf = form_token(&html(&server, &agent, &viewer, "/account")).expect("csrf");
    assert_refused(
        get(&server, &agent, &viewer, "/settings/users"),
        "only admins manage users",
    );
    let forged = post(
        &server,
        &agent,
        &viewer,
        "/settings/users",
        &[
            ("csrf_token", &csrf),
            ("username", "mallory"),
            ("password", "a-very-long-sneaky-one"),
            ("role", "admin"),
        ],
    );
    assert_refused(forged, "only admins manage users");
    let forged = post(
        &server,
        &agent,
        &viewer,
        "/settings/users/admin/delete",
        &[("csrf_token", &csrf)],
    );
    assert_refused(forged, "only admins manage users");
    let forged = post(
        &server,
        &agent,
        &viewer,
        "/settings/users/vic",
        &[("csrf_token", &csrf), ("role", "admin")],
    );
    assert_refused(forged, "only admins manage users");
    assert_eq!(
        names(&api(&server).get("/api/v1/users").1),
        ["admin", "erin", "vic", "walt"]
    );
    assert_eq!(
        api(&server).get("/api/v1/users/vic").1["role"],
        "viewer",
        "still a viewer"
    );

    // The admin's Users page lists them and its forms change them.
    let admin = sign_in(&server, &agent, "admin", ADMIN_PASSWORD);
    let users = html(&server, &agent, &admin, "/settings/users");
    assert!(
        users.contains("href=\"/settings\" aria-current=\"page\">Settings</a>"),
        "{users}"
    );
    for (name, role) in [("admin", "admin"), ("erin", "engineer"), ("vic", "viewer")] {
        assert!(
            users.contains(&format!(
                "data-user=\"{name}\" data-role=\"{role}\" data-disabled=\"false\""
            )),
            "{name} listed: {users}"
        );
    }
    let csrf = form_token(&users).expect("csrf");
    let saved = post(
        &server,
        &agent,
        &admin,
        "/settings/users/vic",
        &[
            ("csrf_token", &csrf),
            ("role", "engineer"),
            ("skills", "welding, Electrical"),
        ],
    );
    assert_eq!(
        (saved.status(), saved.header("location")),
        (303, Some("/settings/users"))
    );
    let (_, vic) = api(&server).get("/api/v1/users/vic");
    assert_eq!(
        (vic["role"].clone(), vic["skills"].clone()),
        (json!("engineer"), json!(["electrical", "welding"]))
    );
    // The role takes effect on vic's live session at once.
    let home = html(&server, &agent, &viewer, "/");
    assert!(home.contains("vic (engineer)"), "{home}");
    // A common password in the reset form: the page says why, nothing changes.
    let refused = post(
        &server,
        &agent,
        &admin,
        "/settings/users/vic/password",
        &[("csrf_token", &csrf), ("password", "1234567890")],
    );
    assert_eq!(refused.status(), 422);
    let page = refused.into_string().expect("html");
    assert!(
        page.contains("password: this is one of the most common passwords"),
        "{page}"
    );
}

#[test]
fn short_or_common_passwords_are_refused_naming_the_field_and_own_password_changes() {
    let server = Server::start();
    for (password, why) in [
        ("short-1", "use at least 10 characters"),
        (
            "password123",
            "this is one of the most common passwords; choose another",
        ),
        (
            "Basketball",
            "this is one of the most common passwords; choose another",
        ),
        ("nora.smith", "the password must not be the user name"),
    ] {
        let (status, problem) = api(&server).post(
            "/api/v1/users",
            json!({ "username": "nora.smith", "password": password, "role": "engineer" }),
        );
        assert_eq!(status, 422, "{password}: {problem}");
        assert_eq!(
            problem["errors"],
            json!([{ "field": "password", "message": why }]),
            "{problem}"
        );
        assert!(
            !problem.to_string().contains(password) || password == "nora.smith",
            "never echoed: {problem}"
        );
    }
    assert_eq!(
        api(&server).get("/api/v1/users/nora.smith").0,
        404,
        "nothing stored"
    );
    let (status, problem) = api(&server).post(
        "/api/v1/users",
        json!({ "username": "Nora Smith", "password": "a-fine-long-phrase", "role": "engineer" }),
    );
    assert_eq!(
        (status, field_errors(&problem)),
        (422, vec!["username".to_owned()]),
        "{problem}"
    );
    // A reset by PATCH follows the same rules.
    create(&server, "nora", "first-light-at-six", "engineer", &[]);
    let (status, problem) =
        api(&server).patch("/api/v1/users/nora", json!({ "password": "qwertyuiop" }));
    assert_eq!(
        (status, field_errors(&problem)),
        (422, vec!["password".to_owned()]),
        "{problem}"
    );

    // Nora changes her own password in My account.
    let agent = agent();
    let nora = sign_in(&server, &agent, "nora", "first-light-at-six");
    let csrf = form_token(&html(&server, &agent, &nora, "/account")).expect("csrf");
    let change = |current: &str, new: &str| {
        let form = [
            ("csrf_token", csrf.as_str()),
            ("current", current),
            ("new", new),
            ("confirm", new),
        ];
        let response = post(&server, &agent, &nora, "/account/password", &form);
        (response.status(), response.into_string().expect("html"))
    };
    let (status, page) = change("not-my-password", "dusk-falls-at-nine");
    assert_eq!(status, 422);
    assert!(
        page.contains("current: the current password is wrong"),
        "{page}"
    );
    let (status, page) = change("first-light-at-six", "1q2w3e4r5t");
    assert_eq!(status, 422);
    assert!(
        page.contains("new: this is one of the most common passwords"),
        "{page}"
    );
    let (status, page) = change("first-light-at-six", "dusk-falls-at-nine");
    assert_eq!(status, 200);
    assert!(page.contains("Your password was changed."), "{page}");
    sign_in(&server, &agent, "nora", "dusk-falls-at-nine");

    // Over REST: only a signed-in person has an own password; a token is refused.
    let (status, problem) = api(&server).post(
        "/api/v1/users/me/password",
        json!({ "current": "x", "new": "whatever-long-enough" }),
    );
    assert_eq!(status, 403, "{problem}");
    let me = status_of(
        agent
            .post(&server.url("/api/v1/users/me/password"))
            .set("Cookie", &nora)
            .set("X-CSRF-Token", &csrf)
            .send_json(json!({ "current": "dusk-falls-at-nine", "new": "short" })),
    );
    assert_eq!(me.status(), 422);
    let problem: Value = me.into_json().expect("problem");
    assert_eq!(field_errors(&problem), ["new"], "{problem}");
}

#[test]
fn disabling_or_deleting_a_user_ends_their_session_and_the_last_admin_stays() {
    let server = Server::start();
    create(&server, "erin", ERIN_PASSWORD, "engineer", &["vibration"]);
    let agent = agent();
    let session = sign_in(&server, &agent, "erin", ERIN_PASSWORD);
    html(&server, &agent, &session, "/");

    let (status, erin) = api(&server).patch("/api/v1/users/erin", json!({ "disabled": true }));
    assert_eq!(
        (status, erin["disabled"].clone()),
        (200, json!(true)),
        "{erin}"
    );
    assert_sent_to_sign_in(
        get(&server, &agent, &session, "/"),
        "the live session ended",
    );
    // Nor can she sign in again, nor use the session over the API.
    let form = status_of(agent.get(&server.url("/login")).call());
    assert_eq!(form.status(), 200);
    let api_call = status_of(
        agent
            .get(&server.url("/api/v1/devices"))
            .set("Cookie", &session)
            .call(),
    );
    assert_eq!(api_call.status(), 401);
    let (status, _) = api(&server).patch("/api/v1/users/erin", json!({ "disabled": false }));
    assert_eq!(status, 200);
    let session = sign_in(&server, &agent, "erin", ERIN_PASSWORD);

    // Sign out everywhere: both of her sessions end.
    let other = sign_in(&server, &agent, "erin", ERIN_PASSWORD);
    let csrf = form_token(&html(&server, &agent, &session, "/account")).expect("csrf");
    let out = post(
        &server,
        &agent,
        &session,
        "/account/sessions/revoke",
        &[("csrf_token", &csrf)],
    );
    assert_sent_to_sign_in(out, "signed out");
    assert_sent_to_sign_in(get(&server, &agent, &session, "/"), "this session");
    assert_sent_to_sign_in(get(&server, &agent, &other, "/"), "the other session");

    // Deleting ends the session too.
    let session = sign_in(&server, &agent, "erin", ERIN_PASSWORD);
    assert_eq!(api(&server).delete("/api/v1/users/erin").0, 204);
    assert_sent_to_sign_in(get(&server, &agent, &session, "/"), "deleted");
    assert_eq!(api(&server).get("/api/v1/users/erin").0, 404);

    // The last enabled admin: not demoted, disabled or deleted.
    for (what, (status, problem)) in [
        (
            "demote",
            api(&server).patch("/api/v1/users/admin", json!({ "role": "engineer" })),
        ),
        (
            "disable",
            api(&server).patch("/api/v1/users/admin", json!({ "disabled": true })),
        ),
        ("delete", api(&server).delete("/api/v1/users/admin")),
    ] {
        assert_eq!(status, 409, "{what}: {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .expect("detail")
                .contains("last enabled admin"),
            "{problem}"
        );
    }
    assert_eq!(api(&server).get("/api/v1/users/admin").1["role"], "admin");
    // With a second admin, the first may step down; then the second is the last.
    create(&server, "ada", "the-second-admin-here", "admin", &[]);
    let (status, admin) = api(&server).patch("/api/v1/users/admin", json!({ "role": "viewer" }));
    assert_eq!(
        (status, admin["role"].clone()),
        (200, json!("viewer")),
        "{admin}"
    );
    assert_eq!(
        api(&server)
            .patch("/api/v1/users/ada", json!({ "role": "viewer" }))
            .0,
        409
    );
    // The admin pages follow the role: the old admin is now refused.
    let old_admin = sign_in(&server, &agent, "admin", ADMIN_PASSWORD);
    assert_refused(
        get(&server, &agent, &old_admin, "/settings/users"),
        "only admins manage users",
    );
}

#[test]
fn browser_admin_creates_a_user_on_the_users_page_who_then_signs_in() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let server = Server::start();
    browser.goto(&server.url("/login"));
    browser.sign_in("admin", ADMIN_PASSWORD);
    browser.wait_for_path("/");
    assert_eq!(
        browser.find_all("nav a[href='/settings']").len(),
        1,
        "Settings for an admin"
    );
    browser.goto(&server.url("/settings/users"));
    browser.wait_for_path("/settings/users");
    assert_eq!(browser.text("main h1"), "Users");
    browser.type_into("#new-user input[name=username]", "tara");
    browser.type_into("#new-user input[name=password]", "night-shift-torque");
    browser.type_into("#new-user input[name=skills]", "mechanical vibration");
    browser.click("#new-user button[type=submit]");
    eventually(Duration::from_secs(10), "tara listed", || {
        (!browser
            .find_all("tr[data-user='tara'][data-role='engineer']")
            .is_empty())
        .then_some(())
    });
    browser.screenshot(&format!("{}/plantd-users.png", env!("CARGO_TARGET_TMPDIR")));
    let (_, tara) = api(&server).get("/api/v1/users/tara");
    assert_eq!(tara["skills"], json!(["mechanical", "vibration"]), "{tara}");

    browser.click("nav form[action='/logout'] button");
    browser.wait_for_path("/login");
    browser.sign_in("tara", "night-shift-torque");
    browser.wait_for_path("/");
    assert!(browser.text("nav .who").contains("tara (engineer)"));
    assert!(
        browser.find_all("nav a[href='/settings']").is_empty(),
        "no Settings for her"
    );
    browser.click("nav a[href='/account']");
    browser.wait_for_path("/account");
    assert!(browser
        .text("#me")
        .contains("Skills: mechanical, vibration."));
    browser.screenshot(&format!(
        "{}/plantd-account.png",
        env!("CARGO_TARGET_TMPDIR")
    ));
}

#[test]
fn suggested_assignees_rank_enabled_engineers_by_the_orders_skills() {
    let server = Server::start();
    create(
        &server,
        "zoe",
        "a-fine-long-phrase-1",
        "engineer",
        &["mechanical", "vibration", "welding"],
    );
    create(
        &server,
        "adam",
        "a-fine-long-phrase-2",
        "engineer",
        &["electrical"],
    );
    create(
        &server,
        "bea",
        "a-fine-long-phrase-3",
        "engineer",
        &["vibration"],
    );
    create(
        &server,
        "carl",
        "a-fine-long-phrase-4",
        "engineer",
        &["mechanical", "vibration"],
    );
    create(
        &server,
        "dora",
        "a-fine-long-phrase-5",
        "engineer",
        &["mechanical", "vibration"],
    );
    create(
        &server,
        "vic",
        "a-fine-long-phrase-6",
        "viewer",
        &["mechanical", "vibration"],
    );
    assert_eq!(
        api(&server)
            .patch("/api/v1/users/dora", json!({ "disabled": true }))
            .0,
        200
    );
    let (status, order) = api(&server).post(
        "/api/v1/work-orders",
        json!({ "title": "Bearing noise on P-7", "skills": ["vibration", "mechanical"] }),
    );
    assert_eq!(status, 201, "{order}");
    let id = order["id"].as_str().expect("id");
    let (_, reader) = token(&server, &["read"]);
    let (status, suggested) = anonymous(&server)
        .with_token(&reader)
        .get(&format!("/api/v1/work-orders/{id}/suggested-assignees"));
    assert_eq!(status, 200, "{suggested}");
    assert_eq!(
        names(&suggested),
        ["carl", "zoe", "bea", "adam"],
        "{suggested}"
    );
    assert_eq!(suggested["items"][0]["has_all"], true);
    assert_eq!(suggested["items"][2]["missing"], json!(["mechanical"]));
    let (status, problem) = api(&server).get("/api/v1/work-orders/wo-nope/suggested-assignees");
    assert_eq!(status, 404, "{problem}");
}
