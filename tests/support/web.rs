//! Web UI over plain HTTP (no browser): an agent that shows redirects, cookies from
//! `Set-Cookie`, signing in with the sign-in form's CSRF pair, a page's form token.

use std::time::Duration;

use super::server::{Server, ADMIN_PASSWORD};

/// An agent that does not follow redirects (a 303 is an answer to look at).
pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(30))
        .build()
}

/// The response, whatever its status; panics only on a transport error.
pub fn status_of(result: Result<ureq::Response, ureq::Error>) -> ureq::Response {
    match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("HTTP transport error: {e}"),
    }
}

/// A cookie's `name=value` and attributes from a `Set-Cookie` header.
pub fn set_cookie<'a>(response: &'a ureq::Response, name: &str) -> Option<&'a str> {
    response
        .all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
}

/// `name=value` of a `Set-Cookie` header.
pub fn cookie_pair(header: &str) -> String {
    header.split(';').next().expect("name=value").to_owned()
}

/// Signs in as `admin` with the sign-in form's CSRF pair; returns the session cookie
/// (`name=value`).
pub fn sign_in(server: &Server, agent: &ureq::Agent) -> String {
    let form = status_of(agent.get(&server.url("/login")).call());
    let csrf_pair = cookie_pair(set_cookie(&form, "plantd_login_csrf").expect("csrf cookie"));
    let csrf = csrf_pair.split_once('=').expect("=").1.to_owned();
    let signed_in = status_of(
        agent
            .post(&server.url("/login"))
            .set("Cookie", &csrf_pair)
            .send_form(&[
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
                ("csrf_token", &csrf),
            ]),
    );
    assert_eq!(signed_in.status(), 303, "sign in");
    cookie_pair(set_cookie(&signed_in, "plantd_session").expect("session cookie"))
}

/// The CSRF token the first form of a page carries.
pub fn form_token(html: &str) -> Option<String> {
    html.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_owned)
}

/// Asserts the UI's refusal of a form: 403 with `reason` as plain text (a person reads it).
pub fn assert_refused(response: ureq::Response, reason: &str) {
    let status = response.status();
    let content_type = response.content_type().to_owned();
    let text = response.into_string().expect("body");
    assert_eq!((status, text.as_str()), (403, reason));
    assert_eq!(content_type, "text/plain", "{reason}");
}

/// The attributes of a `Set-Cookie` header after its name=value, lower case.
pub fn attributes(header: &str) -> Vec<String> {
    header
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}
