//! Who is calling: an API token (`Authorization: Bearer …`) or a signed-in person (the
//! session cookie; unsafe methods then also need the session's `X-CSRF-Token`). Every
//! handler takes a `Caller` and states the scope it needs.

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{web, FromRequest, HttpRequest};
use plantd_contracts::identity::{AuthenticateToken, Principal, ResolveSession, Scope};
use std::future::Future;
use std::pin::Pin;

use super::problem::Problem;
use super::AppState;

pub const SESSION_COOKIE: &str = "plantd_session";

pub struct Caller {
    pub principal: Principal,
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

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

impl FromRequest for Caller {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Problem>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let bearer = bearer(req);
        let cookie = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
        let csrf = req
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        Box::pin(async move {
            let state = state.ok_or_else(|| Problem::unavailable("not configured"))?;
            if let Some(secret) = bearer {
                let principal = state
                    .identity
                    .send(AuthenticateToken {
                        id: String::new(),
                        secret,
                    })
                    .await?;
                return match principal {
                    Some(principal) => Ok(Caller { principal }),
                    None => {
                        metrics::counter!("plantd_http_auth_failures_total").increment(1);
                        tracing::warn!("API call with an unknown or revoked token");
                        Err(Problem::unauthorized())
                    }
                };
            }
            let Some(secret) = cookie else {
                return Err(Problem::unauthorized());
            };
            let Some(session) = state.identity.send(ResolveSession { secret }).await? else {
                return Err(Problem::unauthorized());
            };
            if unsafe_method && csrf.as_deref() != Some(session.csrf_token.as_str()) {
                return Err(Problem::forbidden("missing or wrong X-CSRF-Token"));
            }
            Ok(Caller {
                principal: Principal {
                    name: format!("user:{}", session.username),
                    scopes: session.role.scopes().to_vec(),
                },
            })
        })
    }
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
