//! The askama template's data of the sign-in page.

use askama::Template;

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub csrf_token: String,
    pub error: Option<String>,
}
