//! The closing-code pick lists: read, and replaced whole by an admin (each list non-empty,
//! codes `[a-z0-9_]`, unique within their list). Orders already closed keep their codes.

use actix::prelude::*;
use plantd_contracts::workorders::{Code, FailureCodes, GetFailureCodes, SetFailureCodes};
use plantd_contracts::DomainError;

use crate::actor::WorkOrders;
use crate::store;

fn check(codes: &FailureCodes) -> Result<(), DomainError> {
    let lists = [
        ("failure_modes", &codes.failure_modes),
        ("causes", &codes.causes),
        ("actions", &codes.actions),
        ("detections", &codes.detections),
    ];
    for (name, list) in lists {
        if list.is_empty() || list.len() > 200 {
            return Err(DomainError::invalid(name, "1 to 200 codes"));
        }
        let mut seen = std::collections::HashSet::new();
        for Code { code, label } in list.iter() {
            let ok = !code.is_empty()
                && code.len() <= 64
                && code
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                return Err(DomainError::invalid(
                    name,
                    format!("code {code:?}: 1 to 64 of a-z, 0-9, _"),
                ));
            }
            if label.trim().is_empty() || label.chars().count() > 100 {
                return Err(DomainError::invalid(
                    name,
                    format!("code {code}: a label of 1 to 100 characters"),
                ));
            }
            if !seen.insert(code.as_str()) {
                return Err(DomainError::invalid(name, format!("code {code} twice")));
            }
        }
    }
    Ok(())
}

fn parse(body: &serde_json::Value) -> Result<FailureCodes, DomainError> {
    let codes: FailureCodes = serde_json::from_value(body.clone()).map_err(|e| {
        let message = e.to_string();
        let field = ["failure_modes", "causes", "actions", "detections"]
            .into_iter()
            .find(|f| message.contains(&format!("`{f}`")))
            .unwrap_or("body");
        DomainError::invalid(field, message)
    })?;
    check(&codes)?;
    Ok(codes)
}

impl Handler<GetFailureCodes> for WorkOrders {
    type Result = ResponseFuture<Result<FailureCodes, DomainError>>;

    fn handle(&mut self, _: GetFailureCodes, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move { Ok(db.run(store::load_codes).await?) })
    }
}

impl Handler<SetFailureCodes> for WorkOrders {
    type Result = AtomicResponse<Self, Result<FailureCodes, DomainError>>;

    fn handle(&mut self, msg: SetFailureCodes, _: &mut Context<Self>) -> Self::Result {
        let codes = match parse(&msg.body) {
            Ok(c) => c,
            Err(e) => return AtomicResponse::new(Box::pin(fut::ready(Err(e)))),
        };
        tracing::info!(by = %msg.by, "closing-code lists replaced");
        AtomicResponse::new(self.commit(move |conn, _| {
            store::replace_codes(conn, &codes)?;
            Ok(codes)
        }))
    }
}
