//! The order tables' windows (`BrowseWorkOrders`): filter, search text, sort key and
//! direction, offset and limit, answered with the count of all matching orders. Reads
//! `workorders_orders` only, through `store::window_orders`.

use actix::prelude::*;
use chrono::Utc;
use plantd_contracts::window::{like_text, Windowed};
use plantd_contracts::workorders::{BrowseWorkOrders, WorkOrder};
use plantd_contracts::DomainError;
use tracing::Instrument;

use crate::actor::WorkOrders;
use crate::store::{self, OrderWindow};

/// `42` or `WO-42` (any case) as an order number.
fn number_of(q: &str) -> Option<i64> {
    let q = q.trim();
    let digits = match q.get(..3) {
        Some(p) if p.eq_ignore_ascii_case("wo-") => &q[3..],
        _ => q,
    };
    digits.parse().ok()
}

impl Handler<BrowseWorkOrders> for WorkOrders {
    type Result = ResponseFuture<Result<Windowed<WorkOrder>, DomainError>>;

    fn handle(&mut self, msg: BrowseWorkOrders, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        let q = msg.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        let w = OrderWindow {
            text: q.map(like_text),
            number: q.and_then(number_of),
            filter: msg.filter,
            sort: msg.sort,
            dir: msg.dir,
            now: Utc::now().timestamp_millis(),
            offset: i64::from(msg.window.offset),
            limit: i64::from(msg.window.limit()),
        };
        let span = tracing::debug_span!("browse_work_orders", offset = w.offset, limit = w.limit);
        Box::pin(
            async move {
                let (items, total) = db.run(move |c| store::window_orders(c, &w)).await?;
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
    use super::*;

    #[test]
    fn search_text_is_escaped_and_numbers_read() {
        assert_eq!(super::like_text("Pump_5%\\"), "pump\\_5\\%\\\\");
        assert_eq!(number_of("WO-42"), Some(42));
        assert_eq!(number_of("wo-7"), Some(7));
        assert_eq!(number_of("17"), Some(17));
        assert_eq!(number_of("pump"), None);
    }
}
