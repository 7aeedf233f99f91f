//! Who is calling: an API token (`Authorization: Bearer …`) or a signed-in person (the
//! session cookie; unsafe methods then also need the session's `X-CSRF-Token`).
//!
//! `authenticate` runs as middleware on all of `/api/v1`, before any handler reads its
//! body, so a bad credential is always 401 (never a validation error). Handlers take the
//! resulting `Caller` and state the scope they need with `require`. Device HTTP ingest and
//! firmware downloads (Basic auth with the device's own secret) are checked by their
//! handlers instead.

use std::future::{ready, Ready};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, ResponseError};
use plantd_contracts::identity::{AuthenticateToken, Principal, ResolveSession, Scope};

use super::{AppState, Problem};
use crate::edge::session_cookie;

#[derive(Clone)]
pub struct Caller {
    pub principal: Principal,
    /// What the caller presented, so a long-lived response (the live stream) can check
    /// again that it still holds.
    pub credential: Credential,
}

/// A caller's credential as presented: an API token's secret or a session cookie's.
#[derive(Clone)]
pub enum Credential {
    Token(String),
    Session(String),
}

impl Credential {
    /// Whether the credential is still good now: the token not revoked, the session not
    /// ended or expired. A module that does not answer counts as no.
    pub async fn still_valid(&self, state: &AppState) -> bool {
        match self {
            Credential::Token(secret) => state
                .identity
                .send(AuthenticateToken {
                    id: String::new(),
                    secret: secret.clone(),
                })
                .await
                .ok()
                .flatten()
                .is_some(),
            Credential::Session(secret) => state
                .identity
                .send(ResolveSession {
                    secret: secret.clone(),
                })
                .await
                .ok()
                .flatten()
                .is_some(),
        }
    }
}

impl Caller {
    pub fn require(&self, scope: Scope) -> Result<(), Problem> {
        if self.principal.has(scope) {
            Ok(())
        } else {
            metrics::counter!("plantd_http_forbidden_total").increment(1);
            Err(Problem::forbidden(format!(
                "this needs the '{scope}' scope"
            )))
        }
    }
}

impl FromRequest for Caller {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Caller>()
                .cloned()
                .ok_or_else(Problem::unauthorized),
        )
    }
}

fn authorization(req: &ServiceRequest) -> Option<(String, String)> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, credential) = value.split_once(' ')?;
    Some((scheme.to_ascii_lowercase(), credential.trim().to_owned()))
}

/// `POST /api/v1/devices/{id}/telemetry`, the one route devices call with their own secret.
fn is_device_ingest(req: &ServiceRequest) -> bool {
    let path = req.path();
    req.method() == Method::POST
        && path
            .strip_prefix("/api/v1/devices/")
            .and_then(|rest| rest.strip_suffix("/telemetry"))
            .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

/// `GET /api/v1/firmware/{id}/image`: a target device downloads an image with its own
/// secret.
fn is_firmware_download(req: &ServiceRequest) -> bool {
    req.method() == Method::GET
        && req
            .path()
            .strip_prefix("/api/v1/firmware/")
            .and_then(|rest| rest.strip_suffix("/image"))
            .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

/// Middleware: resolves the caller or answers 401/403 before the handler runs.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let credential = authorization(&req);
    if matches!(&credential, Some((scheme, _)) if scheme == "basic")
        && (is_device_ingest(&req) || is_firmware_download(&req))
    {
        // Device credentials: the ingest and firmware download handlers check them against
        // the devices module before anything else. Basic auth is accepted nowhere else.
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    match resolve(&req, credential).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.call(req)
                .await
                .map(ServiceResponse::map_into_boxed_body)
        }
        Err(problem) => Ok(req.into_response(problem.error_response())),
    }
}

async fn resolve(
    req: &ServiceRequest,
    credential: Option<(String, String)>,
) -> Result<Caller, Problem> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| Problem::unavailable("not configured"))?;
    if let Some((scheme, secret)) = credential {
        if scheme != "bearer" {
            return Err(Problem::unauthorized());
        }
        return match state
            .identity
            .send(AuthenticateToken {
                id: String::new(),
                secret: secret.clone(),
            })
            .await?
        {
            Some(principal) => Ok(Caller {
                principal,
                credential: Credential::Token(secret),
            }),
            None => {
                metrics::counter!("plantd_http_auth_failures_total").increment(1);
                plantd_contracts::warn_throttled!(
                    "http_token_refused",
                    "API call with an unknown or revoked token"
                );
                Err(Problem::unauthorized())
            }
        };
    }
    let Some(secret) = req
        .cookie(session_cookie(state.secure_cookies))
        .map(|c| c.value().to_owned())
    else {
        return Err(Problem::unauthorized());
    };
    let Some(session) = state
        .identity
        .send(ResolveSession {
            secret: secret.clone(),
        })
        .await?
    else {
        return Err(Problem::unauthorized());
    };
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let csrf = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if unsafe_method && !plantd_secrets::same_secret(csrf, &session.csrf_token) {
        return Err(Problem::forbidden("missing or wrong X-CSRF-Token"));
    }
    Ok(Caller {
        principal: Principal {
            name: format!("user:{}", session.username),
            scopes: session.role.scopes().to_vec(),
        },
        credential: Credential::Session(secret),
    })
}

/// Scopes a token may be given, parsed from the API's strings.
pub fn parse_scopes(names: &[String]) -> Result<Vec<Scope>, Problem> {
    names
        .iter()
        .map(|n| {
            n.parse::<Scope>().map_err(|_| {
                Problem::bad_request(
                    "scopes",
                    format!("unknown scope '{n}'; use read, write, admin or mqtt"),
                )
            })
        })
        .collect()
}
