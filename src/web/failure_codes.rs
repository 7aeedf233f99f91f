//! The closing-code pick lists (failure mode, cause, action, detection) as an admin edits
//! them: one textarea per list, one `code: label` a line. Everyone reads the page; only
//! admins see and may submit the form. Talks to the work-order module by message only.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use plantd_contracts::identity::SessionView;
use plantd_contracts::workorders::{Code, FailureCodes, GetFailureCodes, SetFailureCodes};
use plantd_contracts::DomainError;
use serde::Deserialize;

use super::health_common::{answer, plain, reader, with_status, Head};
use super::session::{admin_form, is_admin, redirect};
use crate::edge::{render, Problem};
use crate::state::AppState;

const ADMINS_ONLY: &str = "only admins edit the failure codes";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/failure-codes", web::get().to(page))
        .route("/failure-codes", web::post().to(save));
}

/// A list as the textarea shows it.
fn text_of(codes: &[Code]) -> String {
    codes
        .iter()
        .map(|c| format!("{}: {}", c.code, c.label))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A textarea's lines as codes: `code: label` (a line without `:` is its own label).
fn codes_of(field: &str, text: &str) -> Result<Vec<Code>, DomainError> {
    let mut out: Vec<Code> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (code, label) = line.split_once(':').unwrap_or((line, line));
        let (code, label) = (code.trim(), label.trim());
        if code.is_empty() || label.is_empty() {
            return Err(DomainError::invalid(
                field,
                format!("“{line}”: write code: label"),
            ));
        }
        if out.iter().any(|c| c.code == code) {
            return Err(DomainError::invalid(field, format!("code {code} twice")));
        }
        out.push(Code {
            code: code.to_owned(),
            label: label.to_owned(),
        });
    }
    Ok(out)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodesForm {
    csrf_token: String,
    failure_modes: String,
    causes: String,
    actions: String,
    detections: String,
}

impl CodesForm {
    fn of(codes: &FailureCodes) -> CodesForm {
        CodesForm {
            csrf_token: String::new(),
            failure_modes: text_of(&codes.failure_modes),
            causes: text_of(&codes.causes),
            actions: text_of(&codes.actions),
            detections: text_of(&codes.detections),
        }
    }

    fn codes(&self) -> Result<FailureCodes, DomainError> {
        Ok(FailureCodes {
            failure_modes: codes_of("failure_modes", &self.failure_modes)?,
            causes: codes_of("causes", &self.causes)?,
            actions: codes_of("actions", &self.actions)?,
            detections: codes_of("detections", &self.detections)?,
        })
    }
}

#[derive(Template)]
#[template(path = "failure_codes.html")]
struct CodesPage {
    head: Head,
    is_admin: bool,
    error: Option<String>,
    form: CodesForm,
}

fn render_page(session: &SessionView, form: CodesForm, error: Option<Problem>) -> HttpResponse {
    let status = error.as_ref().map(|p| p.status);
    with_status(
        render(&CodesPage {
            head: Head::of(session),
            is_admin: is_admin(session),
            error: error.map(|p| p.detail),
            form,
        }),
        status,
    )
}

pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let current = match reader(&req, &state).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    match answer(state.workorders.send(GetFailureCodes).await) {
        Ok(codes) => render_page(&current, CodesForm::of(&codes), None),
        Err(p) => plain(p),
    }
}

pub async fn save(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CodesForm>,
) -> HttpResponse {
    let current = match admin_form(&req, &state, &form.csrf_token, ADMINS_ONLY).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let form = form.into_inner();
    let codes = match form.codes() {
        Ok(codes) => codes,
        Err(e) => return render_page(&current, form, Some(e.into())),
    };
    let body = serde_json::to_value(codes).unwrap_or_default();
    let sent = state
        .workorders
        .send(SetFailureCodes {
            body,
            by: current.username.clone(),
        })
        .await;
    match answer(sent) {
        Ok(_) => {
            tracing::info!(by = %current.username, "failure codes changed from the UI");
            redirect("/failure-codes")
        }
        Err(p) => render_page(&current, form, Some(p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_codes_and_back() {
        let codes = codes_of("causes", "wear: Wear\n\n  fatigue : Fatigue \nother").expect("codes");
        assert_eq!(
            codes
                .iter()
                .map(|c| (c.code.as_str(), c.label.as_str()))
                .collect::<Vec<_>>(),
            [("wear", "Wear"), ("fatigue", "Fatigue"), ("other", "other")]
        );
        assert_eq!(
            text_of(&codes),
            "wear: Wear\nfatigue: Fatigue\nother: other"
        );
        assert!(codes_of("causes", "wear: Wear\nwear: again").is_err());
        assert!(codes_of("causes", ": no code").is_err());
    }
}
