//! The user table's window (`BrowseUsers`): a plant has tens of users, so the rows are
//! read whole (as `ListUsers` does), then filtered, sorted and sliced here. Reads
//! `identity_users` only, through `users::list_users`.

use actix::prelude::*;
use plantd_contracts::identity::{BrowseUsers, UserDetails, UserSort};
use plantd_contracts::window::{SortDir, Windowed};
use plantd_contracts::DomainError;
use tracing::Instrument;

use crate::actor::Identity;
use crate::users::{self, UserRow};

/// Filters, sorts (ties by name; never signed in sorts first) and slices.
fn window(mut all: Vec<UserDetails>, msg: &BrowseUsers) -> Windowed<UserDetails> {
    let needle = msg.q.as_deref().map(|q| q.trim().to_lowercase());
    all.retain(|u| {
        msg.role.is_none_or(|r| u.role == r)
            && needle.as_deref().is_none_or(|n| {
                u.username.to_lowercase().contains(n) || u.skills.iter().any(|s| s.contains(n))
            })
    });
    all.sort_by(|a, b| a.username.cmp(&b.username));
    match msg.sort {
        UserSort::Username => {}
        UserSort::Role => all.sort_by_key(|u| u.role.as_str()),
        UserSort::LastSignIn => all.sort_by_key(|u| u.last_sign_in_at),
    }
    if msg.dir == SortDir::Desc {
        all.reverse();
    }
    Windowed::slice(all, msg.window)
}

impl Handler<BrowseUsers> for Identity {
    type Result = ResponseFuture<Result<Windowed<UserDetails>, DomainError>>;

    fn handle(&mut self, msg: BrowseUsers, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        let span = tracing::debug_span!("browse_users");
        Box::pin(
            async move {
                let rows = db.run(users::list_users).await?;
                let all = rows.iter().filter_map(UserRow::details).collect();
                Ok(window(all, &msg))
            }
            .instrument(span),
        )
    }
}
