//! The alarm tables' windows (`BrowseAlarms`): filters, search text, sort key and
//! direction, offset and limit, answered with the count of all matching alarms. Reads
//! `health_alarms` only, through `store::window_alarms`.

use actix::prelude::*;
use plantd_contracts::health::{Alarm, BrowseAlarms};
use plantd_contracts::window::{like_text, Windowed};
use plantd_contracts::DomainError;
use tracing::Instrument;

use crate::actor::Health;
use crate::alarm_api::decode;
use crate::store::{self, AlarmWindow};

impl Handler<BrowseAlarms> for Health {
    type Result = ResponseFuture<Result<Windowed<Alarm>, DomainError>>;

    fn handle(&mut self, msg: BrowseAlarms, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        let w = AlarmWindow {
            state: msg.state.map(|s| s.as_str().to_owned()),
            open: msg.open,
            severity: msg.severity.map(|s| s.as_str().to_owned()),
            asset_id: msg.asset_id,
            text: msg
                .q
                .as_deref()
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .map(like_text),
            sort: msg.sort,
            dir: msg.dir,
            offset: i64::from(msg.window.offset),
            limit: i64::from(msg.window.limit()),
        };
        let span = tracing::debug_span!("browse_alarms", offset = w.offset, limit = w.limit);
        Box::pin(
            async move {
                let (rows, total) = db.run(move |c| store::window_alarms(c, &w)).await?;
                let items = rows
                    .iter()
                    .map(|r| decode(r, &[]))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Windowed {
                    items,
                    total: u64::try_from(total).unwrap_or(0),
                })
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn search_text_is_escaped() {
        assert_eq!(super::like_text("Vib_%"), "vib\\_\\%");
    }
}
