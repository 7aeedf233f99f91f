//! The askama templates' data, and the one helper that renders a template to a response.

use actix_web::HttpResponse;
use askama::Template;

pub fn render(template: &impl Template) -> HttpResponse {
    match template.render() {
        Ok(html) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "cannot render a page");
            HttpResponse::InternalServerError().body("the page could not be rendered")
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub csrf_token: String,
    pub error: Option<String>,
}

pub struct DeviceRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub online: bool,
    pub last_seen: String,
    pub values: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub username: String,
    pub role: String,
    pub csrf_token: String,
    /// The first devices in id order.
    pub devices: Vec<DeviceRow>,
    pub online: usize,
    pub total: usize,
}
