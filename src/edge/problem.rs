//! Errors as RFC 9457 `application/problem+json`, from domain errors and edge checks. The
//! API answers with them; the UI shows their status and detail. Touches no state.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use plantd_contracts::DomainError;
use serde_json::json;

#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub title: &'static str,
    pub detail: String,
    /// `(field, message)` pairs for validation failures.
    pub errors: Vec<(String, String)>,
}

impl Problem {
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            status,
            title,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    pub fn bad_request(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Problem {
            errors: vec![(field.to_owned(), message.clone())],
            ..Problem::new(StatusCode::BAD_REQUEST, "Bad request", message)
        }
    }

    pub fn unauthorized() -> Self {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "send Authorization: Bearer <token>, or sign in",
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::FORBIDDEN, "Forbidden", detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service unavailable",
            detail,
        )
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.title, self.detail)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = json!({
            "type": "about:blank",
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if !self.errors.is_empty() {
            body["errors"] = self
                .errors
                .iter()
                .map(|(field, message)| json!({ "field": field, "message": message }))
                .collect();
        }
        HttpResponse::build(self.status)
            .content_type("application/problem+json")
            .body(body.to_string())
    }
}

impl From<DomainError> for Problem {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound(what) => Problem::new(
                StatusCode::NOT_FOUND,
                "Not found",
                format!("{what} not found"),
            ),
            DomainError::Conflict(detail) => Problem::new(StatusCode::CONFLICT, "Conflict", detail),
            DomainError::Invalid { field, message } => Problem {
                errors: vec![(field.clone(), message.clone())],
                ..Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid request",
                    format!("{field}: {message}"),
                )
            },
            DomainError::TooLarge(detail) => {
                Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "Payload too large", detail)
            }
            DomainError::Unavailable(detail) => Problem::unavailable(detail),
        }
    }
}

impl From<actix::MailboxError> for Problem {
    fn from(e: actix::MailboxError) -> Self {
        tracing::error!(error = %e, "a module did not answer");
        Problem::unavailable("a plantd module is not answering")
    }
}

pub type ApiResult<T> = Result<T, Problem>;
