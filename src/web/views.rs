//! The askama templates' data of the sign-in page and the dashboard.

use askama::Template;

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
