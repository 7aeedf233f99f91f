//! The one helper that renders an askama template to an HTML response (askama has no
//! actix integration). Touches nothing but the template it is given.

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
